"""Beacon's event model at the edge: what every dialect's mapper produces.

A mapper reads one SDK message and fills an ``Incoming``; everything after it (validation of the
common fields, clock-skew correction, enrichment, the buffer, the writer, identity) reads only this.
"""

from dataclasses import dataclass, field

from analytics.ingest.errors import EventRejected

MAX_EVENT_NAME = 200
MAX_ID_LENGTH = 400

# Reserved event names every dialect maps onto.
IDENTIFY = "$identify"
ALIAS = "$create_alias"
PAGEVIEW = "$pageview"
SCREEN = "$screen"
GROUP_IDENTIFY = "$groupidentify"


@dataclass(slots=True)
class PersonUpdate:
    """What an event asks of identity resolution (``analytics.identity``)."""

    set: dict | None = None
    set_once: dict | None = None
    # Another distinct id that is the same person as the event's distinct id (alias, identify after
    # anonymous use).
    link: str | None = None
    # The event's distinct id was named as a known user (identify, alias target).
    identify: bool = False

    def as_list(self) -> list:
        return [self.set, self.set_once, self.link, self.identify]

    @classmethod
    def from_list(cls, values: list | None) -> "PersonUpdate | None":
        return None if values is None else cls(*values)


@dataclass(slots=True)
class Incoming:
    event: str
    properties: dict
    environment: str | None = None
    distinct_id: str | None = None
    anonymous_id: str | None = None
    device_id: str | None = None
    session_id: str | None = None
    timestamp: object = None  # as sent: ISO string or unix number
    sent_at: object = None  # this message's own sentAt, if it has one (else the envelope's)
    offset_ms: float | None = None  # PostHog: how long before sending the event happened
    message_id: str | None = None
    person: PersonUpdate | None = None
    library_name: str | None = None
    library_version: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    page: dict = field(default_factory=dict)  # url, path, referrer, title, search
    app_version: str | None = None
    extra_context: dict = field(default_factory=dict)  # locale, timezone, campaign, screen, ...


def text_field(
    message: dict, name: str, *, required: bool = False, max_length: int = MAX_ID_LENGTH
) -> str | None:
    """A string-ish id field: numbers are accepted and turned to text (SDKs send numeric user ids)."""
    value = message.get(name)
    if value is None or value == "":
        if required:
            raise EventRejected(f"missing-{name.replace('_', '-').lower()}", f"`{name}` is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EventRejected("invalid-field", f"`{name}` must be a string, not {type(value).__name__}.")
    text = str(value)
    if len(text) > max_length:
        raise EventRejected("invalid-field", f"`{name}` is longer than {max_length} characters.")
    return text


def object_field(message: dict, name: str, *, required: bool = False) -> dict | None:
    value = message.get(name)
    if value is None:
        if required:
            raise EventRejected(f"missing-{name}", f"`{name}` is required (an object; {{}} is allowed).")
        return None
    if not isinstance(value, dict):
        raise EventRejected("invalid-field", f"`{name}` must be a JSON object, not {type(value).__name__}.")
    return value


def event_name(message: dict, name: str = "event") -> str:
    value = message.get(name)
    if value is None or value == "":
        raise EventRejected("missing-event", f"`{name}` is required: the name of the event.")
    if not isinstance(value, str):
        raise EventRejected("invalid-event", f"`{name}` must be a string, not {type(value).__name__}.")
    if len(value) > MAX_EVENT_NAME:
        raise EventRejected("invalid-event", f"`{name}` is longer than {MAX_EVENT_NAME} characters.")
    return value


def page_from(url=None, path=None, referrer=None, title=None, search=None) -> dict:
    """The page fields that are present, as text."""
    page = {"url": url, "path": path, "referrer": referrer, "title": title, "search": search}
    return {
        key: str(value) for key, value in page.items() if isinstance(value, str | int | float) and value != ""
    }
