"""The analysis pages: the trends, funnels and retention builders (whole page and htmx fragment,
empty states, errors next to their field with a 400), saving, renaming and deleting insights,
the saved funnel read from its precomputed row, outsiders, viewers and CSRF.

Events are written relative to now (the pages ask about "the last 7 days"): two days ago (D2) four
people view, two add to cart and one buys; yesterday (D1) two buy and one views twice more.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from analytics.insights import forms
from analytics.insights.actions import do_save_insight
from analytics.insights.definitions import parse, to_json
from analytics.insights.models import FunnelResult, Insight
from analytics.templatetags.analysis_tags import duration, heat, percent
from projects.models import AuditLogEntry
from tests.analytics.insight_data import ev, refresh_rollups, write
from tests.conftest import make_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "analysis-result"}
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
D1, D2 = TODAY - timedelta(days=1), TODAY - timedelta(days=2)


def when(day: datetime, clock: str) -> str:
    return f"{day:%Y-%m-%d} {clock}"


@pytest.fixture
def shop(project):
    write(
        [
            *(
                ev(project, when(D2, "09:00"), "view", user, plan=plan)
                for user, plan in [("u1", "pro"), ("u2", "free"), ("u3", "free"), ("u4", "pro")]
            ),
            ev(project, when(D2, "09:05"), "cart", "u1"),
            ev(project, when(D2, "09:10"), "cart", "u2"),
            ev(project, when(D2, "10:00"), "purchase", "u1", amount=10, plan="pro"),
            ev(project, when(D2, "11:00"), "purchase", "u1", amount=20, plan="pro"),
            ev(project, when(D1, "09:00"), "purchase", "u2", amount=30, plan="free"),
            ev(project, when(D1, "10:00"), "purchase", "u3", amount=40, plan="free"),
            ev(project, when(D1, "12:00"), "view", "u1", plan="pro"),
            ev(project, when(D1, "13:00"), "view", "u1", plan="pro"),
        ]
    )
    refresh_rollups()
    return project


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def url(name: str, project, *args, **params) -> str:
    path = reverse(name, args=[project.slug, *args])
    return f"{path}?{urlencode(params)}" if params else path


def trend_params(**extra) -> dict:
    return {
        "series.0.event": "purchase",
        "series.0.math": "count",
        "date_range.range": "7d",
        "interval": "day",
        **extra,
    }


def funnel_params(**extra) -> dict:
    return {
        "steps.0.event": "view",
        "steps.1.event": "cart",
        "steps.2.event": "purchase",
        "window_value": "14",
        "window_unit": "day",
        "date_range.range": "7d",
        **extra,
    }


def text(response) -> str:
    return response.content.decode()


def chart_json(response) -> dict:
    match = re.search(r'<script type="application/json">(.*?)</script>', text(response), re.S)
    assert match, "no chart data in the page"
    return json.loads(match.group(1))


# --- trends ------------------------------------------------------------------------------------------


def test_it_says_a_project_without_events_has_nothing_to_analyse(project, member):
    client = logged_in(member)
    for name in ("analysis-trends", "analysis-funnels", "analysis-retention"):
        response = client.get(url(name, project))
        assert response.status_code == 200
        page = text(response)
        assert "This project has no events yet" in page
        assert reverse("api-keys", args=[project.slug]) in page
        assert reverse("live-inspector", args=[project.slug]) in page


def test_it_charts_the_busiest_event_on_a_first_visit(shop, viewer):
    response = logged_in(viewer).get(url("analysis-trends", shop))
    assert response.status_code == 200
    page = text(response)
    assert 'value="view"' in page  # the busiest event is the default series
    assert "from rollups" in page
    data = chart_json(response)
    assert data["timezone"] == "UTC" and data["interval"] == "day"
    assert len(data["buckets"]) == 8  # 7 days back to the start of that day, and today
    assert sum(data["series"][0]["values"]) == 6
    assert "Save this trend" not in page  # a viewer looks, does not save


def test_the_htmx_request_gets_only_the_result_fragment(shop, member):
    response = logged_in(member).get(url("analysis-trends", shop, **trend_params()), **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page and 'id="analysis-form"' not in page
    assert 'class="table trend-table"' in page
    assert "data-chart" in page
    assert "Save this trend" in page
    values = chart_json(response)["series"][0]["values"]
    assert values[-3:] == [2, 2, 0]  # D2, D1, today
    assert re.search(r'<td class="num total">4</td>', page)


def test_a_numeric_measure_broken_down_by_plan_reads_raw_events(shop, member):
    params = trend_params(
        **{"series.0.math": "sum", "series.0.property": "amount", "breakdown.property": "plan"}
    )
    response = logged_in(member).get(url("analysis-trends", shop, **params), **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "from raw events" in page
    series = {item["label"]: sum(item["values"]) for item in chart_json(response)["series"]}
    assert series == {"purchase (sum of amount) · free": 70, "purchase (sum of amount) · pro": 30}


def test_a_filter_a_custom_range_and_the_previous_period(shop, member):
    params = trend_params(
        **{
            "filters.0.property": "plan",
            "filters.0.operator": "eq",
            "filters.0.value": "free",
            "filters.0.source": "event",
            "date_range.range": "custom",
            "date_range.date_from": f"{D2:%Y-%m-%d}",
            "date_range.date_to": f"{D1:%Y-%m-%d}",
            "compare": "1",
        }
    )
    response = logged_in(member).get(url("analysis-trends", shop, **params), **HTMX)
    assert response.status_code == 200
    series = chart_json(response)["series"]
    assert [(s["compare"], s["values"]) for s in series] == [("current", [0, 2]), ("previous", [0, 0])]
    assert "(previous period)" in text(response)


def test_days_are_the_project_time_zone_days_in_the_chart_and_the_table(shop, member):
    shop.timezone = "Asia/Shanghai"  # UTC+8: a local day starts at 16:00 UTC
    shop.save()
    response = logged_in(member).get(url("analysis-trends", shop, **trend_params()), **HTMX)
    assert response.status_code == 200
    data = chart_json(response)
    assert data["timezone"] == "Asia/Shanghai"
    assert {bucket % 86400 for bucket in data["buckets"]} == {16 * 3600}
    first_day = datetime.fromtimestamp(data["buckets"][0], UTC) + timedelta(hours=8)
    assert f"{first_day:%a} {first_day.day} {first_day:%b %Y}" in text(response)
    assert "(Asia/Shanghai)" in text(response)


def test_a_query_that_matches_nothing_says_so(shop, member):
    response = logged_in(member).get(
        url("analysis-trends", shop, **trend_params(**{"series.0.event": "nope"})), **HTMX
    )
    assert response.status_code == 200
    assert "No events matched" in text(response)
    assert "data-chart" not in text(response)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"series.0.math": "sum"}, "series.0.property", "Required."),
        ({"interval": "minute"}, "interval", "One of 15min, hour, day, week"),
        ({"environment": "moon"}, "environment", "no environment"),
        (
            {"date_range.range": "custom", "date_range.date_from": "yesterday"},
            "date_range.date_from",
            "A date",
        ),
        (
            {"filters.0.property": "amount", "filters.0.operator": "gt", "filters.0.value": "ten"},
            "filters.0.value",
            "Expected a number",
        ),
    ],
)
def test_a_bad_query_answers_400_with_the_message_for_its_field(shop, member, params, field, message):
    client = logged_in(member)
    fragment = client.get(url("analysis-trends", shop, **trend_params(**params)), **HTMX)
    assert fragment.status_code == 400
    assert f'data-error-field="{field}"' in text(fragment)
    assert message in text(fragment)
    page = client.get(url("analysis-trends", shop, **trend_params(**params)))
    assert page.status_code == 400
    # the full page shows it inside the form, under the input of that name
    form = text(page).split('id="analysis-form"')[1].split("</form>")[0]
    field_html = form.split(f'name="{field}"')[1].split("</label>")[0]
    assert message in field_html


def test_a_bad_query_string_never_gives_a_500(shop, member):
    client = logged_in(member)
    for params in (
        {"series": "x", "series.0.event": "y"},
        {"series.0.event": " "},
        {"series.999.event": "a"},
        {"compare": "maybe"},
    ):
        assert client.get(url("analysis-trends", shop, **params), **HTMX).status_code == 400


# --- funnels -------------------------------------------------------------------------------------------


def test_the_funnel_page_shows_bars_conversion_and_humanized_times(shop, member):
    client = logged_in(member)
    first_visit = client.get(url("analysis-funnels", shop))
    assert first_visit.status_code == 200
    assert "Choose at least two steps" in text(first_visit)

    response = client.get(url("analysis-funnels", shop, **funnel_params()), **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert [int(n) for n in re.findall(r'<span class="num funnel-count">(\d+)</span>', page)] == [4, 2, 2]
    assert re.findall(r'<rect class="fill" width="([\d.]+)"', page) == ["100.00", "50.00", "50.00"]
    assert '<strong class="conversion">50 %</strong>' in page
    assert "7.5 min" in page  # view -> cart: median of 5 and 10 minutes
    assert "Save this funnel" in page


def test_a_funnel_broken_down_has_a_row_per_value(shop, member):
    params = funnel_params(**{"breakdown.property": "plan"})
    response = logged_in(member).get(url("analysis-funnels", shop, **params), **HTMX)
    assert response.status_code == 200
    table = text(response).split('class="table funnel-breakdown"')[1]
    rows = re.findall(r"<tr><td>(\w+)</td>", table)
    assert sorted(rows) == ["free", "pro"]


def test_a_funnel_needs_two_steps_and_says_which_field_is_wrong(shop, member):
    client = logged_in(member)
    response = client.get(url("analysis-funnels", shop, **{"steps.0.event": "view"}), **HTMX)
    assert response.status_code == 400
    assert 'data-error-field="steps"' in text(response)
    bad_window = funnel_params(**{"steps.1.window_value": "soon"})
    response = client.get(url("analysis-funnels", shop, **bad_window), **HTMX)
    assert response.status_code == 400
    assert 'data-error-field="steps.1.window_value"' in text(response)
    bad_exclusion = funnel_params(
        **{"exclusions.0.event": "cart", "exclusions.0.from_step": "3", "exclusions.0.to_step": "2"}
    )
    response = client.get(url("analysis-funnels", shop, **bad_exclusion), **HTMX)
    assert response.status_code == 400
    assert 'data-error-field="exclusions.0.from_step"' in text(response)


# --- retention -----------------------------------------------------------------------------------------


def test_the_retention_page_shows_the_triangle(shop, member):
    params = {
        "cohort_event": "$signup",
        "return_event": "purchase",
        "interval": "day",
        "periods": "3",
        "date_range.range": "custom",
        "date_range.date_from": f"{D2:%Y-%m-%d}",
        "date_range.date_to": f"{D1:%Y-%m-%d}",
    }
    response = logged_in(member).get(url("analysis-retention", shop, **params), **HTMX)
    assert response.status_code == 200
    page = text(response)
    first_cohort = page.split("<tbody>")[1].split("</tr>")[0]
    # four people first seen on D2; two of them buy on D1 (day 1); day 3 has not come yet
    assert '<td class="num">4</td>' in first_cohort
    assert re.findall(r'heat-\d+"[^>]*>([\d.]+ %)</td>', first_cohort)[:2] == ["100 %", "50 %"]
    assert first_cohort.count('<td class="ret-cell pending"></td>') == 1


def test_the_retention_page_runs_a_default_on_first_visit(shop, member):
    response = logged_in(member).get(url("analysis-retention", shop))
    assert response.status_code == 200
    assert 'class="table retention-table"' in text(response)
    assert 'value="$signup"' in text(response)


# --- saved insights ------------------------------------------------------------------------------------


def saved_query(kind: str, params: dict) -> dict:
    return to_json(parse(kind, forms.definition_of(kind, forms.unflatten(params))))


def test_a_member_saves_a_trend_and_lands_on_its_page(shop, member):
    client = logged_in(member)
    query = saved_query("trend", trend_params())
    response = client.post(
        url("analysis-insight-save", shop),
        {"kind": "trend", "name": "Purchases", "description": "Daily", "query": json.dumps(query)},
    )
    insight = Insight.objects.get(project=shop)
    assert response.status_code == 302
    assert response["Location"] == url("analysis-insight", shop, insight.id)
    assert (insight.kind, insight.name, insight.description, insight.query) == (
        "trend",
        "Purchases",
        "Daily",
        query,
    )
    assert AuditLogEntry.objects.filter(action="insight.create").exists()
    page = text(client.get(response["Location"]))
    assert "Purchases" in page and "data-chart" in page and "Rename or delete" in page
    home = text(client.get(url("analysis-home", shop)))
    assert 'data-kind="trend"' in home and "Purchases" in home


def test_saving_without_a_name_goes_back_to_the_builder_with_the_query(shop, member):
    client = logged_in(member)
    query = saved_query("trend", trend_params())
    response = client.post(
        url("analysis-insight-save", shop), {"kind": "trend", "name": " ", "query": json.dumps(query)}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(url("analysis-trends", shop) + "?")
    assert "series.0.event=purchase" in response["Location"]
    assert not Insight.objects.exists()


def test_a_viewer_sees_no_save_form_and_cannot_write(shop, viewer, member):
    insight = do_save_insight(
        project=shop,
        kind="trend",
        name="Mine",
        query=saved_query("trend", trend_params()),
        acting_user=member,
    )
    client = logged_in(viewer)
    page = text(client.get(url("analysis-trends", shop, **trend_params()), **HTMX))
    assert "Save this trend" not in page
    assert "Rename or delete" not in text(client.get(url("analysis-insight", shop, insight.id)))
    query = json.dumps(insight.query)
    assert (
        client.post(
            url("analysis-insight-save", shop), {"kind": "trend", "name": "x", "query": query}
        ).status_code
        == 403
    )
    assert (
        client.post(url("analysis-insight-update", shop, insight.id), {"name": "Renamed"}).status_code == 403
    )
    assert client.post(url("analysis-insight-delete", shop, insight.id)).status_code == 403
    assert list(Insight.objects.values_list("name", flat=True)) == ["Mine"]


def test_a_member_renames_updates_and_deletes_an_insight(shop, member):
    insight = do_save_insight(
        project=shop, kind="trend", name="Old", query=saved_query("trend", trend_params()), acting_user=member
    )
    client = logged_in(member)
    client.post(
        url("analysis-insight-update", shop, insight.id), {"name": "New", "description": "Now described"}
    )
    insight.refresh_from_db()
    assert (insight.name, insight.description) == ("New", "Now described")
    weekly = saved_query("trend", trend_params(interval="week"))
    client.post(
        url("analysis-insight-update", shop, insight.id), {"name": "New", "query": json.dumps(weekly)}
    )
    insight.refresh_from_db()
    assert insight.query["interval"] == "week"
    response = client.post(url("analysis-insight-delete", shop, insight.id))
    assert response["Location"] == url("analysis-home", shop)
    assert not Insight.objects.exists()


def test_the_edit_link_opens_the_builder_prefilled(shop, member):
    params = funnel_params(
        **{
            "steps.1.window_value": "2",
            "steps.1.window_unit": "hour",
            "steps.1.filters.0.property": "plan",
            "steps.1.filters.0.operator": "in",
            "steps.1.filters.0.value": "pro, free",
            "exclusions.0.event": "refund",
            "exclusions.0.from_step": "2",
            "exclusions.0.to_step": "3",
            "order": "strict",
        }
    )
    query = saved_query("funnel", params)
    insight = do_save_insight(project=shop, kind="funnel", name="Checkout", query=query, acting_user=member)
    client = logged_in(member)
    page = text(client.get(url("analysis-insight", shop, insight.id)))
    edit = re.search(r'<a class="button" href="([^"]+)">Edit</a>', page).group(1).replace("&amp;", "&")
    assert edit.startswith(url("analysis-funnels", shop) + "?") and f"insight={insight.id}" in edit
    builder = text(client.get(edit))
    assert 'name="steps.1.filters.0.value" data-name="value" value="pro, free"' in builder
    assert 'name="exclusions.0.from_step" data-name="from_step" value="2"' in builder
    assert "Update “Checkout”" in builder
    # the builder's URL gives the saved definition back exactly
    assert saved_query("funnel", QueryDict(edit.split("?", 1)[1])) == query


def test_the_saved_funnel_page_reads_the_precomputed_row(shop, member):
    insight = do_save_insight(
        project=shop,
        kind="funnel",
        name="Checkout",
        query=saved_query("funnel", funnel_params()),
        acting_user=member,
    )
    client = logged_in(member)
    # No row yet (Celery has not run): the page computes it now, and keeps it.
    page = text(client.get(url("analysis-insight", shop, insight.id)))
    assert FunnelResult.objects.filter(insight=insight, error="").exists()
    assert [int(n) for n in re.findall(r'<span class="num funnel-count">(\d+)</span>', page)] == [4, 2, 2]
    assert "precomputed" in page
    # The page reads the row, not the events: a changed row shows as is.
    row = FunnelResult.objects.get(insight=insight)
    row.result["steps"][0]["count"] = 4242
    row.save()
    page = text(client.get(url("analysis-insight", shop, insight.id)))
    assert '<span class="num funnel-count">4,242</span>' in page


def test_a_saved_funnel_that_cannot_be_computed_says_why(shop, member):
    insight = do_save_insight(
        project=shop,
        kind="funnel",
        name="Staging",
        query=saved_query("funnel", funnel_params(environment="staging")),
        acting_user=member,
    )
    shop.environments.filter(slug="staging").delete()
    response = logged_in(member).get(url("analysis-insight", shop, insight.id))
    assert response.status_code == 200
    assert "no environment" in text(response)


def test_the_saved_retention_page_shows_its_table(shop, member):
    query = saved_query(
        "retention", {"cohort_event": "$signup", "return_event": "purchase", "date_range.range": "7d"}
    )
    insight = do_save_insight(project=shop, kind="retention", name="Buyers", query=query, acting_user=member)
    page = text(logged_in(member).get(url("analysis-insight", shop, insight.id)))
    assert 'class="table retention-table"' in page


def test_the_saved_kpi_page_shows_its_number_and_status(shop, member):
    query = {"series": {"event": "purchase"}, "date_range": "90d", "target": 1000}
    insight = do_save_insight(project=shop, kind="kpi", name="Purchases", query=query, acting_user=member)
    page = text(logged_in(member).get(url("analysis-insight", shop, insight.id)))
    assert 'class="kpi" data-status="below"' in page
    assert "Target: ≥ 1,000" in page


def test_the_home_page_lists_insights_by_kind_and_links_the_builders(project, member):
    do_save_insight(
        project=project, kind="funnel", name="Signup funnel", query={"steps": ["a", "b"]}, acting_user=member
    )
    page = text(logged_in(member).get(url("analysis-home", project)))
    assert 'data-kind="funnel"' in page and "Signup funnel" in page
    assert 'data-kind="trend"' not in page
    for name in ("analysis-trends", "analysis-funnels", "analysis-retention"):
        assert reverse(name, args=[project.slug]) in page
    assert 'class="active">Analysis</a>' in page


# --- who may do what -----------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_analysis_url(shop, member, outsider):
    insight = do_save_insight(
        project=shop, kind="trend", name="T", query=saved_query("trend", trend_params()), acting_user=member
    )
    client = logged_in(outsider)
    make_project(owner=outsider)  # a project of their own changes nothing
    for name in ("analysis-home", "analysis-trends", "analysis-funnels", "analysis-retention"):
        assert client.get(url(name, shop)).status_code == 404, name
    assert client.get(url("analysis-trends", shop, **trend_params()), **HTMX).status_code == 404
    assert client.get(url("analysis-insight", shop, insight.id)).status_code == 404
    query = json.dumps(insight.query)
    assert (
        client.post(
            url("analysis-insight-save", shop), {"kind": "trend", "name": "x", "query": query}
        ).status_code
        == 404
    )
    assert client.post(url("analysis-insight-update", shop, insight.id), {"name": "x"}).status_code == 404
    assert client.post(url("analysis-insight-delete", shop, insight.id)).status_code == 404
    assert Insight.objects.get().name == "T"


def test_an_insight_of_another_project_is_404(shop, member):
    other = make_project(member=member)
    insight = do_save_insight(
        project=other, kind="funnel", name="Theirs", query={"steps": ["a", "b"]}, acting_user=member
    )
    client = logged_in(member)
    assert client.get(url("analysis-insight", shop, insight.id)).status_code == 404
    assert client.post(url("analysis-insight-delete", shop, insight.id)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(shop):
    response = Client().get(url("analysis-trends", shop))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_posts_need_the_csrf_token(shop, member):
    client = logged_in(member, enforce_csrf_checks=True)
    query = json.dumps(saved_query("trend", trend_params()))
    data = {"kind": "trend", "name": "Purchases", "query": query}
    assert client.post(url("analysis-insight-save", shop), data).status_code == 403
    assert not Insight.objects.exists()
    page = client.get(url("analysis-trends", shop, **trend_params()))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(page)).group(1)
    assert (
        client.post(url("analysis-insight-save", shop), {**data, "csrfmiddlewaretoken": token}).status_code
        == 302
    )
    insight = Insight.objects.get()
    assert client.post(url("analysis-insight-delete", shop, insight.id)).status_code == 403
    assert client.post(url("analysis-insight-update", shop, insight.id), {"name": "x"}).status_code == 403


# --- the form's parameters and the result filters --------------------------------------------------------


def test_form_values_and_parameters_give_back_the_same_definitions():
    queries = {
        "trend": {
            "series": [
                {"event": "buy", "math": "p95", "property": "amount", "filters": []},
                {"event": "view", "math": "users"},
            ],
            "interval": "hour",
            "date_range": {"date_from": "2026-11-01", "date_to": "2026-11-07"},
            "environment": "production",
            "filters": [
                {"property": "plan", "operator": "not_in", "value": ["free", "trial"], "source": "person"}
            ],
            "breakdown": {"property": "browser", "source": "context", "limit": 5},
            "compare": True,
        },
        "funnel": {
            "steps": [
                {"event": "a"},
                {"event": "b", "window_seconds": 5400},
                {"event": "c", "filters": [{"property": "x", "operator": "is_set"}]},
            ],
            "window_seconds": 3 * 86400,
            "order": "strict",
            "exclusions": [{"event": "z", "from_step": 1, "to_step": 2}],
            "date_range": {"range": "90d"},
        },
        "retention": {
            "cohort_event": "$signup",
            "return_event": "buy",
            "interval": "week",
            "periods": 4,
            "date_range": {"range": "90d"},
        },
    }
    for kind, raw in queries.items():
        canonical = to_json(parse(kind, raw))
        pairs = forms.flatten(forms.form_values(kind, canonical))
        params = QueryDict(urlencode(pairs))
        assert to_json(parse(kind, forms.definition_of(kind, forms.unflatten(params)))) == canonical, kind


def test_the_result_filters_humanize_durations_rates_and_heat():
    assert [duration(v) for v in (None, 12, 180, 450, 7560, 129600)] == [
        "–",
        "12 s",
        "3 min",
        "7.5 min",
        "2.1 h",
        "1.5 d",
    ]
    assert [percent(v) for v in (None, 0, 0.5, 0.4231, 1)] == ["", "0 %", "50 %", "42.3 %", "100 %"]
    assert [heat(v) for v in (None, 0, 0.01, 0.5, 1)] == [0, 0, 1, 5, 10]
