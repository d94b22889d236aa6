"""The query API: read with a secret key."""

from datetime import UTC, datetime, timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

from analytics.queries.counts import rollup_counts
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
    ],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([permissions.IsAuthenticated, ReadKeyRequired])
def event_counts(request):
    """Events, unique users and sessions per day and event name, for the key's project.

    ``?days=7`` (1 to 90); ``?environment=<slug>`` to narrow to one environment of the project.
    """
    try:
        days = int(request.query_params.get("days", 7))
    except ValueError:
        raise exceptions.ValidationError({"days": "An integer from 1 to 90."}) from None
    if not 1 <= days <= 90:
        raise exceptions.ValidationError({"days": "An integer from 1 to 90."})
    environment_id = None
    if slug := request.query_params.get("environment"):
        environment = Environment.objects.filter(project_id=request.auth.project_id, slug=slug).first()
        if environment is None:
            raise exceptions.NotFound(f"This project has no environment {slug!r}.")
        environment_id = environment.id
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    rows = rollup_counts(
        project_id=request.auth.project_id,
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
