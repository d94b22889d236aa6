"""The funnel runner: resolve the range, run the builder's one statement, shape the result; and the
precomputation of saved funnels (Celery beat), so opening a saved funnel reads one row."""

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

import orjson
from django.db import connection
from django.db.models import Max
from django.utils import timezone as dj_timezone
from psycopg import sql

from analytics.insights import timerange
from analytics.insights.definitions import FunnelQuery, QueryError, parse_funnel, to_json
from analytics.insights.models import FunnelResult, Insight, InsightKind
from analytics.insights.trends import environment_id_of
from analytics.models import PersonMerge
from analytics.queries import funnels as builder
from projects.models import Project

logger = logging.getLogger(__name__)


@dataclass
class StepResult:
    name: str
    event: str
    count: int
    conversion_from_first: float  # 0..1
    conversion_from_previous: float
    drop_off: int  # people of the previous step who did not reach this one
    median_seconds: float | None  # time from entering the funnel (step 1) to this step
    p90_seconds: float | None


@dataclass
class FunnelGroup:
    breakdown: str | None
    is_other: bool
    steps: list[StepResult]
    median_total_seconds: float | None = None

    @property
    def conversion(self) -> float:
        return self.steps[-1].conversion_from_first if self.steps else 0.0


@dataclass
class FunnelOutcome:
    steps: list[StepResult]
    breakdowns: list[FunnelGroup]
    start: datetime
    end: datetime
    order: str
    window_seconds: int
    computed_at: datetime
    source: str = "events"  # or "precomputed"
    median_total_seconds: float | None = None
    duration_ms: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def conversion(self) -> float:
        return self.steps[-1].conversion_from_first if self.steps else 0.0

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "order": self.order,
            "window_seconds": self.window_seconds,
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
            "computed_at": self.computed_at.isoformat(),
            "conversion": self.conversion,
            "median_total_seconds": self.median_total_seconds,
            "steps": [asdict(step) for step in self.steps],
            "breakdowns": [
                {
                    "breakdown": group.breakdown,
                    "is_other": group.is_other,
                    "conversion": group.conversion,
                    "median_total_seconds": group.median_total_seconds,
                    "steps": [asdict(step) for step in group.steps],
                }
                for group in self.breakdowns
            ],
        }

    @classmethod
    def from_json(cls, data: dict, *, source: str) -> "FunnelOutcome":
        return cls(
            steps=[StepResult(**step) for step in data["steps"]],
            breakdowns=[
                FunnelGroup(
                    breakdown=group["breakdown"],
                    is_other=group["is_other"],
                    steps=[StepResult(**step) for step in group["steps"]],
                    median_total_seconds=group["median_total_seconds"],
                )
                for group in data["breakdowns"]
            ],
            start=datetime.fromisoformat(data["date_from"]),
            end=datetime.fromisoformat(data["date_to"]),
            order=data["order"],
            window_seconds=data["window_seconds"],
            computed_at=datetime.fromisoformat(data["computed_at"]),
            source=source,
            median_total_seconds=data["median_total_seconds"],
        )


def _steps(query: FunnelQuery, row: builder.FunnelRow | None) -> list[StepResult]:
    counts = row.counts if row else [0] * len(query.steps)
    results = []
    for index, step in enumerate(query.steps):
        count = counts[index]
        previous = counts[index - 1] if index else count
        results.append(
            StepResult(
                name=step.name,
                event=step.event,
                count=count,
                conversion_from_first=count / counts[0] if counts[0] else 0.0,
                conversion_from_previous=count / previous if previous else 0.0,
                drop_off=previous - count,
                median_seconds=row.median_seconds[index] if row else None,
                p90_seconds=row.p90_seconds[index] if row else None,
            )
        )
    return results


def window_of(project: Project, query: FunnelQuery, now: datetime) -> timerange.Window:
    # Funnels count people over whole days of the project's zone (or the exact custom instants).
    interval = "hour" if query.date_range.range == "24h" else "day"
    return timerange.resolve(query.date_range, interval=interval, timezone=project.timezone, now=now)


