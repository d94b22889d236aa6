"""The retention runner: cohorts as rows, periods as columns, a triangle (periods that have not
started yet are None, not 0)."""

import bisect
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone as dj_timezone

from analytics.insights import timerange
from analytics.insights.definitions import RetentionQuery
from analytics.insights.trends import environment_id_of
from analytics.queries import retention as builder
from projects.models import Project


@dataclass
class Cohort:
    start: datetime
    size: int
    counts: list[int | None]  # period 0 (the cohort itself) .. periods; None: not started yet
    rates: list[float | None]


@dataclass
class RetentionOutcome:
    cohorts: list[Cohort]
    interval: str
    periods: int
    start: datetime
    end: datetime
    timezone: str
    cohort_event: str
    return_event: str

    def average_rates(self) -> list[float | None]:
        """Each period's retention over the cohorts that reached it, weighted by cohort size."""
        averages = []
        for index in range(self.periods + 1):
            reached = [c for c in self.cohorts if c.counts[index] is not None and c.size]
            size = sum(c.size for c in reached)
            averages.append(sum(c.counts[index] for c in reached) / size if size else None)
        return averages

    def as_json(self) -> dict:
        return {
            "interval": self.interval,
            "periods": self.periods,
            "timezone": self.timezone,
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
            "cohort_event": self.cohort_event,
            "return_event": self.return_event,
            "average_rates": self.average_rates(),
            "cohorts": [
                {"start": c.start.isoformat(), "size": c.size, "counts": c.counts, "rates": c.rates}
                for c in self.cohorts
            ],
        }


def run_retention(
    project: Project, query: RetentionQuery, *, now: datetime | None = None
) -> RetentionOutcome:
    now = now or dj_timezone.now()
    window = timerange.resolve(query.date_range, interval=query.interval, timezone=project.timezone, now=now)
    cohort_starts = window.buckets()
    # Every bucket a return can fall in: from the first cohort to `periods` after the last one.
    extended = timerange.Window(
        start=window.start,
        end=window.end + timerange.INTERVALS[query.interval] * (query.periods + 1),
        timezone=window.timezone,
        interval=window.interval,
    )
    all_buckets = extended.buckets()
    returns_end = all_buckets[min(len(cohort_starts) + query.periods, len(all_buckets) - 1)]
    scope = builder.RetentionScope(
        project_id=project.id,
        environment_id=environment_id_of(project, query.environment),
        start=window.start,
        end=window.end,
        returns_end=min(returns_end, extended.end),
        timezone=project.timezone,
    )
    rows = builder.run(builder.build_retention_query(query, scope))
    sizes: dict[int, int] = {}
    returned: dict[tuple[int, int], int] = {}

    def index_of(moment: datetime) -> int:
        return max(bisect.bisect_right(all_buckets, moment) - 1, 0)

    for cohort, period, people in rows:
        if period is None:
            sizes[index_of(cohort)] = sizes.get(index_of(cohort), 0) + people
        else:
            key = (index_of(cohort), index_of(period) - index_of(cohort))
            returned[key] = returned.get(key, 0) + people
    current = index_of(now)
    cohorts = []
    for cohort_index, start in enumerate(cohort_starts):
        size = sizes.get(cohort_index, 0)
        counts: list[int | None] = []
        for period in range(query.periods + 1):
            if cohort_index + period > current:
                counts.append(None)
            else:
                counts.append(size if period == 0 else returned.get((cohort_index, period), 0))
        rates = [None if count is None else (count / size if size else 0.0) for count in counts]
        cohorts.append(Cohort(start=start, size=size, counts=counts, rates=rates))
    return RetentionOutcome(
        cohorts=cohorts,
        interval=query.interval,
        periods=query.periods,
        start=window.start,
        end=window.end,
        timezone=project.timezone,
        cohort_event=query.cohort_event,
        return_event=query.return_event,
    )
