"""Fuzzing: schemathesis generates requests from Beacon's own OpenAPI schema (`/api/schema/`, every
documented operation: the native ingestion endpoints and the query API) and sends them to the Django
app in-process, with a valid key of a project that has data. No input may get a 5xx (DESIGN.md
section 10: bad input gets a clear 4xx); a bounded, derandomized number of examples per operation
keeps the run short and the same every time."""

import os
import uuid

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from analytics.insights.actions import do_save_insight
from projects.models import ApiKeyKind
from tests.analytics.ingest import new_key
from tests.analytics.insight_data import ev, refresh_rollups, write

# Transactional like the other query API tests: TimescaleDB refreshes rollups outside a transaction.
# (The WSGI transport calls the app in this thread, on this test's database connection.)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

# Bounded for the test suite; BEACON_FUZZ_EXAMPLES=500 digs deeper on demand (same seed, more cases).
EXAMPLES_PER_OPERATION = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "30"))

TREND = {
    "series": [{"event": "purchase"}],
    "date_range": {"date_from": "2026-11-10", "date_to": "2026-11-11"},
}


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Cached trends are keyed by project id: other test databases on the same Redis reuse ids."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}"}
    }


@pytest.fixture
def keys(project, owner, streams):
    """A project with a few events and a saved insight; its write key and its secret key."""
    write(
        [
            ev(project, "2026-11-10 09:00", "signed_up", "u1"),
            ev(project, "2026-11-10 10:00", "purchase", "u1", amount=10),
            ev(project, "2026-11-11 09:00", "purchase", "u2", amount=30),
        ]
    )
    refresh_rollups()
    insight = do_save_insight(project=project, kind="trend", name="Purchases", query=TREND, acting_user=owner)
    return {
        "write": new_key(project, owner, kind=ApiKeyKind.WRITE),
        "secret": new_key(project, owner, kind=ApiKeyKind.SECRET),
        "insight": insight.id,
    }


# Loaded at collection (generating the schema reads no database), so that every operation is a test
# of its own. (`schemathesis.pytest.from_fixture` would defer it, but it does not run on pytest 9.2.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def test_the_fuzzed_schema_documents_ingestion_and_the_query_api():
    """If the preprocessing hook dropped an endpoint from the schema, it would silently go unfuzzed."""
    assert set(schema.raw_schema["paths"]) == {
        *("/track", "/identify", "/alias", "/page", "/screen"),
        *("/api/v1/key", "/api/v1/event-counts", "/api/v1/plan"),
        *("/api/v1/plan/codegen/typescript", "/api/v1/plan/codegen/python"),
        *("/api/v1/query/trends", "/api/v1/query/funnels", "/api/v1/query/retention"),
        "/api/v1/insights/{insight_id}",
    }


def key_for(case, keys) -> str:
    """The query API reads with a secret key; ingestion takes a write key."""
    return keys["secret"] if case.path.startswith("/api/v1/") else keys["write"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    # One project and its keys serve every example (a function-scoped fixture, on purpose); negative
    # cases are filtered heavily on small schemas.
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error(case, keys):
    insight_id = (case.path_parameters or {}).get("insight_id")
    if isinstance(insight_id, int) and insight_id % 2 == 0:
        # a random id is almost never the saved insight's: half the cases read the real one
        case.path_parameters["insight_id"] = keys["insight"]
    case.call_and_validate(
        headers={"X-API-Key": key_for(case, keys)}, checks=[not_a_server_error, response_schema_conformance]
    )
