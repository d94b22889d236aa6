import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from analytics.ingest.buffer import stream_names
from config.redis import get_redis

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness: 200 when the database and Redis answer, 503 naming what does not."""
    checks: dict[str, str] = {}
    storage_backend = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT backend FROM analytics_storagestate WHERE id = 1")
            row = cursor.fetchone()
        storage_backend = row[0] if row else None
        checks["database"] = "ok" if row else "not migrated"
    except Exception as error:
        logger.warning("healthz: database check failed: %s", error)
        checks["database"] = f"error: {type(error).__name__}"
    backlog = None
    try:
        client = get_redis()
        client.ping()
        checks["redis"] = "ok"
        backlog = sum(client.xlen(name) for name in stream_names())  # 0 for a stream that does not exist
    except Exception as error:
        logger.warning("healthz: redis check failed: %s", error)
        checks["redis"] = f"error: {type(error).__name__}"
    healthy = all(state == "ok" for state in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "storage_backend": storage_backend,
        **checks,
        # requests buffered and not yet written by the ingest writers: growing means they are down or behind
        "ingest_backlog": backlog,
    }
    return JsonResponse(body, status=200 if healthy else 503)


@csrf_exempt
def bench_hello(request):
    """bench/ingest.py's hello-world baseline: no database, no Redis, the full middleware stack.

    Routed only when BEACON_BENCH_ENDPOINTS is on (config/urls.py). CSRF-exempt like the ingestion
    views (DRF exempts them), so a POST of the same bytes as a /track request gets the same treatment.
    """
    return HttpResponse(b'{"ok":true}', content_type="application/json")
