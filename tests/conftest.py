import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from analytics.storage import get_store
from config.redis import get_redis
from projects.models import Environment, Membership, Organization, Project, Role

BACKEND = os.environ.get("BEACON_STORAGE_BACKEND", "auto")


def pytest_report_header(config):
    return f"beacon storage backend requested: {BACKEND}; database: {os.environ.get('DATABASE_URL', 'embedded PostgreSQL')}"


def pytest_collection_modifyitems(config, items):
    """Backend-specific tests are deselected (not skipped) on the other backend: they run in its run."""
    unwanted = {"timescaledb": "postgres_only", "postgres": "timescaledb"}.get(BACKEND)
    if unwanted is None:
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker(unwanted) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


if os.environ.get("BEACON_TEST_EXISTING_DB"):

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_blocker):
        """The TimescaleDB test server is in-memory and fresh per run: migrate it in place."""
        with django_db_blocker.unblock():
            call_command("migrate", verbosity=0)


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_collectstatic():
    """Tests render pages from a checkout where `collectstatic` never ran: no manifest to read."""
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True)
def _demo_shop_config_of_this_test(settings, tmp_path):
    """seed_demo writes the demo shop's key: into this test's directory, never the developer's .local/."""
    settings.DEMO_SHOP_CONFIG = str(tmp_path / "demo-shop.json")


@pytest.fixture
def store(db):
    return get_store()


_counter = iter(range(1, 10**9))


def make_user(name: str):
    return get_user_model().objects.create_user(
        username=name, email=f"{name}@example.com", password="pw-unused-123"
    )


@pytest.fixture
def owner(db):
    return make_user(f"owner{next(_counter)}")


@pytest.fixture
def member(db):
    return make_user(f"member{next(_counter)}")


@pytest.fixture
def outsider(db):
    return make_user(f"outsider{next(_counter)}")


def make_project(
    *, owner=None, member=None, viewer=None, admin=None, retention_days: int = 400, slug: str | None = None
) -> Project:
    number = next(_counter)
    organization = Organization.objects.create(name=f"Org {number}", slug=f"org-{number}-{os.getpid()}")
    project = Project.objects.create(
        organization=organization,
        name=f"Project {number}",
        slug=slug or f"p-{number}-{os.getpid()}",
        retention_days=retention_days,
    )
    for env in ("production", "staging"):
        Environment.objects.create(project=project, slug=env, name=env.capitalize())
    if owner is not None:
        Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    for user, role in ((member, Role.MEMBER), (viewer, Role.VIEWER), (admin, Role.ADMIN)):
        if user is not None:
            Membership.objects.create(organization=organization, user=user, role=role)
    return project


@pytest.fixture
def viewer(db):
    return make_user(f"viewer{next(_counter)}")


@pytest.fixture
def admin_user(db):
    return make_user(f"admin{next(_counter)}")


@pytest.fixture
def project(db, owner, member, viewer, admin_user):
    return make_project(owner=owner, member=member, viewer=viewer, admin=admin_user)


def hours_ago(hours: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(hours=hours)


@pytest.fixture
def streams(settings):
    """Streams of this test only (a unique prefix), deleted afterwards."""
    settings.INGEST_STREAM_PREFIX = f"beacon-test:{uuid.uuid4().hex[:12]}:ingest"
    yield settings.INGEST_STREAM_PREFIX
    client = get_redis()
    keys = list(client.scan_iter(match=f"{settings.INGEST_STREAM_PREFIX}:*"))
    if keys:
        client.delete(*keys)
