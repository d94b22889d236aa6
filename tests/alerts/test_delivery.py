"""Delivery: one row per attempt, retries with growing waits, permanent failures disable the channel.

Tasks run eagerly with Celery's own `.apply()` (retries included), and once through a real worker
on the real Redis, where the retry's countdown and queue matter.
"""

import time
import uuid
from datetime import timedelta

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from alerts import delivery
from alerts.models import Channel, Delivery, DeliveryStatus
from config.celery import app
from projects.models import AuditLogEntry
from tests.alerts import http_server as stub
from tests.alerts.factories import make_channel, make_fired_event, make_rule
from tests.alerts.http_server import Reply

# The stub server's fixtures, used by name below (aliases, so no import is shadowed).
http_server = stub.http_server
private_urls_allowed = stub.private_urls_allowed

HOOK = "/services/T000/B000/hooksecret0123456789"


@pytest.fixture
def fast_retries(settings):
    settings.ALERTS_RETRY_BASE_SECONDS = 0.2
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 5


@pytest.fixture
def eager_fan_out():
    """deliver_alert_event's .delay() runs the send inline, so no message reaches a shared queue."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def slack_channel(project, http_server, private_urls_allowed):
    return make_channel(project, "slack", {"url": http_server.url(HOOK)}, name="Team Slack")


@pytest.fixture
def fired(project, slack_channel):
    return make_fired_event(make_rule(project, channels=[slack_channel]))


def rows(channel) -> list[tuple]:
    return list(
        Delivery.objects.filter(channel=channel)
        .order_by("created_at", "id")
        .values_list("attempt", "status", "response_status")
    )


def run_send(alert_event, channel, attempt=1):
    """Celery's eager apply: retries run at once (their countdown is skipped); errors re-raise."""
    result = delivery.send_to_channel.apply(args=(alert_event.id, channel.id), kwargs={"attempt": attempt})
    return result.get()


def test_it_emails_an_alert_to_the_channels_addresses(project, mailoutbox):
    channel = make_channel(project, "email", {"addresses": ["ops@example.com", "cto@example.com"]})
    fired = make_fired_event(make_rule(project, channels=[channel]))

    run_send(fired, channel)

    [email] = mailoutbox
    assert email.to == ["ops@example.com", "cto@example.com"]
    assert email.subject == f"[Critical] Checkout volume low is firing ({project.name} / production)"
    assert "12 `checkout` events in the last 15 min, below the threshold of 50." in email.body
    assert f"/projects/{project.slug}/alerts/history/{fired.id}/" in email.body
    assert email.alternatives[0].mimetype == "text/html"
    assert rows(channel) == [(1, DeliveryStatus.SENT, None)]


@pytest.mark.usefixtures("fast_retries", "eager_fan_out")
def test_it_retries_after_a_500_and_records_both_attempts(project, slack_channel, http_server):
    notified_at = timezone.now() - timedelta(minutes=1)  # evaluation sets it before queueing
    fired = make_fired_event(make_rule(project, channels=[slack_channel]), notified_at=notified_at)
    http_server.respond(HOOK, Reply(500, "rollup_error"), Reply(200, "ok"))

    delivery.deliver_alert_event.delay(fired.id)

    assert rows(slack_channel) == [(1, DeliveryStatus.RETRYING, 500), (2, DeliveryStatus.SENT, 200)]
    assert (
        Delivery.objects.get(attempt=1, channel=slack_channel).error
        == "HTTP 500 from 127.0.0.1/…: rollup_error"
    )
    fired.refresh_from_db()
    assert fired.notified_at == notified_at  # delivery leaves it as evaluation wrote it


@pytest.mark.usefixtures("fast_retries")
def test_it_gives_up_after_five_503s_and_keeps_the_channel(fired, slack_channel, http_server, mailoutbox):
    http_server.respond(HOOK, Reply(503, "down"))

    run_send(fired, slack_channel)

    statuses = [status for _, status, _ in rows(slack_channel)]
    assert statuses == [DeliveryStatus.RETRYING] * 4 + [DeliveryStatus.FAILED]
    assert len(http_server.requests) == 5
    slack_channel.refresh_from_db()
    assert slack_channel.enabled
    assert mailoutbox == []


def retry_countdowns(fired, channel) -> list[float]:
    """Send through the task, and the wait Celery was asked for before each retry."""
    countdowns = []

    def on_retry(sender=None, reason=None, **kwargs):
        countdowns.append(reason.when)

    signals.task_retry.connect(on_retry, sender=delivery.send_to_channel, weak=False)
    try:
        run_send(fired, channel)
    finally:
        signals.task_retry.disconnect(on_retry, sender=delivery.send_to_channel)
    return countdowns


