"""One mapper per dialect: an SDK's request body -> messages -> ``Incoming`` events.

Each dialect says three things: how a body splits into messages (and the envelope around them), where
the body carries the API key, and how one message maps onto Beacon's event model. Nothing after
``Dialect.map`` knows which SDK sent the event.
"""

from collections.abc import Callable
from dataclasses import dataclass

from analytics.ingest.body import read_form_data_body, read_json_body
from analytics.ingest.errors import EventRejected, IngestError
from analytics.ingest.incoming import (
    ALIAS,
    GROUP_IDENTIFY,
    IDENTIFY,
    PAGEVIEW,
    SCREEN,
    Incoming,
    PersonUpdate,
    event_name,
    object_field,
    page_from,
    text_field,
)


@dataclass(frozen=True)
class Envelope:
    messages: list
    sent_at: object = None
    body_key: str | None = None
    is_batch: bool = False


@dataclass(frozen=True)
class Dialect:
    name: str
    split: Callable[[object, str], Envelope]
    map: Callable[[dict, str], Incoming]
    read: Callable = read_json_body


def _not_json_object(body) -> IngestError:
    return IngestError(
        400,
        "invalid-body",
        f"The body must be a JSON object or an array of objects, not {type(body).__name__}.",
    )


def _with_person_properties(properties: dict, person: PersonUpdate) -> dict:
    """The event keeps what it set on the person, as `$set` / `$set_once` properties (PostHog's shape)."""
    extra = {name: value for name, value in (("$set", person.set), ("$set_once", person.set_once)) if value}
    return {**properties, **extra} if extra else properties


def _string(value) -> str | None:
    return value if isinstance(value, str) and value else None


# --- native (Altertable-compatible) -------------------------------------------------------------


# What a native message's optional `context` may add to the stored context (beacon.js sends these;
# library, page, app and userAgent are read into their own fields).
NATIVE_CONTEXT_KEYS = ("screen", "viewport", "locale", "timezone", "device", "campaign")


def _object(container: dict, key: str) -> dict:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def split_native(body, kind: str) -> Envelope:
    if isinstance(body, list):
        return Envelope(messages=body, is_batch=True)
    if isinstance(body, dict):
        return Envelope(messages=[body])
    raise _not_json_object(body)


def map_native(message: dict, kind: str) -> Incoming:
    """`/track`, `/identify`, `/alias`, `/page`, `/screen` (DESIGN.md section 4)."""
    environment = text_field(message, "environment", required=True, max_length=100)
    distinct_id = text_field(message, "distinct_id")
    properties = object_field(message, "properties", required=kind == "track") or {}
    person = None
    if kind == "track":
        name = event_name(message)
    elif kind == "identify":
        distinct_id = text_field(message, "distinct_id", required=True)
        name = IDENTIFY
        person = PersonUpdate(
            set=object_field(message, "traits") or object_field(message, "$set"),
            set_once=object_field(message, "$set_once"),
            link=text_field(message, "anonymous_id"),
            identify=True,
        )
        properties = _with_person_properties(properties, person)
    elif kind == "alias":
        previous_id = text_field(message, "distinct_id", required=True)
        distinct_id = text_field(message, "new_user_id", required=True)
        name = ALIAS
        properties = {**properties, "previous_id": previous_id}
        person = PersonUpdate(link=previous_id, identify=True)
    else:  # page, screen
        name = PAGEVIEW if kind == "page" else SCREEN
        page_name = message.get("name") or message.get("event")
        if page_name is not None:
            properties = {**properties, "name": page_name}
    context = object_field(message, "context") or {}
    library, page, app = (_object(context, key) for key in ("library", "page", "app"))
    return Incoming(
        event=name,
        properties=properties,
        environment=environment,
        distinct_id=distinct_id or text_field(message, "anonymous_id") or text_field(message, "device_id"),
        anonymous_id=text_field(message, "anonymous_id"),
        device_id=text_field(message, "device_id"),
        session_id=text_field(message, "session_id"),
        timestamp=message.get("timestamp"),
        sent_at=message.get("sent_at"),
        message_id=text_field(message, "message_id") or text_field(message, "uuid"),
        person=person,
        library_name=_string(properties.get("$lib")) or _string(library.get("name")),
        library_version=_string(properties.get("$lib_version")) or _string(library.get("version")),
        user_agent=_string(properties.get("$user_agent")) or _string(context.get("userAgent")),
        page=page_from(
            properties.get("$url") or page.get("url"),
            properties.get("$pathname") or page.get("path"),
            properties.get("$referer") or properties.get("$referrer") or page.get("referrer"),
            properties.get("$title") or page.get("title"),
            page.get("search"),
        ),
        app_version=_string(properties.get("$app_version"))
        or _string(properties.get("app_version"))
        or _string(app.get("version")),
        extra_context={key: context[key] for key in NATIVE_CONTEXT_KEYS if key in context},
    )


