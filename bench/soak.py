"""A steady ingestion load for --minutes: flat memory, stable latency.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 300] [--batch 10]

Same private stack as bench/chaos.py (bench/procs.py: its own embedded PostgreSQL and Redis on free
ports, gunicorn with 2 workers as in the Procfile, 2 ingest writers, a Celery worker). Baselines in
the same run: a do-nothing view's latency on the same server (/bench/hello, sequential, before and
after the load) and the first full minute. Printed per minute: events/s acknowledged, p50/p99
request latency, errors, writer backlog (stream entries); the RSS of every process at the start and
the end; then the verdict: memory flat per process (growth < 10 % or < 20 MB) and p99 stable (last
minute within 1.5x the first). Exit status 1 otherwise.
"""

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs

LOCAL = procs.prepare_environment("soak")  # before Django loads (bench.ingest sets it up)

from bench.ingest import percentile  # noqa: E402


def memory(stack: procs.Stack) -> dict[str, float]:
    """RSS per process; PostgreSQL's as private memory (RssAnon: its shared buffers are not a leak)."""
    readings = {}
    for name, pid in stack.processes().items():
        if name.startswith("postgres"):
            name = name.split(" (")[0] if "others" not in name else "postgres others (sum)"
            pids = pid if isinstance(pid, list) else [pid]
            readings[f"{name} [private]"] = sum(procs.rss_mb(p, "RssAnon") for p in pids)
        else:
            readings[name] = procs.rss_mb(pid)
    return readings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=300, help="events/s (default 300)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of load before the clock")
    args = parser.parse_args()
    procs.install_signal_handlers()
    stack = procs.Stack(LOCAL)
    load = None
    try:
        stack.start_services()
        stack.migrate()
        project_id, key = procs.tenancy()
        stack.start_web()
        stack.start_writers()
        stack.start_celery()
        stack.wait_celery_ready()
        hello_before = procs.hello_latencies(stack.port, key, 200)
        load = procs.SteadyLoad(stack.port, key, rate=args.rate, batch=args.batch, threads=args.threads)
        load.start()
        time.sleep(args.warmup)  # every worker has read the key, connections are open
        start_memory = memory(stack)
        origin = time.monotonic()
        rows = []
        print(
            f"load: {args.rate:.0f} events/s in batches of {args.batch} for {args.minutes} min "
            f"(after {args.warmup:.0f} s warm-up)"
        )
        print(f"{'minute':>6} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7} {'backlog':>8}")
        for minute in range(args.minutes):
            end = origin + 60 * (minute + 1)
            time.sleep(max(0, end - time.monotonic()))
            s = procs.summarize(load.window(end - 60, end))
            entries, pending, dead = procs.stream_state()
            errors = s["attempts"] - s["ok"]
            row = {
                "rate": s["ok_events"] / 60,
                "p50": percentile(s["latencies"], 0.5) * 1000,
                "p99": percentile(s["latencies"], 0.99) * 1000,
                "errors": errors,
                "backlog": entries,
            }
            rows.append(row)
            print(
                f"{minute + 1:6} {row['rate']:9.1f} {row['p50']:7.1f} {row['p99']:7.1f} "
                f"{errors:7} {entries:8}",
                flush=True,
            )
        end_memory = memory(stack)
        load.stop(timeout=60)
        hello_after = procs.hello_latencies(stack.port, key, 200)
        print(
            f"\nbaseline /bench/hello (10-event body, sequential, no load): "
            f"p50 {percentile(hello_before, 0.5) * 1000:.1f} / p99 {percentile(hello_before, 0.99) * 1000:.1f} ms "
            f"before, p50 {percentile(hello_after, 0.5) * 1000:.1f} / p99 {percentile(hello_after, 0.99) * 1000:.1f} ms after"
        )

        print(f"\n{'process':34} {'RSS start MB':>12} {'RSS end MB':>11} {'growth':>8}  verdict")
        failures = []
        for name in start_memory:
            before, after = start_memory[name], end_memory.get(name, math.nan)
            growth = after - before
            flat = growth < 20 or growth < 0.10 * before
            if math.isnan(after):
                flat, verdict = False, "GONE (process died?)"
            else:
                verdict = "flat" if flat else "GROWING"
            print(f"{name:34} {before:12.1f} {after:11.1f} {growth:+8.1f}  {verdict}")
            if not flat:
                failures.append(f"{name} memory {before:.0f} -> {after:.0f} MB")
        first, last = rows[0], rows[-1]
        stable = last["p99"] <= 1.5 * first["p99"]
        print(
            f"\np99 first minute {first['p99']:.1f} ms, last minute {last['p99']:.1f} ms "
            f"({last['p99'] / first['p99']:.2f}x): {'stable' if stable else 'NOT stable'} (goal <= 1.5x)"
        )
        total_errors = sum(row["errors"] for row in rows)
        print(
            f"throughput: {sum(r['rate'] for r in rows) / len(rows):.1f} events/s acknowledged on average "
            f"(offered {args.rate:.0f}); errors {total_errors}; acknowledged {len(load.acked)} events"
        )
        if not stable:
            failures.append("p99 not stable")
        if total_errors:
            failures.append(f"{total_errors} errors")
        print("FAIL: " + "; ".join(failures) if failures else "PASS: flat memory, stable p99, no errors")
        return 1 if failures else 0
    except KeyboardInterrupt:
        print("interrupted")
        return 130
    finally:
        if load is not None and load.producing.is_set():
            load.abandon.set()
            load.producing.clear()
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
