"""The alert pages: every page renders for a member and a viewer, outsiders get 404 on every URL
(POSTs too), another project's ids are 404, viewers cannot write, the rule form validates by kind,
the preview chart renders its data, channels send a test, and alert events get acknowledged and
commented."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from alerts.evaluation import Preview, PreviewPoint
from alerts.models import AlertComment, AlertEvent, AlertRule, Channel, Delivery, RuleKind
from analytics.plan.models import EventDefinition, EventStatus
from projects.models import AuditLogEntry
from tests.alerts.factories import make_channel, make_fired_event, make_resolved_event, make_rule
from tests.alerts.http_server import Reply, StubServer
from tests.analytics.insight_data import ev, refresh_rollups, write
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def url(name, project, *args) -> str:
    return reverse(name, args=[project.slug, *args])


def volume_form(project, **fields) -> dict:
    return {
        "name": "Checkout volume low",
        "kind": "volume_below",
        "environment": str(project.environments.get(slug="production").id),
        "event": "checkout",
        "threshold": "10",
        "window_minutes": "60",
        "cooldown_minutes": "60",
        "severity": "critical",
        "quiet_hours_timezone": "UTC",
        **fields,
    }


@pytest.fixture
def rule(project):
    return make_rule(project)


@pytest.fixture
def channel(project):
    return make_channel(project, "email", {"addresses": ["oncall@example.com"]}, name="On-call")


@pytest.fixture
def receiver(settings):
    """A local HTTP server standing in for a webhook receiver (the SSRF guard lets it through)."""
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def fired(rule):
    return make_fired_event(rule)


@pytest.fixture
def live_event(project, member):
    return EventDefinition.objects.create(
        project=project, name="checkout", status=EventStatus.LIVE, owner=member.email
    )


def every_url(project, rule, channel, fired, live_event) -> list[tuple[str, str]]:
    return [
        ("get", url("alert-rules", project)),
        ("get", url("alert-rule-create", project)),
        ("post", url("alert-rule-create", project)),
        ("get", url("alert-rule", project, rule.id)),
        ("get", url("alert-rule-edit", project, rule.id)),
        ("post", url("alert-rule-edit", project, rule.id)),
        ("post", url("alert-rule-delete", project, rule.id)),
        ("post", url("alert-rule-toggle", project, rule.id)),
        ("post", url("alert-rule-mute", project, rule.id)),
        ("get", url("alert-rule-preview", project) + f"?rule={rule.id}"),
        ("post", url("alert-rule-preview", project)),
        ("get", url("alert-event-rules", project, live_event.id)),
        ("post", url("alert-rule-from-event", project, live_event.id)),
        ("get", url("alert-channels", project)),
        ("get", url("alert-channel-create", project)),
        ("post", url("alert-channel-create", project)),
        ("get", url("alert-channel-edit", project, channel.id)),
        ("post", url("alert-channel-edit", project, channel.id)),
        ("post", url("alert-channel-enable", project, channel.id)),
        ("post", url("alert-channel-delete", project, channel.id)),
        ("post", url("alert-channel-test", project, channel.id)),
        ("get", url("alert-channel-deliveries", project, channel.id)),
        ("get", url("alert-history", project)),
        ("get", url("alert-event", project, fired.id)),
        ("post", url("alert-acknowledge", project, fired.id)),
        ("post", url("alert-comment", project, fired.id)),
    ]


# --- who may see and do what -------------------------------------------------------------------------


def test_it_gives_an_outsider_404_on_every_url(client, project, outsider, rule, channel, fired, live_event):
    client.force_login(outsider)
    for method, address in every_url(project, rule, channel, fired, live_event):
        response = getattr(client, method)(address, {"duration": "1h", "body": "hi"})
        assert response.status_code == 404, (method, address)
    assert AlertRule.objects.filter(id=rule.id).exists() and Channel.objects.filter(id=channel.id).exists()


def test_it_sends_an_anonymous_visitor_to_log_in(client, project, rule):
    response = client.get(url("alert-rule", project, rule.id))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_lets_a_viewer_read_every_page_without_write_buttons(
    client, project, viewer, rule, channel, fired, live_event
):
    client.force_login(viewer)
    for method, address in every_url(project, rule, channel, fired, live_event):
        if method == "get" and "/new/" not in address and "/edit/" not in address:
            assert client.get(address).status_code == 200, address
    html = client.get(url("alert-rules", project)).content.decode()
    assert "New alert rule" not in html and "alert-rule-toggle" not in html and 'role="switch"' not in html
    html = client.get(url("alert-event", project, fired.id)).content.decode()
    assert "Acknowledge</button>" not in html and 'name="body"' not in html
    html = client.get(url("alert-channels", project)).content.decode()
    assert "Send test" not in html


def test_it_refuses_every_write_of_a_viewer_with_404(
    client, project, viewer, rule, channel, fired, live_event
):
    client.force_login(viewer)
    for method, address in every_url(project, rule, channel, fired, live_event):
        if method == "post" and "preview" not in address:
            response = client.post(address, {"duration": "1h", "body": "hi", **volume_form(project)})
            assert response.status_code == 404, address
        elif "/new/" in address or "/edit/" in address:
            assert client.get(address).status_code == 404, address
    rule.refresh_from_db()
    assert rule.enabled and rule.muted_until is None and not fired.comments.exists()


def test_it_gives_404_for_another_projects_rule_channel_and_alert(client, project, member, owner):
    elsewhere = make_project(owner=owner)
    rule = make_rule(elsewhere)
    channel = make_channel(elsewhere, "email", {"addresses": ["x@example.com"]})
    fired = make_fired_event(rule)
    event = EventDefinition.objects.create(project=elsewhere, name="checkout", status=EventStatus.LIVE)
    client.force_login(member)
    for method, address in every_url(project, rule, channel, fired, event):
        if (
            any(f"/{thing}/" in address for thing in (rule.id, channel.id, fired.id, event.id))
            or "rule=" in address
        ):
            assert getattr(client, method)(address).status_code == 404, address


def test_it_answers_a_bad_rule_id_in_the_preview_with_404(client, project, member):
    client.force_login(member)
    assert client.get(url("alert-rule-preview", project) + "?rule=abc").status_code == 404
    assert client.get(url("alert-rule-preview", project) + "?rule=999999").status_code == 404


def test_every_write_needs_its_csrf_token(project, member, rule, channel, fired, live_event):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    posts = [
        address
        for method, address in every_url(project, rule, channel, fired, live_event)
        if method == "post"
    ]
    assert len(posts) >= 10
    for address in posts:
        response = client.post(address, {"duration": "1h", "body": "hi", **volume_form(project)})
        assert response.status_code == 403, address
    rule.refresh_from_db()
    assert rule.enabled and rule.muted_until is None and not fired.comments.exists()
    assert Channel.objects.filter(id=channel.id).exists() and not AuditLogEntry.objects.exists()
    page = client.get(url("alert-rules", project)).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and "X-CSRFToken" in page


# --- the rule list, the rule page -------------------------------------------------------------------


def test_it_shows_the_empty_rule_list_with_a_call_to_action(client, project, member):
    client.force_login(member)
    html = client.get(url("alert-rules", project)).content.decode()
    assert "No alert rules yet" in html and "Create an alert rule" in html and "one click" in html


def test_it_lists_rules_with_state_last_value_and_a_toggle(client, project, member, rule):
    AlertRule.objects.filter(id=rule.id).update(
        state="firing", last_value=12.0, last_evaluated_at=datetime.now(UTC) - timedelta(minutes=3)
    )
    client.force_login(member)
    html = client.get(url("alert-rules", project)).content.decode()
    assert "Checkout volume low" in html and "Volume below" in html and "<code>checkout</code>" in html
    assert 'class="state-pill firing"' in html and "12 events" in html and "3\xa0minutes ago" in html
    assert f'hx-post="{url("alert-rule-toggle", project, rule.id)}"' in html


def test_the_toggle_answers_htmx_with_the_row_and_is_audited(client, project, member, rule):
    client.force_login(member)
    response = client.post(
        url("alert-rule-toggle", project, rule.id), {"enabled": "0"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="rule-{rule.id}"') and "Disabled" in html and ">Off<" in html
    rule.refresh_from_db()
    assert rule.enabled is False
    assert AuditLogEntry.objects.filter(action="alert_rule.disable", target_id=str(rule.id)).exists()
    response = client.post(url("alert-rule-toggle", project, rule.id), {"next": "rule"})
    assert response.status_code == 302 and response["Location"] == url("alert-rule", project, rule.id)
    rule.refresh_from_db()
    assert rule.enabled is True


def test_the_rule_page_shows_definition_history_and_loads_its_preview(
    client, project, member, rule, channel, fired
):
    rule.channels.set([channel])
    make_resolved_event(fired)
    client.force_login(member)
    html = client.get(url("alert-rule", project, rule.id)).content.decode()
    assert "Volume below" in html and "15 minutes" in html and "On-call" in html
    assert f'hx-get="{url("alert-rule-preview", project)}?rule={rule.id}"' in html
    assert html.count(f'href="{url("alert-event", project, fired.id)}"') == 1 and "Resolved" in html
    assert "no channel yet" not in html


def test_it_shows_why_the_evaluation_failed_on_the_now_card(client, project, member, rule):
    client.force_login(member)
    html = client.get(url("alert-rule", project, rule.id)).content.decode()
    assert "last-error" not in html and "The last evaluation failed" not in html
    AlertRule.objects.filter(id=rule.id).update(state="error", last_error="Unknown property: plan_tier")
    html = client.get(url("alert-rule", project, rule.id)).content.decode()
    assert "The last evaluation failed" in html and "Evaluation failed" in html
    assert '<dd class="error last-error">Unknown property: plan_tier</dd>' in html
    assert html.count("last-error") == 1


def test_the_rule_page_says_when_a_rule_has_no_channel(client, project, member, rule):
    client.force_login(member)
    assert "no channel yet" in client.get(url("alert-rule", project, rule.id)).content.decode()


@pytest.mark.parametrize(("duration", "hours"), [("1h", 1), ("8h", 8), ("24h", 24)])
def test_it_mutes_a_rule_for_a_while(client, project, member, rule, duration, hours):
    client.force_login(member)
    response = client.post(url("alert-rule-mute", project, rule.id), {"duration": duration})
    assert response.status_code == 302
    rule.refresh_from_db()
    expected = datetime.now(UTC) + timedelta(hours=hours)
    assert abs((rule.muted_until - expected).total_seconds()) < 60
    assert "Muted until" in client.get(url("alert-rule", project, rule.id)).content.decode()


def test_it_unmutes_and_ignores_an_unknown_duration(client, project, member, rule):
    client.force_login(member)
    client.post(url("alert-rule-mute", project, rule.id), {"duration": "1h"})
    client.post(url("alert-rule-mute", project, rule.id), {"duration": "forever"})
    rule.refresh_from_db()
    assert rule.muted_until is not None
    client.post(url("alert-rule-mute", project, rule.id), {"duration": "unmute"})
    rule.refresh_from_db()
    assert rule.muted_until is None


def test_it_deletes_a_rule(client, project, member, rule):
    client.force_login(member)
    response = client.post(url("alert-rule-delete", project, rule.id))
    assert response.status_code == 302 and not AlertRule.objects.filter(id=rule.id).exists()
    assert AuditLogEntry.objects.filter(action="alert_rule.delete").exists()


# --- the rule form -----------------------------------------------------------------------------------


def test_the_new_rule_form_renders_every_kind_and_its_preview_trigger(client, project, member):
    client.force_login(member)
    html = client.get(url("alert-rule-create", project)).content.decode()
    for kind in RuleKind.values:
        assert f'value="{kind}"' in html
    assert f'hx-post="{url("alert-rule-preview", project)}"' in html and "delay:500ms" in html
    assert 'data-kinds="rate_below rate_above"' in html and 'id="template-filter-row"' in html
    assert "js/alerts.js" in html and "<script>" not in html


def test_a_member_creates_a_volume_rule_with_filters_and_a_channel(client, project, member, channel):
    client.force_login(member)
    data = volume_form(
        project,
        channels=[str(channel.id)],
        owner=str(member.id),
        **{
            "filters.0.property": "plan",
            "filters.0.operator": "eq",
            "filters.0.value": "pro",
            "filters.0.source": "event",
        },
    )
    response = client.post(url("alert-rule-create", project), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get(project=project)
    assert response["Location"] == url("alert-rule", project, rule.id)
    assert rule.kind == "volume_below" and rule.threshold == 10 and rule.owner == member
    assert rule.filters == [{"property": "plan", "operator": "eq", "value": "pro", "source": "event"}]
    assert list(rule.channels.all()) == [channel] and rule.created_by == member
    assert AuditLogEntry.objects.filter(action="alert_rule.create", target_id=str(rule.id)).exists()


def test_editing_a_rule_saves_it_and_makes_it_due_now(client, project, member, rule):
    AlertRule.objects.filter(id=rule.id).update(next_evaluation_at=datetime.now(UTC) + timedelta(hours=1))
    client.force_login(member)
    html = client.get(url("alert-rule-edit", project, rule.id)).content.decode()
    assert 'value="Checkout volume low"' in html
    response = client.post(url("alert-rule-edit", project, rule.id), volume_form(project, threshold="25"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.threshold == 25 and rule.next_evaluation_at <= datetime.now(UTC)
    entry = AuditLogEntry.objects.get(action="alert_rule.update")
    assert entry.before["threshold"] == 50.0 and entry.after["threshold"] == 25.0


def errors_of(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event": ""}, "Which event does this rule watch?"),
        ({"threshold": ""}, "A threshold is required"),
        ({"threshold": "-1"}, "A number of events: 0 or more."),
        ({"kind": "rate_below", "threshold": "5"}, "A rate needs the event it is a share of."),
        ({"kind": "rate_above", "denominator_event": "view", "threshold": "150"}, "percentage from 0 to 100"),
        (
            {"kind": "rate_above", "denominator_event": "view", "min_sample": "-3"},
            "greater than or equal to 0",
        ),
        ({"kind": "anomaly", "anomaly_weeks": "13"}, "less than or equal to 12"),
        ({"kind": "anomaly", "anomaly_weeks": "0"}, "greater than or equal to 1"),
        (
            {"kind": "anomaly", "anomaly_mode": "stddev", "anomaly_deviations": "0"},
            "standard deviations above 0",
        ),
        ({"kind": "anomaly", "anomaly_mode": "percent", "anomaly_percent": "-5"}, "A percentage above 0."),
        ({"kind": "absence", "event": ""}, "Which event does this rule watch?"),
        ({"kind": "property_above", "aggregate": "avg"}, "Which numeric property is measured?"),
        ({"kind": "property_above", "property": "load_ms"}, "Average or 95th percentile?"),
        (
            {"kind": "property_below", "property": "load_ms", "aggregate": "avg", "threshold": ""},
            "A threshold is required",
        ),
        ({"kind": "violations_above", "threshold": ""}, "A threshold is required"),
        ({"window_minutes": "0"}, "greater than or equal to 1"),
        ({"window_minutes": "10081"}, "less than or equal to 10080"),
        ({"cooldown_minutes": "-1"}, "greater than or equal to 0"),
        ({"cooldown_minutes": "20000"}, "less than or equal to 10080"),
        ({"quiet_hours_start": "22:00"}, "Quiet hours need both a start and an end"),
        ({"quiet_hours_timezone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"kind": "sideways"}, "Select a valid choice"),
        (
            {"filters.0.property": "amount", "filters.0.operator": "gt", "filters.0.value": "lots"},
            "Filter 1 (value)",
        ),
        (
            {"filters.0.property": "plan", "filters.0.value": "pro", "filters.0.source": "person"},
            "event and context",
        ),
    ],
)
def test_the_rule_form_explains_what_is_wrong_by_kind(client, project, member, fields, message):
    client.force_login(member)
    response = client.post(url("alert-rule-create", project), volume_form(project, **fields))
    assert response.status_code == 400
    assert message in errors_of(response)
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "rate_below", "denominator_event": "view", "threshold": "5"},
        {"kind": "anomaly", "threshold": "", "anomaly_mode": "percent", "anomaly_percent": "40"},
        {"kind": "absence", "threshold": "", "window_minutes": "30"},
        {"kind": "property_above", "property": "load_ms", "aggregate": "p95", "threshold": "2500"},
        {"kind": "violations_above", "event": "", "threshold": "3"},
        {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00", "quiet_hours_timezone": "Europe/Paris"},
    ],
)
def test_the_rule_form_accepts_every_kind(client, project, member, fields):
    client.force_login(member)
    response = client.post(url("alert-rule-create", project), volume_form(project, **fields))
    assert response.status_code == 302, response.content.decode()[:3000]


def test_a_rate_rule_defaults_its_minimum_sample_and_a_volume_rule_drops_a_denominator(
    client, project, member
):
    client.force_login(member)
    client.post(
        url("alert-rule-create", project),
        volume_form(project, kind="rate_below", denominator_event="view", name="r"),
    )
    client.post(url("alert-rule-create", project), volume_form(project, denominator_event="view", name="v"))
    assert AlertRule.objects.get(name="r").min_sample == 30
    assert AlertRule.objects.get(name="v").denominator_event == ""


def test_the_rule_form_refuses_another_projects_environment_channel_and_owner(
    client, project, member, outsider
):
    elsewhere = make_project(owner=outsider)
    foreign_channel = make_channel(elsewhere, "email", {"addresses": ["x@example.com"]})
    client.force_login(member)
    for fields in (
        {"environment": str(elsewhere.environments.first().id)},
        {"channels": [str(foreign_channel.id)]},
        {"owner": str(outsider.id)},
    ):
        response = client.post(url("alert-rule-create", project), volume_form(project, **fields))
        assert response.status_code == 400 and "Select a valid choice" in response.content.decode(), fields
    assert not AlertRule.objects.exists()


# --- the preview -------------------------------------------------------------------------------------


def recent(hours_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%d %H:%M")


@pytest.mark.django_db(transaction=True)
@pytest.mark.storage
def test_the_preview_of_the_form_draws_values_threshold_and_firings(client, project, member):
    write([ev(project, recent(hours), "checkout", f"u{hours}") for hours in (3, 5, 5.2, 30, 30.1, 30.2)])
    refresh_rollups()
    client.force_login(member)
    response = client.post(url("alert-rule-preview", project), volume_form(project, threshold="1", name=""))
    assert response.status_code == 200
    html = response.content.decode()
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["threshold"] == 1 and data["unit"] == "events" and data["label"] == "checkout"
    assert len(data["times"]) == len(data["values"]) == len(data["fired"]) > 100
    assert sum(value or 0 for value in data["values"]) >= 6
    assert any(marker is not None for marker in data["fired"])  # below 1 event an hour: fires
    assert (
        "data-alert-chart" in html
        and "Would have fired" in html
        and "Threshold: <strong>1 event</strong>" in html
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.storage
def test_the_preview_of_an_anomaly_rule_has_a_band_and_no_threshold(client, project, member, rule):
    AlertRule.objects.filter(id=rule.id).update(kind="anomaly", threshold=None)
    client.force_login(member)
    html = client.get(url("alert-rule-preview", project) + f"?rule={rule.id}").content.decode()
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["threshold"] is None and "lower" in data and "upper" in data


def preview_caption(project, *, window_minutes: int, step_minutes: int) -> str:
    rule = AlertRule(project=project, kind=RuleKind.VOLUME_BELOW, window_minutes=window_minutes)
    moment = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    result = Preview([PreviewPoint(moment, 3.0, False)], 10.0, "events", [], step_minutes=step_minutes)
    context = {"project": project, "result": result, "rule": rule, "chart": {}, "threshold_text": "10"}
    return render_to_string("alerts/_preview.html", context)


def test_the_preview_says_when_its_points_skip_windows(project):
    html = preview_caption(project, window_minutes=5, step_minutes=15)
    assert "one point every 15 minutes" in html
    assert "each point is the 5-minute window ending then; windows in between are not drawn" in html
    for window in (15, 60):
        html = preview_caption(project, window_minutes=window, step_minutes=window)
        assert "windows in between" not in html


def test_the_preview_of_an_incomplete_form_says_what_is_missing(client, project, member):
    client.force_login(member)
    response = client.post(url("alert-rule-preview", project), volume_form(project, event=""))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The preview appears when the rule is complete" in html and "Which event" in html
    assert "data-alert-chart" not in html


# --- the one-click anomaly rule ----------------------------------------------------------------------


def test_the_plan_event_page_loads_the_alerts_card(client, project, member, live_event):
    client.force_login(member)
    html = client.get(reverse("plan-event", args=[project.slug, live_event.id])).content.decode()
    assert f'hx-get="{url("alert-event-rules", project, live_event.id)}"' in html
    card = client.get(url("alert-event-rules", project, live_event.id)).content.decode()
    assert (
        "Alert me on unusual volume" in card and url("alert-rule-from-event", project, live_event.id) in card
    )


def test_the_one_click_button_is_only_for_live_events_and_members(
    client, project, member, viewer, live_event
):
    client.force_login(viewer)
    assert "Alert me" not in client.get(url("alert-event-rules", project, live_event.id)).content.decode()
    draft = EventDefinition.objects.create(project=project, name="draft_thing")
    client.force_login(member)
    assert "Alert me" not in client.get(url("alert-event-rules", project, draft.id)).content.decode()


def test_one_click_creates_the_rule_routed_to_the_owner(client, project, member, live_event):
    client.force_login(member)
    response = client.post(url("alert-rule-from-event", project, live_event.id))
    rule = AlertRule.objects.get(project=project)
    assert response.status_code == 302 and response["Location"] == url("alert-rule", project, rule.id)
    assert rule.kind == "anomaly" and rule.owner == member
    assert [c.config["addresses"] for c in rule.channels.all()] == [[member.email]]
    page = client.get(url("alert-event-rules", project, live_event.id)).content.decode()
    assert rule.name in page


def test_one_click_refuses_a_second_rule_with_a_message(client, project, member, live_event):
    client.force_login(member)
    client.post(url("alert-rule-from-event", project, live_event.id))
    response = client.post(url("alert-rule-from-event", project, live_event.id), follow=True)
    assert "already has an anomaly rule" in response.content.decode()
    assert AlertRule.objects.count() == 1


def test_one_click_for_a_teams_event_says_the_rule_has_no_channel(client, project, member):
    event = EventDefinition.objects.create(
        project=project, name="signup", status=EventStatus.LIVE, owner="Growth team"
    )
    client.force_login(member)
    response = client.post(url("alert-rule-from-event", project, event.id), follow=True)
    html = response.content.decode()
    assert "It has no channel yet" in html and "no channel yet" in html


# --- channels ----------------------------------------------------------------------------------------


def test_the_channel_list_is_empty_at_first(client, project, member):
    client.force_login(member)
    html = client.get(url("alert-channels", project)).content.decode()
    assert "No channels yet" in html and "Add a channel" in html


def test_a_member_adds_an_email_channel(client, project, member):
    client.force_login(member)
    html = client.get(url("alert-channel-create", project)).content.decode()
    assert 'name="email-addresses"' in html and 'name="webhook-url"' in html
    response = client.post(
        url("alert-channel-create", project),
        {"name": "Team", "kind": "email", "email-addresses": "a@example.com\nb@example.com"},
    )
    assert response.status_code == 302
    channel = Channel.objects.get(project=project)
    assert channel.config["addresses"] == ["a@example.com", "b@example.com"]
    html = client.get(url("alert-channels", project)).content.decode()
    assert "Team" in html and "a@example.com, b@example.com" in html and "none yet" in html


def test_the_channel_form_shows_the_config_error(client, project, member):
    client.force_login(member)
    response = client.post(
        url("alert-channel-create", project),
        {"name": "Bad", "kind": "email", "email-addresses": "not an address"},
    )
    assert response.status_code == 400 and "is not an email address" in response.content.decode()
    response = client.post(url("alert-channel-create", project), {"name": "Bad", "kind": "pager"})
    assert response.status_code == 400
    assert not Channel.objects.exists()


def test_a_webhook_channels_generated_secret_is_shown_once(client, project, member, receiver):
    client.force_login(member)
    response = client.post(
        url("alert-channel-create", project),
        {"name": "Hook", "kind": "webhook", "webhook-url": receiver.url("/hook"), "webhook-secret": ""},
    )
    assert response.status_code == 302
    secret = Channel.objects.get(project=project).config["secret"]
    assert len(secret) >= 16
    first = client.get(url("alert-channels", project)).content.decode()
    assert secret in first and "shown only this once" in first
    assert secret not in client.get(url("alert-channels", project)).content.decode()


def test_editing_a_channel_keeps_a_secret_left_blank(client, project, member, receiver):
    channel = make_channel(project, "webhook", {"url": receiver.url("/hook"), "secret": "s" * 20})
    client.force_login(member)
    html = client.get(url("alert-channel-edit", project, channel.id)).content.decode()
    assert "s" * 20 not in html
    response = client.post(
        url("alert-channel-edit", project, channel.id),
        {"name": "Renamed", "webhook-url": receiver.url("/other"), "webhook-secret": ""},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed" and channel.config == {
        "url": receiver.url("/other"),
        "secret": "s" * 20,
    }


def test_send_test_shows_the_result_inline(client, project, member, receiver):
    receiver.respond("/hook", Reply(200, "ok"), Reply(500, "down"))
    channel = make_channel(project, "webhook", {"url": receiver.url("/hook"), "secret": "s" * 20})
    client.force_login(member)
    response = client.post(url("alert-channel-test", project, channel.id), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Test sent" in response.content.decode()
    assert receiver.requests_to("/hook")[0].json()["type"] == "test"
    response = client.post(url("alert-channel-test", project, channel.id), HTTP_HX_REQUEST="true")
    assert "Test failed" in response.content.decode() and "HTTP 500" in response.content.decode()
    assert Delivery.objects.filter(channel=channel, is_test=True).count() == 2
    html = client.get(url("alert-channels", project)).content.decode()
    assert 'class="delivery-status failed"' in html
    log = client.get(url("alert-channel-deliveries", project, channel.id)).content.decode()
    assert log.count("Test message") == 2 and "HTTP 500" in log


def test_send_test_by_email(client, project, member, channel, mailoutbox):
    client.force_login(member)
    response = client.post(url("alert-channel-test", project, channel.id), HTTP_HX_REQUEST="true")
    assert "Test sent" in response.content.decode()
    assert mailoutbox and mailoutbox[0].to == ["oncall@example.com"]


def test_a_disabled_channel_shows_why_and_is_enabled_again(client, project, member, channel):
    Channel.objects.filter(id=channel.id).update(enabled=False, disabled_reason="The mail server refused it.")
    client.force_login(member)
    html = client.get(url("alert-channels", project)).content.decode()
    assert "Disabled" in html and "The mail server refused it." in html and "Enable again" in html
    client.post(url("alert-channel-enable", project, channel.id))
    channel.refresh_from_db()
    assert channel.enabled and channel.disabled_reason == ""


def test_the_channel_list_shows_why_the_last_delivery_failed(client, project, member, channel, fired):
    Delivery.objects.create(project=project, channel=channel, alert_event=fired, status="sent")
    client.force_login(member)
    assert "last-delivery-error" not in client.get(url("alert-channels", project)).content.decode()
    Delivery.objects.create(
        project=project, channel=channel, alert_event=fired, status="failed", error="Mailbox unavailable"
    )
    html = client.get(url("alert-channels", project)).content.decode()
    assert '<div class="small error last-delivery-error">Mailbox unavailable</div>' in html


def test_it_deletes_a_channel(client, project, member, channel):
    client.force_login(member)
    assert client.post(url("alert-channel-delete", project, channel.id)).status_code == 302
    assert not Channel.objects.filter(id=channel.id).exists()


# --- history, acknowledgement, comments --------------------------------------------------------------


def test_the_history_is_empty_at_first(client, project, member):
    client.force_login(member)
    assert "No alerts yet" in client.get(url("alert-history", project)).content.decode()


def test_the_history_filters_by_rule_kind_severity_and_date(client, project, member, rule, fired):
    other = make_rule(project, name="Signups high", kind="volume_above", event="signup", severity="warning")
    make_fired_event(other)
    make_resolved_event(fired)
    client.force_login(member)
    page = lambda **query: client.get(url("alert-history", project), query).content.decode()  # noqa: E731
    assert page().count("<tr>") == 1 + 3
    assert page(rule=other.id).count("Signups high") >= 2 and "Checkout volume low</a>" not in page(
        rule=other.id
    )
    assert page(kind="resolved").count("<tr>") == 2
    assert page(severity="warning").count("<tr>") == 2
    today = datetime.now(UTC).date()
    assert page(date_from=str(today + timedelta(days=1))).count("<tr>") == 0
    assert "No alerts match" in page(date_from=str(today + timedelta(days=1)))
    response = client.get(url("alert-history", project), {"rule": "nonsense", "date_from": "yesterday"})
    assert response.status_code == 400


def test_the_history_reads_its_dates_in_the_projects_time_zone(client, project, member, rule):
    project.timezone = "Asia/Shanghai"  # UTC+8: 20:00 UTC on 1 January is 04:00 on 2 January there
    project.save(update_fields=["timezone"])
    make_fired_event(rule, created_at=datetime(2024, 1, 1, 20, 0, tzinfo=UTC))
    client.force_login(member)

    def rows(**query) -> int:
        html = client.get(url("alert-history", project), query).content.decode()
        return max(html.count("<tr>") - 1, 0)  # less the header row, when there is a table

    assert rows(date_from="2024-01-02", date_to="2024-01-02") == 1
    assert rows(date_to="2024-01-01") == rows(date_from="2024-01-03") == 0
    assert "(Asia/Shanghai)" in client.get(url("alert-history", project)).content.decode()
    assert client.get(url("alert-history", project), {"date_to": "9999-12-31"}).status_code == 200


def test_the_history_is_paginated(client, project, member, rule):
    for index in range(55):
        make_resolved_event(make_fired_event(rule, value=float(index)))
    client.force_login(member)
    first = client.get(url("alert-history", project)).content.decode()
    assert "Page 1 of 3" in first and "?page=2" in first
    assert client.get(url("alert-history", project), {"page": "3"}).status_code == 200
    assert client.get(url("alert-history", project), {"page": "999"}).status_code == 200


def test_the_alert_page_shows_values_snapshot_and_deliveries(client, project, member, rule, channel, fired):
    Delivery.objects.create(
        project=project, channel=channel, alert_event=fired, status="failed", error="boom"
    )
    client.force_login(member)
    html = client.get(url("alert-event", project, fired.id)).content.decode()
    assert "12 events" in html and "&quot;comparison&quot;: &quot;below&quot;" in html
    assert "Checkout volume low" in html and "boom" in html and "Acknowledge</button>" in html


def test_a_member_acknowledges_an_alert_once(client, project, member, fired):
    client.force_login(member)
    response = client.post(url("alert-acknowledge", project, fired.id), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f"Acknowledged by {member.email}" in response.content.decode()
    fired.refresh_from_db()
    assert fired.acknowledged_by == member
    again = client.post(url("alert-acknowledge", project, fired.id), HTTP_HX_REQUEST="true")
    assert again.status_code == 400 and "already acknowledged" in again.content.decode()
    assert AuditLogEntry.objects.filter(action="alert.acknowledge").count() == 1


def test_a_resolution_cannot_be_acknowledged(client, project, member, fired):
    resolved = make_resolved_event(fired)
    client.force_login(member)
    response = client.post(url("alert-acknowledge", project, resolved.id), HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Only a firing" in response.content.decode()


def test_a_member_comments_with_htmx(client, project, member, fired):
    client.force_login(member)
    response = client.post(
        url("alert-comment", project, fired.id), {"body": "Looking into it"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Looking into it" in response.content.decode()
    assert AlertComment.objects.get(alert_event=fired).author == member
    empty = client.post(url("alert-comment", project, fired.id), {"body": "   "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400 and AlertComment.objects.count() == 1
    response = client.post(url("alert-comment", project, fired.id), {"body": "plain post"})
    assert response.status_code == 302 and AlertComment.objects.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"channels": ["abc"]},
        {"owner": "abc"},
        {"environment": "999999"},
        {"threshold": "NaN-ish"},
        {"filters.0": "plain"},
        {"filters": "plain", "filters.0.property": "x"},
        {"filters.0.property": "a" * 5000, "filters.0.value": "b"},
        {"filters.0.property": "plan", "filters.0.operator": "sideways", "filters.0.value": "pro"},
        {"quiet_hours_start": "25:99", "quiet_hours_end": "xx"},
        {"window_minutes": "1e9"},
    ],
)
def test_bad_rule_input_is_a_400_never_a_500(client, project, member, fields):
    client.force_login(member)
    assert client.post(url("alert-rule-create", project), volume_form(project, **fields)).status_code == 400
    assert client.post(url("alert-rule-preview", project), volume_form(project, **fields)).status_code == 200


def test_bad_channel_input_is_a_400_never_a_500(client, project, member):
    client.force_login(member)
    for data in (
        {"name": "Hook", "kind": "webhook", "webhook-url": "ftp://example.com/x"},
        {"name": "Hook", "kind": "webhook"},
        {"name": "", "kind": "email", "email-addresses": "a@example.com"},
        {"name": "Slack", "kind": "slack", "slack-url": "https://example.com/not-slack"},
    ):
        assert client.post(url("alert-channel-create", project), data).status_code == 400, data
    assert not Channel.objects.exists()


# --- the admin ---------------------------------------------------------------------------------------


def test_the_admin_cannot_attach_a_channel_and_disables_through_the_audited_action(
    client, project, owner, rule, channel, fired
):
    staff = get_user_model().objects.create_superuser("staff-admin", "staff@example.com", "pw-unused-123")
    foreign = make_channel(make_project(owner=owner), "email", {"addresses": ["x@example.com"]})
    rule.channels.set([channel])
    client.force_login(staff)
    address = reverse("admin:alerts_alertrule_change", args=[rule.id])
    html = client.get(address).content.decode()
    assert 'name="channels"' not in html and 'name="enabled"' in html
    response = client.post(address, {"channels": [str(foreign.id)], "name": "Renamed", "_save": "Save"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert list(rule.channels.all()) == [channel] and rule.name == "Checkout volume low"
    assert not rule.enabled
    assert AuditLogEntry.objects.get(action="alert_rule.disable", target_id=str(rule.id)).actor == staff
    fired.refresh_from_db()
    assert fired.state == "resolved"
    assert AlertEvent.objects.filter(fired_event=fired, silenced_reason="rule disabled").exists()
    address = reverse("admin:alerts_channel_change", args=[channel.id])
    assert client.post(address, {"_save": "Save"}).status_code == 302
    channel.refresh_from_db()
    assert not channel.enabled
    assert AuditLogEntry.objects.filter(action="channel.update", target_id=str(channel.id)).exists()
