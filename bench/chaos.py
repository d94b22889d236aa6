"""No event acknowledged with a 2xx is lost or stored twice, whatever dies: a chaos run.

    .venv/bin/python bench/chaos.py [--rate 300] [--batch 10] [--settle 15] [--outage 12]

Self-contained and isolated (bench/procs.py): its own embedded PostgreSQL and Redis (fresh data
directory, free ports), migrated; gunicorn with 2 sync workers as in the Procfile, 2 ingest writers,
a Celery worker; a bench project and write key. A client sends batches of --batch events with unique
message ids at --rate events/s to POST /track, retrying refused requests (429/503/connection errors)
after their Retry-After, as an SDK does. In turn, each followed by --settle seconds of load:

1. baseline: nothing happens;
2. SIGKILL one gunicorn worker (the master forks a new one);
3. SIGKILL an ingest writer, restarted 2 s later (its pending entries are claimed by the other
   writer after BEACON_INGEST_CLAIM_IDLE_SECONDS, 10 here);
4. SIGKILL the Celery worker (and its pool child), restarted 2 s later;
5. PostgreSQL stopped (pg_ctl -m immediate, a crash) for --outage seconds: ingestion must keep
   answering 2xx (into the Redis stream);
6. the writers paused (SIGSTOP) for 3 s so entries wait in the stream, then Redis SIGKILLed for
   --outage seconds: ingestion must answer 503 with Retry-After, never 2xx;
   restarted from its append-only file, the acknowledged entries not yet written must be back.

Then the load stops (refused batches finish their retries), the writers drain the streams, and the
acknowledged message ids are compared with those stored in `events`: printed acknowledged, stored,
lost, duplicated (count(*) - count(DISTINCT message_id)), refused requests per phase, a timeline.
Exit status 1 if anything was lost or duplicated, or a rule of an outage was broken.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs

LOCAL = procs.prepare_environment("chaos")  # before Django loads (bench.ingest sets it up)

from bench.ingest import percentile  # noqa: E402

AFTER_REDIS = (0, 0, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=300, help="events/s (default 300)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--settle", type=float, default=15, help="seconds of load after each action")
    parser.add_argument("--outage", type=float, default=12, help="seconds PostgreSQL / Redis stay down")
    parser.add_argument("--drain-timeout", type=float, default=180)
    args = parser.parse_args()
    procs.install_signal_handlers()
    stack = procs.Stack(LOCAL)
    load = None
    try:
        print(
            f"private stack under {LOCAL} (PostgreSQL :{procs.os.environ['BEACON_EMBEDDED_PG_PORT']}, "
            f"Redis :{procs.os.environ['BEACON_EMBEDDED_REDIS_PORT']})"
        )
        stack.start_services()
        stack.migrate()
        project_id, key = procs.tenancy()
        stack.start_web()
        stack.start_writers()
        stack.start_celery()
        stack.wait_celery_ready()
        print(
            f"gunicorn :{stack.port} workers {stack.web_worker_pids()}, writers "
            f"{[p.pid for p in stack.writers.values()]}, celery {stack.celery_pids()}"
        )
        load = procs.SteadyLoad(stack.port, key, rate=args.rate, batch=args.batch, threads=args.threads)
        origin = time.monotonic()
        load.start()
        phases: list[dict] = []  # name, start, end, action window (down_start, down_end), note

        def phase(name: str, action=None, outage=None) -> None:
            start = time.monotonic()
            note, down = "", None
            if action:
                note = action() or ""
            if outage:
                stop, restart = outage
                note = stop() or ""
                down_start = time.monotonic()  # from the moment the server is confirmed down
                time.sleep(args.outage)
                down_end = time.monotonic()
                restart()
                down = (down_start, down_end)
            time.sleep(args.settle)
            phases.append({"name": name, "start": start, "end": time.monotonic(), "down": down, "note": note})
            print(f"  [{time.monotonic() - origin:6.1f}s] {name}: done {note}")

        def kill_web() -> str:
            pid = stack.web_worker_pids()[0]
            procs.os.kill(pid, procs.signal.SIGKILL)
            return f"(killed worker {pid})"

        def kill_writer() -> str:
            pid = stack.kill_writer(0)
            time.sleep(2)
            new = stack.start_writer(0)
            return f"(killed writer {pid}, restarted as {new})"

        def kill_celery() -> str:
            pid = stack.kill_celery()
            time.sleep(2)
            new = stack.start_celery()
            return f"(killed celery {pid}, restarted as {new})"

        def pg_down() -> str:
            stack.stop_postgres("immediate")
            return "(pg_ctl -m immediate stop)"

        def redis_down() -> str:
            # the writers paused for 3 s first, so acknowledged entries wait in the stream at the kill:
            # they must come back from the append-only file
            for process in stack.writers.values():
                process.send_signal(procs.signal.SIGSTOP)
            time.sleep(3)
            before = procs.stream_state()
            pid = stack.redis_pid()
            stack.kill_redis()
            return f"(SIGKILL redis {pid}; stream entries {before[0]}, pending {before[1]} at the kill)"

        phase("baseline")
        phase("SIGKILL gunicorn worker", kill_web)
        phase("SIGKILL ingest writer", kill_writer)
        phase("SIGKILL celery worker", kill_celery)
        phase("PostgreSQL down", outage=(pg_down, stack.start_postgres))

        def redis_up() -> None:
            stack.start_redis()
            global AFTER_REDIS
            AFTER_REDIS = procs.stream_state()
            for process in stack.writers.values():
                process.send_signal(procs.signal.SIGCONT)

        phase("Redis down (SIGKILL)", outage=(redis_down, redis_up))
        after_redis = AFTER_REDIS
        print(
            f"  after the Redis restart (writers still paused): {after_redis[0]} stream entries, "
            f"{after_redis[1]} pending"
        )

        load.stop(timeout=120)
        load_end = time.monotonic()
        print(f"  [{load_end - origin:6.1f}s] load stopped; draining ...")
        deadline = time.monotonic() + args.drain_timeout
        while True:
            entries, pending, dead = procs.stream_state()
            if entries == 0 and pending == 0:
                break
            if time.monotonic() > deadline:
                print(
                    f"  !! not drained after {args.drain_timeout:.0f} s: {entries} entries, {pending} pending"
                )
                break
            time.sleep(1)
        drained = time.monotonic() - load_end
        entries, pending, dead = procs.stream_state()
        total, distinct, stored = procs.stored_ids(project_id)

        acked = {message_id.lower() for message_id in load.acked}
        lost = acked - stored
        duplicated = total - distinct
        unacked_stored = stored - acked

        print("\n=== timeline (attempts started in each phase; latencies in ms) ===")
        print(
            f"{'phase':30} {'from':>6} {'to':>6} {'attempts':>8} {'2xx':>6} {'refused':>8} "
            f"{'p50':>6} {'p99':>7} {'max':>7}  statuses"
        )
        failures = []
        for item in phases:
            entries_ = load.window(item["start"], item["end"])
            s = procs.summarize(entries_)
            lat = s["latencies"]
            print(
                f"{item['name']:30} {item['start'] - origin:6.1f} {item['end'] - origin:6.1f} "
                f"{s['attempts']:8} {s['ok']:6} {s['refused']:8} {percentile(lat, 0.5) * 1000:6.0f} "
                f"{percentile(lat, 0.99) * 1000:7.0f} {(lat[-1] if lat else 0) * 1000:7.0f}  {s['statuses']}"
            )
            if item["down"]:
                down_start, down_end = item["down"]
                inside = [e for e in load.log if e[0] >= down_start and e[1] <= down_end]
                d = procs.summarize(inside)
                print(
                    f"{'   while down':30} {down_start - origin:6.1f} {down_end - origin:6.1f} "
                    f"{d['attempts']:8} {d['ok']:6} {d['refused']:8}  {d['statuses']}"
                )
                if item["name"].startswith("Redis"):
                    if d["ok"]:
                        failures.append(f"{d['ok']} requests answered 2xx while Redis was down")
                    if d["refused_503_without_retry_after"]:
                        failures.append(f"{d['refused_503_without_retry_after']} 503s without Retry-After")
                    item["refused"] = d["refused"]
                    item["refused_statuses"] = d["statuses"]
                if item["name"].startswith("PostgreSQL"):
                    if d["refused"] or d["attempts"] != d["ok"]:
                        failures.append(f"PostgreSQL down: {d['attempts'] - d['ok']} requests not 2xx")
                    item["refused"] = d["refused"]
                    item["refused_statuses"] = d["statuses"]
            item.setdefault("refused", s["refused"])
            item.setdefault("refused_statuses", s["statuses"])
        after = procs.summarize(load.window(phases[-1]["end"], float("inf")))
        print(
            f"{'retries after the last phase':30} {'':6} {'':6} {after['attempts']:8} {after['ok']:6} "
            f"{after['refused']:8}  {after['statuses']}"
        )

        print("\n=== result ===")
        print(f"load: {args.rate:.0f} events/s in batches of {args.batch}, {args.threads} client threads")
        print(f"events generated   {load.sent_ids}")
        print(f"acknowledged       {len(acked)}   (2xx)")
        print(f"refused for good   {len(load.failed)}   (non-retryable status: never acknowledged)")
        print(f"stored             {total}   (rows in events for the project; distinct ids {distinct})")
        print(f"lost               {len(lost)}")
        print(f"duplicated         {duplicated}")
        print(f"stored, never 2xx  {len(unacked_stored)}   (an answer lost to a kill: stored once anyway)")
        print(
            f"dead-letter        {dead}   stream left {entries}, pending {pending}; drained in {drained:.1f} s"
        )
        print("refused with a retryable status (429/503/connection error), per phase:")
        for item in phases:
            print(f"  {item['name']:30} {item['refused']:6}  {item['refused_statuses']}")
        if dead:
            from analytics.ingest import buffer
            from bench.ingest import get_redis_client

            dead_ids = set()
            for entry_id, fields in get_redis_client().xrange(buffer.dead_letter_stream()):
                rows = [record for record, _ in buffer.decode(fields[b"e"])]
                dead_ids.update(str(record.message_id).lower() for record in rows)
                print(
                    f"  dead-letter entry {entry_id.decode()} (from {fields.get(b'stream', b'').decode()}): "
                    f"{fields.get(b'why', b'').decode()}, {len(rows)} events"
                )
            print(
                f"  of the {len(lost)} lost, {len(lost & dead_ids)} are in the dead-letter stream "
                f"(acknowledged, then refused by the writer; see the writers' logs), "
                f"{len(lost - dead_ids)} are nowhere"
            )
        if lost:
            print(f"  first lost ids: {sorted(lost)[:5]}")
            failures.append(f"{len(lost)} acknowledged events lost")
        if duplicated:
            failures.append(f"{duplicated} events duplicated")
        if load.failed:
            failures.append(f"{len(load.failed)} events refused with a non-retryable status")
        if failures:
            print("FAIL: " + "; ".join(failures))
            procs.os.environ["BEACON_BENCH_KEEP_DIR"] = "1"  # the writers' logs hold the why
            return 1
        print("PASS: every acknowledged event stored exactly once")
        return 0
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
