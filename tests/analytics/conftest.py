import uuid

import pytest


def _test_database_url() -> str:
    from django.db import connection

    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgresql://{params['USER']}{password}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


class WriterProcess:
    """A real `manage.py ingest_writer` on the test database and this test's streams."""

    def __init__(self, prefix: str, **env):
        self.prefix = prefix
        self.env = env
        self.process = None

    def start(self, **env) -> "WriterProcess":
        import os
        import subprocess
        import sys
        from pathlib import Path

        full_env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "BEACON_INGEST_STREAM_PREFIX": self.prefix,
            "BEACON_INGEST_CLAIM_IDLE_SECONDS": "1",
            **self.env,
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "ingest_writer",
                "--consumer",
                f"test-writer-{uuid.uuid4().hex[:6]}",
            ],
            cwd=Path(__file__).resolve().parents[2],
            env=full_env,
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def writer_process(streams, transactional_db):
    """Start with ``writer_process.start()``; stopped at the end of the test."""
    writer = WriterProcess(streams)
    yield writer
    writer.stop()
