"""A project's naming convention for events and properties, checked when they are created.

``naming_problem`` returns the reason a name breaks the convention (shown to the PM as is), or
None. Names starting with ``$`` are the SDKs' own and are never checked.
"""

import re

from projects.models import NamingConvention

_PATTERNS = {
    NamingConvention.SNAKE_CASE: (
        re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*"),
        "lower-case words joined by underscores, e.g. `order_completed`",
    ),
    NamingConvention.CAMEL_CASE: (
        re.compile(r"[a-z][a-z0-9]*([A-Z][a-z0-9]*)*"),
        "camelCase, e.g. `orderCompleted`",
    ),
    NamingConvention.TITLE_CASE: (
        re.compile(r"[A-Z][a-z0-9]*( ([A-Z][a-z0-9]*|[0-9]+))*"),
        "capitalized words separated by spaces, e.g. `Order Completed`",
    ),
}

# Actions in the past tense that do not end in -ed (object_action names end with one).
_IRREGULAR_ACTIONS = {
    "begun", "bought", "built", "chosen", "done", "drawn", "found", "given", "got", "gotten", "hidden",
    "held", "kept", "left", "lost", "made", "met", "paid", "put", "read", "reset", "run", "seen", "sent",
    "set", "shown", "shut", "sold", "spent", "split", "taken", "thrown", "undone", "upgraded", "won",
    "written", "quit", "cut", "hit", "let",
}  # fmt: skip


def words(name: str) -> list[str]:
    """The words of a name in any of the conventions: order_completed, orderCompleted, Order Completed."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word.lower() for word in re.split(r"[\s_\-.]+", spaced) if word]


def naming_problem(name: str, convention: str, *, kind: str, object_action: bool = False) -> str | None:
    """Why ``name`` (of an event or a property) breaks the project's convention, or None."""
    if name.startswith("$"):
        return None
    if convention in _PATTERNS:
        pattern, expected = _PATTERNS[NamingConvention(convention)]
        if not pattern.fullmatch(name):
            return f"The project names {kind}s in {NamingConvention(convention).label}: {expected}."
    if object_action and kind == "event":
        parts = words(name)
        if len(parts) < 2:
            return f"Event names read object then action, e.g. `order_completed`: `{name}` has only one word."
        action = parts[-1]
        if not (action.endswith("ed") or action in _IRREGULAR_ACTIONS):
            return (
                "Event names read object then action in the past tense, e.g. `order_completed`: "
                f"`{action}` is not an action."
            )
    return None
