"""All of Beacon's analytical SQL: psycopg.sql composition, bound parameters, small typed rows.

The same SQL runs on both storage backends: it reads the rollup relations by name and buckets time
through ``get_store().time_bucket``.
"""

import orjson


def jsonb(value):
    """A jsonb column read through Django's connection, which hands it over as text (the ORM's
    JSONField decodes it; raw queries must)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value
