"""Ingestion over HTTP against two baselines measured in the same run: raw COPY and a hello-world view.

    .venv/bin/python bench/ingest.py [--events 20000] [--requests 3000] [--rounds 5] [--concurrency 8]
                                     [--client-procs 2] [--workers 2] [--quick] [--profile]

Self-contained: it starts the embedded services (idempotent), migrates if needed, reuses a bench
organization/project (`bench-ingest@beacon.invalid`) with a fresh write key (revoked at the end), and
starts its own gunicorn (`config.wsgi`, sync workers and access log as in the Procfile) on a free
loopback port, with a unique ingest stream prefix, no per-key rate limit and BEACON_BENCH_ENDPOINTS=1.
Then, over --rounds rounds in rotating order (so cache warmth and checkpoints favour no mode):

- batch:  POST /track, arrays of 100 realistic events (events/s; 200 = durable in the Redis stream);
- single: POST /track, one event per request (requests/s);
- hello:  POST the same single-event bytes to /bench/hello, a plain Django view behind the same
          middleware stack that does nothing (requests/s: the baseline for `single`).

The load generator is raw HTTP/1.1 over sockets (keep-alive when the server allows it; gunicorn's sync
workers close after each response, as in production), --concurrency connections spread over
--client-procs forked processes so the client's GIL is not the limit; requests are built before the
clock starts; the load generator's CPU per request is reported next to the server's.

The COPY baselines run in this process, as one more mode of each round: COPY ... FROM STDIN of rows
the server itself put in the stream (read back from it after the batch warm-up) as text (the plain
"raw COPY") and binary (what the store uses), in batches of --copy-batch rows, one transaction each,
into a plain table shaped like `events` (bench/storage.py's code), and the store's own bulk path.
After the rounds, `manage.py ingest_writer` drains the streams: timed from its start-up log line
until the streams are empty, then the events are counted in the database (exactly once).

Goals (issue): batch events/s >= 0.5 x raw COPY rows/s; single requests/s >= 0.5 x hello requests/s.

--profile adds where the time goes, after the results: (1) py-spy (.venv/bin/pip install py-spy)
sampling the live gunicorn workers under load, by stage; (2) the WSGI application called in this
process (no HTTP): wall and CPU per request, Redis round trips and SQL queries per request, cProfile
by stage and top functions; (3) the ingest writer in this process under cProfile.
"""

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# This process shares the server's stream prefix (the COPY rows are read back from it, the writer and
# the in-process profile use it); the hello view is routed here too, for the profile.
STREAM_PREFIX = f"beacon:bench-ingest:{uuid.uuid4().hex[:10]}"
os.environ["BEACON_INGEST_STREAM_PREFIX"] = STREAM_PREFIX
os.environ["BEACON_BENCH_ENDPOINTS"] = "1"

import django  # noqa: E402

django.setup()

import multiprocessing  # noqa: E402

import orjson  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench.storage import BASELINE_TABLE, fresh_ids, run_copy, run_store  # noqa: E402

BATCH_SIZE = 100
BENCH_EMAIL = "bench-ingest@beacon.invalid"
GOAL = 0.5
MODES = ("hello", "single", "batch")
LABELS = {"hello": "hello (baseline)", "single": "single event", "batch": f"batch of {BATCH_SIZE}"}

# --- realistic events ------------------------------------------------------------------------------

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
EVENT_NAMES = (
    ["$pageview"] * 5 + ["Product Viewed"] * 3 + ["Added to Cart", "Checkout Started", "Order Completed"]
)
PATHS = ["/", "/products", "/products/{product}", "/cart", "/checkout", "/search", "/account"]
REFERRERS = ["https://www.google.com/", "https://www.bing.com/", "https://news.ycombinator.com/", ""]
USERS = 5000
PAYLOAD_CAP = 60_000  # events built ahead per load run


