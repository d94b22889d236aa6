"""Evaluation of every rule kind on data shaped to fire and not to fire, and the alert lifecycle:
firing -> ongoing -> resolved, minimum samples, cooldown, mute, quiet hours, claiming."""

from datetime import time, timedelta

import pytest
from django.db import IntegrityError, transaction

from alerts.evaluation import (
    claim_due_rules,
    evaluate_rule,
    evaluation_interval_minutes,
    preview,
    silenced_reason,
)
from alerts.models import AlertEvent, AlertRule, AlertState, RuleState
from analytics.plan.models import QuarantinedEvent
from analytics.storage import get_store
from analytics.storage.base import PlanStatus
from tests.analytics.insight_data import at, ev, refresh_rollups, write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

NOW = at("2026-11-12 12:00")  # windows end at 12:00 (no ingestion delay in these tests)


@pytest.fixture(autouse=True)
def _no_delay(settings, eager_celery):
    settings.ALERTS_EVALUATION_DELAY_SECONDS = 0


def store(records) -> None:
    """Write events. TimescaleDB reads hours below its continuous aggregates' watermark from the
    materialization (its refresh policy catches up within minutes in production): refresh now.
    Plain PostgreSQL is left stale on purpose: its dirty hours are read from raw events."""
    write(records)
    if get_store().name == "timescaledb":
        refresh_rollups()


def make_rule(project, kind, **fields) -> AlertRule:
    defaults = {
        "name": f"{kind} rule",
        "environment": project.environments.get(slug="production"),
        "event": "purchase",
        "window_minutes": 60,
        "cooldown_minutes": 0,
    }
    return AlertRule.objects.create(project=project, kind=kind, **{**defaults, **fields})


def events_at(project, name, times, **properties):
    return [ev(project, when, name, f"u{index}", **properties) for index, when in enumerate(times)]


def minutes(start: str, count: int, step: int = 1) -> list[str]:
    base = at(start)
    return [(base + timedelta(minutes=step * index)).strftime("%Y-%m-%d %H:%M") for index in range(count)]


def fired(rule) -> list[AlertEvent]:
    return list(rule.events.filter(kind="fired").order_by("created_at"))


# -- volume ---------------------------------------------------------------------------------------


def test_it_fires_a_volume_below_rule_when_the_count_drops_and_not_when_it_holds(project):
    store(events_at(project, "purchase", minutes("2026-11-12 11:00", 3, step=10)))
    low = make_rule(project, "volume_below", threshold=5)
    holds = make_rule(project, "volume_below", threshold=3)

    result = evaluate_rule(low.id, now=NOW)
    assert result.state == RuleState.FIRING and result.fired is not None
    assert result.fired.value == 3 and result.fired.values["comparison"] == "below"
    assert result.fired.window_start == at("2026-11-12 11:00") and result.fired.window_end == NOW
    assert (
        result.fired.rule_snapshot["threshold"] == 5
        and result.fired.rule_snapshot["environment"] == "production"
    )
    assert evaluate_rule(holds.id, now=NOW).state == RuleState.OK
    assert not fired(holds)


def test_it_counts_only_the_rules_environment_event_and_window(project):
    store(
        [
            *events_at(project, "purchase", ["2026-11-12 11:00", "2026-11-12 11:59"]),
            ev(project, "2026-11-12 10:59", "purchase", "early"),  # before the window
            ev(project, "2026-11-12 12:00", "purchase", "late"),  # the window's end is exclusive
            ev(project, "2026-11-12 11:30", "purchase", "staging", env="staging"),
            ev(project, "2026-11-12 11:30", "signup", "other event"),
        ]
    )
    rule = make_rule(project, "volume_above", threshold=1)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.reading.value == 2 and result.state == RuleState.FIRING


def test_a_volume_above_rule_applies_its_property_filters(project):
    store(
        [
            *events_at(project, "purchase", minutes("2026-11-12 11:10", 4), plan="pro"),
            *events_at(project, "purchase", minutes("2026-11-12 11:20", 6), plan="free"),
        ]
    )
    pro = make_rule(
        project,
        "volume_above",
        threshold=5,
        filters=[{"property": "plan", "operator": "eq", "value": "pro", "source": "event"}],
    )
    free = make_rule(
        project,
        "volume_above",
        threshold=5,
        filters=[{"property": "plan", "operator": "eq", "value": "free", "source": "event"}],
    )
    assert evaluate_rule(pro.id, now=NOW).reading.value == 4
    assert evaluate_rule(pro.id, now=NOW).state == RuleState.OK
    assert evaluate_rule(free.id, now=NOW).state == RuleState.FIRING


