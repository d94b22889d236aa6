from django.core.management.base import BaseCommand

from analytics.ingest.writer import IngestWriter


class Command(BaseCommand):
    help = "Write buffered events from the Redis streams to the event store (run one or more)."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="consumer name in the group (default: host-pid)")
        parser.add_argument(
            "--batch", type=int, help="stream entries per write (default INGEST_WRITER_BATCH)"
        )

    def handle(self, *args, consumer=None, batch=None, **options):
        writer = IngestWriter(consumer=consumer, batch_entries=batch)
        writer.run()
        self.stdout.write(f"ingest writer {writer.consumer} stopped after writing {writer.written} events")
