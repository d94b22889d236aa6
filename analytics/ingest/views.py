"""The ingestion endpoints: thin DRF views over ``pipeline.handle``.

They bypass DRF's authentication, parsing and rendering on purpose: the key may travel in the
body (Segment's `writeKey`, PostHog's `api_key`), bodies may be gzip, and the hot path parses once
with orjson. DRF still gives them csrf-exemption, the method dispatch and the OpenAPI schema.
"""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.views import APIView

from analytics.ingest import openapi, pipeline
from analytics.ingest.body import FORM_CONTENT_TYPE, content_type
from analytics.ingest.dialects import (
    AMPLITUDE,
    MIXPANEL,
    NATIVE,
    POSTHOG,
    POSTHOG_OR_AMPLITUDE,
    SEGMENT,
    Dialect,
)


class IngestView(APIView):
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    dialect: Dialect = NATIVE
    kind: str = "track"

    def initial(self, request, *args, **kwargs) -> None:
        """Skip DRF's content negotiation, versioning, authentication, permission and throttle steps:
        this view has none of them (the key may be in the body) and answers with its own JSON."""

    def post(self, request, *args, **kwargs) -> HttpResponse:
        django_request = request._request
        if (
            self.dialect is NATIVE
            and self.kind == "track"
            and content_type(django_request) == FORM_CONTENT_TYPE
        ):
            # Mixpanel's /track shares our path; its form body tells it apart (WIRE.md, "Django pitfalls").
            return pipeline.handle(django_request, MIXPANEL, "track")
        return pipeline.handle(django_request, self.dialect, self.kind)

    def options(self, request, *args, **kwargs) -> HttpResponse:
        """CORS preflight: browsers send events from any origin with a write key."""
        response = HttpResponse(status=204)
        for name, value in pipeline.CORS_HEADERS.items():
            response[name] = value
        return response


def _native_view(kind: str, request_serializer, summary: str, description: str):
    schema = extend_schema(
        operation_id=f"ingest_{kind}",
        summary=summary,
        description=description,
        request={"application/json": request_serializer},
        parameters=[
            OpenApiParameter(
                "sync", bool, description="Answer only after the events are committed to the database."
            ),
            OpenApiParameter(
                "apiKey", str, description="The API key, for senders that cannot set headers (sendBeacon)."
            ),
        ],
        responses={
            200: openapi.SuccessReply,
            400: openapi.ErrorReply,
            401: openapi.ErrorReply,
            413: openapi.ErrorReply,
            415: openapi.ErrorReply,
            429: openapi.ErrorReply,
            503: openapi.ErrorReply,
        },
        examples=[OpenApiExample(kind, value=openapi.EXAMPLES[kind], request_only=True)],
        tags=["ingestion"],
        auth=[{"ApiKey": []}],
    )
    return extend_schema_view(post=schema)(type(f"Native{kind.title()}View", (IngestView,), {"kind": kind}))


NativeTrackView = _native_view(
    "track",
    openapi.TrackEvent,
    "Track events",
    "One event object or an array of them. `properties` is required (`{}` allowed).",
)
NativeIdentifyView = _native_view(
    "identify",
    openapi.IdentifyEvent,
    "Identify a user",
    "Merge `traits` into the person's properties; with `anonymous_id`, link the anonymous visitor to this user.",
)
NativeAliasView = _native_view(
    "alias",
    openapi.AliasEvent,
    "Alias two ids",
    "Link `distinct_id` (usually an anonymous id) to `new_user_id`.",
)
NativePageView = _native_view("page", openapi.PageEvent, "Record page views", "Stored as `$pageview` events.")
NativeScreenView = _native_view(
    "screen", openapi.PageEvent, "Record screen views", "Stored as `$screen` events."
)


class SegmentView(IngestView):
    dialect = SEGMENT
    schema = None  # documented by Segment: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/


class PostHogView(IngestView):
    dialect = POSTHOG
    kind = "capture"
    schema = None


class PostHogOrAmplitudeBatchView(IngestView):
    """`/batch`: PostHog's SDKs and Amplitude's Batch API both post here; the body tells them apart."""

    dialect = POSTHOG_OR_AMPLITUDE
    kind = "capture"
    schema = None


class AmplitudeView(IngestView):
    dialect = AMPLITUDE
    kind = "events"
    schema = None


class MixpanelView(IngestView):
    dialect = MIXPANEL
    schema = None
