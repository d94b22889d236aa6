"""An index of the events stored with plan violations, for `violations_above` alert rules (alerts/).

Databases installed before it existed get it here; new ones got it from the store's install."""

from django.db import migrations

from analytics.storage.schema import BROKEN_EVENTS_INDEX


class Migration(migrations.Migration):
    dependencies = [("analytics", "0011_console_set_config")]

    operations = [
        migrations.RunSQL(
            BROKEN_EVENTS_INDEX.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1),
            "DROP INDEX IF EXISTS events_broken_env_time",
        ),
    ]
