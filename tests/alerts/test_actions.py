"""The alert writes: each one atomic, audited, refusing what the product forbids; rule changes make
the rule due now; the one-click anomaly rule routed to the event's owner."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from alerts import actions
from alerts.channels import MASK
from alerts.models import (
    AlertComment,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertState,
    Channel,
    ChannelKind,
    RuleState,
)
from analytics.plan.models import EventDefinition, EventStatus
from projects.actions import ActionRefused
from projects.models import AuditLogEntry, Environment
from tests.alerts.factories import make_channel, make_fired_event, make_resolved_event, make_rule
from tests.conftest import make_project, make_user

pytestmark = pytest.mark.django_db


def audited(action: str, target) -> AuditLogEntry:
    return AuditLogEntry.objects.get(action=action, target_id=str(target.pk))


def rule_fields(project, **fields) -> dict:
    return {
        "name": "Checkout low",
        "kind": "volume_below",
        "environment": project.environments.get(slug="production"),
        "event": "checkout",
        "threshold": 5.0,
        "window_minutes": 30,
        **fields,
    }


def later(**delta) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


# --- rules -------------------------------------------------------------------------------------------


def test_it_creates_a_rule_due_now_and_audits_it(project, member):
    channel = make_channel(project, "email", {"addresses": ["a@example.com"]})
    rule = actions.do_create_alert_rule(
        project=project, fields=rule_fields(project), channels=[channel], acting_user=member
    )
    assert rule.created_by == member and list(rule.channels.all()) == [channel]
    assert rule.next_evaluation_at <= datetime.now(UTC) and rule.state == "pending"
    entry = audited("alert_rule.create", rule)
    assert entry.actor == member and entry.project == project
    assert entry.after["threshold"] == 5.0 and entry.after["channels"] == [channel.id]


def test_it_refuses_another_projects_environment_or_channel(project, member, outsider):
    elsewhere = make_project(owner=outsider)
    foreign = make_channel(elsewhere, "email", {"addresses": ["x@example.com"]})
    with pytest.raises(ActionRefused, match="environment belongs to another project"):
        actions.do_create_alert_rule(
            project=project,
            fields=rule_fields(project, environment=elsewhere.environments.first()),
            acting_user=member,
        )
    with pytest.raises(ActionRefused, match="channel belongs to another project"):
        actions.do_create_alert_rule(
            project=project, fields=rule_fields(project), channels=[foreign], acting_user=member
        )
    rule = make_rule(project)
    with pytest.raises(ActionRefused, match="channel belongs to another project"):
        actions.do_update_alert_rule(rule=rule, fields={}, channels=[foreign], acting_user=member)
    assert AlertRule.objects.filter(project=project).count() == 1


def test_updating_a_rule_makes_it_due_now_and_records_before_and_after(project, member):
    rule = make_rule(project, next_evaluation_at=later(hours=2))
    actions.do_update_alert_rule(rule=rule, fields={"threshold": 80.0}, acting_user=member)
    rule.refresh_from_db()
    assert rule.threshold == 80 and rule.next_evaluation_at <= datetime.now(UTC)
    entry = audited("alert_rule.update", rule)
    assert (entry.before["threshold"], entry.after["threshold"]) == (50.0, 80.0)


def test_it_keeps_what_evaluation_wrote_when_an_edit_is_saved(project, member):
    rule = make_rule(project, cooldown_minutes=60)
    stale = AlertRule.objects.get(pk=rule.pk)  # the instance the edit page loaded
    fired_at = later(minutes=-3)
    make_fired_event(rule)
    AlertRule.objects.filter(pk=rule.pk).update(
        state=RuleState.FIRING, last_fired_at=fired_at, last_value=12.0, last_evaluated_at=fired_at
    )
    actions.do_update_alert_rule(rule=stale, fields={"threshold": 80.0}, acting_user=member)
    rule.refresh_from_db()
    assert rule.threshold == 80.0
    assert (rule.state, rule.last_fired_at, rule.last_value) == (RuleState.FIRING, fired_at, 12.0)
    assert (stale.state, stale.last_fired_at) == (RuleState.FIRING, fired_at)


def test_it_deletes_a_rule_with_an_audit_row(project, member):
    rule = make_rule(project)
    rule_id = rule.id
    actions.do_delete_alert_rule(rule=rule, acting_user=member)
    assert not AlertRule.objects.filter(id=rule_id).exists()
    assert AuditLogEntry.objects.get(action="alert_rule.delete", target_id=str(rule_id)).before["name"]


def test_it_enables_and_disables_a_rule(project, member):
    rule = make_rule(project, next_evaluation_at=later(hours=1))
    actions.do_set_rule_enabled(rule=rule, enabled=False, acting_user=member)
    actions.do_set_rule_enabled(rule=rule, enabled=True, acting_user=member)
    rule.refresh_from_db()
    assert rule.enabled and rule.next_evaluation_at <= datetime.now(UTC)
    assert audited("alert_rule.disable", rule).after == {"enabled": False}
    assert audited("alert_rule.enable", rule).after == {"enabled": True}


def test_it_resolves_the_open_firing_quietly_when_a_firing_rule_is_disabled(project, member):
    rule = make_rule(project)
    fired = make_fired_event(rule)
    actions.do_set_rule_enabled(rule=rule, enabled=False, acting_user=member)
    fired.refresh_from_db()
    assert fired.state == AlertState.RESOLVED and fired.resolved_at is not None
    resolution = AlertEvent.objects.get(rule=rule, kind=AlertEventKind.RESOLVED)
    assert resolution.fired_event == fired and resolution.silenced_reason == "rule disabled"
    assert audited("alert_rule.disable", rule).after == {"enabled": False}
    # Enabling it again, or disabling a rule with nothing open, resolves nothing more.
    actions.do_set_rule_enabled(rule=rule, enabled=True, acting_user=member)
    actions.do_set_rule_enabled(rule=rule, enabled=False, acting_user=member)
    assert AlertEvent.objects.filter(rule=rule, kind=AlertEventKind.RESOLVED).count() == 1


def test_it_mutes_and_unmutes_but_not_into_the_past(project, member):
    rule = make_rule(project)
    until = later(hours=8)
    actions.do_mute_rule(rule=rule, until=until, acting_user=member)
    rule.refresh_from_db()
    assert rule.muted_until == until
    with pytest.raises(ActionRefused, match="future"):
        actions.do_mute_rule(rule=rule, until=later(hours=-1), acting_user=member)
    actions.do_mute_rule(rule=rule, until=None, acting_user=member)
    rule.refresh_from_db()
    assert rule.muted_until is None
    assert AuditLogEntry.objects.filter(action__in=["alert_rule.mute", "alert_rule.unmute"]).count() == 2


# --- channels ----------------------------------------------------------------------------------------


def test_it_creates_updates_and_deletes_a_channel(project, member):
    channel = actions.do_create_channel(
        project=project,
        name=" Team ",
        kind="email",
        config={"addresses": ["a@example.com"]},
        acting_user=member,
    )
    assert channel.name == "Team" and channel.created_by == member
    actions.do_update_channel(
        channel=channel, name="Team mail", config={"addresses": ["b@example.com"]}, acting_user=member
    )
    channel.refresh_from_db()
    assert channel.name == "Team mail" and channel.config == {"addresses": ["b@example.com"]}
    channel_id = channel.id
    actions.do_delete_channel(channel=channel, acting_user=member)
    assert not Channel.objects.filter(id=channel_id).exists()
    actions_seen = set(
        AuditLogEntry.objects.filter(target_id=str(channel_id)).values_list("action", flat=True)
    )
    assert actions_seen == {"channel.create", "channel.update", "channel.delete"}


def test_it_audits_a_webhook_url_change_but_never_its_secret(project, member):
    old_secret, new_secret = "old-signing-secret-0123456789", "new-signing-secret-9876543210"
    channel = actions.do_create_channel(
        project=project,
        name="Hooks",
        kind="webhook",
        config={"url": "https://old.example.com/hook", "secret": old_secret},
        acting_user=member,
    )
    actions.do_update_channel(
        channel=channel,
        config={"url": "https://new.example.com/hook", "secret": new_secret},
        acting_user=member,
    )
    created, updated = audited("channel.create", channel), audited("channel.update", channel)
    assert created.after["config"] == {"url": "https://old.example.com/hook", "secret": MASK}
    assert updated.before["config"]["url"] == "https://old.example.com/hook"
    assert updated.after["config"] == {"url": "https://new.example.com/hook", "secret": MASK}
    assert updated.after["secrets_changed"] == ["secret"]
    channel_id = channel.id
    actions.do_delete_channel(channel=channel, acting_user=member)
    deleted = AuditLogEntry.objects.get(action="channel.delete", target_id=str(channel_id))
    assert deleted.before["config"]["url"] == "https://new.example.com/hook"
    for entry in AuditLogEntry.objects.filter(target_id=str(channel_id)):
        text = f"{entry.before} {entry.after}"
        assert old_secret not in text and new_secret not in text, entry.action


def test_it_refuses_a_channel_without_a_name_or_kind(project, member):
    with pytest.raises(ActionRefused, match="name"):
        actions.do_create_channel(project=project, name=" ", kind="email", config={}, acting_user=member)
    with pytest.raises(ActionRefused, match="kind"):
        actions.do_create_channel(project=project, name="x", kind="pager", config={}, acting_user=member)


def test_enabling_a_disabled_channel_forgets_why_it_was_disabled(project, member):
    channel = make_channel(
        project,
        "email",
        {"addresses": ["a@example.com"]},
        enabled=False,
        disabled_reason="Refused",
        disabled_at=later(),
    )
    actions.do_update_channel(channel=channel, enabled=True, acting_user=member)
    channel.refresh_from_db()
    assert channel.enabled and channel.disabled_reason == "" and channel.disabled_at is None
    actions.do_update_channel(channel=channel, enabled=False, acting_user=member)
    channel.refresh_from_db()
    assert not channel.enabled and channel.disabled_reason


# --- alert events ------------------------------------------------------------------------------------


def test_it_acknowledges_a_firing_once(project, member, owner):
    fired = make_fired_event(make_rule(project))
    actions.do_acknowledge_alert(alert_event=fired, acting_user=member)
    fired.refresh_from_db()
    assert fired.acknowledged_by == member and fired.acknowledged_at is not None
    with pytest.raises(ActionRefused, match="already acknowledged"):
        actions.do_acknowledge_alert(alert_event=fired, acting_user=owner)
    assert audited("alert.acknowledge", fired).actor == member


def test_it_refuses_to_acknowledge_a_resolution(project, member):
    resolved = make_resolved_event(make_fired_event(make_rule(project)))
    with pytest.raises(ActionRefused, match="Only a firing"):
        actions.do_acknowledge_alert(alert_event=resolved, acting_user=member)


def test_it_comments_and_refuses_an_empty_or_huge_comment(project, member):
    fired = make_fired_event(make_rule(project))
    comment = actions.do_comment_alert(alert_event=fired, body="  On it  ", acting_user=member)
    assert comment.body == "On it" and comment.author == member
    for body in ("   ", "x" * 5001):
        with pytest.raises(ActionRefused):
            actions.do_comment_alert(alert_event=fired, body=body, acting_user=member)
    assert AlertComment.objects.count() == 1 and audited("alert.comment", fired).after["body"] == "On it"


# --- the one-click anomaly rule ----------------------------------------------------------------------


def live_event(
    project, owner_text: str = "", name: str = "checkout", status=EventStatus.LIVE
) -> EventDefinition:
    return EventDefinition.objects.create(project=project, name=name, status=status, owner=owner_text)


def test_the_default_rule_is_an_hourly_anomaly_rule_in_production(project, member):
    rule = actions.do_create_default_anomaly_rule(event_definition=live_event(project), acting_user=member)
    assert (rule.kind, rule.event, rule.environment.slug) == ("anomaly", "checkout", "production")
    assert (rule.window_minutes, rule.anomaly_weeks, rule.anomaly_mode, rule.anomaly_deviations) == (
        60,
        4,
        "stddev",
        3.0,
    )
    assert (rule.anomaly_direction, rule.severity, rule.enabled) == ("both", "warning", True)
    assert audited("alert_rule.create", rule).actor == member


def test_the_default_rule_watches_the_first_environment_without_production(member):
    project = make_project(member=member)
    Environment.objects.filter(project=project, slug="production").delete()
    rule = actions.do_create_default_anomaly_rule(event_definition=live_event(project), acting_user=member)
    assert rule.environment.slug == "staging"


@pytest.mark.parametrize("spelling", ["{email}", "{EMAIL}", "{username}", "{USERNAME}"])
def test_it_routes_the_rule_to_the_member_the_owner_names(project, member, spelling):
    text = spelling.format(
        email=member.email,
        EMAIL=member.email.upper(),
        username=member.username,
        USERNAME=member.username.upper(),
    )
    rule = actions.do_create_default_anomaly_rule(
        event_definition=live_event(project, text), acting_user=member
    )
    assert rule.owner == member
    [channel] = rule.channels.all()
    assert channel.kind == ChannelKind.EMAIL and channel.config == {"addresses": [member.email]}


def test_it_reuses_an_email_channel_to_exactly_that_address(project, member):
    existing = make_channel(project, "email", {"addresses": [member.email]})
    make_channel(project, "email", {"addresses": [member.email, "other@example.com"]})
    rule = actions.do_create_default_anomaly_rule(
        event_definition=live_event(project, member.email), acting_user=member
    )
    assert list(rule.channels.all()) == [existing]
    assert Channel.objects.filter(project=project).count() == 2


def test_it_emails_an_address_that_is_no_member(project, member):
    rule = actions.do_create_default_anomaly_rule(
        event_definition=live_event(project, "data-team@example.com"), acting_user=member
    )
    assert rule.owner is None
    assert [c.config["addresses"] for c in rule.channels.all()] == [["data-team@example.com"]]


def test_a_team_name_or_another_orgs_user_gets_no_channel(project, member):
    stranger = make_user("stranger-owner")
    for name, owner_text in (("signup", "Growth team"), ("refund", "stranger-owner"), ("empty", "")):
        rule = actions.do_create_default_anomaly_rule(
            event_definition=live_event(project, owner_text, name=name), acting_user=member
        )
        assert rule.owner is None and not rule.channels.exists(), owner_text
    assert stranger.pk and not Channel.objects.exists()


@pytest.mark.parametrize("status", [s for s in EventStatus.values if s != EventStatus.LIVE])
def test_it_refuses_an_event_that_is_not_live(project, member, status):
    with pytest.raises(ActionRefused, match="Only a live event"):
        actions.do_create_default_anomaly_rule(
            event_definition=live_event(project, status=status), acting_user=member
        )
    assert not AlertRule.objects.exists()


def test_it_refuses_a_second_anomaly_rule_in_the_same_environment(project, member):
    event = live_event(project, member.email)
    actions.do_create_default_anomaly_rule(event_definition=event, acting_user=member)
    with pytest.raises(ActionRefused, match="already has an anomaly rule"):
        actions.do_create_default_anomaly_rule(event_definition=event, acting_user=member)
    assert AlertRule.objects.count() == 1 and Channel.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_quick_clicks_make_one_default_rule(project, member, monkeypatch):
    """The first click is held inside its transaction, its rule written but not committed; the
    second click waits on the event's lock, then sees that rule and is refused."""
    event = live_event(project)
    written, release = threading.Event(), threading.Event()
    create = actions.do_create_alert_rule

    def create_then_hold(**kwargs):
        rule = create(**kwargs)
        if not written.is_set():
            written.set()
            assert release.wait(10)
        return rule

    monkeypatch.setattr(actions, "do_create_alert_rule", create_then_hold)
    outcomes = []

    def click():
        try:
            actions.do_create_default_anomaly_rule(
                event_definition=EventDefinition.objects.get(pk=event.pk), acting_user=member
            )
            outcomes.append("created")
        except ActionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    first = threading.Thread(target=click)
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=click)
    second.start()
    second.join(0.5)
    blocked = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    assert blocked and outcomes == ["created", "refused"]
    assert AlertRule.objects.filter(project=project, kind="anomaly").count() == 1
