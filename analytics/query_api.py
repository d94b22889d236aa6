"""The query API (DESIGN.md section 7): trends, funnels and retention as JSON, and saved insights'
results, for SDKs and scripts.

Who may read: a **secret** key (its own project; a write key gets 403), or a logged-in member of the
project naming it with ``?project=<slug>`` (an outsider gets 404, as everywhere). Session POSTs keep
DRF's CSRF check. The body is the same definition the pages and saved insights use
(``analytics.insights.definitions``); one that cannot run answers 400 naming the field.

The serializers below only document the API (drf-spectacular): the views parse with ``parse_*``.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from analytics.insights.definitions import (
    FUNNEL_ORDERS,
    INTERVALS,
    MATHS,
    OPERATORS,
    PROPERTY_SOURCES,
    RANGES,
    RETENTION_INTERVALS,
    QueryError,
    parse_funnel,
    parse_retention,
    parse_trend,
    to_json,
)
from analytics.insights.funnels import run_funnel
from analytics.insights.models import Insight, InsightKind
from analytics.insights.retention import run_retention
from analytics.insights.saved import result_of
from analytics.insights.trends import cached_trend
from projects.access import access_project
from projects.authentication import ApiKeyAuthentication
from projects.keys import KeyInfo
from projects.models import Project

READ_KEY_MESSAGE = "A write key can only send events; reading needs a secret key of this project."


# --- who may read which project ----------------------------------------------------------------------


class ProjectRequired(exceptions.APIException):
    status_code = 400
    default_code = "project_required"
    default_detail = "Name the project with ?project=<slug> when you use a session instead of a secret key."


class QueryReader(permissions.BasePermission):
    """A secret key, or a session (its project is checked by :func:`project_of_request`)."""

    message = READ_KEY_MESSAGE

    def has_permission(self, request, view):
        if isinstance(request.auth, KeyInfo):
            return request.auth.can_read()
        return bool(request.user and request.user.is_authenticated)


def project_of_request(request) -> Project:
    """The project a query reads: the key's own, or the one ``?project=`` names for a session
    (through ``access_project``: 404 for outsiders). With a key, ``?project=`` must be the key's."""
    slug = request.query_params.get("project") or None
    if isinstance(request.auth, KeyInfo):
        project = Project.objects.filter(id=request.auth.project_id).select_related("organization").first()
        if project is None or (slug is not None and slug != project.slug):
            raise exceptions.NotFound(
                "No such project for this key: a key reads its own project only."
                if project is not None
                else "No such project."
            )
        return project
    if slug is None:
        raise ProjectRequired()
    try:
        return access_project(request.user, slug=slug)
    except Http404:
        raise exceptions.NotFound("No such project.") from None


class UnparsableBody(QueryError):
    """A body that is not JSON: a 400 in the documented shape (`field` empty: the body)."""

    code = "parse_error"


def body_of(request):
    """The parsed JSON body. DRF's ParseError would answer without `field`, which the 400 documents."""
    try:
        return request.data
    except exceptions.ParseError as error:
        raise UnparsableBody("", str(error.detail)) from None


def invalid_query(error: QueryError) -> Response:
    code = getattr(error, "code", "invalid_query")
    return Response({"code": code, "field": error.field, "message": error.message}, status=400)


def query_view(view):
    """The query API's authentication (a secret key, or a session) and permission."""
    view = permission_classes([permissions.IsAuthenticated, QueryReader])(view)
    return authentication_classes([ApiKeyAuthentication, SessionAuthentication])(view)


# --- documentation: definitions ----------------------------------------------------------------------


class QueryFilterSerializer(serializers.Serializer):
    property = serializers.CharField(help_text="The property's name (`plan`, `$browser`, `country`).")
    operator = serializers.ChoiceField(OPERATORS, default="eq")
    value = serializers.JSONField(
        required=False,
        help_text="A string, number or boolean; a list (or comma-separated text) for `in` / `not_in`; "
        "a number for `gt`/`gte`/`lt`/`lte`; nothing for `is_set` / `is_not_set`.",
    )
    source = serializers.ChoiceField(
        PROPERTY_SOURCES,
        default="event",
        help_text="`event` properties, the event's `context` (browser, os, app_version...), or the `person`'s.",
    )


