"""All of Beacon's analytical SQL: psycopg.sql composition, bound parameters, small typed rows.

The same SQL runs on both storage backends: it reads the rollup relations by name and buckets time
through ``get_store().time_bucket``.
"""
