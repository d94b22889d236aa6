"""What the analysis costs on a realistic project: 10M events over 30 days, 200k persons.

    .venv/bin/python bench/queries.py [--events 10000000] [--days 30] [--persons 200000] [--rounds 7]

The data comes from bench/querydata.py (its own database ``beacon_bench_queries``, loaded once and
kept; the first run takes minutes). Every figure is a median over --rounds rounds, next to a
baseline measured in the same run (these machines are shared and noisy):

1. Trend, 30 days hourly, one event (``page_view`` count, as the trend runner runs it: the buckets
   and the range total), from the rollups (``run_trend``) vs the same numbers from a raw scan
   (``run_trend(use_rollups=False)``). The two results must be equal. Goal: >= 50x, < 50 ms.
2. Funnel, 3 steps over 7 days (product_viewed -> added_to_cart -> order_completed, 1-day
   window), ``run_funnel``; baselines: a bare count of the rows it reads (the floor: reading them),
   and the naive "first entry, then self-joins" funnel. Goal: < 1 s p50. Then where the time goes:
   the plan's nodes by their own time (EXPLAIN ANALYZE).
3. A saved funnel's read (``saved_result``: the row Celery beat precomputed) vs a ``SELECT 1``
   round trip and vs computing the funnel. Goal: < 20 ms.

Exit status 0 when every goal is met.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import querydata  # noqa: I001  (first: it sets up Django)

from django.db import connection
from psycopg import sql

from analytics.insights.actions import do_save_insight
from analytics.insights.definitions import parse_funnel, parse_trend
from analytics.insights.funnels import precompute, run_funnel, saved_result, window_of
from analytics.insights.models import Insight
from analytics.insights.trends import run_trend
from analytics.queries import funnels as funnel_builder
from analytics.queries import jsonb
from projects.models import Project

FUNNEL_STEPS = ["product_viewed", "added_to_cart", "order_completed"]


def timed(action, rounds: int) -> tuple[float, object]:
    """Median seconds of ``rounds`` calls (after one warm-up call), and the last result."""
    result = action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def scalar(statement: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def bench_trend(project, now, rounds: int) -> bool:
    query = parse_trend({"series": [{"event": "page_view"}], "interval": "hour", "date_range": "30d"})
    rollup_time, from_rollups = timed(lambda: run_trend(project, query, now=now), rounds)
    raw_time, from_events = timed(
        lambda: run_trend(project, query, now=now, use_rollups=False), max(3, rounds // 2)
    )
    assert from_rollups.source == "rollups" and from_events.source == "events"
    same = from_rollups.series[0].values == from_events.series[0].values
    ratio = raw_time / rollup_time
    buckets, total = len(from_rollups.buckets), int(from_rollups.series[0].total)
    print(f"\n1. Trend: 30 days hourly, page_view count ({buckets} buckets, {total} events)")
    print(f"   raw scan (baseline)   {ms(raw_time)}")
    print(f"   from rollups          {ms(rollup_time)}   {ratio:7.1f}x faster   same numbers: {same}")
    met = same and ratio >= 50 and rollup_time < 0.050
    print(f"   goal >= 50x and < 50 ms: {'met' if met else 'NOT MET'}")
    return met


NAIVE_FUNNEL = """
    WITH firsts AS (
        SELECT coalesce(pdi.person_id, e.person_id) AS actor, min(e.time) AS t1
        FROM events e LEFT JOIN analytics_persondistinctid pdi ON pdi.project_id = e.project_id AND pdi.distinct_id = e.distinct_id
        WHERE e.project_id = %(project)s AND e.time >= %(start)s AND e.time < %(end)s AND e.event = %(s1)s GROUP BY 1
    ), second AS (
        SELECT f.actor, f.t1, min(e.time) AS t2 FROM firsts f
        JOIN analytics_persondistinctid pdi ON pdi.person_id = f.actor
        JOIN events e ON e.project_id = %(project)s AND e.distinct_id = pdi.distinct_id AND e.event = %(s2)s
             AND e.time > f.t1 AND e.time <= f.t1 + interval '1 day' AND e.time < %(end)s
        GROUP BY 1, 2
    ), third AS (
        SELECT s.actor FROM second s
        JOIN analytics_persondistinctid pdi ON pdi.person_id = s.actor
        JOIN events e ON e.project_id = %(project)s AND e.distinct_id = pdi.distinct_id AND e.event = %(s3)s
             AND e.time > s.t2 AND e.time <= s.t1 + interval '1 day' AND e.time < %(end)s
        GROUP BY 1
    )
    SELECT (SELECT count(*) FROM firsts), (SELECT count(*) FROM second), (SELECT count(*) FROM third)