class QueryDateRangeSerializer(serializers.Serializer):
    range = serializers.ChoiceField(
        list(RANGES), required=False, allow_null=True, help_text='A range ending now. `"7d"` alone works too.'
    )
    date_from = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="First day (`2026-11-01`, the project's time zone) or an ISO datetime.",
    )
    date_to = serializers.CharField(
        required=False, allow_null=True, help_text="Last day, inclusive. Default: now."
    )


class QueryBreakdownSerializer(serializers.Serializer):
    property = serializers.CharField()
    source = serializers.ChoiceField(PROPERTY_SOURCES, default="event")
    limit = serializers.IntegerField(
        default=10, min_value=1, max_value=50, help_text="Top N values; the rest are `$other`."
    )


class QuerySeriesSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=200)
    math = serializers.ChoiceField(MATHS, default="count")
    property = serializers.CharField(
        required=False, allow_null=True, help_text="The numeric property of sum/avg/min/max/median/p95."
    )
    filters = QueryFilterSerializer(many=True, required=False)
    label = serializers.CharField(required=False, allow_null=True)


class TrendQuerySerializer(serializers.Serializer):
    series = QuerySeriesSerializer(many=True, help_text="1 to 10 series.")
    interval = serializers.ChoiceField(list(INTERVALS), default="day")
    date_range = QueryDateRangeSerializer(required=False)
    environment = serializers.CharField(
        required=False, allow_null=True, help_text="An environment slug; default: all."
    )
    filters = QueryFilterSerializer(many=True, required=False)
    breakdown = QueryBreakdownSerializer(required=False, allow_null=True)
    compare = serializers.BooleanField(default=False, help_text="Add the previous period's series.")


class FunnelStepSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=200)
    filters = QueryFilterSerializer(many=True, required=False)
    window_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="At most this long after the previous step (steps after the first).",
    )
    label = serializers.CharField(required=False, allow_null=True)


class FunnelExclusionSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=200)
    from_step = serializers.IntegerField(default=0, help_text="0-based.")
    to_step = serializers.IntegerField(required=False, help_text="0-based; default: from_step + 1.")
    filters = QueryFilterSerializer(many=True, required=False)


class FunnelQuerySerializer(serializers.Serializer):
    steps = FunnelStepSerializer(many=True, help_text="2 to 20 steps (an event name alone works too).")
    window_seconds = serializers.IntegerField(
        default=14 * 86400, help_text="Conversion window from the first step."
    )
    order = serializers.ChoiceField(FUNNEL_ORDERS, default="ordered")
    exclusions = FunnelExclusionSerializer(many=True, required=False)
    date_range = QueryDateRangeSerializer(required=False)
    environment = serializers.CharField(required=False, allow_null=True)
    filters = QueryFilterSerializer(many=True, required=False)
    breakdown = QueryBreakdownSerializer(required=False, allow_null=True)


class RetentionQuerySerializer(serializers.Serializer):
    cohort_event = serializers.CharField(
        help_text="An event name, or `$signup` (the person's first appearance)."
    )
    return_event = serializers.CharField()
    interval = serializers.ChoiceField(RETENTION_INTERVALS, default="day")
    periods = serializers.IntegerField(
        required=False, min_value=1, max_value=52, help_text="Default 7 days / 8 weeks."
    )
    date_range = QueryDateRangeSerializer(required=False, help_text="The cohorts' range; default 30d.")
    environment = serializers.CharField(required=False, allow_null=True)
    cohort_filters = QueryFilterSerializer(many=True, required=False)
    return_filters = QueryFilterSerializer(many=True, required=False)
    filters = QueryFilterSerializer(many=True, required=False)


# --- documentation: results --------------------------------------------------------------------------


class TrendSeriesResultSerializer(serializers.Serializer):
    label = serializers.CharField()
    event = serializers.CharField()
    math = serializers.CharField()
    breakdown = serializers.CharField(
        allow_null=True, help_text="The breakdown value; `$other` for the rest."
    )
    is_other = serializers.BooleanField()
    compare = serializers.ChoiceField(["current", "previous"])
    values = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="One per bucket.")
    total = serializers.FloatField(
        allow_null=True, help_text="Over the whole range (unique counts are not sums)."
    )
    source = serializers.CharField(help_text="`rollups` or `events`: where the numbers came from.")


class TrendResultSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="`rollups` or `events`: where the numbers came from.")
    interval = serializers.CharField()
    timezone = serializers.CharField()
    date_from = serializers.DateTimeField()
    date_to = serializers.DateTimeField(help_text="Exclusive.")
    buckets = serializers.ListField(child=serializers.DateTimeField())
    previous_buckets = serializers.ListField(child=serializers.DateTimeField())
    series = TrendSeriesResultSerializer(many=True)
    query = TrendQuerySerializer(help_text="The definition as Beacon read it (defaults filled in).")


class FunnelStepResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    event = serializers.CharField()
    count = serializers.IntegerField()
    conversion_from_first = serializers.FloatField(help_text="0 to 1.")
    conversion_from_previous = serializers.FloatField()
    drop_off = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)


class FunnelGroupResultSerializer(serializers.Serializer):
    breakdown = serializers.CharField(allow_null=True)
    is_other = serializers.BooleanField()
    conversion = serializers.FloatField()
    median_total_seconds = serializers.FloatField(allow_null=True)
    steps = FunnelStepResultSerializer(many=True)


class FunnelResultSerializer(serializers.Serializer):
    source = serializers.CharField(
        help_text="`events` (computed now) or `precomputed` (a saved funnel's row)."
    )
    order = serializers.CharField()
    window_seconds = serializers.IntegerField()
    date_from = serializers.DateTimeField()
    date_to = serializers.DateTimeField()
    computed_at = serializers.DateTimeField()
    conversion = serializers.FloatField()
    median_total_seconds = serializers.FloatField(allow_null=True)
    steps = FunnelStepResultSerializer(many=True)
    breakdowns = FunnelGroupResultSerializer(many=True)
    query = FunnelQuerySerializer()


class RetentionCohortResultSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    size = serializers.IntegerField()
    counts = serializers.ListField(
        child=serializers.IntegerField(allow_null=True), help_text="null: not elapsed yet."
    )
    rates = serializers.ListField(child=serializers.FloatField(allow_null=True))


class RetentionResultSerializer(serializers.Serializer):
    interval = serializers.CharField()
    periods = serializers.IntegerField()
    timezone = serializers.CharField()
    date_from = serializers.DateTimeField()
    date_to = serializers.DateTimeField()
    cohort_event = serializers.CharField()
    return_event = serializers.CharField()
    average_rates = serializers.ListField(child=serializers.FloatField(allow_null=True))
    cohorts = RetentionCohortResultSerializer(many=True)
    query = RetentionQuerySerializer()


class SavedInsightResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(InsightKind.values)
    name = serializers.CharField()
    description = serializers.CharField()
    query = serializers.DictField(help_text="The saved definition.")
    result = serializers.DictField(
        help_text="As the matching query endpoint answers (without `query`); a KPI card's: value, "
        "previous_value, change, status (on / below / above / no_target / no_data), target, lower, "
        "upper, sparkline."
    )


class QueryErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="`invalid_query`, or `parse_error` for a body that is not JSON.")
    field = serializers.CharField(
        help_text="The field at fault, as a path (`series.0.property`); empty for the body."
    )
    message = serializers.CharField()


class ApiErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


PROJECT_PARAMETER = OpenApiParameter(
    "project",
    str,
    description="With a session (logged-in member): the project's slug, required. With a secret key: optional, "
    "and must be the key's project.",
)


def _errors(bad_request: str) -> dict:
    return {
        400: OpenApiResponse(QueryErrorSerializer, description=bad_request),
        401: OpenApiResponse(ApiErrorSerializer, description="No key; an unknown, revoked or expired key."),
        403: OpenApiResponse(
            ApiErrorSerializer, description="A write key, or a session POST without its CSRF token."
        ),
        404: OpenApiResponse(ApiErrorSerializer, description="No such project (or not yours)."),
    }


_BAD_DEFINITION = "The definition cannot run: `field` names what is wrong."
_RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-07"}


# --- the endpoints -----------------------------------------------------------------------------------


