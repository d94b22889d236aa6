"""One ingestion request, whatever the dialect: body -> key -> events -> durable -> reply.

1. Read the body (size limits, gzip, JSON) and split it into messages with the dialect.
2. Authenticate the key (header first, then the body), from this process's memory when it can.
3. Map each message, check it, enrich it. A bad message is rejected by index; the others go on.
4. Make the accepted events durable: one Redis round trip (key version, per-key rate limit, backlog,
   XADD to the project's stream), or with ``?sync=true`` a direct write (store + identity)
   committed before the reply.
5. Reply with a body every SDK in WIRE.md accepts.
"""

import logging

import orjson
import redis
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone

from analytics.ingest import buffer
from analytics.ingest.dialects import Dialect
from analytics.ingest.enrich import build_record
from analytics.ingest.errors import EventRejected, IngestError
from analytics.ingest.writer import write_events
from analytics.plan.runtime import apply_policy, compiled_plan
from analytics.verification import live
from projects.auth import client_ip
from projects.authentication import key_from_request
from projects.keys import KeyInfo, authenticate_key, authenticate_key_versioned, forget_local

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 500 * 1024
MAX_DEPTH = 32

SUCCESS = {"ok": True, "error_code": None, "status": 1, "code": 200}
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-API-Key, Authorization",
    "Access-Control-Max-Age": "86400",
    # Browsers hide other headers from another origin's script: beacon.js backs off as told on 429/503.
    "Access-Control-Expose-Headers": "Retry-After",
}


