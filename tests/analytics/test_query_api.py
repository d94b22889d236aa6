"""The query API: trends, funnels, retention and saved insights as JSON, for a secret key of the
project or a logged-in member naming it; every other caller refused. Expected numbers by hand."""

import json
import uuid

import pytest
from django.test import Client

from analytics.insights.actions import do_save_insight
from analytics.insights.definitions import parse_trend, to_json
from analytics.insights.funnels import precompute
from analytics.insights.models import FunnelResult
from analytics.insights.trends import run_trend
from projects.actions import do_create_api_key, do_revoke_api_key
from projects.models import ApiKeyKind
from tests.analytics.insight_data import at, ev, refresh_rollups, write
from tests.conftest import make_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

TWO_DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}
TREND = {"series": [{"event": "purchase"}, {"event": "purchase", "math": "users"}], "date_range": TWO_DAYS}
FUNNEL = {"steps": ["signed_up", "purchase"], "date_range": TWO_DAYS, "window_seconds": 86400}
RETENTION = {"cohort_event": "signed_up", "return_event": "purchase", "date_range": TWO_DAYS, "periods": 2}


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Cached trends are keyed by project id: other test databases on the same Redis reuse ids."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}"}
    }


@pytest.fixture
def shop(project):
    write(
        [
            # u1 signs up on the 10th and buys twice (10th, 11th); u2 signs up on the 10th, never buys;
            # u3 signs up and buys on the 11th; u4 buys on the 11th without signing up.
            ev(project, "2026-11-10 09:00", "signed_up", "u1"),
            ev(project, "2026-11-10 10:00", "purchase", "u1", amount=10),
            ev(project, "2026-11-11 10:00", "purchase", "u1", amount=20),
            ev(project, "2026-11-10 11:00", "signed_up", "u2"),
            ev(project, "2026-11-11 08:00", "signed_up", "u3"),
            ev(project, "2026-11-11 09:00", "purchase", "u3", amount=30),
            ev(project, "2026-11-11 12:00", "purchase", "u4", amount=40),
            ev(project, "2026-11-12 12:00", "purchase", "u1", amount=50),  # after the range
        ]
    )
    refresh_rollups()
    return project


def new_key(project, owner, kind=ApiKeyKind.SECRET):
    return do_create_api_key(
        environment=project.environments.get(slug="production"), kind=kind, acting_user=owner
    )


@pytest.fixture
def secret(shop, owner):
    return new_key(shop, owner)[1]


def post(client, path, body, key=None, **params):
    headers = {"X-API-Key": key} if key else {}
    query = "?" + "&".join(f"{name}={value}" for name, value in params.items()) if params else ""
    return client.post(
        f"/api/v1/query/{path}{query}", json.dumps(body), content_type="application/json", headers=headers
    )


# --- trends ------------------------------------------------------------------------------------------


def test_it_answers_a_trend_with_the_numbers_run_trend_gives(client, shop, secret):
    response = post(client, "trends", TREND, secret)
    assert response.status_code == 200
    body = response.json()
    # Nov 10: u1 buys; Nov 11: u1, u3, u4 buy. Unique users over the range: u1, u3, u4.
    assert [s["values"] for s in body["series"]] == [[1, 3], [1, 3]]
    assert [s["total"] for s in body["series"]] == [4, 3]
    expected = run_trend(shop, parse_trend(TREND), now=at("2026-11-20 00:00")).as_json()
    assert {key: value for key, value in body.items() if key != "query"} == expected
    assert body["query"] == to_json(parse_trend(TREND))
    assert body["query"]["interval"] == "day"  # defaults filled in


def test_it_answers_a_breakdown_and_the_previous_period(client, shop, secret):
    body = {
        "series": [{"event": "purchase", "math": "sum", "property": "amount"}],
        "date_range": {"date_from": "2026-11-11", "date_to": "2026-11-11"},
        "breakdown": "$browser",
        "compare": True,
    }
    response = post(client, "trends", body, secret)
    assert response.status_code == 200
    series = response.json()["series"]
    assert [(s["compare"], s["breakdown"], s["total"]) for s in series] == [
        ("current", None, 90.0),  # no $browser property: one "(not set)" group
        ("previous", None, 10.0),
    ]


def test_a_write_key_cannot_query(client, shop, owner):
    _, write_key = new_key(shop, owner, ApiKeyKind.WRITE)
    for path, body in (("trends", TREND), ("funnels", FUNNEL), ("retention", RETENTION)):
        response = post(client, path, body, write_key)
        assert response.status_code == 403
        assert response.json() == {
            "code": "permission_denied",
            "message": "A write key can only send events; reading needs a secret key of this project.",
        }


def test_a_key_reads_its_own_project_only(client, shop, owner):
    other = make_project(owner=owner)
    write([ev(other, "2026-11-10 10:00", "purchase", "x1")])
    refresh_rollups()
    _, other_key = new_key(other, owner)
    response = post(client, "trends", TREND, other_key)
    assert response.status_code == 200
    assert [s["total"] for s in response.json()["series"]] == [1, 1]  # its own purchase, not the shop's
    refused = post(client, "trends", TREND, other_key, project=shop.slug)
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"
    assert post(client, "trends", TREND, other_key, project=other.slug).status_code == 200