# --- Segment and RudderStack --------------------------------------------------------------------

SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def split_segment(body, kind: str) -> Envelope:
    if not isinstance(body, dict):
        raise _not_json_object(body)
    body_key = _string(body.get("writeKey"))
    if kind == "batch":
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise IngestError(400, "invalid-body", "`batch` must be an array of messages.")
        shared_context = body.get("context")
        if isinstance(shared_context, dict) and shared_context:
            # Segment's batch API: a top-level context applies to every message (the message's wins).
            batch = [
                {**m, "context": {**shared_context, **m["context"]}}
                if isinstance(m, dict) and isinstance(m.get("context"), dict)
                else ({**m, "context": shared_context} if isinstance(m, dict) else m)
                for m in batch
            ]
        return Envelope(messages=batch, sent_at=body.get("sentAt"), body_key=body_key, is_batch=True)
    return Envelope(messages=[{"type": kind, **body}], sent_at=body.get("sentAt"), body_key=body_key)


def map_segment(message: dict, kind: str) -> Incoming:
    """Segment's spec (segment.com/docs/connections/spec); RudderStack's differences noted inline."""
    message_type = message.get("type")
    if message_type not in SEGMENT_TYPES:
        raise EventRejected(
            "invalid-type", f"`type` must be one of {', '.join(SEGMENT_TYPES)}, not {message_type!r}."
        )
    context = object_field(message, "context") or {}
    properties = object_field(message, "properties") or {}
    user_id = text_field(message, "userId")
    anonymous_id = text_field(message, "anonymousId")
    person = None
    if message_type == "track":
        name = event_name(message)
    elif message_type == "identify":
        name = IDENTIFY
        # RudderStack puts traits in context.traits, not at the top level.
        traits = object_field(message, "traits") or object_field(context, "traits")
        person = PersonUpdate(
            set=traits, link=anonymous_id if user_id else None, identify=user_id is not None
        )
        properties = _with_person_properties(properties, person)
    elif message_type == "alias":
        previous_id = text_field(message, "previousId", required=True)
        user_id = text_field(message, "userId", required=True)
        name = ALIAS
        properties = {**properties, "previous_id": previous_id}
        person = PersonUpdate(link=previous_id, identify=True)
    elif message_type == "group":
        name = GROUP_IDENTIFY
        group_id = text_field(message, "groupId", required=True)
        traits = object_field(message, "traits") or {}
        properties = {**properties, "$group_type": "group", "$group_key": group_id, "$group_set": traits}
    else:
        name = PAGEVIEW if message_type == "page" else SCREEN
        for field_name in ("name", "category"):
            if message.get(field_name) is not None:
                properties = {**properties, field_name: message[field_name]}
    if user_id is None and anonymous_id is None:
        raise EventRejected("missing-user-id", "Every message needs `userId` or `anonymousId`.")
    library = context.get("library") if isinstance(context.get("library"), dict) else {}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    app = context.get("app") if isinstance(context.get("app"), dict) else {}
    device = context.get("device") if isinstance(context.get("device"), dict) else {}
    if message_type == "page":
        page = {**properties, **page}
    extra = {
        key: context[key]
        for key in ("locale", "timezone", "campaign", "screen", "os", "network", "channel")
        if key in context
    }
    if "channel" in message:
        extra["channel"] = message["channel"]
    return Incoming(
        event=name,
        properties=properties,
        environment=text_field(message, "environment", max_length=100),
        distinct_id=user_id or anonymous_id,
        anonymous_id=anonymous_id,
        device_id=text_field(device, "id"),
        session_id=text_field(context, "sessionId") or text_field(properties, "session_id"),
        timestamp=message.get("timestamp") or message.get("originalTimestamp"),
        sent_at=message.get("sentAt"),
        message_id=text_field(message, "messageId"),
        person=person,
        library_name=_string(library.get("name")),
        library_version=_string(library.get("version")),
        user_agent=_string(context.get("userAgent")),
        ip=_string(context.get("ip")),
        page=page_from(
            page.get("url"), page.get("path"), page.get("referrer"), page.get("title"), page.get("search")
        ),
        app_version=_string(app.get("version")),
        extra_context=extra,
    )