def json_response(body: dict, status: int = 200, retry_after: int | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in CORS_HEADERS.items():
        response[name] = value
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def error_response(
    error: IngestError, *, accepted: int = 0, rejected: list | None = None, extra: dict | None = None
) -> HttpResponse:
    body = {
        "ok": False,
        "error_code": error.error_code,
        "error": error.error_code,
        "message": error.message,
        "code": error.status,
        "status": 0,
        "accepted": accepted,
    }
    if rejected:
        body["rejected"] = rejected
    if extra:
        body.update(extra)
    return json_response(body, error.status, error.retry_after)


# --- keys and limits ---------------------------------------------------------------------------


def authenticate(request, body_key: str | None, *, sync: bool) -> tuple[str, KeyInfo, tuple[str, int] | None]:
    """(raw key, its scope, (version key, version) when the scope came from this process's memory)."""
    raw = key_from_request(request) or body_key
    if not raw:
        raise IngestError(
            401,
            "missing-api-key",
            "No API key: send it as X-API-Key, Authorization: Bearer, Basic auth (key as user), "
            "?apiKey=, or writeKey / api_key in the body.",
        )
    if sync:  # no append script to check the version: ask Redis now
        key, key_version = authenticate_key(raw), None
    else:
        key, key_version = authenticate_key_versioned(raw) or (None, None)
    if key is None:
        raise IngestError(401, "invalid-api-key", f"Unknown, revoked or expired API key ({raw[:14]}...).")
    return raw, key, key_version


def _rate_limited(limit: int) -> IngestError:
    return IngestError(
        429,
        "rate-limited",
        f"This key sent more than {limit} events in one second. Retry after the Retry-After delay.",
        retry_after=1,
    )


# --- messages -------------------------------------------------------------------------------------


def _too_deep(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        children = current.values() if isinstance(current, dict) else current
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _check_message(message, body_size: int, body_brackets: int) -> None:
    if not isinstance(message, dict):
        raise EventRejected(
            "not-an-object", f"Each event must be a JSON object, not {type(message).__name__}."
        )
    if body_size > MAX_EVENT_BYTES and len(orjson.dumps(message)) > MAX_EVENT_BYTES:
        raise EventRejected("event-too-large", f"The event is larger than {MAX_EVENT_BYTES // 1024} KB.")
    # the event object and its properties add two levels
    if body_brackets > MAX_DEPTH and _too_deep(message, MAX_DEPTH + 2):
        raise EventRejected("too-deeply-nested", f"Properties are nested more than {MAX_DEPTH} levels deep.")


def build_events(
    request, dialect: Dialect, kind: str, envelope, key: KeyInfo, body_shape: tuple[int, int], received_at
):
    """(accepted [(record, person update)], rejected [{index, reason, message}], violations by index).

    Violations are listed for every environment but production, whose replies stay lean.
    """
    accepted, rejected, reported = [], [], []
    plan = compiled_plan(key.project_id, key.plan_version) if key.plan_version else None
    report = key.environment_slug != "production"
    keep_ip = key.keep_ip
    header_user_agent = request.META.get("HTTP_USER_AGENT") or None
    request_ip = client_ip(request) if keep_ip else None
    for index, message in enumerate(envelope.messages):
        try:
            _check_message(message, *body_shape)
            incoming = dialect.map(message, kind)
            if incoming.environment is not None and (refusal := key.write_refusal(incoming.environment)):
                raise EventRejected("environment-mismatch", refusal)
            try:
                record = build_record(
                    incoming,
                    raw_message=message,
                    project_id=key.project_id,
                    environment_id=key.environment_id,
                    received_at=received_at,
                    envelope_sent_at=envelope.sent_at,
                    header_user_agent=header_user_agent,
                    request_ip=request_ip,
                    keep_ip=keep_ip,
                )
            except ValueError as error:
                raise EventRejected("invalid-timestamp", f"Bad timestamp: {error}.") from None
        except EventRejected as rejection:
            rejected.append({"index": index, "reason": rejection.reason, "message": rejection.message})
            continue
        if plan is not None:
            violations = plan.check(record.event, record.properties)
            record = apply_policy(record, violations, key.plan_policy)
            if violations and report:
                reported.append({"index": index, "violations": [v.as_dict() for v in violations]})
        accepted.append((record, incoming.person))
    return accepted, rejected, reported


# --- the request ----------------------------------------------------------------------------------


def persist(key: KeyInfo, events: list, *, key_version: tuple[str, int] | None, second: int) -> None:
    """Make the events durable: the Redis stream (one round trip, rate limit included), or the database."""
    limit = settings.INGEST_RATE_LIMIT_PER_KEY
    counter = buffer.rate_counter(key.key_id, second)
    if key_version is None:  # ?sync=true
        if limit and buffer.count_events(counter, len(events)) > limit:
            raise _rate_limited(limit)
        write_events(events)
        live.publish(key.project_id, key.environment_id, events, second=second)
        return
    try:
        buffer.append(
            key.project_id,
            key.environment_id,
            events,
            rate_counter_key=counter,
            rate_limit=limit,
            key_version=key_version,
            second=second,
        )
    except buffer.RateLimited:
        raise _rate_limited(limit) from None
    except buffer.BacklogFull:
        raise IngestError(
            503,
            "backlog-full",
            "Beacon is behind on writing events; nothing was stored. Retry later.",
            retry_after=5,
        ) from None


def handle(request, dialect: Dialect, kind: str) -> HttpResponse:
    try:
        for _ in range(2):
            try:
                return _handle(request, dialect, kind)
            except buffer.KeyChanged:
                # The key was revoked or rotated, or its project's settings changed, since this
                # process read it: the next attempt reads it again and redoes the request.
                continue
        error = IngestError(
            503, "key-changing", "The API key is being changed; nothing was stored. Retry.", retry_after=1
        )
    except redis.RedisError:
        logger.exception("ingest: Redis unavailable")
        error = IngestError(
            503,
            "unavailable",
            "The event buffer is unavailable; nothing was stored. Retry later.",
            retry_after=5,
        )
    return error_response(error)


def _handle(request, dialect: Dialect, kind: str) -> HttpResponse:
    received_at = timezone.now()
    sync = request.GET.get("sync") in ("true", "1")
    try:
        body, body_size, brackets = dialect.read(request)
        envelope = dialect.split(body, kind)
        raw_key, key, key_version = authenticate(request, envelope.body_key, sync=sync)
        accepted, rejected, violations = build_events(
            request, dialect, kind, envelope, key, (body_size, brackets), received_at
        )
        if accepted:
            try:
                persist(key, accepted, key_version=key_version, second=int(received_at.timestamp()))
            except buffer.KeyChanged:
                forget_local(raw_key)
                raise
    except IngestError as error:
        return error_response(error)
    extra = {"violations": violations} if violations else {}
    if not rejected:
        return json_response({**SUCCESS, "accepted": len(accepted), **extra})
    return error_response(
        _rejection_error(rejected, len(envelope.messages), len(accepted), envelope.is_batch),
        accepted=len(accepted),
        rejected=rejected,
        extra=extra,
    )


def _rejection_error(rejected: list, total: int, accepted: int, is_batch: bool) -> IngestError:
    first = rejected[0]
    if not is_batch and total == 1:
        status = 413 if first["reason"] == "event-too-large" else 400
        return IngestError(status, first["reason"], first["message"])
    kept = f"the other {accepted} were stored" if accepted else "none was stored"
    return IngestError(
        400,
        "events-rejected",
        f"{len(rejected)} of {total} events were rejected and {kept}; event {first['index']}: {first['message']}",
    )
