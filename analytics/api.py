"""The query API: read with a secret key."""

from datetime import UTC, datetime, timedelta

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from analytics.plan import codegen
from analytics.plan.snapshot import export_plan
from analytics.queries.counts import rollup_counts
from analytics.query_api import PROJECT_PARAMETER, QueryReader, project_of_request
from projects.authentication import ApiKeyAuthentication
from projects.models import Environment, Project


class ReadKeyRequired(permissions.BasePermission):
    message = "A write key can only send events; reading needs a secret key of this project."

    def has_permission(self, request, view):
        return request.auth is not None and request.auth.can_read()


@extend_schema(
    tags=["query"],
    responses=inline_serializer(
        "KeyInfo",
        {
            "project": serializers.CharField(),
            "environment": serializers.CharField(),
            "kind": serializers.ChoiceField(["write", "secret"]),
            "can_read": serializers.BooleanField(),
            "expires_at": serializers.DateTimeField(allow_null=True),
        },
    ),
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([permissions.IsAuthenticated])
def key_info(request):
    """What the presented key may do: its project, environment and kind."""
    key = request.auth
    project = Project.objects.only("slug").get(id=key.project_id)
    return Response(
        {
            "project": project.slug,
            "environment": key.environment_slug,
            "kind": key.kind,
            "can_read": key.can_read(),
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        }
    )


@extend_schema(
    tags=["query"],
    parameters=[
        OpenApiParameter("days", int, description="1 to 90 (default 7)."),
        OpenApiParameter("environment", str, description="An environment slug of the key's project."),
        PROJECT_PARAMETER,
    ],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication, SessionAuthentication])
@permission_classes([permissions.IsAuthenticated, QueryReader])
def event_counts(request):
    """Events, unique users and sessions per day and event name, for the key's project (or, with a
    session, the project ``?project=<slug>`` names).

    ``?days=7`` (1 to 90); ``?environment=<slug>`` to narrow to one environment of the project.
    """
    project = project_of_request(request)
    try:
        days = int(request.query_params.get("days", 7))
    except ValueError:
        raise exceptions.ValidationError({"days": "An integer from 1 to 90."}) from None
    if not 1 <= days <= 90:
        raise exceptions.ValidationError({"days": "An integer from 1 to 90."})
    environment_id = None
    if slug := request.query_params.get("environment"):
        environment = Environment.objects.filter(project_id=project.id, slug=slug).first()
        if environment is None:
            raise exceptions.NotFound(f"This project has no environment {slug!r}.")
        environment_id = environment.id
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    rows = rollup_counts(
        project_id=project.id,
        start=end - timedelta(days=days),
        end=end,
        grain="day",
        environment_id=environment_id,
    )
    return Response(
        {
            "source": "rollups",
            "results": [
                {
                    "day": row.bucket.date().isoformat(),
                    "event": row.event,
                    "events": row.events,
                    "users": row.users,
                    "sessions": row.sessions,
                }
                for row in rows
            ],
        }
    )


# --- the tracking plan, and typed wrappers generated from it -----------------------------------------


class _JsonErrorsWhateverTheAccept(BaseContentNegotiation):
    """`Accept: text/x-python` must not turn into 406: the module is a plain HttpResponse, and any
    error (401, 403) is JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _any_accept(view):
    view.content_negotiation_class = _JsonErrorsWhateverTheAccept
    return view


@extend_schema(
    tags=["plan"],
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="The plan as a snapshot (`format`, `events`, `property_groups`); the version "
            "is in the `X-Beacon-Plan-Version` header.",
        )
    },
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([permissions.IsAuthenticated, ReadKeyRequired])
def plan_snapshot(request):
    """The key's project's tracking plan as JSON: every event and property group (for CI checks)."""
    version = Project.objects.values_list("plan_version", flat=True).get(id=request.auth.project_id)
    return Response(export_plan(request.auth.project_id), headers={"X-Beacon-Plan-Version": str(version)})


_MODULE_DESCRIPTION = (
    "The module, as an attachment (`{filename}`); the plan version is in the `X-Beacon-Plan-Version` header."
)


def _codegen_response(request, language: str) -> HttpResponse:
    project = Project.objects.get(id=request.auth.project_id)
    response = HttpResponse(codegen.generate(project, language), content_type=codegen.CONTENT_TYPES[language])
    response["Content-Disposition"] = f'attachment; filename="{codegen.filename(project, language)}"'
    response["X-Beacon-Plan-Version"] = str(project.plan_version)
    return response


@extend_schema(
    tags=["plan"],
    responses={
        (200, "application/typescript"): OpenApiResponse(
            OpenApiTypes.STR, description=_MODULE_DESCRIPTION.format(filename="beacon-<project slug>.ts")
        )
    },
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([permissions.IsAuthenticated, ReadKeyRequired])
@_any_accept
def plan_codegen_typescript(request):
    """Typed TypeScript wrappers of the key's project's plan: an interface and a function per event,
    sending through the browser SDK (`window.beacon`) or any client with `track(event, properties)`."""
    return _codegen_response(request, "typescript")


@extend_schema(
    tags=["plan"],
    responses={
        (200, "text/x-python"): OpenApiResponse(
            OpenApiTypes.STR, description=_MODULE_DESCRIPTION.format(filename="beacon_<project slug>.py")
        )
    },
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([permissions.IsAuthenticated, ReadKeyRequired])
@_any_accept
def plan_codegen_python(request):
    """Typed Python wrappers of the key's project's plan: a TypedDict and a function per event,
    sending through any client with `track(event, properties)`."""
    return _codegen_response(request, "python")