# --- PostHog --------------------------------------------------------------------------------------


def split_posthog(body, kind: str) -> Envelope:
    if isinstance(body, list):  # posthog-js sends an array to /e/
        key = next((_string(m.get("api_key") or m.get("token")) for m in body if isinstance(m, dict)), None)
        return Envelope(messages=body, body_key=key, is_batch=True)
    if not isinstance(body, dict):
        raise _not_json_object(body)
    body_key = _string(body.get("api_key")) or _string(body.get("token"))
    if "batch" in body:
        batch = body["batch"]
        if not isinstance(batch, list):
            raise IngestError(400, "invalid-body", "`batch` must be an array of events.")
        if body_key is None:
            body_key = next((_string(m.get("api_key")) for m in batch if isinstance(m, dict)), None)
        return Envelope(messages=batch, sent_at=body.get("sent_at"), body_key=body_key, is_batch=True)
    if body_key is None and isinstance(body.get("properties"), dict):
        body_key = _string(body["properties"].get("token"))
    return Envelope(messages=[body], sent_at=body.get("sent_at"), body_key=body_key)


_POSTHOG_ENVELOPE = ("token", "distinct_id")


def map_posthog(message: dict, kind: str) -> Incoming:
    """PostHog's capture API: `$set`/`$set_once` at the top level or in properties, `$identify`,
    `$create_alias` (linking `distinct_id` and `properties.alias`), `$groupidentify`."""
    name = event_name(message)
    properties = object_field(message, "properties") or {}
    distinct_id = (
        text_field(message, "distinct_id")
        or text_field(properties, "distinct_id")
        or text_field(properties, "$distinct_id")
    )
    if distinct_id is None:
        raise EventRejected("missing-distinct-id", "`distinct_id` is required.")
    # posthog-js repeats the project key and the distinct id in every event's properties: they are
    # the envelope, not the event's data (and would be "unplanned properties" under every plan).
    # PostHog's own events keep `distinct_id`: `$create_alias` names the aliased id with it.
    envelope = _POSTHOG_ENVELOPE if not name.startswith("$") else ("token",)
    properties = {key: value for key, value in properties.items() if key not in envelope}
    to_set = object_field(message, "$set") or object_field(properties, "$set")
    to_set_once = object_field(message, "$set_once") or object_field(properties, "$set_once")
    if "$set" in message or "$set_once" in message:
        # posthog-python's set() puts them at the top level; keep them on the stored event too.
        properties = _with_person_properties(properties, PersonUpdate(set=to_set, set_once=to_set_once))
    link = None
    identify = False
    if name == IDENTIFY:
        link = text_field(properties, "$anon_distinct_id")
        identify = True
    elif name == ALIAS:
        link = text_field(properties, "alias", required=True)
        identify = True  # as PostHog does: an aliased person is a known user
    person = (
        PersonUpdate(set=to_set, set_once=to_set_once, link=link, identify=identify)
        if (to_set or to_set_once or link or identify)
        else None
    )
    offset = message.get("offset")
    return Incoming(
        event=name,
        properties=properties,
        environment=text_field(message, "environment", max_length=100),
        distinct_id=distinct_id,
        anonymous_id=text_field(properties, "$anon_distinct_id"),
        device_id=text_field(properties, "$device_id"),
        session_id=text_field(properties, "$session_id"),
        timestamp=message.get("timestamp"),
        sent_at=message.get("sent_at"),
        offset_ms=offset if isinstance(offset, int | float) and not isinstance(offset, bool) else None,
        message_id=text_field(message, "uuid")
        or text_field(message, "message_id")
        or text_field(properties, "$insert_id"),
        person=person,
        library_name=_string(properties.get("$lib")),
        library_version=_string(properties.get("$lib_version")),
        user_agent=_string(properties.get("$raw_user_agent")) or _string(properties.get("$user_agent")),
        ip=_string(properties.get("$ip")),
        page=page_from(
            properties.get("$current_url"),
            properties.get("$pathname"),
            properties.get("$referrer"),
            properties.get("title"),
        ),
        app_version=_string(properties.get("$app_version")),
    )