def test_a_revoked_key_and_no_key_get_401(client, shop, owner, django_capture_on_commit_callbacks):
    key, raw = new_key(shop, owner)
    assert post(client, "trends", TREND, raw).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        do_revoke_api_key(key=key, acting_user=owner)
    response = post(client, "trends", TREND, raw)
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Unknown, revoked or expired API key.",
    }
    assert post(client, "trends", TREND).status_code == 401


# --- sessions ----------------------------------------------------------------------------------------


def test_a_member_queries_with_a_session_naming_the_project(client, shop, member, viewer):
    for user in (member, viewer):
        client.force_login(user)
        response = post(client, "trends", TREND, project=shop.slug)
        assert response.status_code == 200
        assert [s["total"] for s in response.json()["series"]] == [4, 3]


def test_a_session_must_name_the_project(client, shop, member):
    client.force_login(member)
    response = post(client, "trends", TREND)
    assert response.status_code == 400
    assert response.json()["code"] == "project_required"


def test_an_outsider_session_gets_404(client, shop, outsider):
    client.force_login(outsider)
    for path, body in (("trends", TREND), ("funnels", FUNNEL), ("retention", RETENTION)):
        response = post(client, path, body, project=shop.slug)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "No such project."}
    assert client.get(f"/api/v1/event-counts?project={shop.slug}").status_code == 404


def test_a_session_post_needs_its_csrf_token(shop, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    refused = post(client, "trends", TREND, project=shop.slug)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    client.get(f"/projects/{shop.slug}/analysis/dashboards/")  # any page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/query/trends?project={shop.slug}",
        json.dumps(TREND),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_a_key_needs_no_csrf_token(shop, secret):
    client = Client(enforce_csrf_checks=True)
    assert post(client, "trends", TREND, secret).status_code == 200


def test_event_counts_take_a_session_too(client, shop, member):
    client.force_login(member)
    response = client.get(f"/api/v1/event-counts?days=90&project={shop.slug}")
    assert response.status_code == 200
    assert {row["event"] for row in response.json()["results"]} == {"signed_up", "purchase"}
    assert client.get("/api/v1/event-counts").status_code == 400


# --- bad definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("trends", {}, "series"),
        ("trends", {"series": [{"event": "purchase", "math": "mode"}]}, "series.0.math"),
        ("trends", {"series": [{"event": "purchase", "math": "sum"}]}, "series.0.property"),
        ("trends", {"series": [{"event": "purchase"}], "environment": "moon"}, "environment"),
        (
            "trends",
            {
                "series": [{"event": "purchase"}],
                "interval": "15min",
                "date_range": {"date_from": "2026-01-01"},
            },
            "interval",
        ),
        (
            "trends",
            {"series": [{"event": "purchase"}], "date_range": {"date_from": "soon"}},
            "date_range.date_from",
        ),
        ("trends", [1, 2], ""),
        ("funnels", {"steps": ["signed_up"]}, "steps"),
        ("funnels", {"steps": ["a", "b"], "order": "sideways"}, "order"),
        ("retention", {"cohort_event": "signed_up"}, "return_event"),
        ("retention", {"cohort_event": "signed_up", "return_event": "x", "periods": 99}, "periods"),
    ],
)
def test_a_bad_definition_is_a_400_naming_the_field(client, shop, secret, path, body, field):
    response = post(client, path, body, secret)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid_query"
    assert answer["field"] == field
    assert answer["message"]


