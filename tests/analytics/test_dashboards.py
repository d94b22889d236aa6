"""Dashboards and KPI cards: the pages, tiles that load themselves (and reload), the tile controls,
the KPI card form and its statuses; members write, viewers read, outsiders get 404 everywhere, and
every write needs its CSRF token."""

import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from analytics.insights.actions import do_add_tile, do_create_dashboard, do_save_insight
from analytics.insights.funnels import precompute
from analytics.insights.models import Dashboard, DashboardTile, FunnelResult, Insight
from tests.analytics.insight_data import ev, refresh_rollups, write
from tests.conftest import make_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

TWO_DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}


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
            ev(project, "2026-11-10 09:00", "signed_up", "u1"),
            ev(project, "2026-11-10 10:00", "purchase", "u1", amount=10),
            ev(project, "2026-11-10 11:00", "signed_up", "u2"),
            ev(project, "2026-11-11 09:00", "purchase", "u1", amount=20),
            ev(project, "2026-11-11 12:00", "purchase", "u3", amount=30),
            ev(project, "2026-11-09 12:00", "purchase", "u3", amount=30),  # the period before
        ]
    )
    refresh_rollups()
    return project


def save(project, owner, kind, name, query):
    return do_save_insight(project=project, kind=kind, name=name, query=query, acting_user=owner)


def kpi_query(**fields):
    return {"series": {"event": "purchase"}, "date_range": TWO_DAYS, **fields}


@pytest.fixture
def board(shop, owner):
    """A dashboard with a trend, a funnel, a retention table and a KPI card, in that order."""
    dashboard = do_create_dashboard(project=shop, name="Shop health", refresh_seconds=300, acting_user=owner)
    insights = [
        save(shop, owner, "trend", "Purchases", {"series": [{"event": "purchase"}], "date_range": TWO_DAYS}),
        save(
            shop,
            owner,
            "funnel",
            "Sign-up to purchase",
            {"steps": ["signed_up", "purchase"], "date_range": TWO_DAYS},
        ),
        save(
            shop,
            owner,
            "retention",
            "Buyers return",
            {"cohort_event": "signed_up", "return_event": "purchase", "date_range": TWO_DAYS},
        ),
        save(shop, owner, "kpi", "Purchases vs target", kpi_query(target=3)),
    ]
    for insight in insights:
        do_add_tile(dashboard=dashboard, insight=insight, acting_user=owner)
    return dashboard


def url(name, project, *args):
    return reverse(name, args=[project.slug, *args])


def tile_ids(dashboard):
    return list(
        DashboardTile.objects.filter(dashboard=dashboard)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )


def every_url(project, dashboard, tile):
    """(method, url) of every dashboard and KPI page."""
    return [
        ("get", url("dashboards", project)),
        ("post", url("dashboards", project)),
        ("get", url("dashboard", project, dashboard.id)),
        ("post", url("dashboard-delete", project, dashboard.id)),
        ("post", url("dashboard-add-tile", project, dashboard.id)),
        ("get", url("dashboard-tile", project, dashboard.id, tile.id)),
        ("post", url("dashboard-tile", project, dashboard.id, tile.id)),
        ("post", url("dashboard-tile-remove", project, dashboard.id, tile.id)),
        ("post", url("dashboard-tile-move", project, dashboard.id, tile.id)),
        ("get", url("kpi-create", project)),
        ("post", url("kpi-create", project)),
    ]


# --- the list and creating a dashboard ---------------------------------------------------------------


def test_the_list_says_what_to_do_when_there_is_no_dashboard(client, shop, member):
    client.force_login(member)
    response = client.get(url("dashboards", shop))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No dashboards yet: create one below, then add saved insights or KPI cards." in html
    assert 'id="new-dashboard"' in html


def test_a_member_creates_a_dashboard(client, shop, member):
    client.force_login(member)
    response = client.post(
        url("dashboards", shop), {"name": "Growth", "description": "Weekly", "refresh_seconds": "900"}
    )
    dashboard = Dashboard.objects.get(project=shop)
    assert response.status_code == 302
    assert response["Location"] == url("dashboard", shop, dashboard.id)
    assert (dashboard.name, dashboard.description, dashboard.refresh_seconds, dashboard.created_by) == (
        "Growth",
        "Weekly",
        900,
        member,
    )
    page = client.get(url("dashboards", shop)).content.decode()
    assert "Growth" in page and "every 15 min" in page