@pytest.mark.usefixtures("fast_retries")
def test_it_waits_longer_before_each_retry_and_honours_retry_after(fired, slack_channel, http_server):
    http_server.respond(
        HOOK, *[Reply(503, "down")] * 3, Reply(429, "slow", {"Retry-After": "30"}), Reply(200)
    )
    countdowns = retry_countdowns(fired, slack_channel)

    assert len(countdowns) == 4
    assert 0.15 <= countdowns[0] < countdowns[1] < countdowns[2] <= 0.8
    assert countdowns[3] == 30.0  # the server's Retry-After beats the 1.6 s step
    assert rows(slack_channel)[-1] == (5, DeliveryStatus.SENT, 200)


def test_it_grows_the_backoff_exponentially_with_bounded_jitter(settings):
    settings.ALERTS_RETRY_BASE_SECONDS = 30
    settings.ALERTS_RETRY_MAX_SECONDS = 900

    for attempt, step in ((1, 30), (2, 60), (3, 120), (4, 240), (6, 960)):
        waits = [delivery.retry_countdown(attempt) for _ in range(50)]
        assert all(min(step * 0.75, 900) <= wait <= min(step, 900) for wait in waits), attempt
    assert delivery.retry_countdown(1, retry_after=120) == 120
    assert delivery.retry_countdown(1, retry_after=900) == 900


def test_it_caps_every_wait_at_retry_max_seconds_even_when_the_server_asks_for_more(settings):
    settings.ALERTS_RETRY_BASE_SECONDS = 30
    settings.ALERTS_RETRY_MAX_SECONDS = 600

    assert delivery.retry_countdown(1, retry_after=86400) == 600
    assert delivery.retry_countdown(1, retry_after=3600) == 600
    assert delivery.retry_countdown(10) == 600  # 15360 s step
    assert 22.5 <= delivery.retry_countdown(1, retry_after=1) <= 30  # a short Retry-After never shortens


@pytest.mark.usefixtures("fast_retries")
def test_a_retry_after_beyond_the_maximum_waits_only_the_maximum(settings, fired, slack_channel, http_server):
    settings.ALERTS_RETRY_MAX_SECONDS = 5
    http_server.respond(HOOK, Reply(503, "down", {"Retry-After": "86400"}), Reply(200))
    countdowns = retry_countdowns(fired, slack_channel)

    assert countdowns == [5.0]
    assert rows(slack_channel) == [(1, DeliveryStatus.RETRYING, 503), (2, DeliveryStatus.SENT, 200)]


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("status", [408, 425])
def test_it_retries_a_408_or_425_instead_of_disabling_the_channel(
    fired, slack_channel, http_server, mailoutbox, status
):
    http_server.respond(HOOK, Reply(status, "try again"), Reply(200, "ok"))

    assert run_send(fired, slack_channel) == DeliveryStatus.SENT

    assert rows(slack_channel) == [(1, DeliveryStatus.RETRYING, status), (2, DeliveryStatus.SENT, 200)]
    slack_channel.refresh_from_db()
    assert slack_channel.enabled and mailoutbox == []


def test_it_escapes_slack_mentions_in_a_rule_name(project, slack_channel, http_server):
    rule = make_rule(project, name="<!channel> checkout <@U123> & co", channels=[slack_channel])
    http_server.respond(HOOK, Reply(200, "ok"))

    run_send(make_fired_event(rule), slack_channel)

    [request] = http_server.requests
    assert b"<!channel>" not in request.body and b"<@U123>" not in request.body
    body = request.json()
    assert body["text"].startswith("[Critical] &lt;!channel&gt; checkout &lt;@U123&gt; &amp; co is firing")
    assert "*Critical: &lt;!channel&gt; checkout" in body["blocks"][0]["text"]["text"]


def test_it_disables_the_channel_on_a_404_and_tells_the_owners(
    project, fired, slack_channel, http_server, mailoutbox, owner, member
):
    http_server.respond(HOOK, Reply(404, "no_service"))

    run_send(fired, slack_channel)

    slack_channel.refresh_from_db()
    assert not slack_channel.enabled
    assert slack_channel.disabled_reason == "HTTP 404 from 127.0.0.1/…: no_service"
    assert slack_channel.disabled_at is not None
    assert rows(slack_channel) == [(1, DeliveryStatus.FAILED, 404)]
    entry = AuditLogEntry.objects.get(action="alert_channel.disable")
    assert (entry.project, entry.actor, entry.target_id) == (project, None, str(slack_channel.id))
    assert (entry.before["enabled"], entry.after["enabled"]) == (True, False)
    [email] = mailoutbox
    assert email.to == [owner.email]  # owners only, not members
    assert "Team Slack" in email.subject
    assert "no_service" in email.body and "Create a new incoming webhook" in email.body
    assert "hooksecret0123456789" not in email.body


