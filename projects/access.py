"""The one path from a user to tenant data. Missing and forbidden look the same: 404."""

from django.http import Http404

from projects.models import ROLE_RANK, Membership, Organization, Project, Role


def projects_for(user):
    """Every project the user may see, through a membership of its organization."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(organization__memberships__user=user)


def access_project(user, *, slug: str, min_role: Role = Role.VIEWER) -> Project:
    if not user.is_authenticated:
        raise Http404("No such project.")
    allowed_roles = roles_at_least(min_role)
    # TRICKY: user and role in ONE filter() call, so both conditions apply to the same membership
    # row; chained filter() calls on a multi-valued relation join it twice and would accept another
    # member's role.
    project = (
        Project.objects.filter(
            slug=slug,
            organization__memberships__user=user,
            organization__memberships__role__in=allowed_roles,
        )
        .select_related("organization")
        .first()
    )
    if project is None:
        raise Http404("No such project.")
    return project


def roles_at_least(min_role: Role) -> list[str]:
    return [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[min_role]]


def access_organization(user, *, slug: str, min_role: Role = Role.VIEWER) -> tuple[Organization, Membership]:
    """The organization and the user's membership, if the role suffices; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404("No such organization.")
    membership = (
        Membership.objects.filter(user=user, organization__slug=slug, role__in=roles_at_least(min_role))
        .select_related("organization")
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership.organization, membership


def role_in(user, organization: Organization) -> str | None:
    membership = Membership.objects.filter(user=user, organization=organization).first()
    return membership.role if membership else None


def has_role(role: str | None, min_role: Role) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[min_role]
