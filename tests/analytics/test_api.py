"""The key-authenticated query API: scopes, kinds, revocation, and errors a developer can act on."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from projects.actions import do_create_api_key, do_revoke_api_key
from projects.models import ApiKeyKind
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def new_key(project, owner, kind=ApiKeyKind.SECRET, environment="production"):
    return do_create_api_key(
        environment=project.environments.get(slug=environment), kind=kind, acting_user=owner
    )


@pytest.mark.parametrize("how", ["x-api-key", "bearer", "basic", "query"])
def test_a_key_is_accepted_every_way_sdks_send_it(client, project, owner, how):
    _, raw = new_key(project, owner, ApiKeyKind.WRITE, "staging")
    headers, url = {}, "/api/v1/key"
    if how == "x-api-key":
        headers["X-API-Key"] = raw
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {raw}"
    elif how == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{raw}:".encode()).decode()
    else:
        url += f"?apiKey={raw}"
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "project": project.slug,
        "environment": "staging",
        "kind": "write",
        "can_read": False,
        "expires_at": None,
    }


def test_no_key_and_a_revoked_key_get_401_with_a_message(
    client, project, owner, django_capture_on_commit_callbacks
):
    assert client.get("/api/v1/key").status_code == 401
    key, raw = new_key(project, owner)
    assert client.get("/api/v1/key", headers={"X-API-Key": raw}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        do_revoke_api_key(key=key, acting_user=owner)
    response = client.get("/api/v1/key", headers={"X-API-Key": raw})
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Unknown, revoked or expired API key.",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_write_key_cannot_read(client, project, owner):
    _, raw = new_key(project, owner, ApiKeyKind.WRITE)
    response = client.get("/api/v1/event-counts", headers={"X-API-Key": raw})
    assert response.status_code == 403
    assert "secret key" in response.json()["message"]


def test_a_secret_key_reads_only_its_own_project(client, owner, store):
    mine, theirs = make_project(owner=owner), make_project()
    yesterday = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=1)
    store.insert_events(
        [event(mine, time=yesterday, name="mine")] + [event(theirs, time=yesterday, name="theirs")]
    )
    store.refresh_rollups()
    _, raw = new_key(mine, owner)
    response = client.get("/api/v1/event-counts?days=3", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert [row["event"] for row in response.json()["results"]] == ["mine"]


def test_bad_parameters_get_400_and_unknown_environments_404(client, project, owner):
    _, raw = new_key(project, owner)
    response = client.get("/api/v1/event-counts?days=500", headers={"X-API-Key": raw})
    assert response.status_code == 400 and response.json()["errors"] == {"days": "An integer from 1 to 90."}
    response = client.get("/api/v1/event-counts?environment=nope", headers={"X-API-Key": raw})
    assert response.status_code == 404 and "no environment 'nope'" in response.json()["message"]