def test_rollups_and_raw_events_give_the_same_counts_with_partial_and_stale_hours(project):
    from alerts.metrics import measure

    store(events_at(project, "purchase", minutes("2026-11-12 07:50", 40, step=7)))
    rule = make_rule(project, "volume_above", threshold=0, window_minutes=200)
    ends = [at("2026-11-12 11:25"), at("2026-11-12 12:00"), at("2026-11-12 10:00")]
    raw = [reading.value for reading in measure(rule, ends, use_rollups=False)]
    stale = [reading.value for reading in measure(rule, ends)]  # nothing refreshed yet
    refresh_rollups()
    fresh = [reading.value for reading in measure(rule, ends)]
    store(events_at(project, "purchase", ["2026-11-12 10:30"]))  # a late event in a refreshed hour
    late = [reading.value for reading in measure(rule, ends, use_rollups=False)]
    assert raw == stale == fresh == [28, 28, 19]
    assert [reading.value for reading in measure(rule, ends)] == late == [29, 29, 19]


# -- lifecycle ------------------------------------------------------------------------------------


def test_an_alert_goes_from_firing_to_ongoing_to_resolved_with_one_row_each(project):
    rule = make_rule(project, "volume_below", threshold=2)
    first = evaluate_rule(rule.id, now=NOW)
    second = evaluate_rule(rule.id, now=NOW + timedelta(minutes=1))
    alert = AlertEvent.objects.get(id=first.fired.id)
    assert second.fired is None and alert.state == AlertState.ONGOING
    assert alert.last_seen_at == NOW + timedelta(minutes=1)

    store(events_at(project, "purchase", minutes("2026-11-12 11:50", 3)))
    third = evaluate_rule(rule.id, now=NOW + timedelta(minutes=2))
    alert.refresh_from_db()
    assert third.state == RuleState.OK and alert.state == AlertState.RESOLVED
    assert third.resolved.fired_event_id == alert.id and third.resolved.value == 3
    assert alert.resolved_at == NOW + timedelta(minutes=2)
    assert list(rule.events.values_list("kind", flat=True).order_by("created_at", "id")) == [
        "fired",
        "resolved",
    ]
    rule.refresh_from_db()
    assert rule.state == RuleState.OK and rule.last_value == 3