@extend_schema(
    tags=["query"],
    operation_id="query_trends",
    parameters=[PROJECT_PARAMETER],
    request=TrendQuerySerializer,
    responses={200: TrendResultSerializer, **_errors(_BAD_DEFINITION)},
    examples=[
        OpenApiExample(
            "Daily purchases and buyers, with the week before",
            request_only=True,
            value={
                "series": [
                    {"event": "Order Completed", "math": "count"},
                    {"event": "Order Completed", "math": "users", "label": "Buyers"},
                ],
                "interval": "day",
                "date_range": {"range": "7d"},
                "environment": "production",
                "filters": [{"property": "plan", "operator": "in", "value": ["pro", "team"]}],
                "compare": True,
            },
        ),
        OpenApiExample(
            "Revenue by plan",
            request_only=True,
            value={
                "series": [{"event": "Order Completed", "math": "sum", "property": "amount"}],
                "date_range": _RANGE,
                "breakdown": {"property": "plan", "limit": 5},
            },
        ),
        OpenApiExample(
            "A trend",
            response_only=True,
            value={
                "source": "rollups",
                "interval": "day",
                "timezone": "UTC",
                "date_from": "2026-11-01T00:00:00+00:00",
                "date_to": "2026-11-03T00:00:00+00:00",
                "buckets": ["2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"],
                "previous_buckets": [],
                "series": [
                    {
                        "label": "Order Completed",
                        "event": "Order Completed",
                        "math": "count",
                        "breakdown": None,
                        "is_other": False,
                        "compare": "current",
                        "values": [42.0, 57.0],
                        "total": 99.0,
                        "source": "rollups",
                    }
                ],
                "query": {
                    "series": [
                        {
                            "event": "Order Completed",
                            "math": "count",
                            "property": None,
                            "filters": [],
                            "label": None,
                        }
                    ],
                    "interval": "day",
                    "date_range": {"range": None, "date_from": "2026-11-01", "date_to": "2026-11-02"},
                    "environment": None,
                    "filters": [],
                    "breakdown": None,
                    "compare": False,
                },
            },
        ),
    ],
)
@api_view(["POST"])
@parser_classes([JSONParser])
@query_view
def query_trends(request):
    """A trend: counts, unique users or sessions, or an aggregate of a numeric property, per bucket,
    with filters, a breakdown and the previous period. Results are cached for up to 30 seconds."""
    project = project_of_request(request)
    try:
        definition = parse_trend(body_of(request))
        result = cached_trend(project, definition)
    except QueryError as error:
        return invalid_query(error)
    return Response({**result.as_json(), "query": to_json(definition)})


@extend_schema(
    tags=["query"],
    operation_id="query_funnels",
    parameters=[PROJECT_PARAMETER],
    request=FunnelQuerySerializer,
    responses={200: FunnelResultSerializer, **_errors(_BAD_DEFINITION)},
    examples=[
        OpenApiExample(
            "Sign-up to purchase within a week",
            request_only=True,
            value={
                "steps": [
                    {"event": "Signed Up"},
                    {"event": "Product Viewed", "filters": [{"property": "category", "value": "shoes"}]},
                    {"event": "Order Completed"},
                ],
                "window_seconds": 604800,
                "order": "ordered",
                "exclusions": [{"event": "Order Cancelled", "from_step": 1, "to_step": 2}],
                "date_range": {"range": "30d"},
                "breakdown": {"property": "browser", "source": "context"},
            },
        ),
        OpenApiExample(
            "A funnel",
            response_only=True,
            value={
                "source": "events",
                "order": "ordered",
                "window_seconds": 604800,
                "date_from": "2026-10-14T00:00:00+00:00",
                "date_to": "2026-11-14T00:00:00+00:00",
                "computed_at": "2026-11-13T10:00:00+00:00",
                "conversion": 0.25,
                "median_total_seconds": 5400.0,
                "steps": [
                    {
                        "name": "Signed Up",
                        "event": "Signed Up",
                        "count": 400,
                        "conversion_from_first": 1.0,
                        "conversion_from_previous": 1.0,
                        "drop_off": 0,
                        "median_seconds": None,
                        "p90_seconds": None,
                    },
                    {
                        "name": "Order Completed",
                        "event": "Order Completed",
                        "count": 100,
                        "conversion_from_first": 0.25,
                        "conversion_from_previous": 0.25,
                        "drop_off": 300,
                        "median_seconds": 5400.0,
                        "p90_seconds": 86000.0,
                    },
                ],
                "breakdowns": [],
                "query": {
                    "steps": [
                        {"event": "Signed Up", "filters": [], "window_seconds": None, "label": None},
                        {"event": "Order Completed", "filters": [], "window_seconds": None, "label": None},
                    ],
                    "window_seconds": 604800,
                    "order": "ordered",
                    "exclusions": [],
                    "date_range": {"range": "30d", "date_from": None, "date_to": None},
                    "environment": None,
                    "filters": [],
                    "breakdown": None,
                },
            },
        ),
    ],
)
@api_view(["POST"])
@parser_classes([JSONParser])
@query_view
def query_funnels(request):
    """A funnel: per step, the people who reached it (from any entry into step 1 whose later steps
    fall inside the window), conversion from the first and the previous step, drop-off and times."""
    project = project_of_request(request)
    try:
        definition = parse_funnel(body_of(request))
        result = run_funnel(project, definition)
    except QueryError as error:
        return invalid_query(error)
    return Response({**result.as_json(), "query": to_json(definition)})


