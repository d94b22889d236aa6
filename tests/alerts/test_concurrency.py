"""Two real Celery workers and real beat ticks: a breaching rule fires once and is told once.

The workers are separate `celery worker` processes on the test database and a queue of this test's
own; beat's scheduler sends the every-minute tick twice (as two beat processes would by mistake),
and the rule's evaluation is also queued twice directly (a redelivered task racing a fresh one).
"""

import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery.beat import Scheduler
from django.utils import timezone

from alerts import tasks
from alerts.models import AlertEvent, AlertRule, Channel, Delivery, DeliveryStatus
from config.celery import app
from config.schedule import BEAT_SCHEDULE
from tests.alerts.http_server import Reply
from tests.analytics.conftest import _test_database_url

ROOT = Path(__file__).resolve().parents[2]
TICK = "evaluate-alert-rules"


class Workers:
    """``count`` celery worker processes consuming one queue; their output goes to a log file each."""

    def __init__(self, queue: str, count: int, log_dir: Path):
        self.queue = queue
        self.logs = [log_dir / f"worker{index}.log" for index in range(count)]
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "Workers":
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "BEACON_CELERY_QUEUE": self.queue,
            "BEACON_ALERTS_EVALUATION_DELAY_SECONDS": "0",
            "BEACON_ALERTS_ALLOW_PRIVATE_URLS": "true",
        }
        for index, log in enumerate(self.logs):
            command = [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue,
                "--pool=solo", "-n", f"alerts-test-{index}-{self.queue}@%h",
                "--without-gossip", "--without-mingle", "-l", "info",
            ]  # fmt: skip
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(" ready." in log.read_text() for log in self.logs):
                return
            assert all(process.poll() is None for process in self.processes), self.output()
            time.sleep(0.2)
        raise AssertionError(f"workers not ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return "\n".join(log.read_text()[-3000:] for log in self.logs)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


@pytest.fixture
def workers(tmp_path, transactional_db):
    started = Workers(f"alerts-test-{uuid.uuid4().hex[:8]}", 2, tmp_path).start()
    yield started
    started.stop()
    app.connection_for_write().default_channel.queue_delete(started.queue)


def beat_tick(queue: str) -> None:
    """One real beat scheduler, sending the tick that is due (its last run was two minutes ago)."""
    scheduler = Scheduler(app, lazy=True)
    entry = BEAT_SCHEDULE[TICK]
    scheduler.update_from_dict(
        {
            TICK: {
                **entry,
                "options": {**entry["options"], "queue": queue},
                "last_run_at": timezone.now() - timedelta(minutes=2),
            }
        }
    )
    scheduler.tick()


def succeeded(workers: Workers, task: str) -> list[str]:
    """The return values the workers logged for ``task`` (alerts.tasks.<task>)."""
    return re.findall(rf"alerts\.tasks\.{task}\[[^\]]+\] succeeded in [0-9.e-]+s: '?(\w+)", workers.output())


def wait_for(condition, timeout: float = 45) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_two_workers_and_two_beat_ticks_fire_a_breaching_rule_once(project, workers, http_server):
    http_server.respond("/hook", Reply(200, "ok"))
    channel = Channel.objects.create(
        project=project,
        name="hook",
        kind="webhook",
        config={"url": http_server.url("/hook"), "secret": "s3cret"},
    )
    rule = AlertRule.objects.create(
        project=project,
        environment=project.environments.get(slug="production"),
        name="No purchases",
        kind="volume_below",
        event="purchase",
        threshold=5,
        window_minutes=60,
        next_evaluation_at=timezone.now() - timedelta(minutes=1),
    )
    rule.channels.add(channel)
    workers.wait_ready()

    beat_tick(workers.queue)
    beat_tick(workers.queue)
    for _ in range(2):
        tasks.evaluate_rules.apply_async(([rule.id], timezone.now().isoformat()), queue=workers.queue)

    told = wait_for(lambda: Delivery.objects.filter(channel=channel, status=DeliveryStatus.SENT).exists())
    assert told, workers.output()
    # Every queued evaluation has run (the direct ones too): the rule shows it, then nothing else comes.
    assert wait_for(lambda: AlertRule.objects.get(id=rule.id).last_evaluated_at is not None)
    assert wait_for(lambda: succeeded(workers, "evaluate_rules") == ["1", "1", "1"]), workers.output()
    time.sleep(2)
    # Both ticks ran; the rule was claimed by exactly one of them.
    assert sorted(succeeded(workers, "evaluate_due_rules")) == ["0", "1"]
    assert AlertEvent.objects.filter(rule=rule, kind="fired").count() == 1
    assert Delivery.objects.filter(channel=channel).count() == 1
    requests = http_server.requests_to("/hook")
    assert len(requests) == 1
    body, headers = requests[0].body, requests[0].headers
    signed = f"{headers['x-beacon-timestamp']}.".encode() + body
    expected = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert headers["x-beacon-signature"] == f"sha256={expected}"
    assert requests[0].json()["rule"]["name"] == "No purchases"
