"""What the live inspector costs: ingestion while someone watches, and one poll of a busy environment.

    .venv/bin/python bench/live.py [--events 20000] [--rounds 7] [--batch 50] [--quick]

Reuses bench/validate.py's workload (a 50-event plan, browser-SDK batches, about 10 % breaking the
plan) and its full path: POST /track through ``config.wsgi``'s application in this process, in a
throwaway database, on the project with the plan. Over --rounds rounds in rotating order:

- ingest, nobody watching (baseline): the append script's feed step is one EXISTS;
- ingest, inspector open: the watch key is set, so every request's events are counted and up to
  LIVE_MAX_ENTRIES_PER_SECOND requests a second are copied to the feed (XADD with MAXLEN ~, EXPIRE);
  a pass sends several hundred requests a second, most of them counted only, as in production;
- poll, nothing new (baseline): the inspector's poll view (``live.poll`` with a viewer, through the
  URL resolver and the template) when no event arrived since its cursor;
- poll, one busy second: the same poll after ``--rate`` events (default 500) arrived since the cursor,
  in batches of --batch: reads, decodes and filters them, checks the newest 50 against the plan and
  renders them (the rest counted and reported as sampled);
- poll, busy, only invalid: the same, with the "only invalid" filter (every event read is checked).

Goals: watching costs ingestion at most 10 % (ratio <= 1.10); a busy second's poll takes less than a
tenth of the second it covers, so one web worker serves ten watchers of a busy environment (this one
is a share of the poll interval, printed next to the ratio against the empty poll of the same run).
Exit status 0 if both are met.
"""

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import validate  # noqa: I001  (first: it sets up Django, with its own stream prefix)

from django.test import RequestFactory

from analytics.ingest import buffer
from analytics.views import live as live_views
from config.redis import get_redis

INGEST_GOAL = 1.10
POLL_SHARE_GOAL = 0.10
POLL_SECONDS = live_views.POLL_SECONDS


