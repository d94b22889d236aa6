"""Run the storage and query tests (marker `storage`) against a fresh TimescaleDB server.

Starts tests/timescaledb/server.mjs on a loopback port, waits until it answers, runs pytest with
DATABASE_URL pointing at it, and stops it whatever happens.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"TimescaleDB test server exited early with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    sys.exit(f"TimescaleDB test server did not listen on {port} within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=55433)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()

    server = subprocess.Popen(
        ["node", str(REPO / "tests/timescaledb/server.mjs")],
        cwd=REPO,
        env={**os.environ, "PORT": str(args.port)},
    )
    try:
        wait_for_port(args.port, server)
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres:postgres@127.0.0.1:{args.port}/postgres",
            "BEACON_STORAGE_BACKEND": "timescaledb",
            # COPY FROM STDIN kills this server: write with multi-row INSERTs.
            "BEACON_BULK_WRITE_METHOD": "insert",
            # CREATE DATABASE is useless on this server (one backend session): test in place.
            "BEACON_TEST_EXISTING_DB": "1",
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "storage",
            "-p",
            "no:cacheprovider",
            *args.pytest_args,
        ]
        return subprocess.call(command, cwd=REPO, env=env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
