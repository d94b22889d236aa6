"""All of Beacon's analytical SQL: psycopg.sql composition, bound parameters, small typed rows.

The same SQL runs on both storage backends: it reads the rollup relations by name and buckets time
through ``get_store().time_bucket``.
"""

from contextlib import contextmanager

import orjson
from django.conf import settings
from django.db import OperationalError, connection, transaction
from psycopg import errors


def jsonb(value):
    """A jsonb column read through Django's connection, which hands it over as text (the ORM's
    JSONField decodes it; raw queries must)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@contextmanager
def bounded_cursor(*, work_mem: str | None = None):
    """A cursor in its own transaction whose statements stop after ANALYSIS_STATEMENT_TIMEOUT_MS: a
    question too big for the data gets a clear error (QueryError, a 400), not a worker held for
    minutes. ``work_mem`` raises the sort memory for this transaction only."""
    from analytics.insights.definitions import QueryError

    timeout_ms = settings.ANALYSIS_STATEMENT_TIMEOUT_MS
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            if work_mem:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
            yield cursor
    except OperationalError as error:
        if isinstance(error.__cause__, errors.QueryCanceled):
            raise QueryError(
                "date_range",
                f"This question took longer than {timeout_ms / 1000:g} s over this data: "
                "choose a shorter range, fewer steps or a longer interval.",
            ) from None
        raise
