"""One of every object a project page can name in its URL, for the isolation and CSP tests.

``url_kwargs(world, route_kwargs)`` fills a route's keyword arguments from a World, so a test can
build any project URL from the resolver alone.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from analytics.datajobs import do_request_export
from analytics.insights.actions import do_add_tile, do_create_dashboard, do_save_insight
from analytics.plan.actions import do_add_property, do_create_event
from analytics.plan.models import PropertyGroup
from analytics.verification.debug import do_add_test_case, do_start_session
from analytics.verification.releases import do_declare_release
from projects.actions import do_create_api_key
from projects.models import ApiKeyKind, Invitation, Project, Role
from tests.alerts.factories import make_channel, make_fired_event, make_rule

TWO_DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}
TREND = {"series": [{"event": "purchase"}], "date_range": TWO_DAYS}


@dataclass
class World:
    """A project and the ids of its objects, keyed by the URL keyword argument that names them."""

    project: Project
    ids: dict[str, int | str] = field(default_factory=dict)
    raw_keys: dict[str, str] = field(default_factory=dict)


def build_world(project: Project, owner) -> World:
    """Every kind of object of ``project``, created through the actions the pages use."""
    production = project.environments.get(slug="production")
    event = do_create_event(project=project, name="purchase", acting_user=owner)
    do_add_property(owner=event, name="amount", values={"type": "number"}, acting_user=owner)
    prop = event.properties.get(name="amount")
    group = PropertyGroup.objects.create(project=project, name="product")
    case = do_add_test_case(
        event=event, description="fires once", kind="fires", config={"min": 1}, acting_user=owner
    )
    session = do_start_session(
        project=project,
        environment=production,
        device_id="device-1",
        label="",
        app_url="",
        events=[],
        duration=timedelta(hours=1),
        acting_user=owner,
    )
    release = do_declare_release(
        project=project, environment=production, app_version="1.0", acting_user=owner
    )
    insight = do_save_insight(project=project, kind="trend", name="Purchases", query=TREND, acting_user=owner)
    dashboard = do_create_dashboard(project=project, name="Shop", refresh_seconds=0, acting_user=owner)
    tile = do_add_tile(dashboard=dashboard, insight=insight, acting_user=owner)
    channel = make_channel(project, "webhook", {"url": "https://hooks.example.com/x", "secret": "s" * 20})
    rule = make_rule(project, channels=[channel])
    alert_event = make_fired_event(rule)
    write_key, raw_write = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    secret_key, raw_secret = do_create_api_key(
        environment=production, kind=ApiKeyKind.SECRET, acting_user=owner
    )
    export_job = do_request_export(
        project=project,
        environment=production,
        start_date=timezone.localdate(),
        end_date=timezone.localdate(),
        event="",
        file_format="csv",
        acting_user=owner,
    )
    organization = project.organization
    membership = organization.memberships.exclude(role=Role.OWNER).first() or organization.memberships.first()
    invitation = Invitation.objects.create(
        organization=organization,
        email=f"invitee-{project.id}@example.com",
        role=Role.MEMBER,
        invited_by=owner,
        token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    ids = {
        "slug": project.slug,
        "org_slug": organization.slug,
        "environment_slug": "staging",
        "event_id": event.id,
        "event_definition_id": event.id,
        "prop_id": prop.id,
        "group_id": group.id,
        "number": project.plan_versions.order_by("number").first().number,
        "case_id": case.id,
        "session_id": session.id,
        "release_id": release.id,
        "insight_id": insight.id,
        "dashboard_id": dashboard.id,
        "tile_id": tile.id,
        "rule_id": rule.id,
        "channel_id": channel.id,
        "alert_event_id": alert_event.id,
        "key_id": write_key.id,
        "secret_key_id": secret_key.id,
        "membership_id": membership.id,
        "invitation_id": invitation.id,
        "job_id": export_job.id,
        "format_name": "json",
        "language": "typescript",
        "entry_id": "1-0",
        "index": 0,
    }
    return World(project=project, ids=ids, raw_keys={"write": raw_write, "secret": raw_secret})


def url_kwargs(world: World, names) -> dict:
    return {name: world.ids[name] for name in names}