NATIVE = Dialect("native", split_native, map_native)
SEGMENT = Dialect("segment", split_segment, map_segment)
POSTHOG = Dialect("posthog", split_posthog, map_posthog)


# --- Amplitude (HTTP API v2 and Batch API) --------------------------------------------------------


def split_amplitude(body, kind: str) -> Envelope:
    if not isinstance(body, dict):
        raise _not_json_object(body)
    events = body.get("events")
    if not isinstance(events, list):
        raise IngestError(400, "invalid-body", "`events` must be an array of events.")
    return Envelope(messages=events, body_key=_string(body.get("api_key")), is_batch=True)


def map_amplitude(message: dict, kind: str) -> Incoming:
    """Amplitude's HTTP API v2 event: `user_properties` carries `$set`/`$set_once` on any event."""
    name = event_name(message, "event_type")
    user_id = text_field(message, "user_id")
    device_id = text_field(message, "device_id")
    properties = dict(object_field(message, "event_properties") or {})
    user_properties = object_field(message, "user_properties") or {}
    groups = object_field(message, "groups")
    if groups:
        properties["$groups"] = groups
    if name == GROUP_IDENTIFY and groups:
        group_type, group_key = next(iter(groups.items()))
        group_set = (object_field(message, "group_properties") or {}).get("$set") or {}
        properties.update({"$group_type": group_type, "$group_key": group_key, "$group_set": group_set})
    to_set = user_properties.get("$set") if isinstance(user_properties.get("$set"), dict) else None
    to_set_once = (
        user_properties.get("$set_once") if isinstance(user_properties.get("$set_once"), dict) else None
    )
    identify = name == IDENTIFY and user_id is not None
    link = device_id if identify and device_id else None
    person = (
        PersonUpdate(to_set, to_set_once, link, identify) if (to_set or to_set_once or identify) else None
    )
    library_name, _, library_version = (_string(message.get("library")) or "").partition("/")
    session = message.get("session_id")
    return Incoming(
        event=name,
        properties=properties,
        distinct_id=user_id or device_id,
        anonymous_id=device_id if user_id is None else None,
        device_id=device_id,
        session_id=str(session) if isinstance(session, int) and session > 0 else None,
        timestamp=message.get("time"),
        message_id=text_field(message, "insert_id"),
        person=person,
        library_name=library_name or None,
        library_version=library_version or None,
        ip=_string(message.get("ip")),
        app_version=_string(message.get("app_version")),
        extra_context={
            k: message[k]
            for k in ("platform", "os_name", "os_version", "device_model", "language", "country")
            if k in message
        },
    )