"""


def where_the_time_goes(fragment) -> list[tuple[str, float]]:
    """The plan's nodes by their own time (total minus their children's), largest first."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) {}").format(fragment.sql), fragment.params)
        plan = jsonb(cursor.fetchone()[0])[0]
    nodes: list[tuple[str, float]] = []

    def walk(node) -> float:
        total = node["Actual Total Time"] * node.get("Actual Loops", 1)
        children = sum(walk(child) for child in node.get("Plans", []))
        label = node["Node Type"] + (f" ({node['Relation Name']})" if "Relation Name" in node else "")
        # A CTE Scan's time includes running the CTE's own plan, which is walked (and counted) apart.
        own = 0.0 if node["Node Type"] == "CTE Scan" else max(total - children, 0.0)
        nodes.append((re.sub(r"events_p\d+", "events_p*", label), own))
        return total

    walk(plan["Plan"])
    merged: dict[str, float] = {}
    for label, own in nodes:
        merged[label] = merged.get(label, 0.0) + own
    return sorted(merged.items(), key=lambda item: -item[1])


def bench_funnel(project, now, rounds: int) -> tuple[bool, float]:
    query = parse_funnel({"steps": FUNNEL_STEPS, "window_seconds": 86400, "date_range": "7d"})
    window = window_of(project, query, now)
    funnel_time, outcome = timed(lambda: run_funnel(project, query, now=now), rounds)
    rows = {"project": project.id, "start": window.start, "end": window.end}
    scan_time, read = timed(
        lambda: scalar(
            "SELECT count(*) FROM events WHERE project_id = %s AND time >= %s AND time < %s AND event = ANY(%s)",
            [project.id, window.start, window.end, FUNNEL_STEPS],
        ),
        rounds,
    )
    naive_params = {**rows, "s1": FUNNEL_STEPS[0], "s2": FUNNEL_STEPS[1], "s3": FUNNEL_STEPS[2]}

    def naive():
        with connection.cursor() as cursor:
            cursor.execute(NAIVE_FUNNEL, naive_params)
            return cursor.fetchone()

    naive_time, naive_counts = timed(naive, 1)
    counts = [step.count for step in outcome.steps]
    print(f"\n2. Funnel: {' -> '.join(FUNNEL_STEPS)}, 7 days, 1-day window ({read} step events read)")
    print(
        f"   people per step: {counts}  conversion {outcome.conversion:.1%}  (naive first-entry funnel: {list(naive_counts)})"
    )
    print(f"   reading the rows only (baseline)  {ms(scan_time)}")
    print(
        f"   run_funnel                        {ms(funnel_time)}   {funnel_time / scan_time:5.1f}x the bare read"
    )
    print(
        f"   naive first entry + self-joins    {ms(naive_time)}   {naive_time / funnel_time:5.1f}x run_funnel's time "
        "(and wrong: it misses later entries that convert)"
    )
    scope = funnel_builder.FunnelScope(project.id, None, window.start, window.end)
    print("   where the time goes (EXPLAIN ANALYZE, own time per node):")
    breakdown = where_the_time_goes(funnel_builder.build_funnel_query(query, scope))
    total = sum(own for _, own in breakdown) or 1
    for label, own in breakdown[:6]:
        print(f"     {label:<40} {own:8.1f} ms  {own / total:5.1%}")
    met = funnel_time < 1.0
    print(f"   goal < 1 s p50: {'met' if met else 'NOT MET'}")
    return met, funnel_time


def bench_saved_funnel(project, now, rounds: int, funnel_time: float) -> bool:
    insight = Insight.objects.filter(project=project, kind="funnel", name="bench funnel").first()
    query = {"steps": FUNNEL_STEPS, "window_seconds": 86400, "date_range": "7d"}
    if insight is None:
        insight = do_save_insight(
            project=project, kind="funnel", name="bench funnel", query=query, acting_user=None
        )
    precompute(insight, now=now, force=True)
    read_time, result = timed(lambda: saved_result(Insight.objects.get(id=insight.id)), rounds * 3)
    round_trip, _ = timed(lambda: scalar("SELECT 1", []), rounds * 3)
    print("\n3. Saved funnel read (the precomputed row)")
    print(f"   SELECT 1 round trip (baseline)    {ms(round_trip)}")
    print(
        f"   saved_result                      {ms(read_time)}   {read_time / round_trip:5.1f}x a round trip, "
        f"{funnel_time / read_time:,.0f}x faster than computing it; counts {[s.count for s in result.steps]}"
    )
    met = read_time < 0.020
    print(f"   goal < 20 ms: {'met' if met else 'NOT MET'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    querydata.use_bench_database()
    stats = querydata.load(events=args.events, days=args.days, persons=args.persons)
    print(stats.describe() if hasattr(stats, "describe") else stats)
    project = Project.objects.get(id=stats.project_id)
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load (here, now): the visibility map lets the funnel's
        # step events be read from the event-name index alone.
        cursor.execute("VACUUM (ANALYZE) events")
    now = stats.end
    results = [bench_trend(project, now, args.rounds)]
    funnel_met, funnel_time = bench_funnel(project, now, args.rounds)
    results.append(funnel_met)
    results.append(bench_saved_funnel(project, now, args.rounds, funnel_time))
    print("\nall goals met" if all(results) else "\nsome goals NOT met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
