"""What alert evaluation costs: 1,000 enabled rules over 10M events.

    .venv/bin/python bench/alerts.py [--rules 1000] [--minutes 15]

The data is bench/querydata.py's (10M events over 30 days in its own kept database
``beacon_bench_queries``; the first run loads it, which takes minutes), with 2 % of the events
flagged as breaking the plan (once). The rules mix every kind: volume and rate rules on the shop's
events (some with property filters, which read raw events), anomaly rules against the same window
of the last 3-4 weeks, absence, page-load p95/average and plan-violation rules (one event or the
whole environment), over windows of 5 minutes to 24 hours.

A tick is what beat's every-minute task and the workers do: claim every due rule in one UPDATE,
then evaluate each (lock the rule, measure, write its state and any alert event). A rule is due
every window / 60 (1 to 15 minutes). Printed:

1. the tick where every rule is due at once (the first one: alerts fire), then the ticks of the
   next --minutes minutes (mean and slowest). Goal: every tick < 10 s, on one worker.
2. the measuring alone, per window and per kind, from the rollups vs from raw events only (the
   baseline, measured in the same run): what reading the hourly rollups for whole hours buys.

Exit status 0 when the goal is met.
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import querydata  # noqa: I001  (first: it sets up Django)

from django.db import connection

from alerts.evaluation import claim_due_rules, evaluate_rule, evaluation_interval_minutes, window_end
from alerts.metrics import measure
from alerts.models import AlertRule
from alerts.tasks import evaluate_due_rules
from analytics.storage.base import PlanStatus
from config.celery import app
from projects.models import Project

BENCH_RULE_PREFIX = "bench: "
GOAL_SECONDS = 10.0
WINDOWS = [5, 15, 60, 180, 1440]  # minutes; the longer ones read whole hours from the rollups
EVENTS = ["page_view", "product_viewed", "added_to_cart", "checkout_started", "order_completed", "search"]


def rule_specs(count: int) -> list[dict]:
    """``count`` rule definitions cycling through every kind, event and window."""
    kinds = [
        ("volume_below", {"threshold": 50}),
        ("volume_above", {"threshold": 5000}),
        (
            "volume_above",
            {"threshold": 100, "filters": [{"property": "category", "operator": "eq", "value": "tents"}]},
        ),
        ("rate_below", {"threshold": 20, "denominator_event": "checkout_started", "min_sample": 30}),
        (
            "rate_above",
            {"threshold": 5, "event": "error_shown", "denominator_event": "page_view", "min_sample": 100},
        ),
        ("anomaly", {"anomaly_weeks": 4, "anomaly_deviations": 3}),
        ("anomaly", {"anomaly_weeks": 3, "anomaly_mode": "percent", "anomaly_percent": 40}),
        ("absence", {}),
        (
            "property_above",
            {"event": "page_view", "property": "load_time_ms", "aggregate": "p95", "threshold": 3000},
        ),
        (
            "property_below",
            {"event": "page_view", "property": "load_time_ms", "aggregate": "avg", "threshold": 50},
        ),
        ("violations_above", {"threshold": 10}),
        ("violations_above", {"threshold": 10, "event": ""}),
    ]
    specs = []
    for index in range(count):
        kind, fields = kinds[index % len(kinds)]
        spec = {
            "kind": kind,
            "event": EVENTS[(index // len(kinds)) % len(EVENTS)],
            "window_minutes": WINDOWS[(index // 3) % len(WINDOWS)],
            "cooldown_minutes": 60,
            **fields,
        }
        specs.append(spec)
    return specs


def make_rules(project: Project, count: int, *, now) -> list[AlertRule]:
    AlertRule.objects.filter(project=project, name__startswith=BENCH_RULE_PREFIX).delete()
    environment = project.environments.get(slug="production")
    rules = [
        AlertRule(
            project=project,
            environment=environment,
            name=f"{BENCH_RULE_PREFIX}{index} {spec['kind']}",
            next_evaluation_at=now,
            **spec,
        )
        for index, spec in enumerate(rule_specs(count))
    ]
    return AlertRule.objects.bulk_create(rules)


def tick(now) -> tuple[float, int, dict[str, int]]:
    """One tick at ``now``: claim the due rules, evaluate each. Seconds, rules, states seen."""
    started = time.perf_counter()
    rule_ids = claim_due_rules(now)
    states: dict[str, int] = defaultdict(int)
    for rule_id in rule_ids:
        states[str(evaluate_rule(rule_id, now=now).state)] += 1
    return time.perf_counter() - started, len(rule_ids), dict(states)


class Worker:
    """A real `celery worker` (prefork, --concurrency as `make run` starts it) on the bench database
    and a queue of its own: ticks go through Redis and its processes as in production."""

    def __init__(self, concurrency: int):
        self.queue = f"bench-alerts-{uuid.uuid4().hex[:8]}"
        self.log = Path(tempfile.mkstemp(prefix="bench-alerts-worker-", suffix=".log")[1])
        params = connection.settings_dict
        password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://{params['USER']}{password}@{params['HOST']}:{params['PORT']}/{params['NAME']}",
            "BEACON_CELERY_QUEUE": self.queue,
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue,
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "-l", "info",
        ]  # fmt: skip
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            command, cwd=root, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while " ready." not in self.log.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the celery worker did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def tick(self, project: Project, now) -> tuple[float, int]:
        """Send beat's task for ``now``; seconds until every due rule was evaluated, and how many."""
        due = AlertRule.objects.filter(project=project, enabled=True, next_evaluation_at__lte=now).count()
        started = time.perf_counter()
        evaluate_due_rules.apply_async(kwargs={"now_iso": now.isoformat()}, queue=self.queue)
        while AlertRule.objects.filter(project=project, last_evaluated_at=now).count() < due:
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"tick at {now} did not finish:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        return time.perf_counter() - started, due

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        app.connection_for_write().default_channel.queue_delete(self.queue)
        self.log.unlink()