class Poller:
    """The inspector's poll view, called directly with a request as the URL resolver would hand it."""

    def __init__(self, project, environment, user, workload: validate.Workload, rate: int, batch: int):
        self.project, self.environment, self.user = project, environment, user
        self.factory = RequestFactory()
        self.bodies = [body for body in workload.bodies][: max(1, rate // batch)]
        self.events = sum(len(validate.orjson.loads(body)) for body in self.bodies)

    def _request(self, cursor: str, invalid: bool):
        params = {"environment": self.environment.slug, "cursor": cursor}
        if invalid:
            params["invalid"] = "1"
        request = self.factory.get(
            f"/projects/{self.project.slug}/live/poll/", params, HTTP_HX_REQUEST="true"
        )
        request.user = self.user
        request.htmx = types.SimpleNamespace(target=None)
        return request

    def cursor(self) -> str:
        return live_views.live.read(
            self.project.id, self.environment.id, cursor="", matches=lambda record: True, limit=1
        ).cursor

    def measure(self, full_path: validate.FullPath, *, busy: bool, invalid: bool = False) -> float:
        cursor = self.cursor()
        if busy:  # one second of a busy environment arrives, through the real ingest path
            time.sleep(1 - time.time() % 1)  # a fresh second: the feed's per-second cap starts over
            for body in self.bodies:
                environ = validate.wsgi_environ(body, full_path.keys["plan"], validate.USER_AGENTS[0])
                response = full_path.application(environ, lambda *args: None)
                b"".join(response)
                response.close()
        request = self._request(cursor, invalid)
        responses = []
        seconds = validate.timed(lambda: responses.append(live_views.poll(request, slug=self.project.slug)))
        html = responses[0].content.decode()
        if responses[0].status_code != 200 or (busy and "live-row" not in html):
            raise RuntimeError(f"poll answered {responses[0].status_code}: {html[:300]}")
        if busy and not invalid and f"{self.events} events arrived" not in html:
            raise RuntimeError(f"the poll did not count the {self.events} events that arrived: {html[:400]}")
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per ingest pass (default 20000)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=50, help="events per request body (default 50)")
    parser.add_argument(
        "--rate", type=int, default=500, help="events arriving per poll interval (default 500)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small numbers (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 2_000, 3

    workload = validate.Workload(args)
    with validate.throwaway_database() as database:
        keys, plan_project_id = validate.make_tenancy(workload.snapshot)
        full_path = validate.FullPath(workload, keys, plan_project_id)
        try:
            seconds, events = measure(workload, full_path, plan_project_id, args)
        finally:
            full_path.cleanup()
            get_redis().delete(*get_redis().keys(f"{validate.STREAM_PREFIX}:live:*") or ["none"])
    print(
        f"workload: {workload.count:,} events in {len(workload.batches)} /track batches of {args.batch}, through"
        f" config.wsgi in this process; database {database} (throwaway, dropped)"
    )
    return report(seconds, workload.count, events, args)


def measure(workload, full_path, plan_project_id: int, args) -> tuple[dict[str, list[float]], int]:
    from projects.models import Environment, Project

    project = Project.objects.get(id=plan_project_id)
    environment = Environment.objects.get(project=project, slug=validate.ENVIRONMENT)
    user = project.organization.memberships.first().user
    poller = Poller(project, environment, user, workload, args.rate, args.batch)
    watch_key = buffer.feed_keys(project.id, environment.id)[0]

    def ingest(watched: bool) -> float:
        client = get_redis()
        if watched:
            client.set(watch_key, 1)
        else:
            client.delete(watch_key)
        return full_path.measure("plan")

    modes = {
        "ingest-off": lambda: ingest(False),
        "ingest-on": lambda: ingest(True),
        "poll-idle": lambda: poller.measure(full_path, busy=False),
        "poll-busy": lambda: poller.measure(full_path, busy=True),
        "poll-invalid": lambda: poller.measure(full_path, busy=True, invalid=True),
    }
    get_redis().set(watch_key, 1)
    for run in modes.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    order = list(modes)
    for round_number in range(args.rounds):
        shift = round_number % len(order)
        for mode in order[shift:] + order[:shift]:
            if mode.startswith("poll"):
                get_redis().set(watch_key, 1)
            seconds[mode].append(modes[mode]())
    return seconds, poller.events


def report(seconds: dict[str, list[float]], count: int, poll_events: int, args) -> int:
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    print(f"\n== medians of {args.rounds} rounds, rotating order, GC paused ==")
    for mode, label in (
        ("ingest-off", f"ingest {count:,} events, nobody watching (baseline)"),
        ("ingest-on", f"ingest {count:,} events, inspector open"),
    ):
        rounds = " ".join(f"{value / count * 1e6:.2f}" for value in seconds[mode])
        print(f"{label:<52}{median[mode] / count * 1e6:>8.2f} us/event   rounds: {rounds}")
    for mode, label in (
        ("poll-idle", "poll, nothing new (baseline)"),
        ("poll-busy", f"poll, {poll_events} new events"),
        ("poll-invalid", f"poll, {poll_events} new events, only invalid"),
    ):
        rounds = " ".join(f"{value * 1e3:.2f}" for value in seconds[mode])
        print(f"{label:<52}{median[mode] * 1e3:>8.2f} ms         rounds: {rounds}")
    ingest_ratio = median["ingest-on"] / median["ingest-off"]
    busy = max(median["poll-busy"], median["poll-invalid"])
    poll_share = busy / POLL_SECONDS
    print(
        f"\ningest with the inspector open / nobody watching: {ingest_ratio:.3f}x (goal <= {INGEST_GOAL:.2f}x)"
        f"\nbusy poll / empty poll: {median['poll-busy'] / median['poll-idle']:.1f}x,"
        f" only invalid: {median['poll-invalid'] / median['poll-idle']:.1f}x"
        f"\nbusy poll's share of its {POLL_SECONDS} s interval: {poll_share:.1%} (goal < {POLL_SHARE_GOAL:.0%}:"
        f" one worker serves {int(1 / poll_share) if poll_share else 'many'} watchers of a busy environment)"
    )
    passed = ingest_ratio <= INGEST_GOAL and poll_share < POLL_SHARE_GOAL
    print("live inspector: " + ("PASS" if passed else "FAIL"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