@extend_schema(
    tags=["query"],
    operation_id="query_retention",
    parameters=[PROJECT_PARAMETER],
    request=RetentionQuerySerializer,
    responses={200: RetentionResultSerializer, **_errors(_BAD_DEFINITION)},
    examples=[
        OpenApiExample(
            "Weekly retention of new users",
            request_only=True,
            value={
                "cohort_event": "$signup",
                "return_event": "App Opened",
                "interval": "week",
                "periods": 8,
                "date_range": {"range": "90d"},
                "environment": "production",
            },
        ),
        OpenApiExample(
            "A retention table",
            response_only=True,
            value={
                "interval": "day",
                "periods": 2,
                "timezone": "UTC",
                "date_from": "2026-11-10T00:00:00+00:00",
                "date_to": "2026-11-12T00:00:00+00:00",
                "cohort_event": "Signed Up",
                "return_event": "App Opened",
                "average_rates": [1.0, 0.5, 0.25],
                "cohorts": [
                    {
                        "start": "2026-11-10T00:00:00+00:00",
                        "size": 4,
                        "counts": [4, 2, 1],
                        "rates": [1.0, 0.5, 0.25],
                    },
                    {
                        "start": "2026-11-11T00:00:00+00:00",
                        "size": 2,
                        "counts": [2, 1, None],
                        "rates": [1.0, 0.5, None],
                    },
                ],
                "query": {
                    "cohort_event": "Signed Up",
                    "return_event": "App Opened",
                    "interval": "day",
                    "periods": 2,
                    "date_range": {"range": None, "date_from": "2026-11-10", "date_to": "2026-11-11"},
                    "environment": None,
                    "cohort_filters": [],
                    "return_filters": [],
                    "filters": [],
                },
            },
        ),
    ],
)
@api_view(["POST"])
@parser_classes([JSONParser])
@query_view
def query_retention(request):
    """Retention: cohorts by first occurrence of an event (or first appearance, `$signup`), and the
    share of each coming back with another event, per day or week after."""
    project = project_of_request(request)
    try:
        definition = parse_retention(body_of(request))
        result = run_retention(project, definition)
    except QueryError as error:
        return invalid_query(error)
    return Response({**result.as_json(), "query": to_json(definition)})


@extend_schema(
    tags=["query"],
    operation_id="saved_insight_result",
    parameters=[PROJECT_PARAMETER, OpenApiParameter("insight_id", int, OpenApiParameter.PATH)],
    responses={
        200: SavedInsightResultSerializer,
        **_errors("The saved definition cannot run any more (an environment was removed, ...)."),
    },
    examples=[
        OpenApiExample(
            "A KPI card",
            response_only=True,
            value={
                "id": 12,
                "kind": "kpi",
                "name": "Weekly buyers",
                "description": "",
                "query": {"series": {"event": "Order Completed", "math": "users"}, "target": 500},
                "result": {
                    "label": "Order Completed (users)",
                    "value": 540.0,
                    "previous_value": 480.0,
                    "change": 0.125,
                    "status": "on",
                    "target": 500.0,
                    "lower": None,
                    "upper": None,
                    "higher_is_better": True,
                    "sparkline": [70.0, 81.0, 77.0, 90.0, 88.0, 64.0, 70.0, 12.0],
                    "source": "rollups",
                },
            },
        )
    ],
)
@api_view(["GET"])
@query_view
def insight_result(request, insight_id: int):
    """A saved insight of the project (trend, funnel, retention or KPI card) and its current result;
    a saved funnel answers from its precomputed result."""
    project = project_of_request(request)
    insight = Insight.objects.filter(id=insight_id, project=project).first()
    if insight is None:
        raise exceptions.NotFound("No such insight in this project.")
    try:
        result = result_of(project, insight).as_json()
    except QueryError as error:
        return invalid_query(error)
    return Response(
        {
            "id": insight.id,
            "kind": insight.kind,
            "name": insight.name,
            "description": insight.description,
            "query": insight.query,
            "result": result,
        }
    )
