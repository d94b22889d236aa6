import pytest

from config.celery import app
from tests.alerts.http_server import http_server, private_urls_allowed  # noqa: F401 (fixtures)


@pytest.fixture
def eager_celery():
    """Tasks queued on commit (notifications) run in this process at once, through the real task
    code, instead of waiting in a Redis queue no worker of this test reads."""
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