AMPLITUDE = Dialect("amplitude", split_amplitude, map_amplitude)


def split_batch_path(body, kind: str) -> Envelope:
    """`/batch` is PostHog's (`{"batch": [...]}`) and Amplitude's Batch API (`{"events": [...]}`)."""
    if isinstance(body, dict) and "events" in body and "batch" not in body:
        return split_amplitude(body, kind)
    return split_posthog(body, kind)


def map_batch_path(message: dict, kind: str) -> Incoming:
    return map_amplitude(message, kind) if "event_type" in message else map_posthog(message, kind)


POSTHOG_OR_AMPLITUDE = Dialect("posthog", split_batch_path, map_batch_path)


# --- Mixpanel (/track, /engage, /groups, /import) -------------------------------------------------


def split_mixpanel(body, kind: str) -> Envelope:
    messages = body if isinstance(body, list) else [body]
    key = None
    for message in messages:
        if isinstance(message, dict):
            properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
            key = _string(message.get("$token")) or _string(properties.get("token"))
            if key:
                break
    return Envelope(messages=messages, body_key=key, is_batch=isinstance(body, list))


def map_mixpanel(message: dict, kind: str) -> Incoming:
    """Mixpanel's ingestion API: events with `properties.token`, profile and group updates."""
    if kind == "engage":
        distinct_id = text_field(message, "$distinct_id", required=True)
        to_set, to_set_once = object_field(message, "$set"), object_field(message, "$set_once")
        return Incoming(
            event="$set",
            properties={k: v for k, v in message.items() if k not in ("$token", "$time", "$distinct_id")},
            distinct_id=distinct_id,
            timestamp=message.get("$time"),
            person=PersonUpdate(set=to_set, set_once=to_set_once),
            library_name="mixpanel",
        )
    if kind == "groups":
        return Incoming(
            event=GROUP_IDENTIFY,
            properties={
                "$group_type": text_field(message, "$group_key", required=True),
                "$group_key": text_field(message, "$group_id", required=True),
                "$group_set": object_field(message, "$set") or {},
            },
            timestamp=message.get("$time"),
            library_name="mixpanel",
        )
    name = event_name(message)
    raw = object_field(message, "properties") or {}
    reserved = ("token", "time", "distinct_id", "$insert_id", "mp_lib", "$lib_version", "ip", "$ip")
    properties = {k: v for k, v in raw.items() if k not in reserved}
    distinct_id = text_field(raw, "distinct_id")
    person = None
    if name == ALIAS:
        person = PersonUpdate(link=text_field(raw, "alias", required=True), identify=True)
        properties["alias"] = raw["alias"]
    elif name == IDENTIFY:  # mixpanel-js: $identified_id and $anon_id
        distinct_id = text_field(raw, "$identified_id") or distinct_id
        person = PersonUpdate(link=text_field(raw, "$anon_id"), identify=True)
    if distinct_id is None:
        raise EventRejected("missing-distinct-id", "`properties.distinct_id` is required.")
    return Incoming(
        event=name,
        properties=properties,
        distinct_id=distinct_id,
        device_id=text_field(raw, "$device_id"),
        timestamp=raw.get("time"),
        message_id=text_field(raw, "$insert_id"),
        person=person,
        library_name=_string(raw.get("mp_lib")) and f"mixpanel-{raw['mp_lib']}",
        library_version=_string(raw.get("$lib_version")),
        ip=_string(raw.get("ip")) or _string(raw.get("$ip")),
    )


MIXPANEL = Dialect("mixpanel", split_mixpanel, map_mixpanel, read_form_data_body)
