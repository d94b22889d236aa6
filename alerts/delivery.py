"""Delivery: tell a rule's channels about an alert event, with one Delivery row per attempt.

    notify_later(id) -> deliver_alert_event(id) -> send_to_channel(id, channel_id, attempt) per channel

A TransientError is retried with exponential backoff and jitter; a PermanentError disables the
channel, writes an audit row and emails the organization's owners. `send_test` sends once, now.
"""

import logging
import random
import time
from collections.abc import Callable

from celery import shared_task
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts import conf, messages
from alerts.channels import KINDS, describe, redact
from alerts.channels.base import DeliveryError, Message, PermanentError, TransientError
from alerts.models import AlertEvent, Channel, Delivery, DeliveryStatus
from projects import audit
from projects.models import Membership, Role

logger = logging.getLogger(__name__)

# An alert told hours late is noise: a fan-out no worker picked up within this is dropped.
FAN_OUT_EXPIRES = 6 * 3600
# A queued attempt expires this long after it was due (its countdown is added per retry).
ATTEMPT_EXPIRES = 3600
# Each wait is 75-100% of its exponential step: two channels failing together do not retry in step,
# and the waits still grow strictly (the next step's minimum is 1.5x this step's maximum).
BACKOFF_JITTER = 0.25
MAX_ERROR_LENGTH = 1000


def notify_later(alert_event_id: int) -> None:
    """Queue delivery. Call it inside transaction.on_commit so the worker finds the committed row."""
    deliver_alert_event.delay(alert_event_id)


@shared_task(expires=FAN_OUT_EXPIRES)
def deliver_alert_event(alert_event_id: int) -> int:
    """Queue one send per enabled channel of the event's rule; a disabled one gets a skipped row."""
    alert_event = AlertEvent.objects.select_related("rule").filter(pk=alert_event_id).first()
    if alert_event is None:
        return 0
    queued = 0
    for channel in alert_event.rule.channels.all():
        if channel.enabled:
            send_to_channel.delay(alert_event_id, channel.pk, attempt=1)
            queued += 1
        else:
            _record_skipped(channel, alert_event, attempt=1)
    return queued


@shared_task(bind=True, max_retries=None, expires=ATTEMPT_EXPIRES)
def send_to_channel(self, alert_event_id: int, channel_id: int, attempt: int = 1) -> str | None:
    # Re-read both: the channel may have been deleted or disabled while this waited in the queue.
    channel = Channel.objects.select_related("project__organization").filter(pk=channel_id).first()
    alert_event = (
        AlertEvent.objects.select_related("project", "rule__environment", "fired_event")
        .filter(pk=alert_event_id)
        .first()
    )
    if channel is None or alert_event is None:
        return None  # nothing left to tell, or nowhere to record it
    if not channel.enabled:
        return _record_skipped(channel, alert_event, attempt=attempt).status
    last_attempt = attempt >= conf.max_attempts()
    delivery, error = _attempt(
        channel,
        lambda: messages.message_for(alert_event),
        alert_event=alert_event,
        attempt=attempt,
        last_attempt=last_attempt,
    )
    if isinstance(error, TransientError) and not last_attempt:
        countdown = retry_countdown(attempt, error.retry_after)
        raise self.retry(
            args=(alert_event_id, channel_id),
            kwargs={"attempt": attempt + 1},
            countdown=countdown,
            expires=countdown + ATTEMPT_EXPIRES,
        )
    if isinstance(error, PermanentError):
        do_disable_channel(channel=channel, reason=delivery.error)
    return delivery.status


def send_test(channel: Channel, *, acting_user) -> Delivery:
    """Send a test message now: one attempt, no retry, and a failure never disables the channel
    (the user is looking at the result and will fix the config)."""

    def build():
        return messages.test_message(channel, acting_user=acting_user)

    delivery, _ = _attempt(channel, build, alert_event=None, attempt=1, last_attempt=True, is_test=True)
    return delivery