@pytest.mark.parametrize(
    "data", [{"name": "  ", "refresh_seconds": "300"}, {"name": "X", "refresh_seconds": "7"}]
)
def test_a_bad_dashboard_form_is_a_400_with_the_error(client, shop, member, data):
    client.force_login(member)
    response = client.post(url("dashboards", shop), data)
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Dashboard.objects.filter(project=shop).exists()


def test_the_analysis_home_section_lists_the_dashboards(shop, board, owner):
    html = render_to_string("analysis/_dashboards_section.html", {"project": shop, "can_edit": True})
    assert "Shop health" in html
    assert url("dashboard", shop, board.id) in html
    empty = render_to_string(
        "analysis/_dashboards_section.html", {"project": make_project(owner=owner), "can_edit": True}
    )
    assert "No dashboards yet" in empty and "create one" in empty


# --- a dashboard and its tiles -----------------------------------------------------------------------


def test_the_page_lays_out_tiles_that_load_themselves_and_refresh(client, shop, board, viewer):
    client.force_login(viewer)
    response = client.get(url("dashboard", shop, board.id))
    assert response.status_code == 200
    html = response.content.decode()
    tiles = DashboardTile.objects.filter(dashboard=board).order_by("position")
    for tile in tiles:
        tile_url = url("dashboard-tile", shop, board.id, tile.id)
        assert f'hx-get="{tile_url}"' in html
    assert html.count('hx-trigger="load, every 300s"') == 4
    assert html.count("grid-column: span 6") == 4
    names = re.findall(r'class="tile-name"[^>]*>([^<]+)<', html)
    assert names == ["Purchases", "Sign-up to purchase", "Buyers return", "Purchases vs target"]
    assert "Purchases:" not in html  # the results themselves are not in the page: the tiles fetch them
    assert "dashboard-tile-remove" not in html and "Move up" not in html  # a viewer has no controls
    assert 'id="add-tile"' not in html


def test_a_dashboard_that_never_refreshes_loads_its_tiles_once(client, shop, owner, member):
    dashboard = do_create_dashboard(project=shop, name="Static", refresh_seconds=0, acting_user=owner)
    do_add_tile(dashboard=dashboard, insight=save(shop, owner, "kpi", "K", kpi_query()), acting_user=owner)
    client.force_login(member)
    html = client.get(url("dashboard", shop, dashboard.id)).content.decode()
    assert 'hx-trigger="load"' in html and "every" not in re.search(r'hx-trigger="[^"]*"', html).group(0)


def test_an_empty_dashboard_says_how_to_fill_it(client, shop, owner, member):
    dashboard = do_create_dashboard(project=shop, name="Empty", acting_user=owner)
    client.force_login(member)
    html = client.get(url("dashboard", shop, dashboard.id)).content.decode()
    assert "No tiles yet: add a saved insight below" in html
    assert f"{url('kpi-create', shop)}?dashboard={dashboard.id}" in html


