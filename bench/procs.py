"""Shared by bench/chaos.py and bench/soak.py: a private Beacon stack and a steady, retrying client.

Isolation: ``prepare_environment()`` must run before anything imports Django (bench.ingest does):
it points BEACON_LOCAL_DIR at a fresh temporary directory and BEACON_EMBEDDED_PG_PORT /
BEACON_EMBEDDED_REDIS_PORT at free ports, so the stack gets its own embedded PostgreSQL and Redis
(never the developer's or CI's), inherited by every process started from here. ``Stack`` starts
and stops those servers, gunicorn (bench/ingest.py's ``Server``: the Procfile's command, 2 workers),
ingest writers and a Celery worker, and on ``close()`` (also on Ctrl-C or failure) stops only the
processes it started, by pid, then deletes the directory.

``SteadyLoad`` sends batches of --batch native events (a unique ``uuid`` each, bench/ingest.py's
EventFactory) to ``POST /track`` at a steady rate from a few threads; a refused request (429/503 or
a connection error) is retried with the same events after its Retry-After, as an SDK would.
Every attempt is logged (start, end, status, Retry-After present) and the message ids answered
with a 2xx are kept.
"""

import http.client
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(REPO_DIR / ".venv/bin/python")
RETRYABLE = (429, 503)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_environment(tag: str) -> Path:
    """A private BEACON_LOCAL_DIR and free ports for PostgreSQL and Redis (before Django loads)."""
    local = Path(tempfile.mkdtemp(prefix=f"beacon-{tag}-"))
    os.chmod(local, 0o755)  # as root, PostgreSQL runs as another user who must reach its data dir
    pg_port = _free_port()
    redis_port = _free_port()
    while redis_port == pg_port:
        redis_port = _free_port()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "BEACON_LOCAL_DIR": str(local),
            "BEACON_EMBEDDED_PG_PORT": str(pg_port),
            "BEACON_EMBEDDED_REDIS_PORT": str(redis_port),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # a dead writer's pending entries are claimed by the other one after this long
            "BEACON_INGEST_CLAIM_IDLE_SECONDS": os.environ.get("BEACON_INGEST_CLAIM_IDLE_SECONDS", "10"),
            "BEACON_INGEST_RATE_LIMIT_PER_KEY": "1000000000",
            "BEACON_BENCH_ENDPOINTS": "1",
        }
    )
    return local


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory; field="RssAnon" leaves out shared pages (PostgreSQL's shared buffers, which
    every backend's RSS counts once it has touched them, so RSS grows as the cache warms)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Stack:
    """Private PostgreSQL + Redis, gunicorn, ingest writers and a Celery worker."""

    def __init__(self, local: Path, *, web_workers: int = 2, writers: int = 2):
        self.local = local
        self.log_dir = local / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.web_workers = web_workers
        self.writer_count = writers
        self.server = None
        self.writers: dict[int, subprocess.Popen] = {}
        self.celery: subprocess.Popen | None = None
        self.started_services = False
        self.logs = []

    # --- services ----------------------------------------------------------------------------------

    def start_services(self) -> None:
        from config import services

        self.started_services = True
        services.start_postgres()
        services.start_redis()

    def pg_data(self) -> Path:
        return self.local / "postgres" / "data"

    def postgres_pids(self) -> list[int]:
        from bench.ingest import children_of

        try:
            master = int((self.pg_data() / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [master, *children_of(master)]

    def stop_postgres(self, mode: str = "immediate") -> None:
        """A crash-like stop (immediate: no checkpoint, recovery on start), as an outage would be."""
        from config import services

        services._pg_run("pg_ctl", ["-D", str(self.pg_data()), "-m", mode, "-w", "stop"], capture_output=True)

    def start_postgres(self) -> None:
        from config import services

        services.start_postgres()

    def redis_pid(self) -> int | None:
        try:
            return int((self.local / "redis" / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill_redis(self) -> None:
        pid = self.redis_pid()
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        (self.local / "redis" / "redis.pid").unlink(missing_ok=True)

    def start_redis(self) -> None:
        from config import services

        services.start_redis()

    # --- application processes ---------------------------------------------------------------------

    def migrate(self) -> None:
        subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=REPO_DIR, check=True)

    def _env(self) -> dict:
        from bench.ingest import STREAM_PREFIX

        return {**os.environ, "BEACON_INGEST_STREAM_PREFIX": STREAM_PREFIX}

    def _log(self, name: str):
        handle = (self.log_dir / f"{name}.log").open("ab")
        self.logs.append(handle)
        return handle

    def start_web(self) -> None:
        from bench.ingest import Server

        self.server = Server(self.web_workers, "sync", self.log_dir)
        self.server.wait_ready()

    @property
    def port(self) -> int:
        return self.server.port

    def web_worker_pids(self) -> list[int]:
        return sorted(self.server.worker_pids()) if self.server else []

    def start_writer(self, slot: int) -> int:
        log = self._log(f"writer-{slot}")
        process = subprocess.Popen(
            [PYTHON, "manage.py", "ingest_writer"], cwd=REPO_DIR, env=self._env(), stdout=log, stderr=log
        )
        self.writers[slot] = process
        return process.pid

    def start_writers(self) -> None:
        for slot in range(self.writer_count):
            self.start_writer(slot)

    def kill_writer(self, slot: int) -> int:
        process = self.writers[slot]
        process.send_signal(signal.SIGKILL)
        process.wait()
        return process.pid

    def start_celery(self) -> int:
        log = self._log("celery")
        # its own session, so the pool children it forked can be found (and ended) after a SIGKILL
        self.celery = subprocess.Popen(
            [
                str(REPO_DIR / ".venv/bin/celery"),
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--concurrency",
                "1",
            ],
            cwd=REPO_DIR,
            env=self._env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        return self.celery.pid

    def celery_pids(self) -> list[int]:
        from bench.ingest import children_of

        if self.celery is None or self.celery.poll() is not None:
            return []
        return [self.celery.pid, *children_of(self.celery.pid)]

    def kill_celery(self) -> int:
        """SIGKILL the worker's main process (then its orphaned pool child, as a container would)."""
        process = self.celery
        children = self.celery_pids()[1:]
        process.send_signal(signal.SIGKILL)
        process.wait()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        return process.pid

    def wait_celery_ready(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready" in (self.log_dir / "celery.log").read_bytes()[-20000:]:
                return True
            time.sleep(0.5)
        return False

    def processes(self) -> dict[str, int | list[int]]:
        """Named pids for memory readings."""
        named: dict[str, int | list[int]] = {}
        if self.server:
            named["gunicorn master"] = self.server.process.pid
            for index, pid in enumerate(self.web_worker_pids()):
                named[f"gunicorn worker {index}"] = pid
        for slot, process in sorted(self.writers.items()):
            named[f"ingest writer {slot}"] = process.pid
        celery = self.celery_pids()
        if celery:
            named["celery worker (main)"] = celery[0]
            for index, pid in enumerate(celery[1:]):
                named[f"celery pool child {index}"] = pid
        postgres = self.postgres_pids()
        if postgres:
            named["postgres postmaster"] = postgres[0]
            named[f"postgres {len(postgres) - 1} others (sum)"] = postgres[1:]
        if (pid := self.redis_pid()) is not None:
            named["redis"] = pid
        return named

    def close(self) -> None:
        """Stop everything this stack started (only those pids), then remove its directory."""
        for process in [*self.writers.values(), self.celery]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.writers.values(), self.celery]:
            if process is None:
                continue
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.celery is not None:
            try:
                os.killpg(self.celery.pid, signal.SIGKILL)  # its own session: only its pool children
            except (ProcessLookupError, PermissionError):
                pass
        if self.server:
            self.server.stop()
        if self.started_services:
            try:
                self.stop_postgres("fast")
            except Exception as error:
                print(f"  (postgres stop: {error})")
            pid = self.redis_pid()
            if pid and alive(pid):
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        for handle in self.logs:
            handle.close()
        if os.environ.get("BEACON_BENCH_KEEP_DIR"):
            print(f"  kept {self.local}")
        else:
            shutil.rmtree(self.local, ignore_errors=True)


def install_signal_handlers() -> None:
    """SIGTERM behaves as Ctrl-C, so ``finally: stack.close()`` runs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


# --- the client ------------------------------------------------------------------------------------


def post(port: int, path: str, body: bytes, key: str, timeout: float = 30) -> tuple[int | str, str | None]:
    """(status or an error name, Retry-After header)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "POST", path, body=body, headers={"X-API-Key": key, "Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, None
    finally:
        connection.close()


def retry_delay(retry_after: str | None, cap: float) -> float:
    try:
        return min(float(retry_after), cap)
    except (TypeError, ValueError):
        return min(1.0, cap)


class SteadyLoad:
    """rate events/s in batches of `batch`, sent by `threads` threads, refused requests retried."""

    def __init__(
        self,
        port: int,
        key: str,
        *,
        rate: float,
        batch: int = 10,
        threads: int = 8,
        retry_cap: float = 5.0,
        seed: int = 1,
    ):
        from bench.ingest import EventFactory

        self.port, self.key = port, key
        self.rate, self.batch, self.threads = rate, batch, threads
        self.retry_cap = retry_cap
        self.factory = EventFactory(seed)
        self.queue: queue.Queue = queue.Queue()
        self.log: list[tuple[float, float, int | str, int, bool]] = []  # start, end, status, events, RA
        self.acked: set[str] = set()
        self.failed: set[str] = set()  # refused with a non-retryable status: never acknowledged
        self.sent_ids = 0
        self.lock = threading.Lock()
        self.producing = threading.Event()
        self.abandon = threading.Event()
        self._threads: list[threading.Thread] = []

    def _produce(self) -> None:
        interval = self.batch / self.rate
        next_at = time.monotonic()
        while self.producing.is_set():
            now = datetime.now(UTC)
            events = [self.factory.event(now) for _ in range(self.batch)]
            self.sent_ids += len(events)
            import orjson

            self.queue.put(([event["uuid"] for event in events], orjson.dumps(events)))
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5:  # far behind (the machine is busy): do not burst to catch up
                next_at = time.monotonic()

    def _send(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            ids, body = item
            while True:
                started = time.monotonic()
                status, retry_after = post(self.port, "/track", body, self.key)
                ended = time.monotonic()
                self.log.append((started, ended, status, len(ids), retry_after is not None))
                if isinstance(status, int) and 200 <= status < 300:
                    with self.lock:
                        self.acked.update(ids)
                    break
                if status in RETRYABLE or isinstance(status, str):
                    if self.abandon.is_set():
                        break
                    time.sleep(retry_delay(retry_after, self.retry_cap))
                    continue
                with self.lock:
                    self.failed.update(ids)
                break

    def start(self) -> None:
        self.producing.set()
        self._threads = [threading.Thread(target=self._produce, daemon=True)]
        self._threads += [threading.Thread(target=self._send, daemon=True) for _ in range(self.threads)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 120) -> None:
        """Stop producing; let queued and refused batches finish (retrying) for up to `timeout`."""
        self.producing.clear()
        self._threads[0].join()
        for _ in range(self.threads):
            self.queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads[1:]:
            thread.join(max(0.1, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads[1:]):
            self.abandon.set()
            for thread in self._threads[1:]:
                thread.join(30)

    def window(self, start: float, end: float) -> list[tuple]:
        """Attempts that started in [start, end)."""
        return [entry for entry in list(self.log) if start <= entry[0] < end]


def summarize(entries: list[tuple]) -> dict:
    from collections import Counter

    statuses = Counter(entry[2] for entry in entries)
    ok = [entry for entry in entries if isinstance(entry[2], int) and 200 <= entry[2] < 300]
    refused = [entry for entry in entries if entry[2] in RETRYABLE or isinstance(entry[2], str)]
    return {
        "attempts": len(entries),
        "ok": len(ok),
        "ok_events": sum(entry[3] for entry in ok),
        "refused": len(refused),
        "refused_503_without_retry_after": sum(1 for e in entries if e[2] == 503 and not e[4]),
        "statuses": dict(statuses),
        "latencies": sorted(entry[1] - entry[0] for entry in entries),
        "ok_latencies": sorted(entry[1] - entry[0] for entry in ok),
    }


def stream_state() -> tuple[int, int, int]:
    """(entries in the ingest streams, entries pending in the group, entries in the dead-letter stream)."""
    from analytics.ingest import buffer
    from bench.ingest import get_redis_client

    client = get_redis_client()
    entries = pending = 0
    for stream in buffer.stream_names():
        entries += client.xlen(stream)
        try:
            pending += client.xpending(stream, buffer.GROUP)["pending"]
        except Exception:
            pass
    return entries, pending, client.xlen(buffer.dead_letter_stream())


def stored_ids(project_id: int) -> tuple[int, int, set[str]]:
    """(count(*), count(DISTINCT message_id), the ids) of the project's rows in `events`."""
    import psycopg

    from config import services

    with psycopg.connect(services.database_url()) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM events WHERE project_id = %s", [project_id]
        ).fetchone()
        ids = {
            str(row[0]).lower()
            for row in conn.execute("SELECT message_id FROM events WHERE project_id = %s", [project_id])
        }
    return total, distinct, ids


def hello_latencies(port: int, key: str, count: int) -> list[float]:
    """Sequential POSTs of a 10-event body to /bench/hello (a do-nothing view, same middleware)."""
    import orjson

    from bench.ingest import EventFactory

    factory = EventFactory(99)
    body = orjson.dumps([factory.event(datetime.now(UTC)) for _ in range(10)])
    latencies = []
    for _ in range(count):
        started = time.monotonic()
        status, _ = post(port, "/bench/hello", body, key)
        if status == 200:
            latencies.append(time.monotonic() - started)
    return sorted(latencies)


def tenancy() -> tuple[int, str]:
    """(project id, raw write key) in the private database."""
    from django.db import connections

    from bench.ingest import bench_tenancy

    _, project, _, raw = bench_tenancy()
    connections.close_all()  # the servers restart under this process: hold no connection
    return project.id, raw


def fail(message: str) -> None:
    print(message, file=sys.stderr)
