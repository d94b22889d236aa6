"""Every write to tenancy: atomic, keyword-only, and recorded in the audit log."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from projects import keys
from projects.audit import record, snapshot
from projects.models import (
    DEFAULT_ENVIRONMENTS,
    ApiKey,
    ApiKeyKind,
    Environment,
    Invitation,
    Membership,
    Organization,
    PlanPolicy,
    Project,
    Role,
)

PROJECT_SETTINGS = [
    "name",
    "timezone",
    "retention_days",
    "keep_ip",
    "naming_convention",
    "require_object_action",
]
INVITATION_DAYS = 7
MAX_GRACE_DAYS = 7


class ActionRefused(ValidationError):
    """A rule of the product refused the change (shown to the user as is)."""


def unique_slug(model, base: str, **scope) -> str:
    base = slugify(base)[:60] or "project"
    slug, number = base, 1
    while model.objects.filter(slug=slug, **scope).exists():
        number += 1
        slug = f"{base}-{number}"
    return slug


# --- signup, organizations, projects ------------------------------------------------------------


@transaction.atomic
def do_signup(*, email: str, password: str, organization_name: str, project_name: str = "My first project"):
    """A user, their organization (as owner), a first project with its environments and keys."""
    email = email.strip().lower()
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    organization = Organization.objects.create(
        name=organization_name, slug=unique_slug(Organization, organization_name)
    )
    Membership.objects.create(organization=organization, user=user, role=Role.OWNER)
    record(
        organization=organization,
        actor=user,
        action="organization.created",
        target=organization,
        after={"name": organization.name},
    )
    project, new_keys = do_create_project(organization=organization, name=project_name, acting_user=user)
    return user, project, new_keys


@transaction.atomic
def do_create_project(*, organization: Organization, name: str, acting_user, timezone_name: str = "UTC"):
    """The project, its default environments, and a write and a secret key for production.

    Returns (project, {"write": raw key, "secret": raw key}): the raw keys exist only here.
    """
    project = Project.objects.create(
        organization=organization, name=name, slug=unique_slug(Project, name), timezone=timezone_name
    )
    for slug in DEFAULT_ENVIRONMENTS:
        Environment.objects.create(project=project, slug=slug, name=slug.capitalize())
    record(
        organization=organization,
        project=project,
        actor=acting_user,
        action="project.created",
        target=project,
        after=snapshot(project, PROJECT_SETTINGS),
    )
    production = project.environments.get(slug="production")
    new_keys = {}
    for kind in (ApiKeyKind.WRITE, ApiKeyKind.SECRET):
        _, new_keys[kind] = do_create_api_key(
            environment=production, kind=kind, name=f"Default {kind} key", acting_user=acting_user
        )
    return project, new_keys


@transaction.atomic
def do_update_project_settings(*, project: Project, acting_user, **changes) -> Project:
    unknown = set(changes) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValueError(f"not project settings: {sorted(unknown)}")
    before = snapshot(project, PROJECT_SETTINGS)
    for name, value in changes.items():
        setattr(project, name, value)
    project.full_clean()
    project.save()
    after = snapshot(project, PROJECT_SETTINGS)
    if after != before:
        record(
            organization=project.organization,
            project=project,
            actor=acting_user,
            action="project.updated",
            target=project,
            before=before,
            after=after,
        )
        if after["keep_ip"] != before["keep_ip"]:
            keys.publish_project_keys(project.id)  # the keys carry the setting to ingestion
    return project


@transaction.atomic
def do_delete_project(*, project: Project, acting_user) -> None:
    from analytics.queries.console import drop_console
    from analytics.tasks import delete_project_events

    project_id, organization = project.id, project.organization
    record(
        organization=organization,
        actor=acting_user,
        action="project.deleted",
        target=project,
        before=snapshot(project, ["slug", *PROJECT_SETTINGS]),
    )
    for key in project.api_keys.filter(revoked_at__isnull=True):
        key.revoked_at = timezone.now()
        keys.publish_key_state(key)
    project.delete()
    # Raw events carry no foreign key (they live in partitions/chunks): delete them in the background.
    transaction.on_commit(lambda: delete_project_events.delay(project_id))
    transaction.on_commit(lambda: drop_console(project_id))  # its SQL console's role and views


@transaction.atomic
def do_add_environment(*, project: Project, name: str, acting_user) -> Environment:
    slug = slugify(name)
    if not slug:
        raise ActionRefused("An environment needs a name made of letters, digits or dashes.")
    if project.environments.filter(slug=slug).exists():
        raise ActionRefused(f"This project already has an environment called {slug!r}.")
    environment = Environment.objects.create(project=project, slug=slug, name=name)
    record(
        organization=project.organization,
        project=project,
        actor=acting_user,
        action="environment.created",
        target=environment,
        after={"name": name, "slug": slug},
    )
    return environment


@transaction.atomic
def do_rename_environment(*, environment: Environment, name: str, acting_user) -> Environment:
    """Renames the display name; the slug (what SDKs send as `environment`) stays, so keys keep working."""
    before = {"name": environment.name}
    environment.name = name
    environment.save(update_fields=["name"])
    record(
        organization=environment.project.organization,
        project=environment.project,
        actor=acting_user,
        action="environment.renamed",
        target=environment,
        before=before,
        after={"name": name},
    )
    return environment


@transaction.atomic
def do_set_plan_policy(*, environment: Environment, policy: str, acting_user) -> Environment:
    """What ingestion does with events that break the plan in this environment (allow/flag/block)."""
    if policy not in PlanPolicy.values:
        raise ActionRefused(f"{policy!r} is not a policy (allow, flag or block).")
    before = {"plan_policy": environment.plan_policy}
    environment.plan_policy = policy
    environment.save(update_fields=["plan_policy"])
    keys.publish_project_keys(environment.project_id)  # the keys carry the policy to ingestion
    record(
        organization=environment.project.organization,
        project=environment.project,
        actor=acting_user,
        action="environment.plan_policy",
        target=environment,
        before=before,
        after={"plan_policy": policy},
    )
    return environment


# --- members and invitations ---------------------------------------------------------------------


def _owners(organization: Organization):
    return organization.memberships.filter(role=Role.OWNER)


@transaction.atomic
def do_invite(
    *, organization: Organization, email: str, role: str, acting_user, accept_url_for
) -> Invitation:
    """Create an invitation and mail its link. ``accept_url_for(token)`` builds the absolute link."""
    email = email.strip().lower()
    if organization.memberships.filter(user__email__iexact=email).exists():
        raise ActionRefused(f"{email} is already a member of {organization.name}.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        invited_by=acting_user,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    record(
        organization=organization,
        actor=acting_user,
        action="member.invited",
        target=invitation,
        after={"email": email, "role": role},
    )
    link = accept_url_for(token)
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization.name} on Beacon",
            message=f"{acting_user.email} invited you to join {organization.name} as {role}.\n\n"
            f"Accept within {INVITATION_DAYS} days: {link}\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )
    return invitation


def find_invitation(token: str) -> Invitation | None:
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    return Invitation.objects.select_related("organization").filter(token_hash=token_hash).first()


@transaction.atomic
def do_accept_invitation(*, invitation: Invitation, user) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open():
        raise ActionRefused("This invitation has expired, was revoked, or was already used.")
    if user.email.lower() != invitation.email:
        raise ActionRefused(f"This invitation is for {invitation.email}; you are logged in as {user.email}.")
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if created:
        record(
            organization=invitation.organization,
            actor=user,
            action="member.joined",
            target=membership,
            after={"email": user.email, "role": membership.role},
        )
    return membership


@transaction.atomic
def do_revoke_invitation(*, invitation: Invitation, acting_user) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(
        organization=invitation.organization,
        actor=acting_user,
        action="invitation.revoked",
        target=invitation,
        before={"email": invitation.email, "role": invitation.role},
    )


@transaction.atomic
def do_change_role(*, membership: Membership, role: str, acting_user) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.")
    if membership.role == Role.OWNER and role != Role.OWNER:
        # TRICKY: lock every owner row so two demotions at once cannot both pass the count.
        if _owners(membership.organization).select_for_update().count() <= 1:
            raise ActionRefused("An organization needs at least one owner: make someone else owner first.")
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    record(
        organization=membership.organization,
        actor=acting_user,
        action="member.role_changed",
        target=membership,
        before=before,
        after={"role": role},
    )
    return membership


@transaction.atomic
def do_remove_member(*, membership: Membership, acting_user) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and _owners(membership.organization).select_for_update().count() <= 1:
        raise ActionRefused("The last owner cannot be removed: make someone else owner first.")
    record(
        organization=membership.organization,
        actor=acting_user,
        action="member.removed",
        target=membership,
        before={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


# --- API keys ------------------------------------------------------------------------------------

KEY_FIELDS = ["kind", "name", "prefix", "environment", "expires_at", "revoked_at"]


@transaction.atomic
def do_create_api_key(
    *, environment: Environment, kind: str, name: str = "", acting_user
) -> tuple[ApiKey, str]:
    """The new key and its raw value, which is never stored and so can be shown only now."""
    if kind not in ApiKeyKind.values:
        raise ActionRefused(f"{kind!r} is not a key kind (write or secret).")
    raw, prefix, key_hash = keys.generate_key(kind)
    key = ApiKey.objects.create(
        project=environment.project,
        environment=environment,
        kind=kind,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        created_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    record(
        organization=environment.project.organization,
        project=environment.project,
        actor=acting_user,
        action="api_key.created",
        target=key,
        after=snapshot(key, KEY_FIELDS),
    )
    return key, raw


@transaction.atomic
def do_rotate_api_key(*, key: ApiKey, grace_days: int, acting_user) -> tuple[ApiKey, str]:
    """A new key at once; the old one keeps working for ``grace_days`` (0 = stops now)."""
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ActionRefused(f"The grace period is 0 to {MAX_GRACE_DAYS} days.")
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.status() not in ("active", "rotating"):
        raise ActionRefused("Only an active key can be rotated.")
    if hasattr(key, "rotated_to"):
        raise ActionRefused("This key was already rotated; rotate its replacement instead.")
    before = snapshot(key, KEY_FIELDS)
    new_key, raw = do_create_api_key(
        environment=key.environment, kind=key.kind, name=key.name, acting_user=acting_user
    )
    new_key.rotated_from = key
    new_key.save(update_fields=["rotated_from"])
    key.expires_at = timezone.now() + timedelta(days=grace_days)
    key.save(update_fields=["expires_at"])
    keys.publish_key_state(key)
    record(
        organization=key.project.organization,
        project=key.project,
        actor=acting_user,
        action="api_key.rotated",
        target=key,
        before=before,
        after={**snapshot(key, KEY_FIELDS), "replaced_by": new_key.prefix},
    )
    return new_key, raw


@transaction.atomic
def do_revoke_api_key(*, key: ApiKey, acting_user) -> ApiKey:
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    before = snapshot(key, KEY_FIELDS)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    keys.publish_key_state(key)
    record(
        organization=key.project.organization,
        project=key.project,
        actor=acting_user,
        action="api_key.revoked",
        target=key,
        before=before,
        after=snapshot(key, KEY_FIELDS),
    )
    return key
