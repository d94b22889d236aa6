"""What the formats share: text decoding, the format check, a guard against files nested too deeply,
and reading a snapshot written by hand (YAML, or JSON as the API returns it)."""

import difflib
import functools
from collections.abc import Callable

from analytics.plan.snapshot import EVENT_DEFAULTS, FORMAT, PROPERTY_DEFAULTS, SnapshotError, normalize


def _guarded(load: Callable) -> Callable:
    """TRICKY: the JSON and YAML parsers (and normalize) recurse, so a file nested thousands of levels
    deep raises RecursionError: report it like any other bad file."""

    @functools.wraps(load)
    def guarded(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        except RecursionError:
            raise SnapshotError("The file is nested too deeply to be a tracking plan.") from None

    return guarded


def _text(content: str | bytes) -> str:
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(
                "The file is not UTF-8 text: save it as UTF-8 (in Excel: CSV UTF-8)."
            ) from None
    if not isinstance(content, str):
        raise SnapshotError("The file must be text.")
    return content.removeprefix("\ufeff")  # the byte order mark Excel writes


def _check_format(value) -> None:
    if value not in (None, FORMAT):
        raise SnapshotError(f"The file is in the format `{value}`; this Beacon reads `{FORMAT}`.")


# --- snapshots written by hand (YAML, or JSON as the API returns it) ------------------------------

_TOP_KEYS = ("format", "events", "property_groups")
_EVENT_KEYS = ("name", *EVENT_DEFAULTS)
_GROUP_KEYS = ("name", "description", "properties")
_PROPERTY_KEYS = ("name", *PROPERTY_DEFAULTS)


def _from_plain_data(data: dict) -> dict:
    """normalize(), after refusing unknown keys: normalize ignores them, so a misspelt `requried`
    would otherwise vanish without a word."""
    _check_format(data.get("format"))
    _known_keys(data, _TOP_KEYS, "The plan")
    for kind, keys, label in (
        ("events", _EVENT_KEYS, "event"),
        ("property_groups", _GROUP_KEYS, "property group"),
    ):
        items = data.get(kind)
        for index, item in enumerate(items if isinstance(items, list) else []):
            where = f"{label} {_label(item, index)}"
            _known_keys(item, keys, where)
            _known_property_keys(item, where)
    return normalize(data)


def _known_property_keys(owner, where: str) -> None:
    properties = owner.get("properties") if isinstance(owner, dict) else None
    for index, prop in enumerate(properties if isinstance(properties, list) else []):
        here = f"{where}, property {_label(prop, index)}"
        _known_keys(prop, _PROPERTY_KEYS, here)
        _known_property_keys(prop, here)


def _known_keys(item, known: tuple[str, ...], where: str) -> None:
    for key in item if isinstance(item, dict) else ():  # normalize() reports a wrong shape
        if key not in known:
            raise SnapshotError(f"{where}: unknown key `{key}`.{_did_you_mean(key, known)}")


def _label(item, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"`{name}`" if isinstance(name, str) and name else f"number {index + 1}"


def _did_you_mean(word: str, known) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" Did you mean `{close[0]}`?" if close else ""