@pytest.mark.usefixtures("eager_fan_out")
def test_it_skips_a_disabled_channel_without_sending(project, fired, slack_channel, http_server):
    http_server.respond(HOOK, Reply(404, "no_service"))
    run_send(fired, slack_channel)
    later = make_fired_event(make_rule(project, name="Another rule", channels=[slack_channel]))

    delivery.deliver_alert_event.delay(later.id)

    assert len(http_server.requests) == 1
    skipped = Delivery.objects.get(alert_event=later)
    assert skipped.status == DeliveryStatus.SKIPPED
    assert skipped.error == "The channel is disabled: HTTP 404 from 127.0.0.1/…: no_service"


def test_it_rechecks_the_channel_before_sending(fired, slack_channel, http_server):
    Channel.objects.filter(pk=slack_channel.pk).update(enabled=False, disabled_reason="turned off by hand")

    result = run_send(fired, slack_channel)

    assert result == DeliveryStatus.SKIPPED
    assert http_server.requests == []
    slack_channel.delete()
    assert run_send(fired, slack_channel) is None  # a deleted channel: nothing to record


def test_it_never_stores_a_robots_token_or_secret_in_an_error(project, http_server, private_urls_allowed):
    config = {"url": http_server.url("/robot/send?access_token=tok-secret-42"), "secret": "SECsigning"}
    channel = make_channel(project, "dingtalk", config)
    fired = make_fired_event(make_rule(project, channels=[channel]))
    http_server.respond(
        "/robot/send", Reply(200, {"errcode": 310000, "errmsg": "sign not match, tok-secret-42"})
    )

    run_send(fired, channel)

    [row] = Delivery.objects.filter(channel=channel)
    assert row.error.startswith("DingTalk error 310000: sign not match, ••••")
    assert "tok-secret-42" not in row.error and "SECsigning" not in row.error


def test_a_test_send_records_a_test_delivery(slack_channel, http_server, owner):
    http_server.respond(HOOK, Reply(200, "ok"))

    row = delivery.send_test(slack_channel, acting_user=owner)

    assert (row.is_test, row.status, row.response_status, row.alert_event) == (
        True,
        DeliveryStatus.SENT,
        200,
        None,
    )
    assert "Test message from Beacon" in http_server.requests[0].json()["text"]


def test_a_failed_test_send_does_not_disable_the_channel(slack_channel, http_server, owner, mailoutbox):
    http_server.respond(HOOK, Reply(404, "no_service"))

    row = delivery.send_test(slack_channel, acting_user=owner)

    assert (row.is_test, row.status, row.error) == (
        True,
        DeliveryStatus.FAILED,
        "HTTP 404 from 127.0.0.1/…: no_service",
    )
    slack_channel.refresh_from_db()
    assert slack_channel.enabled
    assert mailoutbox == [] and not AuditLogEntry.objects.filter(action="alert_channel.disable").exists()


def test_a_transient_failure_of_a_test_send_is_not_retried(slack_channel, http_server, owner):
    http_server.respond(HOOK, Reply(503, "down"))

    row = delivery.send_test(slack_channel, acting_user=owner)

    assert (row.status, row.attempt, len(http_server.requests)) == (DeliveryStatus.FAILED, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_through_redis_after_the_countdown(settings, http_server, private_urls_allowed):
    """The retry travels back through the broker to the same queue, and waits its countdown."""
    from tests.conftest import make_project

    settings.ALERTS_RETRY_BASE_SECONDS = 0.5
    project = make_project()
    channel = make_channel(project, "slack", {"url": http_server.url(HOOK)})
    fired = make_fired_event(make_rule(project, channels=[channel]))
    http_server.respond(HOOK, Reply(500, "oops"), Reply(200, "ok"))
    queue = f"test-alerts-{uuid.uuid4().hex[:8]}"

    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=10):
        delivery.send_to_channel.apply_async((fired.id, channel.id), {"attempt": 1}, queue=queue)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Delivery.objects.filter(channel=channel).count() < 2:
            time.sleep(0.1)

    assert rows(channel) == [(1, DeliveryStatus.RETRYING, 500), (2, DeliveryStatus.SENT, 200)]
    first, second = Delivery.objects.filter(channel=channel).order_by("attempt")
    assert (second.created_at - first.created_at).total_seconds() >= 0.35  # 75% of the 0.5 s step


def test_it_records_a_failed_attempt_when_the_message_cannot_be_built(project, slack_channel, http_server):
    rule = make_rule(project, channels=[slack_channel])
    broken = make_fired_event(rule, values={"value": "not a number", "comparison": "below"})

    assert run_send(broken, slack_channel) == DeliveryStatus.FAILED

    [row] = Delivery.objects.filter(channel=slack_channel)
    assert row.error == "internal error while sending (ValueError)"
    assert http_server.requests == []
    slack_channel.refresh_from_db()
    assert slack_channel.enabled
