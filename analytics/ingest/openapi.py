"""OpenAPI description of the native ingestion endpoints (drf-spectacular). Documentation only:
the endpoints parse with ``analytics.ingest.dialects``, not with these serializers."""

from rest_framework import serializers

DOCUMENTED_PATHS = {"/track", "/identify", "/alias", "/page", "/screen"}


def only_documented_endpoints(endpoints):
    """Keep the native API (without its trailing-slash twins) and the query API; the compatibility
    endpoints follow their vendors' documentation."""
    return [e for e in endpoints if e[0] in DOCUMENTED_PATHS or e[0].startswith("/api/v1/")]


class _Common(serializers.Serializer):
    environment = serializers.CharField(help_text="The key's environment, e.g. `production`. Required.")
    distinct_id = serializers.CharField(required=False, help_text="Who did it: a user id or an anonymous id.")
    anonymous_id = serializers.CharField(required=False)
    device_id = serializers.CharField(required=False)
    session_id = serializers.CharField(required=False)
    timestamp = serializers.CharField(
        required=False,
        help_text="ISO 8601, or a unix time (numbers above 1e11 are milliseconds, else seconds). Default: when received.",
    )
    uuid = serializers.CharField(
        required=False,
        help_text="A message id: the same id in the same project is stored once, however often it is retried.",
    )
    sent_at = serializers.CharField(
        required=False,
        help_text="When the SDK sent it (ISO 8601): corrects the timestamp for a wrong device clock.",
    )
    context = serializers.DictField(
        required=False,
        help_text="Where it happened, as beacon.js sends it: `library` {name, version}, `page` {url, path, "
        "referrer, title, search}, `app` {version}, `userAgent`, `screen`, `viewport`, `locale`, `timezone`, "
        "`device` {type}, `campaign`. Stored in the event's context; other keys are dropped.",
    )


class TrackEvent(_Common):
    event = serializers.CharField(max_length=200)
    properties = serializers.DictField(help_text="Event properties; `{}` is allowed.")


class IdentifyEvent(_Common):
    distinct_id = serializers.CharField(help_text="The known user id.")
    traits = serializers.DictField(required=False, help_text="Merged into the person's properties ($set).")


class AliasEvent(serializers.Serializer):
    environment = serializers.CharField()
    distinct_id = serializers.CharField(help_text="The previous id (usually anonymous).")
    new_user_id = serializers.CharField(help_text="The id it is the same person as.")
    timestamp = serializers.CharField(required=False)


class PageEvent(_Common):
    name = serializers.CharField(required=False)
    properties = serializers.DictField(required=False)


class RejectedEvent(serializers.Serializer):
    index = serializers.IntegerField(
        help_text="Position of the event in the request (0 for a single object)."
    )
    reason = serializers.CharField()
    message = serializers.CharField()


class SuccessReply(serializers.Serializer):
    ok = serializers.BooleanField()
    error_code = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="1 (Mixpanel-style success flag).")
    code = serializers.IntegerField(help_text="200 (Amplitude-style).")
    accepted = serializers.IntegerField(help_text="Events accepted (durable).")


class ErrorReply(serializers.Serializer):
    ok = serializers.BooleanField()
    error_code = serializers.CharField()
    error = serializers.CharField()
    message = serializers.CharField(help_text="What was wrong, for a developer to act on.")
    code = serializers.IntegerField(help_text="The HTTP status.")
    status = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text="Events of the same request that were stored anyway.")
    rejected = RejectedEvent(many=True, required=False)


EXAMPLES = {
    "track": {
        "environment": "production",
        "event": "Order Completed",
        "distinct_id": "user_123",
        "properties": {"plan": "pro", "amount": 42.5},
        "timestamp": "2026-11-22T12:02:43.499Z",
    },
    "identify": {
        "environment": "production",
        "distinct_id": "user_123",
        "anonymous_id": "anonymous-7c9e",
        "traits": {"email": "jane@example.com"},
    },
    "alias": {"environment": "production", "distinct_id": "anonymous-7c9e", "new_user_id": "user_123"},
    "page": {
        "environment": "production",
        "distinct_id": "user_123",
        "name": "Pricing",
        "properties": {"$url": "https://example.com/pricing"},
    },
    "screen": {"environment": "production", "distinct_id": "user_123", "name": "Welcome", "properties": {}},
}