class EventFactory:
    """Native-SDK events: a uuid each, a timestamp in the last seconds, properties of a few keys."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def event(self, now: datetime) -> dict:
        rng = self.rng
        user = rng.randrange(USERS)
        product = rng.randrange(500)
        path = rng.choice(PATHS).format(product=product)
        timestamp = now - timedelta(milliseconds=rng.randrange(5000))
        return {
            "environment": "production",
            "event": rng.choice(EVENT_NAMES),
            "distinct_id": f"user-{user}",
            "session_id": f"session-{user}-{now.hour}",
            "timestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "uuid": str(uuid.uuid4()),
            "properties": {
                "$url": f"https://shop.example.com{path}",
                "$pathname": path,
                "$referrer": rng.choice(REFERRERS),
                "$lib": "beacon-js",
                "$lib_version": "1.4.2",
                "product_id": f"p-{product}",
                "price": round(rng.uniform(3, 250), 2),
                "currency": "EUR",
            },
        }

    def request(self, mode: str, port: int, key: str) -> bytes:
        now = datetime.now(UTC)
        if mode == "batch":
            body = orjson.dumps([self.event(now) for _ in range(BATCH_SIZE)])
        else:
            body = orjson.dumps(self.event(now))
        path = "/bench/hello" if mode == "hello" else "/track"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {self.rng.choice(USER_AGENTS)}\r\n"
            f"X-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


# --- HTTP client -----------------------------------------------------------------------------------


class HttpClient:
    """Minimal HTTP/1.1 over one socket: keep-alive unless the server says Connection: close."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.connects = 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, data: bytes) -> tuple[int, bytes]:
        reused = self.sock is not None
        try:
            return self._request(data)
        except (ConnectionError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            return self._request(data)  # a kept-alive connection the server had closed: once more

    def _request(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connects += 1
        sock = self.sock
        sock.sendall(data)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before a response")
            buffer += chunk
        head, _, body = buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        while length is None or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                close = True
                break
            body += chunk
        if close:
            self.close()
        return status, body


def _client_process(port, payloads, threads, counter, total, barrier, go, results) -> None:
    """One load-generator process (forked): `threads` connections taking requests from a shared counter."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    samples: list = []
    ends: list[float] = []
    connects: list[int] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        client = HttpClient(port)
        local, local_statuses = [], Counter()
        while True:
            with counter.get_lock():
                number = counter.value
                if number >= total:
                    break
                counter.value = number + 1
            data = payloads[number % len(payloads)]
            started = time.perf_counter()
            try:
                status, body = client.request(data)
            except OSError as error:
                status, body = type(error).__name__, str(error).encode()
                client.close()
            local.append(time.perf_counter() - started)
            local_statuses[status] += 1
            if status != 200 and len(samples) < 3:
                samples.append((status, body[:300]))
        client.close()
        with lock:
            latencies.extend(local)
            statuses.update(local_statuses)
            ends.append(time.perf_counter())
            connects.append(client.connects)

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    go.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    results.put(
        {
            "latencies": latencies,
            "statuses": dict(statuses),
            "samples": samples,
            "end": max(ends),
            "cpu": cpu,
            "connects": sum(connects),
        }
    )


# --- CPU accounting from /proc ---------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def machine_busy() -> float:
    """CPU-seconds all cores spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS  # minus idle and iowait (guest is in user)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


# --- the server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn config.wsgi as in the Procfile, on a free loopback port, with the bench environment."""

    def __init__(self, workers: int, worker_class: str, log_dir: Path, threads: int = 1):
        self.port = free_port()
        self.log_path = log_dir / "gunicorn.log"
        self.log = self.log_path.open("wb")
        env = {
            **os.environ,
            "BEACON_INGEST_STREAM_PREFIX": STREAM_PREFIX,
            # the limit stays on (its check is part of every request's cost), far above what a run sends
            "BEACON_INGEST_RATE_LIMIT_PER_KEY": "1000000000",
            "BEACON_BENCH_ENDPOINTS": "1",
        }
        command = [
            str(REPO_DIR / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ]
        self.process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=self.log, stderr=self.log)
        self.workers = workers

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        request = f"GET /bench/hello HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status, _ = HttpClient(self.port).request(request)
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return
                if status != 200:
                    raise SystemExit(f"/bench/hello answered {status}: is BEACON_BENCH_ENDPOINTS routed?")
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not start; its log:\n{self.log_path.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- load runs ---------------------------------------------------------------------------------------


def run_load(
    server: Server,
    key: str,
    mode: str,
    requests: int,
    concurrency: int,
    procs: int,
    seed: int,
    repeat: bool = False,
):
    """`requests` requests of one mode; rate, latencies and CPU of everyone involved."""
    context = multiprocessing.get_context("fork")
    procs = max(1, min(procs, concurrency))
    # Requests are built before the clock starts (inherited by the forked clients), so the load
    # generator spends its CPU on HTTP only. With repeat=True (py-spy's long runs, never written to
    # the database) they repeat past PAYLOAD_CAP events.
    factory = EventFactory(seed)
    cap = PAYLOAD_CAP // (BATCH_SIZE if mode == "batch" else 1) if repeat else requests
    payloads = [factory.request(mode, server.port, key) for _ in range(min(requests, cap))]
    counter = context.Value("q", 0)
    barrier = context.Barrier(procs + 1)
    go = context.Event()
    results = context.Queue()
    shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    connections.close_all()  # the children must not inherit a live database connection
    processes = [
        context.Process(
            target=_client_process,
            args=(server.port, payloads, share, counter, requests, barrier, go, results),
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=60)
    pids = server.worker_pids()
    redis_pid = redis_server_pid()
    cpu_before = {pid: process_cpu(pid) for pid in [*pids, redis_pid]}
    busy_before = machine_busy()
    started = time.perf_counter()
    go.set()
    outcomes = [results.get(timeout=600) for _ in processes]
    elapsed = max(outcome["end"] for outcome in outcomes) - started
    busy = machine_busy() - busy_before
    cpu = {pid: process_cpu(pid) - before for pid, before in cpu_before.items()}
    for process in processes:
        process.join()
    latencies = sorted(latency for outcome in outcomes for latency in outcome["latencies"])
    statuses = Counter()
    for outcome in outcomes:
        statuses.update(outcome["statuses"])
    ok = statuses.get(200, 0)
    client_cpu = sum(outcome["cpu"] for outcome in outcomes)
    server_cpu = sum(value for pid, value in cpu.items() if pid != redis_pid)
    return {
        "mode": mode,
        "requests": len(latencies),
        "ok": ok,
        "events": ok * (BATCH_SIZE if mode == "batch" else 1) if mode != "hello" else 0,
        "statuses": statuses,
        "samples": [sample for outcome in outcomes for sample in outcome["samples"]],
        "elapsed": elapsed,
        "latencies": latencies,
        "connects": sum(outcome["connects"] for outcome in outcomes),
        "cpu": {
            "workers": server_cpu,
            "redis": cpu[redis_pid],
            "client": client_cpu,
            "machine": busy,
        },
    }


def rate_of(result: dict) -> float:
    """events/s for batch, requests/s otherwise (successful requests only)."""
    units = result["ok"] * (BATCH_SIZE if result["mode"] == "batch" else 1)
    return units / result["elapsed"]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def check_errors(result: dict) -> None:
    bad = {status: count for status, count in result["statuses"].items() if status != 200}
    if bad:
        print(f"  !! {result['mode']}: non-200 answers {bad}; first: {result['samples'][:1]}")


# --- Redis and the database ---------------------------------------------------------------------------


def get_redis_client():
    from config.redis import get_redis

    return get_redis()


def redis_server_pid() -> int:
    return int(get_redis_client().info("server")["process_id"])


def bench_streams() -> list[str]:
    from analytics.ingest import buffer

    return [*buffer.stream_names(), buffer.dead_letter_stream()]


def backlog() -> int:
    client = get_redis_client()
    return sum(client.xlen(stream) for stream in bench_streams())


def streamed_events() -> int:
    """Events in the bench streams (each entry is one request's JSON array of rows)."""
    client = get_redis_client()
    total = 0
    for stream in bench_streams():
        start = "-"
        while entries := client.xrange(stream, min=start, max="+", count=500):
            total += sum(len(orjson.loads(fields[b"e"])) for _, fields in entries)
            start = "(" + entries[-1][0].decode()
    return total


def read_stream_records(limit: int) -> list:
    """The rows the server made durable, decoded from the stream as the writer decodes them."""
    from analytics.ingest import buffer

    client = get_redis_client()
    records = []
    for stream in buffer.stream_names():
        start = "-"
        while len(records) < limit:
            entries = client.xrange(stream, min=start, max="+", count=200)
            if not entries:
                break
            for _, fields in entries:
                records.extend(record for record, _ in buffer.decode(fields[buffer.FIELD]))
            start = "(" + entries[-1][0].decode()
    return records[:limit]


def migrate_if_needed() -> None:
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("applying migrations ...")
        call_command("migrate", "--no-input", verbosity=0)


def bench_tenancy():
    """(user, project, api key row, raw key): the bench project, reused, with a fresh write key."""
    from projects.actions import do_create_api_key, do_signup
    from projects.models import ApiKeyKind, Project

    user = get_user_model().objects.filter(email=BENCH_EMAIL).first()
    if user is None:
        user, project, _ = do_signup(
            email=BENCH_EMAIL,
            password=uuid.uuid4().hex,
            organization_name="Bench ingest",
            project_name="Bench ingest",
        )
    else:
        project = Project.objects.filter(organization__memberships__user=user).order_by("id").first()
    environment = project.environments.get(slug="production")
    key, raw = do_create_api_key(
        environment=environment,
        kind=ApiKeyKind.WRITE,
        name=f"bench/ingest.py {datetime.now(UTC):%Y-%m-%d %H:%M:%S}",
        acting_user=user,
    )
    return user, project, key, raw


def cleanup_database(project) -> None:
    from analytics.models import IdentityWarning, Person
    from analytics.storage import get_store

    store = get_store()
    store.delete_project(project.id)
    Person.objects.filter(project=project).delete()
    IdentityWarning.objects.filter(project=project).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(psycopg.sql.Identifier(BASELINE_TABLE))
        )
    store.refresh_rollups()


# --- COPY baselines and the writer -------------------------------------------------------------------


class CopyBaselines:
    """Raw COPY (text, binary) and the store's bulk path over the same rows, one round at a time.

    Rounds are interleaved with the HTTP rounds, so both sides of each ratio see the same machine.
    """

    RUNNERS = ("copy-text", "copy-binary", "store")

    def __init__(self, records: list, batch: int):
        from analytics.storage import get_store

        self.records, self.batch = records, batch
        self.store = get_store()
        self.store.prepare_for(records)  # partitions exist before any timing starts
        self.rates: dict[str, list[float]] = defaultdict(list)
        identifier = psycopg.sql.Identifier(BASELINE_TABLE)
        with connection.cursor() as cursor:
            cursor.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(identifier))
            cursor.execute(
                psycopg.sql.SQL("CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)").format(
                    identifier
                )
            )

    def run_round(self, round_number: int) -> dict[str, float]:
        connection.ensure_connection()  # run_load closes it before forking the load generator
        order = list(self.RUNNERS)[round_number % 3 :] + list(self.RUNNERS)[: round_number % 3]
        for name in order:
            rows = fresh_ids(self.records)  # new message ids: the store would skip ids it has seen
            if name == "store":
                elapsed = run_store(rows, self.batch)
            else:
                elapsed = run_copy(rows, self.batch, binary=name == "copy-binary")
            self.rates[name].append(len(rows) / elapsed)
        return {name: values[-1] for name, values in self.rates.items()}

    def close(self, project_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(psycopg.sql.Identifier(BASELINE_TABLE))
            )
        self.store.delete_project(project_id)  # the store path's rows: the writer starts from empty

    def medians(self) -> dict[str, float]:
        return {name: statistics.median(values) for name, values in self.rates.items()}


def drain_with_writer(project, expected_events: int, timeout: float) -> dict:
    """Run `manage.py ingest_writer` on the bench streams; time from its start-up line to empty streams."""
    env = {**os.environ, "BEACON_INGEST_STREAM_PREFIX": STREAM_PREFIX, "BEACON_LOG_LEVEL": "INFO"}
    entries = backlog()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "ingest_writer", "--consumer", "bench"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    started = None
    for line in process.stderr:
        log.append(line)
        if "ingest writer" in line and "reading" in line:
            started = time.perf_counter()
            break
    drainer = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)
    drainer.start()
    try:
        if started is None:
            raise SystemExit("the ingest writer did not start:\n" + "".join(log[-40:]))
        deadline = started + timeout
        while backlog() > 0:
            if time.perf_counter() > deadline or process.poll() is not None:
                raise SystemExit(
                    f"the writer did not drain the backlog ({backlog()} entries left):\n" + "".join(log[-40:])
                )
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE project_id = %s", [project.id])
        written = cursor.fetchone()[0]
    errors = [line for line in log if "ERROR" in line or "Traceback" in line]
    return {"entries": entries, "written": written, "elapsed": elapsed, "errors": errors}


# --- profiling -----------------------------------------------------------------------------------------


def wsgi_environ(data: bytes) -> dict:
    """A WSGI environ like gunicorn's for one raw request built by EventFactory.request."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        name = name.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"] = value
    return environ


class RedisCounter:
    """Counts redis-py round trips (one per command or pipeline) and commands by name, in this process."""

    def __init__(self):
        import redis.connection

        self.module = redis.connection
        self.round_trips = 0
        self.commands: Counter = Counter()

    def __enter__(self):
        module, counter = self.module, self
        self.originals = [
            (module.AbstractConnection, "send_packed_command", module.AbstractConnection.send_packed_command),
            *((cls, "pack", cls.pack) for cls in (module.PythonRespSerializer, module.HiredisRespSerializer)),
        ]

        def send_packed_command(conn, command, check_health=True, _original=self.originals[0][2]):
            counter.round_trips += 1
            return _original(conn, command, check_health)

        def packer(original):
            def pack(serializer, *args):
                name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
                counter.commands[name.upper()] += 1
                return original(serializer, *args)

            return pack

        module.AbstractConnection.send_packed_command = send_packed_command
        for cls, name, original in self.originals[1:]:
            setattr(cls, name, packer(original))
        return self

    def __exit__(self, *exc):
        for cls, name, original in self.originals:
            setattr(cls, name, original)


def call_wsgi(application, data: bytes) -> int:
    statuses = []
    result = application(wsgi_environ(data), lambda status, headers, exc_info=None: statuses.append(status))
    try:
        for _ in result:
            pass
    finally:
        result.close()
    return int(statuses[0].split(" ", 1)[0])


# Stages of a request, matched on (file suffix, function); nested ones are shown indented.
STAGES = [
    ("django/core/handlers/wsgi.py", "__call__", "whole request (WSGIHandler)", 0),
    ("rest_framework/views.py", "dispatch", "DRF APIView.dispatch", 1),
    ("analytics/ingest/pipeline.py", "handle", "pipeline.handle", 2),
    ("analytics/ingest/body.py", "read_json_body", "read body + orjson.loads", 3),
    ("analytics/ingest/pipeline.py", "authenticate", "key auth", 3),
    ("projects/keys.py", "_touch", "last-used touch (cache.add)", 4),
    ("analytics/ingest/pipeline.py", "check_rate_limit", "rate limit (INCRBY+EXPIRE)", 3),
    ("analytics/ingest/pipeline.py", "build_events", "build_events", 3),
    ("analytics/ingest/pipeline.py", "project_settings", "project settings (cache GET)", 4),
    ("analytics/ingest/pipeline.py", "_check_message", "_check_message (size, depth)", 4),
    ("analytics/ingest/dialects.py", "map_native", "map_native", 4),
    ("analytics/ingest/enrich.py", "build_record", "build_record (enrich)", 4),
    ("analytics/ingest/buffer.py", "append", "buffer.append (XADD script)", 3),
    ("analytics/ingest/buffer.py", "encode", "encode (orjson)", 4),
    ("analytics/ingest/pipeline.py", "json_response", "json_response", 3),
    ("config/views.py", "bench_hello", "bench_hello view", 1),
]


def stage_times(stats: pstats.Stats, requests: int, stages=STAGES) -> list[tuple[str, int, float, int]]:
    """[(label, depth, µs per request, calls per request)] of the stages found in the profile."""
    found = []
    for suffix, function, label, depth in stages:
        cumulative, calls = 0.0, 0
        for (filename, _, name), (_, ncalls, _, ct, _) in stats.stats.items():
            if name == function and filename.endswith(suffix):
                cumulative += ct
                calls += ncalls
        if calls:
            found.append((label, depth, cumulative / requests * 1e6, calls // requests))
    return found


def print_top(stats: pstats.Stats, title: str, top: int) -> None:
    print(f"\n{title}, under cProfile:")
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    site_packages = str(REPO_DIR / ".venv/lib/python3.11/site-packages") + "/"
    for line in lines[start : start + top + 1]:
        print("  " + line.replace(site_packages, "").replace(str(REPO_DIR) + "/", ""))


def profile_in_process(key: str, args):
    """Call the WSGI application directly (no HTTP): Redis/SQL per request, µs per request, cProfile."""
    from django.core.wsgi import get_wsgi_application
    from django.db import connection as db

    application = get_wsgi_application()
    factory = EventFactory(seed=7)
    counts = {
        "hello": args.profile_requests,
        "single": args.profile_requests,
        "batch": args.profile_requests // 10,
    }
    rate_limit = (
        "on, as by default (limit raised so that it never trips)"
        if settings.INGEST_RATE_LIMIT_PER_KEY
        else "off"
    )
    print(
        f"\n== Profile 2: in-process, the WSGI application called directly (no HTTP, no gunicorn); "
        f"per-key rate limit {rate_limit} =="
    )
    for mode in MODES:
        for _ in range(max(20, counts[mode] // 10)):  # warm: ua-parser, key cache, script load
            call_wsgi(application, factory.request(mode, 8000, key))
    print(
        f"{'mode':<18}{'wall µs/req':>12}{'CPU µs/req':>11}{'wall µs/event':>14}{'Redis round trips/req':>23}"
        f"  {'Redis commands/req':<40}{'SQL/req':>8}"
    )
    profiles = {}
    for mode in MODES:
        requests = [factory.request(mode, 8000, key) for _ in range(counts[mode])]
        queries = []

        def count_query(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        started, cpu_started = time.perf_counter(), time.process_time()
        statuses = Counter(call_wsgi(application, data) for data in requests)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if set(statuses) != {200}:
            print(f"  !! {mode}: statuses {dict(statuses)}")
        counted = [factory.request(mode, 8000, key) for _ in range(max(10, counts[mode] // 10))]
        with RedisCounter() as redis_counter, db.execute_wrapper(count_query):
            for data in counted:
                call_wsgi(application, data)
        per_request = elapsed / len(requests) * 1e6
        events = BATCH_SIZE if mode == "batch" else 1
        commands = ", ".join(
            f"{name} {count / len(counted):.2g}" for name, count in redis_counter.commands.most_common()
        )
        print(
            f"{LABELS[mode]:<18}{per_request:>12,.0f}{cpu / len(requests) * 1e6:>11,.0f}"
            f"{per_request / events if mode != 'hello' else float('nan'):>14,.1f}"
            f"{redis_counter.round_trips / len(counted):>23.2f}  {commands or '-':<40}{len(queries) / len(counted):>8.3f}"
        )
        requests = [factory.request(mode, 8000, key) for _ in range(counts[mode])]
        profiler = cProfile.Profile()
        profiler.enable()
        for data in requests:
            call_wsgi(application, data)
        profiler.disable()
        profiles[mode] = (pstats.Stats(profiler), len(requests))

    print("\nStages under cProfile (µs per request, cumulative; cProfile inflates Python-heavy code):")
    tables = {
        mode: {label: (depth, us, calls) for label, depth, us, calls in stage_times(*profiles[mode])}
        for mode in MODES
    }
    labels = [label for _, _, label, _ in STAGES]
    print(f"{'stage':<42}" + "".join(f"{LABELS[mode]:>20}" for mode in MODES))
    for label in labels:
        row = [tables[mode].get(label) for mode in MODES]
        if not any(row):
            continue
        depth = next(cell[0] for cell in row if cell)
        cells = "".join(
            f"{cell[1]:>14,.0f} ({cell[1] / tables[mode]['whole request (WSGIHandler)'][1]:>3.0%})"
            if cell
            else f"{'':>20}"
            for mode, cell in zip(MODES, row, strict=True)
        )
        print(f"{'  ' * depth + label:<42}{cells}")
    for mode in ("single", "batch"):
        stats, requests = profiles[mode]
        print_top(stats, f"Top functions by own time, {LABELS[mode]} ({requests} requests)", args.profile_top)
    return application


WRITER_STAGES = [
    ("analytics/ingest/writer.py", "run_once", "IngestWriter.run_once", 0),
    ("analytics/ingest/writer.py", "_read", "XREADGROUP", 1),
    ("analytics/ingest/buffer.py", "decode", "decode entries (orjson, datetimes, EventRecord)", 1),
    ("analytics/ingest/writer.py", "write_events", "write_events (one transaction)", 1),
    ("analytics/storage/base.py", "unique_by_message_id", "unique_by_message_id", 2),
    ("analytics/storage/postgres.py", "prepare_for", "prepare_for (partitions)", 2),
    ("analytics/storage/base.py", "message_key", "message_key (md5)", 2),
    ("analytics/storage/base.py", "_claim_all_by_copy", "dedup claim (COPY event_dedup)", 2),
    ("analytics/identity.py", "resolve_persons", "resolve_persons", 2),
    ("analytics/storage/base.py", "_write_rows", "COPY events", 2),
    ("django/db/transaction.py", "__exit__", "commit (+ savepoint release)", 2),
    ("analytics/ingest/writer.py", "_acknowledge", "XACK + XDEL", 1),
]


def profile_writer(application, key: str, args) -> None:
    """The ingest writer in this process under cProfile, draining batch entries sent through the app."""
    from analytics.ingest import buffer
    from analytics.ingest.writer import IngestWriter

    client = get_redis_client()
    client.delete(*bench_streams())
    factory = EventFactory(seed=11)
    buffer.ensure_groups(client)
    writer = IngestWriter(consumer="bench-profile", block_ms=100)
    requests = max(20, args.profile_requests // 10)
    # First an unprofiled drain, so that most of the users already are persons (the steady state).
    for _ in range(requests // 2):
        call_wsgi(application, factory.request("batch", 8000, key))
    while sum(client.xlen(stream) for stream in buffer.stream_names()):
        writer.run_once()
    writer.written = 0
    for _ in range(requests):
        call_wsgi(application, factory.request("batch", 8000, key))
    events = streamed_events()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    while sum(client.xlen(stream) for stream in buffer.stream_names()):
        writer.run_once()
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(
        f"\n== Profile 3: the ingest writer in-process under cProfile: {requests} entries of {BATCH_SIZE} events, "
        f"{writer.written:,} of {events:,} events written in {elapsed:.2f} s (INGEST_WRITER_BATCH="
        f"{writer.batch_entries} entries per transaction), after an unprofiled drain of {requests // 2} "
        f"entries (most of the {USERS} users are persons by then) =="
    )
    stats = pstats.Stats(profiler)
    stages = stage_times(stats, events, WRITER_STAGES)
    total = stages[0][2] if stages else float("nan")
    print(f"{'stage':<52}{'µs/event':>10}{'share':>8}")
    for label, depth, us, _ in stages:
        print(f"{'  ' * depth + label:<52}{us:>10.1f}{us / total:>8.0%}")
    print_top(stats, f"Top functions by own time, ingest writer ({events:,} events)", args.profile_top)


# Categories for py-spy samples of the live workers: the deepest matching frame decides.
SPY_STAGES = [
    ("read_json_body", "body.py", "read body + orjson.loads"),
    ("authenticate", "pipeline.py", "key auth (cache GET)"),
    ("authenticate_key", "keys.py", "key auth (cache GET)"),
    ("_touch", "keys.py", "last-used touch (cache.add)"),
    ("check_rate_limit", "pipeline.py", "rate limit"),
    ("build_events", "pipeline.py", "map + check + enrich"),
    ("project_settings", "pipeline.py", "project settings (cache GET)"),
    ("append", "buffer.py", "XADD (EVALSHA round trip)"),
    ("encode", "buffer.py", "encode stream entry (orjson)"),
    ("json_response", "pipeline.py", "json_response"),
    ("bench_hello", "views.py", "hello view"),
    ("__call__", "handlers/wsgi.py", "Django + DRF outside the pipeline"),
]


def spy_category(frames: list[str]) -> tuple[str, bool]:
    """(stage, in redis-py?) for one sample; frames run root -> leaf as `function (file:line)`."""
    category = None
    in_redis = any("redis/" in frame for frame in frames)
    for frame in frames:
        name, _, location = frame.partition(" (")
        name = name.rpartition(".")[2]  # py-spy says `Class.method`
        for function, file_suffix, label in SPY_STAGES:
            if name == function and file_suffix in location:
                category = label
    if category is None:
        leaf = frames[-1] if frames else ""
        if any(word in leaf for word in ("accept", "select", "wait", "sleep", "poll")):
            return "gunicorn: idle (waiting for a connection)", False
        return "gunicorn: HTTP parse, socket I/O, access log", in_redis
    return category, in_redis


def profile_with_pyspy(server: Server, key: str, args, rates: dict[str, float]) -> None:
    spy = shutil.which("py-spy") or str(REPO_DIR / ".venv/bin/py-spy")
    if not Path(spy).exists():
        print("\n(py-spy not installed: `.venv/bin/pip install py-spy` to sample the live workers)")
        return
    print(
        f"\n== Profile 1: py-spy sampling the {server.workers} live gunicorn workers for {args.spy_seconds:g} s "
        f"per mode, {args.concurrency} connections; on-CPU samples (idle excluded): with 2 cores shared by "
        f"workers, Redis and the load generator, CPU per request is what bounds the rates =="
    )
    with tempfile.TemporaryDirectory() as directory:
        summaries = {}
        leaves = {}
        for mode in MODES:
            outputs = []
            spies = []
            for pid in server.worker_pids():
                output = Path(directory) / f"{mode}-{pid}.txt"
                outputs.append(output)
                spies.append(
                    subprocess.Popen(
                        [
                            spy,
                            "record",
                            "--pid",
                            str(pid),
                            "--duration",
                            f"{args.spy_seconds:g}",
                            "--rate",
                            "100",
                            "--format",
                            "raw",
                            "--output",
                            str(output),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            time.sleep(0.5)  # attached before the load starts; the load outlasts the sampling
            per_request = BATCH_SIZE if mode == "batch" else 1
            requests = int(rates[mode] / per_request * (args.spy_seconds + 1.5))
            result = run_load(
                server, key, mode, requests, args.concurrency, args.client_procs, seed=900, repeat=True
            )
            check_errors(result)
            stacks: Counter = Counter()
            for process, output in zip(spies, outputs, strict=True):
                _, stderr = process.communicate(timeout=60)
                if not output.exists():
                    print(f"  py-spy failed: {stderr.strip()[-500:]}")
                    return
                for line in output.read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    if stack and count.isdigit():
                        stacks[stack] += int(count)
            categories: Counter = Counter()
            redis_share: Counter = Counter()
            leaf_counts: Counter = Counter()
            for stack, count in stacks.items():
                frames = stack.split(";")
                category, in_redis = spy_category(frames)
                categories[category] += count
                if in_redis:
                    redis_share[category] += count
                if not category.startswith("gunicorn: idle"):
                    leaf_counts[frames[-1]] += count
            summaries[mode] = (categories, redis_share, sum(stacks.values()))
            leaves[mode] = leaf_counts
        all_categories = []
        for categories, _, _ in summaries.values():
            all_categories.extend(c for c, _ in categories.most_common() if c not in all_categories)
        print(f"{'where the workers spend CPU':<48}" + "".join(f"{LABELS[mode]:>22}" for mode in MODES))
        for category in all_categories:
            cells = ""
            for mode in MODES:
                categories, redis_share, total = summaries[mode]
                share = categories.get(category, 0) / max(total, 1)
                redis_part = redis_share.get(category, 0) / max(total, 1)
                cells += f"{share:>12.0%} (redis {redis_part:>3.0%})" if share else f"{'':>22}"
            print(f"{category:<48}{cells}")
        print(
            "(redis x%: the part of those samples inside redis-py: building clients, packing commands, "
            "socket send/recv syscalls, parsing replies)"
        )
        for mode in ("single", "batch"):
            total = sum(leaves[mode].values())
            print(f"\nTop leaf frames (own time), {LABELS[mode]}:")
            for frame, count in leaves[mode].most_common(args.profile_top):
                print(f"  {count / max(total, 1):>5.1%}  {frame}")


# --- the run ---------------------------------------------------------------------------------------


def fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="batched events per round (default 20000)")
    parser.add_argument("--requests", type=int, default=3_000, help="single/hello requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP connections at once (default 8)")
    parser.add_argument("--client-procs", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (default 2: this machine's cores)"
    )
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (Procfile: sync)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--copy-batch", type=int, default=5_000, help="rows per COPY transaction")
    parser.add_argument("--quick", action="store_true", help="one short round (smoke test)")
    parser.add_argument("--profile", action="store_true", help="then profile the server side")
    parser.add_argument("--profile-requests", type=int, default=2_000)
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--spy-seconds", type=float, default=6.0)
    parser.add_argument("--keep-log", action="store_true", help="keep gunicorn's log")
    args = parser.parse_args()
    if args.quick:
        args.events, args.requests, args.rounds = 3_000, 500, 1
        args.profile_requests, args.spy_seconds = 500, 4.0
    batch_requests = max(1, args.events // BATCH_SIZE)
    counts = {"hello": args.requests, "single": args.requests, "batch": batch_requests}

    subprocess.run(
        [sys.executable, "-m", "config.services", "start"],
        cwd=REPO_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    connection.ensure_connection()
    migrate_if_needed()
    from analytics.storage import get_store
    from projects.actions import do_revoke_api_key

    user, project, key_row, raw_key = bench_tenancy()
    cleanup_database(project)  # leftovers of an interrupted run
    log_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server = None
    results: dict[str, list[dict]] = defaultdict(list)
    spy_report = io.StringIO()
    copy_rows = max(args.events, 10_000)
    try:
        server = Server(args.workers, args.worker_class, log_dir, args.threads)
        server.wait_ready()
        print(
            f"backend: {get_store().name}; gunicorn config.wsgi, {args.workers} {args.worker_class} workers on "
            f"127.0.0.1:{server.port} ({os.cpu_count()} cores); {args.concurrency} connections from "
            f"{min(args.client_procs, args.concurrency)} client processes; {args.rounds} rounds of "
            f"{counts['hello']} hello, {counts['single']} single, {counts['batch']} batch requests; "
            f"streams {STREAM_PREFIX}:*"
        )
        # Warm-up: every worker loads ua-parser, the key cache, the XADD script. The batch warm-up also
        # makes the rows of the COPY baselines: read back from the stream, as the server made them.
        warm_batches = -(-copy_rows // BATCH_SIZE)
        for mode in MODES:
            requests = warm_batches if mode == "batch" else 4 * args.concurrency
            check_errors(run_load(server, raw_key, mode, requests, args.concurrency, args.client_procs, 1))
        copy = CopyBaselines(read_stream_records(limit=copy_rows), args.copy_batch)
        round_modes = [*MODES, "copy"]
        for round_number in range(1, args.rounds + 1):
            shift = round_number % len(round_modes)
            line = []
            for mode in round_modes[shift:] + round_modes[:shift]:
                if mode == "copy":
                    copy_rates = copy.run_round(round_number)
                    line.append(
                        "COPY text {copy-text:,.0f}, binary {copy-binary:,.0f}, store {store:,.0f} rows/s".format(
                            **copy_rates
                        )
                    )
                    continue
                result = run_load(
                    server,
                    raw_key,
                    mode,
                    counts[mode],
                    args.concurrency,
                    args.client_procs,
                    seed=round_number,
                )
                check_errors(result)
                results[mode].append(result)
                line.append(
                    f"{mode} {rate_of(result):,.0f} {'events' if mode == 'batch' else 'req'}/s "
                    f"(p50 {percentile(result['latencies'], 0.5) * 1e3:.1f} ms)"
                )
            print(f"round {round_number}: " + ", ".join(line))
        unloaded = {}
        for mode in MODES:  # latency without queueing: one connection
            requests = max(20, counts[mode] // 10)
            unloaded[mode] = run_load(server, raw_key, mode, requests, 1, 1, seed=500)
            check_errors(unloaded[mode])
        rates = {mode: statistics.median(rate_of(r) for r in results[mode]) for mode in MODES}

        # Everything /track answered 200 to is in the stream (warm-up and probes too); nothing else is.
        # The server stays up, idle, for py-spy afterwards.
        accepted = sum(r["events"] for mode in ("single", "batch") for r in results[mode])
        copy.close(project.id)
        copy_rates = copy.medians()
        expected = streamed_events()
        drain = drain_with_writer(project, expected, timeout=max(120, expected / 2000))
        if args.profile:
            with contextlib.redirect_stdout(spy_report):
                profile_with_pyspy(server, raw_key, args, rates)
        server.stop()
    finally:
        if server is not None:
            server.stop()
            if not args.keep_log:
                shutil.rmtree(log_dir, ignore_errors=True)
            else:
                print(f"gunicorn log: {server.log_path}")
        client = get_redis_client()
        client.delete(*bench_streams())
        connection.close()
        cleanup_database(project)
        do_revoke_api_key(key=key_row, acting_user=user)

    # --- report ---------------------------------------------------------------------------------------
    def latency(mode: str, fraction: float, source=None) -> str:
        values = sorted(v for r in (source or results[mode]) for v in r["latencies"])
        return f"{percentile(values, fraction) * 1e3:.1f} ms"

    def cpu_per_request(mode: str, part: str) -> float:
        total_cpu = sum(r["cpu"][part] for r in results[mode])
        total_requests = sum(r["requests"] for r in results[mode])
        return total_cpu / total_requests * 1e3

    drain_rate = drain["written"] / drain["elapsed"]
    print(
        f"\n== Results: medians of {args.rounds} rounds; latency over all rounds at {args.concurrency} connections "
        f"(queueing included), and alone on 1 connection =="
    )
    header = f"{'mode':<22}{'rate':>18}{'p50':>10}{'p99':>10}{'p50 alone':>11}   {'baseline (same run)':<30}{'ratio':>7}{'goal':>8}  verdict"
    print(header)
    print("-" * len(header))

    def row(label, rate, unit, mode=None, baseline="", ratio=None, goal=None):
        p50 = latency(mode, 0.5) if mode else ""
        p99 = latency(mode, 0.99) if mode else ""
        alone = latency(mode, 0.5, [unloaded[mode]]) if mode else ""
        verdict = (
            ("PASS" if ratio >= goal else "BELOW")
            if goal is not None
            else ("info" if ratio is not None else "")
        )
        print(
            f"{label:<22}{fmt_rate(rate, unit):>18}{p50:>10}{p99:>10}{alone:>11}   {baseline:<30}"
            f"{'' if ratio is None else f'{ratio:.2f}':>7}{'' if goal is None else f'>= {goal}':>8}  {verdict}"
        )

    row(LABELS["hello"], rates["hello"], "req/s", "hello")
    row(
        LABELS["single"],
        rates["single"],
        "req/s",
        "single",
        f"hello {rates['hello']:,.0f} req/s",
        rates["single"] / rates["hello"],
        GOAL,
    )
    row(
        LABELS["batch"],
        rates["batch"],
        "events/s",
        "batch",
        f"raw COPY text {copy_rates['copy-text']:,.0f} rows/s",
        rates["batch"] / copy_rates["copy-text"],
        GOAL,
    )
    row(
        "",
        rates["batch"],
        "events/s",
        None,
        f"COPY binary {copy_rates['copy-binary']:,.0f} rows/s",
        rates["batch"] / copy_rates["copy-binary"],
        GOAL,
    )
    row(
        "  as req/s",
        rates["batch"] / BATCH_SIZE,
        "req/s",
        None,
        f"hello {rates['hello']:,.0f} req/s",
        rates["batch"] / BATCH_SIZE / rates["hello"],
    )
    row(
        "writer drain",
        drain_rate,
        "events/s",
        None,
        f"COPY binary {copy_rates['copy-binary']:,.0f} rows/s",
        drain_rate / copy_rates["copy-binary"],
    )
    row(
        "store bulk path",
        copy_rates["store"],
        "rows/s",
        None,
        f"COPY binary {copy_rates['copy-binary']:,.0f} rows/s",
        copy_rates["store"] / copy_rates["copy-binary"],
    )
    per_round = {
        "single/hello": [
            rate_of(s) / rate_of(h) for s, h in zip(results["single"], results["hello"], strict=True)
        ],
        "batch/COPY text": [
            rate_of(b) / c for b, c in zip(results["batch"], copy.rates["copy-text"], strict=True)
        ],
        "batch/COPY binary": [
            rate_of(b) / c for b, c in zip(results["batch"], copy.rates["copy-binary"], strict=True)
        ],
    }
    print(
        "ratios round by round: "
        + "; ".join(
            f"{name} " + " ".join(f"{value:.2f}" for value in values) for name, values in per_round.items()
        )
    )
    print(
        f"\nCOPY baselines: {len(copy.records):,} of the streamed rows, batches of {args.copy_batch}, "
        f"median of {args.rounds}, interleaved with the HTTP rounds; "
        f"writer: {drain['entries']:,} stream entries -> {drain['written']:,} events in {drain['elapsed']:.2f} s "
        f"(1 writer, INGEST_WRITER_BATCH={settings.INGEST_WRITER_BATCH} entries per transaction)"
    )
    if drain["written"] != expected or accepted > expected:
        print(
            f"  !! the database holds {drain['written']:,} events; the streams held {expected:,}; 200s covered {accepted:,}+warm-up"
        )
    else:
        print(
            f"  exactly once: the database holds all {expected:,} events the streams held (warm-up and probes included)"
        )
    if drain["errors"]:
        print("  !! writer errors:\n    " + "    ".join(drain["errors"][:5]))

    print("\nCPU per request (from /proc, all rounds): ms of CPU per request")
    print(
        f"{'mode':<22}{'gunicorn workers':>18}{'redis-server':>14}{'load generator':>16}{'machine cores busy':>20}{'others busy':>13}"
    )
    others = {}
    for mode in MODES:
        elapsed = sum(r["elapsed"] for r in results[mode])
        machine = sum(r["cpu"]["machine"] for r in results[mode])
        ours = sum(r["cpu"][part] for r in results[mode] for part in ("workers", "redis", "client"))
        others[mode] = max(0.0, machine - ours) / elapsed
        print(
            f"{LABELS[mode]:<22}{cpu_per_request(mode, 'workers'):>18.3f}{cpu_per_request(mode, 'redis'):>14.3f}"
            f"{cpu_per_request(mode, 'client'):>16.3f}{machine / elapsed:>20.2f}{others[mode]:>13.2f}"
        )
    noisy = {mode: others[mode] for mode in MODES if others[mode] > 0.25}
    if noisy:
        print(
            "!! other processes kept "
            + ", ".join(f"{cores:.2f} cores busy during {mode}" for mode, cores in noisy.items())
            + f" (of {os.cpu_count()}): absolute rates are depressed; rotating rounds spread it over the modes"
        )
    connects = {
        mode: sum(r["connects"] for r in results[mode]) / sum(r["requests"] for r in results[mode])
        for mode in MODES
    }
    print(
        f"(connections opened per request: {connects['single']:.2f}; 'others busy' = cores used by processes "
        f"outside the bench: noise)"
    )
    print(spy_report.getvalue(), end="")
    if args.profile:
        from projects.actions import do_create_api_key
        from projects.models import ApiKeyKind

        environment = project.environments.get(slug="production")
        key_row, raw_key = do_create_api_key(  # the run's key is revoked: a new one, revoked below
            environment=environment, kind=ApiKeyKind.WRITE, name="bench/ingest.py profile", acting_user=user
        )
        limit = {"INGEST_RATE_LIMIT_PER_KEY": 10**12} if settings.INGEST_RATE_LIMIT_PER_KEY else {}
        try:
            with override_settings(**limit):
                application = profile_in_process(raw_key, args)
                profile_writer(application, raw_key, args)
        finally:
            get_redis_client().delete(*bench_streams())
            cleanup_database(project)
            do_revoke_api_key(key=key_row, acting_user=user)


if __name__ == "__main__":
    main()