def run_funnel(project: Project, query: FunnelQuery, *, now: datetime | None = None) -> FunnelOutcome:
    now = now or dj_timezone.now()
    window = window_of(project, query, now)
    scope = builder.FunnelScope(
        project_id=project.id,
        environment_id=environment_id_of(project, query.environment),
        start=window.start,
        end=window.end,
    )
    started = time.perf_counter()
    rows = builder.run(builder.build_funnel_query(query, scope))
    total = next((row for row in rows if row.is_total), None)
    groups = [
        FunnelGroup(
            breakdown=row.breakdown,
            is_other=row.is_other,
            steps=_steps(query, row),
            median_total_seconds=row.median_total_seconds,
        )
        for row in rows
        if not row.is_total
    ]
    groups.sort(key=lambda group: (group.is_other, -group.steps[0].count, group.breakdown or ""))
    return FunnelOutcome(
        steps=_steps(query, total),
        breakdowns=groups,
        start=window.start,
        end=window.end,
        order=query.order,
        window_seconds=query.window_seconds,
        computed_at=now,
        median_total_seconds=total.median_total_seconds if total else None,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


# --- saved funnels, precomputed ----------------------------------------------------------------------


def fingerprint(project: Project, query: FunnelQuery, now: datetime) -> str:
    """What data a result of ``query`` would see: its range, and the step events' counts in it from
    the hourly rollups (cheap). New events in the window, late ones too, change it."""
    window = window_of(project, query, now)
    events = sorted({step.event for step in query.steps} | {x.event for x in query.exclusions})
    statement = sql.SQL(
        "SELECT coalesce(sum(events), 0)::bigint, count(*) FROM event_counts_hourly "
        "WHERE project_id = %s AND bucket >= %s AND bucket < %s AND event = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [project.id, window.start, window.end, events])
        total, buckets = cursor.fetchone()
    last_merge = PersonMerge.objects.filter(project=project).aggregate(last=Max("merged_at"))["last"]
    payload = [
        to_json(query),
        project.timezone,
        window.start.isoformat(),
        window.end.isoformat(),
        total,
        buckets,
        # Identity merges change who is who without a new step event; an environment deleted and
        # made again under the same name has another id.
        last_merge.isoformat() if last_merge else None,
        environment_id_of(project, query.environment),
    ]
    return hashlib.sha256(orjson.dumps(payload)).hexdigest()


def precompute(insight: Insight, *, now: datetime | None = None, force: bool = False) -> bool:
    """Compute a saved funnel into its ``FunnelResult`` unless nothing changed; True if it ran."""
    now = now or dj_timezone.now()
    project = insight.project
    try:
        query = parse_funnel(insight.query)
        # An environment deleted since the funnel was saved: an error row, not a crash.
        environment_id_of(project, query.environment)
        print_ = fingerprint(project, query, now)
    except QueryError as error:
        FunnelResult.objects.update_or_create(
            insight=insight,
            defaults={"result": {}, "fingerprint": "", "computed_at": now, "error": str(error)},
        )
        return False
    existing = FunnelResult.objects.filter(insight=insight).only("fingerprint", "error").first()
    if existing and existing.fingerprint == print_ and not existing.error and not force:
        return False
    outcome = run_funnel(project, query, now=now)
    FunnelResult.objects.update_or_create(
        insight=insight,
        defaults={
            "result": outcome.as_json(),
            "fingerprint": print_,
            "computed_at": now,
            "duration_ms": outcome.duration_ms,
            "error": "",
        },
    )
    return True


def precompute_all(*, now: datetime | None = None) -> dict:
    """Every saved funnel whose data changed (Celery beat). One failing funnel never stops the rest."""
    now = now or dj_timezone.now()
    ran = unchanged = failed = 0
    for insight in Insight.objects.filter(kind=InsightKind.FUNNEL).select_related("project").order_by("id"):
        try:
            if precompute(insight, now=now):
                ran += 1
            else:
                unchanged += 1
        except Exception:
            failed += 1
            logger.exception("precomputing funnel %s failed", insight.id)
    return {"computed": ran, "unchanged": unchanged, "failed": failed}


def saved_result(insight: Insight) -> FunnelOutcome | None:
    """The precomputed result of a saved funnel (one row), or None before the first computation."""
    row = FunnelResult.objects.filter(insight=insight).only("result", "error").first()
    if row is None or row.error or not row.result:
        return None
    return FunnelOutcome.from_json(row.result, source="precomputed")