def celery_ticks(project: Project, rules_count: int, now, minutes: int, concurrency: int) -> bool:
    make_rules(project, rules_count, now=now)
    worker = Worker(concurrency)
    try:
        all_seconds, claimed = worker.tick(project, now)
        steady = [worker.tick(project, now + timedelta(minutes=minute)) for minute in range(1, minutes + 1)]
    finally:
        worker.stop()
    slowest = max(steady)
    print(f"\n1. Ticks through Celery: beat's task to Redis, one worker with --concurrency {concurrency}")
    print(f"   every rule due at once   {all_seconds:6.2f} s  {claimed:5} rules")
    print(
        f"   next {minutes} minutes         mean {statistics.mean(s for s, _ in steady):5.2f} s, slowest "
        f"{slowest[0]:5.2f} s ({statistics.mean(n for _, n in steady):.0f} rules per tick on average)"
    )
    met = max(all_seconds, slowest[0]) < GOAL_SECONDS and claimed == rules_count
    print(
        f"   goal: every tick < {GOAL_SECONDS:.0f} s with {rules_count} enabled rules: {'met' if met else 'NOT met'}"
    )
    return met


def flag_some_events_invalid(share_percent: int = 2) -> int:
    """A real project has some events that break its plan: flag ``share_percent`` % (once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM events WHERE plan_status = %s)", [int(PlanStatus.INVALID)]
        )
        if cursor.fetchone()[0]:
            return 0
        cursor.execute(
            "UPDATE events SET plan_status = %s WHERE abs(hashtext(message_id)) %% 100 < %s",
            [int(PlanStatus.INVALID), share_percent],
        )
        flagged = cursor.rowcount
        cursor.execute("VACUUM (ANALYZE) events")
        return flagged


def measuring(rules: list[AlertRule], end, *, use_rollups: bool) -> dict[AlertRule, float]:
    seconds = {}
    for rule in rules:
        started = time.perf_counter()
        measure(rule, [end], use_rollups=use_rollups)
        seconds[rule] = time.perf_counter() - started
    return seconds


def print_breakdown(title: str, key, from_rollups: dict, from_events: dict) -> None:
    groups: dict[object, list[AlertRule]] = defaultdict(list)
    for rule in from_rollups:
        groups[key(rule)].append(rule)
    print(f"   {title:18} {'rules':>5} {'rollups ms/rule':>16} {'raw ms/rule':>12} {'ratio':>7}")
    for group in sorted(groups):
        rollup_ms = statistics.mean(from_rollups[rule] for rule in groups[group]) * 1000
        raw_ms = statistics.mean(from_events[rule] for rule in groups[group]) * 1000
        print(
            f"   {group!s:18} {len(groups[group]):5} {rollup_ms:16.2f} {raw_ms:12.2f} {raw_ms / rollup_ms:6.1f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=15, help="ticks after the first, one minute apart")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (make run starts 2)")
    args = parser.parse_args()
    querydata.use_bench_database()
    stats = querydata.load()
    project = Project.objects.get(id=stats.project_id)
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("alerts").setLevel(logging.ERROR)
    flagged = flag_some_events_invalid()
    if flagged:
        print(f"flagged {flagged:,} events (2 %) as breaking the plan, for the violation rules")
    now = stats.end - timedelta(minutes=7)
    rules = make_rules(project, args.rules, now=now)
    print(f"{len(rules)} enabled rules over {stats.events:,} events; evaluating at {now:%Y-%m-%d %H:%M} UTC")
    intervals = defaultdict(int)
    for rule in rules:
        intervals[evaluation_interval_minutes(rule)] += 1
    print(
        "evaluation interval (window / 60, 1-15 min): "
        + ", ".join(f"{n} rules every {m} min" for m, n in sorted(intervals.items()))
    )

    met = celery_ticks(project, args.rules, now, args.minutes, args.concurrency)

    # In one process, notifications queued on commit run in-process too (the rules have no channels).
    app.conf.task_always_eager = True
    rules = make_rules(project, args.rules, now=now)
    all_seconds, claimed, states = tick(now)
    steady = [tick(now + timedelta(minutes=minute)) for minute in range(1, args.minutes + 1)]
    slowest = max(steady, key=lambda result: result[0])
    print("\n2. The same ticks in one process, one rule after another (the cost per rule)")
    print(
        f"   every rule due at once  {all_seconds:6.2f} s  {all_seconds / claimed * 1000:6.2f} ms/rule  {states}"
    )
    print(
        f"   next {args.minutes} minutes        mean {statistics.mean(s for s, _, _ in steady):5.2f} s, "
        f"slowest {slowest[0]:5.2f} s  ({slowest[1]} rules, {slowest[0] / slowest[1] * 1000:.2f} ms/rule)"
    )

    end = window_end(now)
    measuring(rules, end, use_rollups=True)  # warm-up: both runs below read from the same cache
    from_rollups = measuring(rules, end, use_rollups=True)
    from_events = measuring(rules, end, use_rollups=False)
    print("\n3. Measuring alone: from rollups vs raw events only (baseline, same run)")
    print_breakdown("window (minutes)", lambda rule: rule.window_minutes, from_rollups, from_events)
    print_breakdown("kind", lambda rule: rule.kind, from_rollups, from_events)
    total_rollups, total_raw = sum(from_rollups.values()), sum(from_events.values())
    print(
        f"   all rules: {total_rollups:.2f} s from rollups, {total_raw:.2f} s raw: {total_raw / total_rollups:.1f}x"
    )
    AlertRule.objects.filter(project=project, name__startswith=BENCH_RULE_PREFIX).delete()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
