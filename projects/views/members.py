"""Members, invitations and the audit log of an organization."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from projects.access import access_organization, has_role
from projects.actions import (
    ActionRefused,
    do_accept_invitation,
    do_change_role,
    do_invite,
    do_remove_member,
    do_revoke_invitation,
    find_invitation,
)
from projects.forms import InviteForm, RoleForm
from projects.models import Role


def _members_page(request, organization, membership, *, invite_form=None, error=None, status=200):
    context = {
        "organization": organization,
        "my_role": membership.role,
        "can_manage": has_role(membership.role, Role.ADMIN),
        "members": organization.memberships.select_related("user").order_by("user__email"),
        "invitations": [i for i in organization.invitations.select_related("invited_by") if i.is_open()],
        "invite_form": invite_form or InviteForm(),
        "roles": Role.choices,
        "error": error,
    }
    return render(request, "projects/members.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def members(request, org_slug):
    if request.method == "GET":
        return _members_page(request, *access_organization(request.user, slug=org_slug))
    organization, membership = access_organization(request.user, slug=org_slug, min_role=Role.ADMIN)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _members_page(request, organization, membership, invite_form=form, status=400)
    if form.cleaned_data["role"] == Role.OWNER and membership.role != Role.OWNER:
        return _members_page(
            request,
            organization,
            membership,
            invite_form=form,
            status=400,
            error="Only an owner can invite another owner.",
        )
    try:
        do_invite(
            organization=organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            acting_user=request.user,
            accept_url_for=lambda token: request.build_absolute_uri(
                reverse("invitation-accept", args=[token])
            ),
        )
    except ActionRefused as refused:
        return _members_page(
            request, organization, membership, invite_form=form, error=refused.message, status=400
        )
    messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
    return redirect("members", org_slug=organization.slug)


@login_required
@require_POST
def member_role(request, org_slug, membership_id):
    organization, acting = access_organization(request.user, slug=org_slug, min_role=Role.ADMIN)
    target = get_object_or_404(organization.memberships, id=membership_id)
    form = RoleForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Choose a role."
    elif Role.OWNER in (form.cleaned_data["role"], target.role) and acting.role != Role.OWNER:
        error = "Only an owner can make or unmake an owner."
    else:
        try:
            do_change_role(membership=target, role=form.cleaned_data["role"], acting_user=request.user)
        except ActionRefused as refused:
            error = refused.message
    return _members_page(request, organization, acting, error=error, status=400 if error else 200)


@login_required
@require_POST
def member_remove(request, org_slug, membership_id):
    organization, acting = access_organization(request.user, slug=org_slug, min_role=Role.ADMIN)
    target = get_object_or_404(organization.memberships, id=membership_id)
    error = None
    if target.role == Role.OWNER and acting.role != Role.OWNER:
        error = "Only an owner can remove an owner."
    else:
        try:
            do_remove_member(membership=target, acting_user=request.user)
        except ActionRefused as refused:
            error = refused.message
    return _members_page(request, organization, acting, error=error, status=400 if error else 200)


@login_required
@require_POST
def invitation_revoke(request, org_slug, invitation_id):
    organization, acting = access_organization(request.user, slug=org_slug, min_role=Role.ADMIN)
    invitation = get_object_or_404(organization.invitations, id=invitation_id)
    do_revoke_invitation(invitation=invitation, acting_user=request.user)
    return _members_page(request, organization, acting)


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = find_invitation(token)
    if invitation is None:
        return render(request, "projects/invitation.html", {"invalid": True}, status=404)
    if not request.user.is_authenticated:
        messages.info(
            request, f"Log in or sign up as {invitation.email} to join {invitation.organization.name}."
        )
        return redirect_to_login(request.get_full_path())
    error = None
    if request.method == "POST":
        try:
            do_accept_invitation(invitation=invitation, user=request.user)
        except ActionRefused as refused:
            error = refused.message
        else:
            messages.success(request, f"You joined {invitation.organization.name}.")
            return redirect("home")
    return render(
        request,
        "projects/invitation.html",
        {"invitation": invitation, "error": error},
        status=400 if error else 200,
    )


@login_required
def audit_log(request, org_slug):
    organization, _ = access_organization(request.user, slug=org_slug, min_role=Role.ADMIN)
    entries = organization.audit_log.select_related("project")
    action = request.GET.get("action", "")
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    actions = organization.audit_log.values_list("action", flat=True).distinct().order_by("action")
    return render(
        request,
        "projects/audit_log.html",
        {"organization": organization, "page": page, "action": action, "actions": actions},
    )