def test_the_database_refuses_a_second_open_firing_of_a_rule(project):
    rule = make_rule(project, "volume_below", threshold=2)
    alert = evaluate_rule(rule.id, now=NOW).fired
    duplicate = {
        field: getattr(alert, field)
        for field in ("project_id", "rule_id", "kind", "state", "severity", "window_start", "window_end")
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertEvent.objects.create(**duplicate)


def test_a_disabled_rule_is_not_evaluated(project):
    rule = make_rule(project, "volume_below", threshold=2, enabled=False)
    assert evaluate_rule(rule.id, now=NOW) is None
    assert not fired(rule)


def test_a_broken_rule_reports_its_error_instead_of_failing_the_tick(project):
    rule = make_rule(
        project,
        "volume_above",
        threshold=1,
        filters=[{"property": "country", "operator": "eq", "value": "FR", "source": "person"}],
    )
    assert evaluate_rule(rule.id, now=NOW).state == RuleState.ERROR
    rule.refresh_from_db()
    assert "person properties" in rule.last_error and rule.state == RuleState.ERROR


# -- rate -----------------------------------------------------------------------------------------


def test_a_rate_rule_waits_for_its_minimum_sample(project):
    store(events_at(project, "checkout", minutes("2026-11-12 11:10", 10)))  # 10 checkouts, 0 purchases
    rule = make_rule(project, "rate_below", threshold=5, denominator_event="checkout", min_sample=30)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.state == RuleState.NO_DATA and result.reading.value is None
    assert "fewer than the minimum sample of 30" in result.reading.values["reason"]
    assert not fired(rule)


def test_a_rate_below_rule_fires_on_a_low_conversion_and_resolves_when_it_recovers(project):
    store(
        [
            *events_at(project, "checkout", minutes("2026-11-12 11:00", 40)),
            *events_at(project, "purchase", ["2026-11-12 11:30"]),
        ]
    )
    rule = make_rule(project, "rate_below", threshold=5, denominator_event="checkout", min_sample=30)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.state == RuleState.FIRING and result.reading.value == 2.5
    assert result.fired.values["numerator"] == 1 and result.fired.values["denominator"] == 40

    store(events_at(project, "purchase", minutes("2026-11-12 11:40", 3)))
    assert evaluate_rule(rule.id, now=NOW + timedelta(seconds=30)).state == RuleState.OK  # 4/40 = 10 %


def test_a_rate_above_rule_compares_in_percent(project):
    store(
        [
            *events_at(project, "checkout", minutes("2026-11-12 11:00", 20)),
            *events_at(project, "payment_failed", minutes("2026-11-12 11:00", 5)),
        ]
    )
    rule = make_rule(
        project,
        "rate_above",
        event="payment_failed",
        threshold=20,
        denominator_event="checkout",
        min_sample=10,
    )
    assert evaluate_rule(rule.id, now=NOW).reading.value == 25.0
    assert rule.events.count() == 1


# -- anomaly --------------------------------------------------------------------------------------


def weekly_history_of(project, name: str, counts: list[int]) -> None:
    """``counts[k]`` events in 11:00-12:00 of the day k+1 weeks before NOW (spread over the hour)."""
    records = []
    for weeks_ago, count in enumerate(counts, start=1):
        start = at("2026-11-12 11:00") - timedelta(weeks=weeks_ago)
        records += events_at(project, name, minutes(start.strftime("%Y-%m-%d %H:%M"), count))
    store(records)


def weekly_history(project, counts: list[int]) -> None:
    weekly_history_of(project, "purchase", counts)


def test_an_anomaly_rule_fires_outside_mean_plus_minus_k_stddev(project):
    weekly_history(project, [40, 44, 36, 40])  # mean 40, stddev 3.27, floor sqrt(40) = 6.32
    store(events_at(project, "purchase", minutes("2026-11-12 11:00", 20)))
    refresh_rollups()
    rule = make_rule(project, "anomaly", anomaly_weeks=4, anomaly_deviations=2)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.state == RuleState.FIRING
    values = result.fired.values
    assert values["history"] == [40, 44, 36, 40] and values["mean"] == 40
    assert values["lower"] == pytest.approx(40 - 2 * 40**0.5, abs=1e-3) and values["comparison"] == "below"

    above_only = make_rule(
        project, "anomaly", anomaly_weeks=4, anomaly_deviations=2, anomaly_direction="above"
    )
    assert evaluate_rule(above_only.id, now=NOW).state == RuleState.OK


def test_an_anomaly_rule_inside_its_band_and_in_percent_mode(project):
    weekly_history(project, [40, 44, 36, 40])
    store(events_at(project, "purchase", minutes("2026-11-12 11:00", 33)))
    stddev_rule = make_rule(project, "anomaly", anomaly_weeks=4, anomaly_deviations=2)
    assert evaluate_rule(stddev_rule.id, now=NOW).state == RuleState.OK  # 33 > 40 - 12.6
    percent_rule = make_rule(project, "anomaly", anomaly_weeks=4, anomaly_mode="percent", anomaly_percent=10)
    result = evaluate_rule(percent_rule.id, now=NOW)
    assert result.state == RuleState.FIRING and result.fired.values["lower"] == 36.0  # 33 < 40 - 10 %


def test_an_anomaly_rule_without_history_gives_no_verdict(project):
    store(events_at(project, "purchase", minutes("2026-11-12 11:00", 5)))
    rule = make_rule(project, "anomaly", anomaly_weeks=3)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.state == RuleState.NO_DATA and "last 3 weeks" in result.reading.values["reason"]


# -- absence, property, violations ----------------------------------------------------------------


def test_an_absence_rule_fires_when_the_event_stops_and_says_since_when(project):
    store(events_at(project, "heartbeat", ["2026-11-12 11:20"]))
    quiet = make_rule(project, "absence", event="heartbeat", window_minutes=30)
    result = evaluate_rule(quiet.id, now=NOW)
    assert result.state == RuleState.FIRING
    assert result.fired.values["minutes_since_last"] == 40
    assert result.fired.values["last_seen"].startswith("2026-11-12T11:20")
    alive = make_rule(project, "absence", event="heartbeat", window_minutes=45)
    assert evaluate_rule(alive.id, now=NOW).state == RuleState.OK


def test_property_rules_watch_the_average_or_the_p95_of_a_number(project):
    load_times = [100, 120, 110, 130, 2000]  # one very slow page
    store(
        [
            *[
                ev(project, f"2026-11-12 11:{10 + index}", "page_view", f"u{index}", load_ms=value)
                for index, value in enumerate(load_times)
            ],
            ev(project, "2026-11-12 11:30", "page_view", "u9", load_ms="fast"),  # not a number: ignored
        ]
    )
    average = make_rule(
        project, "property_above", event="page_view", property="load_ms", aggregate="avg", threshold=500
    )
    p95 = make_rule(
        project, "property_above", event="page_view", property="load_ms", aggregate="p95", threshold=1500
    )
    below = make_rule(
        project, "property_below", event="page_view", property="load_ms", aggregate="avg", threshold=100
    )
    result = evaluate_rule(average.id, now=NOW)
    assert result.reading.value == 492.0 and result.state == RuleState.OK
    assert result.reading.values["measured"] == 5
    assert evaluate_rule(p95.id, now=NOW).reading.value == pytest.approx(1626.0)
    assert evaluate_rule(p95.id, now=NOW + timedelta(minutes=1)).state == RuleState.FIRING
    assert evaluate_rule(below.id, now=NOW).state == RuleState.OK
    sampled = make_rule(
        project,
        "property_above",
        event="page_view",
        property="load_ms",
        aggregate="avg",
        threshold=1,
        min_sample=10,
    )
    assert evaluate_rule(sampled.id, now=NOW).state == RuleState.NO_DATA


def test_a_violations_rule_counts_flagged_and_quarantined_events(project):
    production = project.environments.get(slug="production")
    flagged = [
        record._replace(plan_status=PlanStatus.INVALID)
        for record in events_at(project, "purchase", minutes("2026-11-12 11:00", 3))
    ]
    allowed = [
        record._replace(plan_status=PlanStatus.ALLOWED)
        for record in events_at(project, "signup", minutes("2026-11-12 11:05", 2))
    ]
    valid = [
        record._replace(plan_status=PlanStatus.VALID)
        for record in events_at(project, "purchase", minutes("2026-11-12 11:10", 10))
    ]
    store([*flagged, *allowed, *valid])
    for index in range(2):
        QuarantinedEvent.objects.create(
            project=project,
            environment=production,
            message_id=f"q{index}",
            event="purchase",
            time=at("2026-11-12 11:15"),
            received_at=at("2026-11-12 11:15"),
            record={},
        )
    one_event = make_rule(project, "violations_above", threshold=4)
    whole_environment = make_rule(project, "violations_above", event="", threshold=6)
    assert evaluate_rule(one_event.id, now=NOW).reading.value == 5  # 3 flagged + 2 quarantined
    assert evaluate_rule(one_event.id, now=NOW).state == RuleState.FIRING
    result = evaluate_rule(whole_environment.id, now=NOW)
    assert result.reading.value == 7 and result.state == RuleState.FIRING


# -- cooldown, mute, quiet hours ------------------------------------------------------------------


def test_a_rule_does_not_fire_again_within_its_cooldown(project):
    rule = make_rule(project, "volume_below", threshold=2, window_minutes=10, cooldown_minutes=30)
    first = evaluate_rule(rule.id, now=NOW).fired
    store(events_at(project, "purchase", ["2026-11-12 11:58", "2026-11-12 11:59"]))
    assert evaluate_rule(rule.id, now=NOW + timedelta(minutes=1)).state == RuleState.OK  # resolved
    # Breaching again 15 minutes after the first firing: inside the cooldown, nothing fires.
    assert evaluate_rule(rule.id, now=NOW + timedelta(minutes=15)).state == RuleState.COOLDOWN
    assert fired(rule) == [first]
    # Still breaching once the cooldown is over: it fires.
    later = evaluate_rule(rule.id, now=NOW + timedelta(minutes=30))
    assert later.state == RuleState.FIRING and later.fired is not None
    assert len(fired(rule)) == 2


def test_a_muted_rule_records_the_firing_and_tells_nobody_until_the_mute_ends(project):
    rule = make_rule(project, "volume_below", threshold=2, muted_until=NOW + timedelta(minutes=30))
    alert = evaluate_rule(rule.id, now=NOW).fired
    assert alert.notified_at is None and alert.silenced_reason.startswith("muted until")
    evaluate_rule(rule.id, now=NOW + timedelta(minutes=10))
    alert.refresh_from_db()
    assert alert.notified_at is None
    evaluate_rule(rule.id, now=NOW + timedelta(minutes=31))
    alert.refresh_from_db()
    assert alert.notified_at == NOW + timedelta(minutes=31) and alert.silenced_reason == ""


def test_quiet_hours_follow_their_timezone_and_wrap_midnight(project):
    rule = make_rule(
        project,
        "volume_below",
        threshold=2,
        quiet_hours_start=time(22, 0),
        quiet_hours_end=time(7, 0),
        quiet_hours_timezone="Asia/Shanghai",
    )
    # 12:00 UTC is 20:00 in Shanghai: not quiet; 15:30 UTC is 23:30; 22:59 UTC is 06:59.
    assert silenced_reason(rule, NOW) == ""
    assert "quiet hours 22:00–07:00 Asia/Shanghai" == silenced_reason(rule, at("2026-11-12 15:30"))
    assert silenced_reason(rule, at("2026-11-12 22:59")) != ""
    assert silenced_reason(rule, at("2026-11-12 23:00")) == ""
    alert = evaluate_rule(rule.id, now=at("2026-11-12 15:30")).fired
    assert alert.notified_at is None and alert.silenced_reason.startswith("quiet hours")


def test_a_told_firing_sends_its_resolution_and_a_silent_one_does_not(project):
    told = make_rule(project, "volume_below", threshold=2)
    silent = make_rule(project, "volume_below", threshold=2, muted_until=NOW + timedelta(days=1))
    evaluate_rule(told.id, now=NOW)
    evaluate_rule(silent.id, now=NOW)
    store(events_at(project, "purchase", minutes("2026-11-12 11:55", 3)))
    told_resolution = evaluate_rule(told.id, now=NOW + timedelta(minutes=1)).resolved
    silent_resolution = evaluate_rule(silent.id, now=NOW + timedelta(minutes=1)).resolved
    assert told_resolution.notified_at is not None
    assert silent_resolution.notified_at is None


# -- claiming and preview -------------------------------------------------------------------------


def test_due_rules_are_claimed_once_per_minute_and_a_lost_evaluation_is_claimed_again(project):
    due = make_rule(project, "volume_below", threshold=1, next_evaluation_at=NOW - timedelta(minutes=5))
    make_rule(project, "volume_below", threshold=1, next_evaluation_at=NOW + timedelta(minutes=5))
    make_rule(project, "volume_below", threshold=1, enabled=False, next_evaluation_at=NOW)
    assert due.id in claim_due_rules(NOW)
    assert due.id not in claim_due_rules(NOW + timedelta(seconds=20))  # same minute: already claimed
    due.refresh_from_db()
    assert due.next_evaluation_at == at("2026-11-12 12:01")
    # Never evaluated (a worker died): the next tick claims it again.
    assert due.id in claim_due_rules(at("2026-11-12 12:01:02"))


def test_rules_with_long_windows_are_evaluated_every_sixtieth_of_their_window_spread_over_minutes(project):
    rules = [
        make_rule(project, "volume_below", threshold=1, window_minutes=window, next_evaluation_at=NOW)
        for window in (15, 180, 180, 180, 1440, 10080)
    ]
    assert [evaluation_interval_minutes(rule) for rule in rules] == [1, 3, 3, 3, 15, 15]
    claimed = claim_due_rules(NOW + timedelta(seconds=5))
    assert sorted(rule.id for rule in rules) == claimed
    epoch_minute = int(NOW.timestamp()) // 60
    for rule in rules:
        rule.refresh_from_db()
        interval = evaluation_interval_minutes(rule)
        minutes_ahead = int((rule.next_evaluation_at - NOW).total_seconds()) // 60
        assert 1 <= minutes_ahead <= interval
        assert (epoch_minute + minutes_ahead + rule.id) % interval == 0  # its own slot
    # The three 3-minute rules (consecutive ids) come due in three different minutes.
    assert len({rule.next_evaluation_at for rule in rules[1:4]}) == 3


def test_the_preview_shows_each_window_and_where_the_rule_would_have_fired(project):
    store(events_at(project, "purchase", minutes("2026-11-11 09:00", 60)))  # a busy hour yesterday
    refresh_rollups()
    rule = make_rule(project, "volume_above", threshold=30, cooldown_minutes=0)
    result = preview(rule, now=NOW, days=2)
    assert result.error == "" and result.step_minutes == 60 and len(result.points) == 49
    busy = [point for point in result.points if point.breached]
    assert [(point.time, point.value) for point in busy] == [(at("2026-11-11 10:00"), 60)]
    assert result.firings == [at("2026-11-11 10:00")] and result.threshold == 30


def test_the_preview_of_an_unsaved_rule_with_a_bad_filter_says_why(project):
    rule = AlertRule(
        project=project,
        environment=project.environments.get(slug="production"),
        kind="volume_above",
        event="purchase",
        threshold=1,
        filters=[{"property": "", "operator": "eq", "value": 1}],
    )
    result = preview(rule, now=NOW, days=1)
    assert result.points == [] and result.error.startswith("filters.0.property")


def test_a_resolution_held_by_quiet_hours_is_sent_when_they_end(project):
    rule = make_rule(
        project,
        "volume_below",
        threshold=2,
        window_minutes=10,
        quiet_hours_start=time(12, 30),
        quiet_hours_end=time(13, 0),
    )
    alert = evaluate_rule(rule.id, now=NOW).fired  # 12:00: told
    assert alert.notified_at == NOW
    store(events_at(project, "purchase", ["2026-11-12 12:32", "2026-11-12 12:33"]))
    resolution = evaluate_rule(rule.id, now=at("2026-11-12 12:35")).resolved  # in quiet hours
    assert resolution.notified_at is None and resolution.notify_pending
    evaluate_rule(rule.id, now=at("2026-11-12 12:40"))
    resolution.refresh_from_db()
    assert resolution.notified_at is None  # still quiet
    evaluate_rule(rule.id, now=at("2026-11-12 13:01"))
    resolution.refresh_from_db()
    assert resolution.notified_at == at("2026-11-12 13:01") and not resolution.notify_pending


def test_an_anomaly_rule_pages_on_a_low_volume_events_outage(project):
    weekly_history(project, [8, 9, 7, 8])  # the band's lower edge is below 0 at k = 3
    rule = make_rule(project, "anomaly", anomaly_weeks=4, anomaly_deviations=3)
    result = evaluate_rule(rule.id, now=NOW)  # no event at all this hour: e^-8 < P(3 deviations)
    assert result.state == RuleState.FIRING and result.fired.values["lower"] == 0
    rare = make_rule(project, "anomaly", event="refund", anomaly_weeks=4, anomaly_deviations=3)
    weekly_history_of(project, "refund", [2, 1, 3, 2])  # none this hour is nothing unusual
    assert evaluate_rule(rare.id, now=NOW).state == RuleState.OK


def test_an_anomaly_rule_ignores_the_weeks_before_its_event_existed(project):
    weekly_history(project, [40, 44, 0, 0])  # the event is two weeks old
    store(events_at(project, "purchase", minutes("2026-11-12 11:00", 41)))
    rule = make_rule(project, "anomaly", anomaly_weeks=4, anomaly_deviations=2)
    result = evaluate_rule(rule.id, now=NOW)
    assert result.state == RuleState.OK and result.reading.values["history"] == [40, 44]


def test_an_unexpected_error_is_recorded_on_the_rule(project):
    rule = make_rule(project, "volume_below", threshold=2, quiet_hours_start=time(1), quiet_hours_end=time(2))
    AlertRule.objects.filter(id=rule.id).update(quiet_hours_timezone="Mars/Olympus_Mons")
    assert evaluate_rule(rule.id, now=NOW).state == RuleState.ERROR
    rule.refresh_from_db()
    assert rule.state == RuleState.ERROR and "Mars/Olympus_Mons" in rule.last_error
    assert not fired(rule)