def retry_countdown(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base · 2^(attempt-1), jittered.

    A server's Retry-After lengthens the wait, but no wait exceeds retry_max_seconds, as documented.
    """
    step = conf.retry_base_seconds() * 2 ** (attempt - 1)
    countdown = step * (1 - BACKOFF_JITTER * random.random())
    if retry_after:
        countdown = max(countdown, retry_after)
    return min(countdown, conf.retry_max_seconds())


def _attempt(
    channel: Channel,
    build_message: Callable[[], Message],
    *,
    alert_event: AlertEvent | None,
    attempt: int,
    last_attempt: bool,
    is_test: bool = False,
) -> tuple[Delivery, DeliveryError | None]:
    """Build the message, send it once and record the attempt. Returns the row and the error, if any.

    The message is built here so that a bug in it (odd `values` JSON) still leaves a failed row.
    """
    started = time.monotonic()
    response_status, error = None, None
    try:
        response_status = KINDS[channel.kind].send(channel.config, build_message())
    except DeliveryError as failure:
        response_status, error = failure.status, failure
    except Exception as failure:  # a bug or a malformed stored config must still leave a row
        logger.exception("alert channel %s: sending failed unexpectedly", channel.pk)
        error = DeliveryError(f"internal error while sending ({type(failure).__name__})")
    if error is None:
        status = DeliveryStatus.SENT
    elif isinstance(error, TransientError) and not last_attempt:
        status = DeliveryStatus.RETRYING
    else:
        status = DeliveryStatus.FAILED
    delivery = Delivery.objects.create(
        project_id=channel.project_id,
        channel=channel,
        alert_event=alert_event,
        is_test=is_test,
        attempt=attempt,
        status=status,
        response_status=response_status,
        # TRICKY: error texts are built without secrets, and redact() is the second guard.
        error=redact(channel.kind, channel.config, str(error))[:MAX_ERROR_LENGTH] if error else "",
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return delivery, error


def _record_skipped(channel: Channel, alert_event: AlertEvent, *, attempt: int) -> Delivery:
    return Delivery.objects.create(
        project_id=channel.project_id,
        channel=channel,
        alert_event=alert_event,
        attempt=attempt,
        status=DeliveryStatus.SKIPPED,
        error=f"The channel is disabled: {channel.disabled_reason}"[:MAX_ERROR_LENGTH],
    )


def do_disable_channel(*, channel: Channel, reason: str) -> bool:
    """Disable the channel after a permanent failure, audit it and tell the owners, exactly once.

    The conditional UPDATE makes this idempotent: when two attempts fail at the same time, only
    the one that flips `enabled` writes the audit row and sends the email.
    """
    fields = ["enabled", "disabled_reason", "disabled_at"]
    before = audit.snapshot(channel, fields)
    now = timezone.now()
    with transaction.atomic():
        changed = Channel.objects.filter(pk=channel.pk, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now
        )
        if not changed:
            return False
        channel.enabled, channel.disabled_reason, channel.disabled_at = False, reason, now
        audit.record(
            organization=channel.project.organization,
            actor=None,
            action="alert_channel.disable",
            target=channel,
            before=before,
            after=audit.snapshot(channel, fields),
            project=channel.project,
        )
    _tell_owners(channel, reason=reason)
    return True


def _tell_owners(channel: Channel, *, reason: str) -> None:
    project = channel.project
    owners = Membership.objects.filter(
        organization_id=project.organization_id, role=Role.OWNER, user__is_active=True
    )
    recipients = sorted({email for email in owners.values_list("user__email", flat=True) if email})
    if not recipients:
        return
    url = conf.public_url() + reverse("alert-channel-deliveries", args=[project.slug, channel.pk])
    body = (
        f"Beacon disabled the alert channel “{channel.name}” ({channel.get_kind_display()}, "
        f"{describe(channel.kind, channel.config)}) in the project {project.name}, because sending to it "
        f"failed in a way that retrying will not fix:\n\n    {reason}\n\n"
        f"How to fix it: {KINDS[channel.kind].HOW_TO_FIX}\n\n"
        f"Until then, alerts of the rules using this channel are not sent to it. "
        f"Use “Send test” after fixing it.\n\n{url}\n"
    )
    subject = f"[Beacon] Alert channel “{channel.name}” was disabled ({project.name})"
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # the channel is disabled and audited either way; the email is best effort
        logger.exception("could not email the owners about disabled channel %s", channel.pk)
