"""Take the session-wide side channels away from roles that are not Beacon's own (the SQL console's).

A console role could otherwise hold the advisory locks Beacon's writers take (identity resolution,
the rollup refresh), stalling every project's ingestion for the length of its statement timeout, or
send NOTIFY messages. Function privileges are per database, so this touches this database only.
Revoking from PUBLIC needs the functions' owner (a superuser); without one, the migration says so
and goes on (the console still isolates rows; only that denial of service stays open).
"""

import logging

from django.db import migrations
from psycopg import sql

logger = logging.getLogger(__name__)

FUNCTIONS_SQL = """
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pg_catalog' AND (p.proname LIKE 'pg\\_advisory%%' OR p.proname LIKE 'pg\\_try\\_advisory%%'
                                         OR p.proname = 'pg_notify')
    ORDER BY 1
"""


def revoke(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if not row or not row[0]:
            logger.warning(
                "not a superuser: cannot revoke the advisory-lock functions from PUBLIC; a SQL console "
                "query could hold Beacon's locks until its statement timeout"
            )
            return
        cursor.execute(FUNCTIONS_SQL)
        for (signature,) in cursor.fetchall():
            # The signature comes from the catalog (regprocedure output), not from any input.
            cursor.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(signature)))


def grant_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL)
        for (signature,) in cursor.fetchall():
            cursor.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO PUBLIC").format(sql.SQL(signature)))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0008_insights")]

    operations = [migrations.RunPython(revoke, grant_back)]