def tile_html(client, project, dashboard, index):
    tile_id = tile_ids(dashboard)[index]
    response = client.get(
        url("dashboard-tile", project, dashboard.id, tile_id), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_a_trend_tile_draws_the_chart(client, shop, board, viewer):
    client.force_login(viewer)
    html = tile_html(client, shop, board, 0)
    assert "data-chart" in html and "trend-result" in html
    assert "<html" not in html  # a fragment


def test_a_funnel_tile_reads_the_precomputed_row(client, shop, board, viewer):
    insight = Insight.objects.get(project=shop, kind="funnel")
    client.force_login(viewer)
    assert not FunnelResult.objects.filter(insight=insight).exists()  # Celery has not run in the test
    html = tile_html(client, shop, board, 1)  # the first view computes it once
    assert "funnel-result" in html and "precomputed" in html
    assert FunnelResult.objects.filter(insight=insight).exists()
    row = FunnelResult.objects.get(insight=insight)
    row.result["steps"][0]["count"] = 4242  # shown as stored, not recomputed
    row.save()
    assert "4,242" in tile_html(client, shop, board, 1)


def test_a_funnel_tile_shows_its_error(client, shop, board, viewer):
    insight = Insight.objects.get(project=shop, kind="funnel")
    precompute(insight, force=True)
    FunnelResult.objects.filter(insight=insight).update(
        result={}, error="environment: This project has no environment 'x'."
    )
    client.force_login(viewer)
    html = tile_html(client, shop, board, 1)
    assert "This insight cannot be shown" in html and "no environment" in html


def test_a_retention_tile_shows_the_table(client, shop, board, viewer):
    client.force_login(viewer)
    html = tile_html(client, shop, board, 2)
    assert "retention-table" in html


def test_a_kpi_tile_shows_the_number_the_target_the_change_and_a_sparkline(client, shop, board, viewer):
    client.force_login(viewer)
    html = tile_html(client, shop, board, 3)
    # Nov 10-11: 3 purchases; Nov 8-9: 1; the target is at least 3.
    assert re.search(r'class="kpi-value"[^>]*>3<', html)
    assert 'data-status="on"' in html and "on target" in html and "kpi-badge good" in html
    assert "Target: ≥ 3" in html
    assert "▲ 200%" in html and "kpi-change good" in html
    assert re.search(r'<polyline points="0\.0,[0-9.]+ 120\.0,[0-9.]+">', html)


@pytest.mark.parametrize(
    ("fields", "status", "tone", "arrow"),
    [
        ({"target": 3}, "on", "good", "▲"),
        ({"target": 4}, "below", "bad", "▲"),
        ({"target": 2, "higher_is_better": False}, "above", "bad", "▲"),
        ({"lower": 1, "upper": 2}, "above", "warn", "▲"),
        ({"lower": 4, "upper": 9, "higher_is_better": False}, "below", "warn", "▲"),
        ({}, "no_target", "neutral", "▲"),
    ],
)
def test_kpi_statuses_on_the_tile(client, shop, owner, viewer, fields, status, tone, arrow):
    dashboard = do_create_dashboard(project=shop, name="KPIs", acting_user=owner)
    do_add_tile(
        dashboard=dashboard, insight=save(shop, owner, "kpi", "K", kpi_query(**fields)), acting_user=owner
    )
    client.force_login(viewer)
    html = tile_html(client, shop, dashboard, 0)
    assert f'data-status="{status}"' in html
    assert f"kpi-badge {tone}" in html
    assert arrow in html


def test_a_tile_that_cannot_run_says_why(client, shop, owner, viewer):
    dashboard = do_create_dashboard(project=shop, name="Broken", acting_user=owner)
    insight = save(shop, owner, "kpi", "Gone", kpi_query(environment="gone"))
    do_add_tile(dashboard=dashboard, insight=insight, acting_user=owner)
    client.force_login(viewer)
    html = tile_html(client, shop, dashboard, 0)
    assert "This insight cannot be shown" in html and "no environment" in html


# --- tile controls -----------------------------------------------------------------------------------


def test_a_member_adds_a_saved_insight(client, shop, owner, member):
    dashboard = do_create_dashboard(project=shop, name="D", acting_user=owner)
    insight = save(shop, owner, "kpi", "Buyers", kpi_query())
    client.force_login(member)
    page = client.get(url("dashboard", shop, dashboard.id)).content.decode()
    assert f'<option value="{insight.id}"' in page
    response = client.post(
        url("dashboard-add-tile", shop, dashboard.id), {"insight": insight.id, "width": "12"}
    )
    assert response.status_code == 302
    tile = DashboardTile.objects.get(dashboard=dashboard)
    assert (tile.insight, tile.width) == (insight, 12)
    # already on it: no longer offered, and refused
    assert (
        client.post(
            url("dashboard-add-tile", shop, dashboard.id), {"insight": insight.id, "width": "6"}
        ).status_code
        == 400
    )
    assert DashboardTile.objects.filter(dashboard=dashboard).count() == 1


def test_another_projects_insight_cannot_be_added(client, shop, owner, member):
    dashboard = do_create_dashboard(project=shop, name="D", acting_user=owner)
    theirs = save(make_project(owner=owner), owner, "kpi", "Theirs", kpi_query())
    client.force_login(member)
    response = client.post(
        url("dashboard-add-tile", shop, dashboard.id), {"insight": theirs.id, "width": "6"}
    )
    assert response.status_code == 400
    assert not DashboardTile.objects.exists()


def test_tiles_move_up_and_down(client, shop, board, member):
    first, second, third, fourth = tile_ids(board)
    client.force_login(member)
    response = client.post(url("dashboard-tile-move", shop, board.id, third), {"direction": "up"})
    assert response.status_code == 302
    assert tile_ids(board) == [first, third, second, fourth]
    # with htmx: the grid comes back, in the new order
    response = client.post(
        url("dashboard-tile-move", shop, board.id, first),
        {"direction": "down"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert tile_ids(board) == [third, first, second, fourth]
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="tiles"')
    assert [int(found) for found in re.findall(r'<article class="tile" id="tile-(\d+)"', html)] == [
        third,
        first,
        second,
        fourth,
    ]
    # the last one cannot go further down
    client.post(url("dashboard-tile-move", shop, board.id, fourth), {"direction": "down"})
    assert tile_ids(board) == [third, first, second, fourth]


def test_a_tile_changes_width(client, shop, board, member):
    tile_id = tile_ids(board)[0]
    client.force_login(member)
    response = client.post(
        url("dashboard-tile", shop, board.id, tile_id), {"width": "12"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert DashboardTile.objects.get(id=tile_id).width == 12
    assert f'id="tile-{tile_id}" style="grid-column: span 12"' in response.content.decode()
    refused = client.post(
        url("dashboard-tile", shop, board.id, tile_id), {"width": "5"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
    assert DashboardTile.objects.get(id=tile_id).width == 12


def test_a_tile_is_removed_and_its_insight_stays(client, shop, board, member):
    tile_id = tile_ids(board)[0]
    insight_id = DashboardTile.objects.get(id=tile_id).insight_id
    client.force_login(member)
    response = client.post(url("dashboard-tile-remove", shop, board.id, tile_id))
    assert response.status_code == 302
    assert tile_id not in tile_ids(board)
    assert Insight.objects.filter(id=insight_id).exists()


def test_a_dashboard_is_deleted_and_its_insights_stay(client, shop, board, member):
    client.force_login(member)
    response = client.post(url("dashboard-delete", shop, board.id))
    assert response.status_code == 302
    assert response["Location"] == url("dashboards", shop)
    assert not Dashboard.objects.filter(id=board.id).exists()
    assert Insight.objects.filter(project=shop).count() == 4


def test_a_tile_of_another_dashboard_is_404(client, shop, board, owner, member):
    other = do_create_dashboard(project=shop, name="Other", acting_user=owner)
    tile_id = tile_ids(board)[0]
    client.force_login(member)
    assert client.get(url("dashboard-tile", shop, other.id, tile_id)).status_code == 404
    assert client.post(url("dashboard-tile-remove", shop, other.id, tile_id)).status_code == 404
    assert DashboardTile.objects.filter(id=tile_id).exists()


# --- KPI cards ---------------------------------------------------------------------------------------


def test_the_kpi_form_offers_the_fields(client, shop, board, member):
    client.force_login(member)
    response = client.get(url("kpi-create", shop) + f"?dashboard={board.id}")
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "name",
        "event",
        "math",
        "property",
        "range",
        "environment",
        "target",
        "lower",
        "upper",
        "higher_is_better",
    ):
        assert f'name="{name}"' in html
    assert f'<option value="{board.id}" selected>' in html
    assert '<option value="purchase">' in html  # the event names seen


def test_a_member_creates_a_kpi_card_on_a_dashboard(client, shop, board, member):
    client.force_login(member)
    data = {
        "name": "Revenue",
        "event": "purchase",
        "math": "sum",
        "property": "amount",
        "range": "30d",
        "environment": "production",
        "target": "1000",
        "lower": "",
        "upper": "",
        "higher_is_better": "true",
        "dashboard": board.id,
        "width": "4",
    }
    response = client.post(url("kpi-create", shop), data)
    assert response.status_code == 302
    assert response["Location"] == url("dashboard", shop, board.id)
    insight = Insight.objects.get(project=shop, name="Revenue")
    assert insight.kind == "kpi"
    assert insight.query["series"]["math"] == "sum" and insight.query["series"]["property"] == "amount"
    assert (insight.query["target"], insight.query["lower"], insight.query["higher_is_better"]) == (
        1000,
        None,
        True,
    )
    assert insight.query["date_range"]["range"] == "30d" and insight.query["environment"] == "production"
    tile = DashboardTile.objects.get(dashboard=board, insight=insight)
    assert (tile.width, tile_ids(board)[-1]) == (4, tile.id)


def test_a_kpi_card_without_a_dashboard_is_saved_alone(client, shop, member):
    client.force_login(member)
    data = {
        "name": "Buyers",
        "event": "purchase",
        "math": "users",
        "range": "7d",
        "upper": "5",
        "higher_is_better": "false",
        "width": "3",
    }
    response = client.post(url("kpi-create", shop), data)
    assert response.status_code == 302
    insight = Insight.objects.get(project=shop, name="Buyers")
    assert (insight.query["upper"], insight.query["higher_is_better"]) == (5, False)
    assert not DashboardTile.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"math": "sum", "property": ""}, "series.property"),
        ({"event": ""}, "series.event"),
        ({"target": "lots"}, "target"),
        ({"lower": "5", "upper": "1"}, "lower"),
        ({"environment": "moon", "name": "Bad env"}, None),
    ],
)
def test_a_bad_kpi_card_is_a_400_naming_the_field(client, shop, member, change, message):
    client.force_login(member)
    data = {"name": "K", "event": "purchase", "math": "count", "range": "7d", "width": "3", **change}
    response = client.post(url("kpi-create", shop), data)
    if message is None:
        # an unknown environment is a valid definition: the tile says why it cannot run
        assert response.status_code == 302
        return
    assert response.status_code == 400
    html = response.content.decode()
    assert "The card cannot be saved" in html and f"({message})" in html
    assert not Insight.objects.filter(project=shop, kind="kpi").exists()
    assert 'value="purchase"' in html or change.get("event") == ""  # what was typed stays


# --- who may do what ---------------------------------------------------------------------------------


def test_an_outsider_gets_404_everywhere(client, shop, board, outsider):
    tile = DashboardTile.objects.filter(dashboard=board).first()
    client.force_login(outsider)
    for method, address in every_url(shop, board, tile):
        data = {
            "name": "X",
            "refresh_seconds": "300",
            "insight": tile.insight_id,
            "width": "6",
            "direction": "up",
            "event": "e",
        }
        response = getattr(client, method)(address, data) if method == "post" else client.get(address)
        assert response.status_code == 404, (method, address)
    assert DashboardTile.objects.filter(dashboard=board).count() == 4
    assert Dashboard.objects.filter(project=shop).count() == 1


def test_a_dashboard_of_another_project_is_404(client, shop, board, owner):
    mine = make_project(owner=owner)
    client.force_login(owner)
    assert client.get(url("dashboard", mine, board.id)).status_code == 404
    assert client.post(url("dashboard-delete", mine, board.id)).status_code == 404
    assert Dashboard.objects.filter(id=board.id).exists()


def test_anonymous_visitors_are_sent_to_log_in(client, shop, board):
    response = client.get(url("dashboard", shop, board.id))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_viewer_reads_but_cannot_write(client, shop, board, viewer):
    tile = DashboardTile.objects.filter(dashboard=board).first()
    client.force_login(viewer)
    for method, address in every_url(shop, board, tile):
        if method == "get" and "kpis" not in address:
            assert client.get(address).status_code == 200, address
        else:
            data = {
                "name": "X",
                "refresh_seconds": "300",
                "insight": tile.insight_id,
                "width": "12",
                "direction": "down",
            }
            response = getattr(client, method)(address, data)
            assert response.status_code == 404, (method, address)
    assert tile_ids(board)[0] == tile.id and DashboardTile.objects.get(id=tile.id).width == 6
    assert Dashboard.objects.filter(project=shop).count() == 1
    page = client.get(url("dashboards", shop)).content.decode()
    assert 'id="new-dashboard"' not in page


def test_every_write_needs_its_csrf_token(shop, board, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    tile = DashboardTile.objects.filter(dashboard=board).first()
    for method, address in every_url(shop, board, tile):
        if method == "post":
            assert (
                client.post(address, {"name": "X", "width": "12", "direction": "down"}).status_code == 403
            ), address
    assert (
        Dashboard.objects.filter(project=shop).count() == 1
        and DashboardTile.objects.filter(dashboard=board).count() == 4
    )
    page = client.get(url("dashboards", shop))
    token = client.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    response = client.post(
        url("dashboards", shop), {"name": "With token", "refresh_seconds": "60", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    # htmx sends the token as a header (hx-headers on <body>)
    response = client.post(
        url("dashboard-tile-move", shop, board.id, tile.id),
        {"direction": "down"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
