from django.conf import settings
from django.core.management.base import BaseCommand

from analytics.management.commands.seed_demo import DEMO_PASSWORD, DEMO_PROJECT, DEMO_USERNAME
from analytics.storage import get_store


class Command(BaseCommand):
    help = "Print where Beacon is and how to log in (used by `make run`)."

    def handle(self, *args, **options):
        url = settings.PUBLIC_URL.rstrip("/")
        lines = [
            "",
            "  Beacon is starting (web, ingest writer, Celery worker, Celery beat). Ctrl-C stops them all.",
            f"  URL:          {url}/",
            f"  Demo login:   {DEMO_USERNAME} / {DEMO_PASSWORD}",
            f"  Demo project: {url}/projects/{DEMO_PROJECT}/",
            f"  Demo shop:    {url}/demo/shop/  (instrumented with beacon.js: watch it in Verify → Live)",
            f"  API keys:     {url}/projects/{DEMO_PROJECT}/keys/",
            f"                or: .venv/bin/python manage.py create_api_key --project {DEMO_PROJECT} "
            "--environment production --kind write",
            f"  Send events:  curl -X POST {url}/track -H 'X-API-Key: <write key>' -H 'Content-Type: application/json' "
            '-d \'{"environment": "production", "event": "Hello", "distinct_id": "me", "properties": {}}\'',
            f"  API docs:     {url}/api/docs/",
            f"  Health:       {url}/healthz   storage backend: {get_store().name}",
            "",
        ]
        self.stdout.write("\n".join(lines))
