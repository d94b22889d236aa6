from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_only_the_projects_of_the_users_organizations(client, owner, project):
    other = make_project()
    client.force_login(owner)
    response = client.get("/")
    assert project.name.encode() in response.content
    assert other.name.encode() not in response.content


def test_it_shows_a_members_project_with_its_events(client, member, project, store):
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    store.insert_events([event(project, time=today, name="checkout_started") for _ in range(3)])
    store.refresh_rollups()
    client.force_login(member)
    response = client.get(f"/projects/{project.slug}/")
    assert response.status_code == 200
    assert b"checkout_started" in response.content
    assert b'hx-headers=\'{"X-CSRFToken": "' in response.content


def test_an_outsider_gets_404_for_another_organizations_project(client, outsider, project):
    client.force_login(outsider)
    assert client.get(f"/projects/{project.slug}/").status_code == 404


def test_a_missing_project_is_the_same_404(client, outsider):
    client.force_login(outsider)
    assert client.get("/projects/no-such-project/").status_code == 404


def test_the_htmx_refresh_returns_only_the_fragment(client, owner, project):
    client.force_login(owner)
    response = client.get(f"/projects/{project.slug}/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"Events by name" in response.content
    assert b"<html" not in response.content
