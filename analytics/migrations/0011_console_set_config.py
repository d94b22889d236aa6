"""Take set_config() away from PUBLIC: a SQL console query could raise its own work_mem (or
hash_mem_multiplier) to gigabytes and exhaust the shared server's memory. The console's own set-up
uses SET statements; Beacon's user (the functions' owner or a superuser) keeps it.
See migration 0009 for why this needs a superuser and what happens without one."""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)

SIGNATURE = "pg_catalog.set_config(text, text, boolean)"


def revoke(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if not row or not row[0]:
            logger.warning("not a superuser: cannot revoke set_config() from PUBLIC for the SQL console")
            return
        cursor.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")  # a constant, no input


def grant_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO PUBLIC")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0010_person_merges")]

    operations = [migrations.RunPython(revoke, grant_back)]
