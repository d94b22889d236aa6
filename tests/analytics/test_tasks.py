"""The periodic tasks and the one beat schedule, with a real Celery worker on the real Redis."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from analytics import tasks
from config.celery import app
from tests.analytics.events import event
from tests.conftest import make_project


def test_every_scheduled_task_exists_and_expires():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"{name}: {entry['task']} is not a registered task"
        assert entry["options"]["expires"] > 0, f"{name} has no expires"


@pytest.mark.storage
@pytest.mark.django_db
def test_the_maintenance_task_creates_todays_partitions_on_postgres(store):
    result = tasks.maintain_storage()
    if store.name == "postgres":
        assert datetime.now(UTC).date() in store.partitions()
        assert isinstance(result["partitions_created"], int)
    else:
        assert result == {}


@pytest.mark.postgres_only  # on TimescaleDB the refresh policies run in the database's own scheduler
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_refreshes_the_rollups_from_the_queue(store):
    """Beat's every-minute task, sent through Redis and run by a Celery worker thread."""
    project = make_project()
    hour = (datetime.now(UTC) - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    store.insert_events([event(project, time=hour + timedelta(minutes=m)) for m in range(4)])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=10):
        tasks.refresh_rollups.apply_async(queue=queue)
        deadline = time.monotonic() + 30
        counted = None
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT sum(events) FROM event_counts_hourly WHERE project_id = %s", [project.id]
                )
                counted = cursor.fetchone()[0]
            if counted == 4:
                break
            time.sleep(0.2)
    assert counted == 4
