"""Build EventRecords for tests."""

import uuid
from datetime import UTC, datetime

from analytics.storage import EventRecord


def event(
    project,
    *,
    time: datetime,
    name: str = "page_view",
    environment=None,
    distinct_id="u1",
    session_id="s1",
    message_id: str | None = None,
    properties=None,
) -> EventRecord:
    environment = environment or project.environments.get(slug="production")
    return EventRecord(
        time=time,
        received_at=datetime.now(UTC),
        project_id=project.id,
        environment_id=environment.id,
        event=name,
        message_id=message_id or str(uuid.uuid4()),
        distinct_id=distinct_id,
        session_id=session_id,
        properties=properties or {},
        context={"library": {"name": "tests"}},
    )
