"""Small hand-made datasets for the insight tests: events written through the store, persons
resolved the way the ingest writer resolves them."""

import uuid
from datetime import UTC, datetime

from analytics.identity import resolve_persons
from analytics.ingest.incoming import PersonUpdate
from analytics.storage import EventRecord, get_store


def at(text: str) -> datetime:
    """'2026-11-10 09:00' (UTC) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ev(
    project,
    when: str,
    name: str,
    user: str | None,
    session: str | None = None,
    env: str = "production",
    **properties,
) -> EventRecord:
    environment = project.environments.get(slug=env)
    return EventRecord(
        time=at(when),
        received_at=at(when),
        project_id=project.id,
        environment_id=environment.id,
        event=name,
        message_id=str(uuid.uuid4()),
        distinct_id=user,
        session_id=session,
        properties=properties,
        context=properties.pop("_context", None) or {"browser": "Chrome", "os": "Linux"},
    )


def write(
    records: list[EventRecord], *, links: dict[str, str] | None = None, person_properties: dict | None = None
) -> None:
    """Store events with identity resolution. ``links`` maps a distinct id to the one it is linked
    to (an identify with an anonymous id); ``person_properties`` sets person properties ($set) per
    distinct id, applied on that id's first event."""
    links = links or {}
    person_properties = dict(person_properties or {})
    updates = {}
    for record in records:
        link = links.get(record.distinct_id)
        props = person_properties.pop(record.distinct_id, None)
        if link or props:
            updates[(record.project_id, record.message_id)] = PersonUpdate(
                set=props or {}, set_once={}, link=link, identify=bool(link)
            )
    get_store().insert_new(records, prepare=lambda fresh: resolve_persons(fresh, updates))


def refresh_rollups() -> None:
    get_store().refresh_rollups(full=True)
