"""Channel kinds: one module per kind, and this registry. Adding a kind = one module + one entry.

Every kind module has: `ConfigForm` (a django Form of its config; secret fields are password
inputs), `SECRET_FIELDS`, `HOW_TO_FIX` (told to owners when the channel is disabled),
`describe(config) -> str`, `render(message)` and `send(config, message) -> int | None`, which
raises `base.TransientError` or `base.PermanentError`.
"""

from types import ModuleType
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError

from alerts.channels import dingtalk, email, slack, webhook, wecom
from alerts.models import ChannelKind

KINDS: dict[str, ModuleType] = {
    ChannelKind.EMAIL.value: email,
    ChannelKind.SLACK.value: slack,
    ChannelKind.WEBHOOK.value: webhook,
    ChannelKind.WECOM.value: wecom,
    ChannelKind.DINGTALK.value: dingtalk,
}
MASK = "••••"


def kind_module(kind: str) -> ModuleType:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(KINDS)
        raise ValidationError({"kind": f"Unknown channel kind “{kind}”: use one of {known}."}) from None


def clean_config(kind: str, data, *, previous: dict | None = None) -> dict:
    """The validated config of a kind, or a ValidationError keyed by field.

    `data` is a dict (API JSON) or a QueryDict (a form POST). When editing, pass the channel's
    current config as `previous`: a secret field left blank keeps its value, because password
    inputs are never filled in again.
    """
    module = kind_module(kind)
    if not hasattr(data, "get"):
        raise ValidationError({"config": "The config must be an object."})
    data = data.dict() if hasattr(data, "dict") else dict(data)
    for name in module.SECRET_FIELDS:
        if previous and not data.get(name) and previous.get(name):
            data[name] = previous[name]
    form = module.ConfigForm(data=data)
    if not form.is_valid():
        raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
    return dict(form.cleaned_data)


def describe(kind: str, config: dict) -> str:
    """A safe one-line summary for listings; never raises, even on an old or broken config."""
    try:
        return kind_module(kind).describe(config or {})
    except Exception:  # a listing must render even if one stored config is malformed
        return "invalid configuration"


def masked_config(kind: str, config: dict) -> dict:
    """The config with secret values replaced by a mask (for APIs and listings)."""
    secret_fields = getattr(KINDS.get(kind), "SECRET_FIELDS", ())
    return {
        name: (MASK if name in secret_fields and value else value) for name, value in (config or {}).items()
    }


def redact(kind: str, config: dict, text: str) -> str:
    """`text` with every secret value of the config removed: the last guard before it is stored."""
    secret_fields = getattr(KINDS.get(kind), "SECRET_FIELDS", ())
    for name in secret_fields:
        for value in _secret_parts(str((config or {}).get(name) or "")):
            text = text.replace(value, MASK)
    return text


def _secret_parts(value: str) -> list[str]:
    """The value, and for a URL its tokens alone too: query values and long path segments."""
    parts = [value] if len(value) >= 4 else []
    split = urlsplit(value)
    if split.scheme and split.netloc:
        parts += [token for _, token in parse_qsl(split.query) if len(token) >= 6]
        parts += [segment for segment in split.path.split("/") if len(segment) >= 12]
    # Longest first, so a token is not half-replaced by a shorter part of itself.
    return sorted(set(parts), key=len, reverse=True)
