"""Create the event store on the backend chosen now (TimescaleDB if the server offers it)."""

from django.db import migrations

from analytics.storage.install import install_event_store


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(install_event_store, migrations.RunPython.noop, elidable=False)]
