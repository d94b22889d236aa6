"""Bulk-insert throughput of the event store against a raw COPY of the same rows, in the same run.

    .venv/bin/python bench/storage.py [--rows 200000] [--batch 5000] [--rounds 3]

Baselines: COPY ... FROM STDIN of the same rows, in batches of the same size (one transaction each),
into a plain unpartitioned table shaped like `events` with the same indexes; once in COPY's default
text format (the plain "raw COPY") and once in binary format (what the store itself uses, so the
stricter comparison). The store's path does more: it claims every message id in `event_dedup`
(exactly-once), routes rows to daily partitions and, on plain PostgreSQL, records the touched hours
for the rollups. The three run in rotating order over several rounds; ratios of medians are printed.
Goal: store / raw COPY >= 0.8.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import orjson  # noqa: E402
import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from psycopg.types.json import set_json_dumps  # noqa: E402

from analytics.demo import generate  # noqa: E402
from analytics.storage import get_store  # noqa: E402
from analytics.storage.base import _COPY_TYPES, EVENT_COLUMNS  # noqa: E402
from projects.models import Environment, Organization, Project  # noqa: E402

BASELINE_TABLE = "bench_copy_baseline"


def make_rows(project: Project, environment: Environment, count: int) -> list:
    """Realistic demo-shop events (the same generator as `make run`'s demo), fresh message ids."""
    rows = []
    end = datetime.now(UTC) - timedelta(days=1)
    for hour_records in generate(
        project_id=project.id,
        environment_id=environment.id,
        end=end,
        days=30,
        base_per_hour=400,
        users=20000,
        app_version="bench",
    ):
        rows.extend(record._replace(message_id=str(uuid.uuid4())) for record in hour_records)
        if len(rows) >= count:
            return rows[:count]
    return rows


def fresh_ids(rows: list) -> list:
    return [row._replace(message_id=str(uuid.uuid4())) for row in rows]


def batches(rows: list, size: int):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def run_store(rows: list, batch_size: int) -> float:
    store = get_store()
    started = time.perf_counter()
    written = sum(store.insert_events(batch) for batch in batches(rows, batch_size))
    elapsed = time.perf_counter() - started
    assert written == len(rows), f"store wrote {written} of {len(rows)} rows"
    return elapsed


def run_copy(rows: list, batch_size: int, *, binary: bool) -> float:
    """COPY the rows, batch by batch, one transaction each, into the baseline table."""
    json_columns = {EVENT_COLUMNS.index("properties"), EVENT_COLUMNS.index("context")}
    raw = connection.connection
    statement = psycopg.sql.SQL("COPY {} ({}) FROM STDIN {}").format(
        psycopg.sql.Identifier(BASELINE_TABLE),
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, EVENT_COLUMNS)),
        psycopg.sql.SQL("(FORMAT BINARY)" if binary else ""),
    )
    started = time.perf_counter()
    for batch in batches(rows, batch_size):
        with raw.transaction(), psycopg.Cursor(raw) as cursor:
            set_json_dumps(orjson.dumps, context=cursor)
            with cursor.copy(statement) as copy:
                if binary:
                    copy.set_types(_COPY_TYPES)
                for row in batch:
                    if binary:
                        copy.write_row(
                            [value or {} if i in json_columns else value for i, value in enumerate(row)]
                        )
                    else:
                        copy.write_row(
                            [
                                orjson.dumps(value or {}).decode() if i in json_columns else value
                                for i, value in enumerate(row)
                            ]
                        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    connection.ensure_connection()
    store = get_store()
    organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    project, _ = Project.objects.get_or_create(
        slug="bench-storage", defaults={"organization": organization, "name": "Bench"}
    )
    environment, _ = Environment.objects.get_or_create(
        project=project, slug="production", defaults={"name": "Production"}
    )
    print(
        f"backend: {store.name}; {args.rows} rows per round in batches of {args.batch}; {args.rounds} rounds"
    )

    with connection.cursor() as cursor:
        cursor.execute(
            psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(psycopg.sql.Identifier(BASELINE_TABLE))
        )
        cursor.execute(
            psycopg.sql.SQL("CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)").format(
                psycopg.sql.Identifier(BASELINE_TABLE)
            )
        )
    rates: dict[str, list[float]] = {"store": [], "copy-text": [], "copy-binary": []}
    try:
        for round_number in range(1, args.rounds + 1):
            rows = make_rows(project, environment, args.rows)
            store.prepare_for(rows)  # partitions exist before any timing starts
            runners = {
                "store": lambda rows=rows: run_store(rows, args.batch),
                "copy-text": lambda rows=rows: run_copy(fresh_ids(rows), args.batch, binary=False),
                "copy-binary": lambda rows=rows: run_copy(fresh_ids(rows), args.batch, binary=True),
            }
            # Rotate the order each round so cache warmth and checkpoints favour no one.
            order = list(runners)[round_number % 3 :] + list(runners)[: round_number % 3]
            for name in order:
                rates[name].append(len(rows) / runners[name]())
            print(
                f"round {round_number}: store {rates['store'][-1]:,.0f} rows/s, "
                f"COPY text {rates['copy-text'][-1]:,.0f} rows/s, COPY binary {rates['copy-binary'][-1]:,.0f} rows/s"
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(psycopg.sql.Identifier(BASELINE_TABLE))
            )
            cursor.execute("DELETE FROM events WHERE project_id = %s", [project.id])
            cursor.execute("DELETE FROM event_dedup WHERE project_id = %s", [project.id])
        store.refresh_rollups()

    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        print(f"{name:>12}: {value:,.0f} rows/s (median of {args.rounds})")
    for baseline in ("copy-text", "copy-binary"):
        ratio = medians["store"] / medians[baseline]
        print(
            f"ratio store / {baseline}: {ratio:.2f}  (goal >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