def test_malformed_json_is_a_400(client, shop, secret):
    response = client.post(
        "/api/v1/query/trends", "{nope", content_type="application/json", headers={"X-API-Key": secret}
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "parse_error"
    # the documented 400 shape (found by tests/fuzz): `field` is empty for the body as a whole
    assert answer["field"] == ""
    assert "JSON parse error" in answer["message"]


@pytest.mark.parametrize("path", ["trends", "funnels", "retention"])
@pytest.mark.parametrize("body", [b"\x00", b"zvy\xf8W\xe0\xa7rC"])
def test_a_body_that_is_not_json_is_a_400_in_the_documented_shape(client, shop, secret, path, body):
    response = client.post(
        f"/api/v1/query/{path}", body, content_type="application/json", headers={"X-API-Key": secret}
    )
    assert response.status_code == 400
    assert response.json().keys() == {"code", "field", "message"}
    assert response.json()["field"] == ""


# --- funnels and retention ---------------------------------------------------------------------------


def test_it_answers_a_funnel(client, shop, secret):
    response = post(client, "funnels", FUNNEL, secret)
    assert response.status_code == 200
    body = response.json()
    # Signed up: u1, u2, u3. Then bought within a day: u1 (1 h later), u3 (1 h later).
    assert [step["count"] for step in body["steps"]] == [3, 2]
    assert body["conversion"] == pytest.approx(2 / 3)
    assert body["steps"][1]["drop_off"] == 1
    assert body["steps"][1]["median_seconds"] == pytest.approx(3600)
    assert body["source"] == "events"
    assert body["query"]["steps"][0] == {
        "event": "signed_up",
        "filters": [],
        "window_seconds": None,
        "label": None,
    }


def test_it_answers_retention(client, shop, secret):
    response = post(client, "retention", RETENTION, secret)
    assert response.status_code == 200
    body = response.json()
    # Cohort Nov 10: u1, u2; u1 buys on day 1 (the 11th) and day 2 (the 12th). Cohort Nov 11: u3,
    # who buys on day 0 only.
    assert [(c["start"][:10], c["size"], c["counts"]) for c in body["cohorts"]] == [
        ("2026-11-10", 2, [2, 1, 1]),
        ("2026-11-11", 1, [1, 0, 0]),
    ]
    assert body["average_rates"] == pytest.approx([1.0, 1 / 3, 1 / 3])
    assert body["query"]["periods"] == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "trends",
            {
                "series": [{"event": "Order Completed"}, {"event": "Order Completed", "math": "users"}],
                "interval": "day",
                "date_range": {"range": "30d"},
                "environment": "production",
                "compare": True,
            },
        ),
        (
            "funnels",
            {
                "steps": ["Signed Up", "Product Viewed", "Order Completed"],
                "window_seconds": 604800,
                "date_range": "30d",
            },
        ),
        (
            "retention",
            {"cohort_event": "$signup", "return_event": "App Opened", "interval": "week", "periods": 8},
        ),
    ],
)
def test_the_readme_examples_run(client, shop, secret, path, body):
    assert post(client, path, body, secret).status_code == 200


# --- saved insights ----------------------------------------------------------------------------------


def test_a_saved_funnel_answers_from_its_precomputed_row(client, shop, owner, secret):
    insight = do_save_insight(
        project=shop, kind="funnel", name="Sign-up to purchase", query=FUNNEL, acting_user=owner
    )
    precompute(insight, force=True)
    row = FunnelResult.objects.get(insight=insight)
    assert [step["count"] for step in row.result["steps"]] == [3, 2]
    row.result["steps"][0]["count"] = 99  # the API reads the row: it does not recompute
    row.save()
    response = client.get(f"/api/v1/insights/{insight.id}", headers={"X-API-Key": secret})
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["kind"], body["name"]) == (insight.id, "funnel", "Sign-up to purchase")
    assert body["result"]["source"] == "precomputed"
    assert [step["count"] for step in body["result"]["steps"]] == [99, 2]
    assert body["query"] == insight.query


def test_a_saved_trend_retention_and_kpi_answer(client, shop, owner, secret):
    trend = do_save_insight(project=shop, kind="trend", name="Purchases", query=TREND, acting_user=owner)
    retention = do_save_insight(
        project=shop, kind="retention", name="Buyers", query=RETENTION, acting_user=owner
    )
    kpi = do_save_insight(
        project=shop,
        kind="kpi",
        name="Buyers",
        query={"series": {"event": "purchase", "math": "users"}, "date_range": TWO_DAYS, "target": 5},
        acting_user=owner,
    )
    assert [
        s["total"]
        for s in client.get(f"/api/v1/insights/{trend.id}", headers={"X-API-Key": secret}).json()["result"][
            "series"
        ]
    ] == [4, 3]
    assert (
        client.get(f"/api/v1/insights/{retention.id}", headers={"X-API-Key": secret}).json()["result"][
            "cohorts"
        ][0]["size"]
        == 2
    )
    result = client.get(f"/api/v1/insights/{kpi.id}", headers={"X-API-Key": secret}).json()["result"]
    assert (result["value"], result["previous_value"], result["status"]) == (3, 0, "below")


def test_another_projects_insight_is_404(client, shop, owner, secret, outsider):
    other = make_project(owner=owner)
    theirs = do_save_insight(project=other, kind="trend", name="Theirs", query=TREND, acting_user=owner)
    response = client.get(f"/api/v1/insights/{theirs.id}", headers={"X-API-Key": secret})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such insight in this project."}
    assert client.get("/api/v1/insights/999999", headers={"X-API-Key": secret}).status_code == 404
    mine = do_save_insight(project=shop, kind="trend", name="Mine", query=TREND, acting_user=owner)
    client.force_login(outsider)
    assert client.get(f"/api/v1/insights/{mine.id}?project={shop.slug}").status_code == 404


def test_a_saved_insight_that_cannot_run_any_more_is_a_400(client, shop, owner, secret):
    # (an environment removed since the insight was saved)
    insight = do_save_insight(
        project=shop, kind="trend", name="Gone", query={**TREND, "environment": "gone"}, acting_user=owner
    )
    response = client.get(f"/api/v1/insights/{insight.id}", headers={"X-API-Key": secret})
    assert response.status_code == 400
    assert response.json()["field"] == "environment"
