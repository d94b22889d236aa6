"""Every page and action, for the owner, an admin, a member, a viewer and an outsider."""

import pytest
from django.urls import reverse

from projects.actions import do_create_api_key
from projects.models import ApiKey, ApiKeyKind, AuditLogEntry, Invitation, Membership, Role

pytestmark = pytest.mark.django_db

READ_PAGES = ["project-overview", "project-settings", "api-keys"]


@pytest.fixture
def key(project, owner):
    key, _ = do_create_api_key(
        environment=project.environments.get(slug="production"), kind=ApiKeyKind.WRITE, acting_user=owner
    )
    return key


def project_actions(project, key):
    """(name, url, data, minimum role) of every state-changing request on a project."""
    slug = project.slug
    return [
        (
            "settings",
            reverse("project-settings", args=[slug]),
            {"name": "Renamed", "timezone": "UTC", "retention_days": 30},
            Role.ADMIN,
        ),
        ("add environment", reverse("environment-add", args=[slug]), {"name": "qa"}, Role.ADMIN),
        (
            "rename environment",
            reverse("environment-rename", args=[slug, "staging"]),
            {"name": "Pre-prod"},
            Role.ADMIN,
        ),
        (
            "create key",
            reverse("api-keys", args=[slug]),
            {"environment": project.environments.get(slug="staging").id, "kind": "write"},
            Role.ADMIN,
        ),
        ("rotate key", reverse("api-key-rotate", args=[slug, key.id]), {"grace_days": 1}, Role.ADMIN),
        ("revoke key", reverse("api-key-revoke", args=[slug, key.id]), {}, Role.ADMIN),
        ("delete project", reverse("project-delete", args=[slug]), {"confirm_slug": slug}, Role.ADMIN),
    ]


@pytest.mark.parametrize("page", READ_PAGES)
def test_every_member_can_read_the_project_pages_and_an_outsider_gets_404(
    client, project, viewer, outsider, page
):
    client.force_login(viewer)
    assert client.get(reverse(page, args=[project.slug])).status_code == 200
    client.force_login(outsider)
    assert client.get(reverse(page, args=[project.slug])).status_code == 404


@pytest.mark.parametrize("who", ["outsider", "viewer", "member"])
def test_nobody_below_admin_can_change_a_project(client, project, key, request, who):
    client.force_login(request.getfixturevalue(who))
    for name, url, data, _ in project_actions(project, key):
        response = client.post(url, data)
        assert response.status_code == 404, f"{who} could {name}"
    project.refresh_from_db()
    assert project.name != "Renamed"
    assert ApiKey.objects.get(id=key.id).status() == "active"
    assert not project.environments.filter(slug="qa").exists()


def test_an_admin_can_change_a_project(client, project, key, admin_user):
    client.force_login(admin_user)
    responses = {name: client.post(url, data) for name, url, data, _ in project_actions(project, key)}
    assert all(r.status_code in (200, 302) for r in responses.values()), {
        n: r.status_code for n, r in responses.items()
    }
    assert not type(project).objects.filter(id=project.id).exists()


def test_creating_a_key_shows_it_once_with_snippets(client, project, owner):
    client.force_login(owner)
    staging = project.environments.get(slug="staging")
    response = client.post(
        reverse("api-keys", args=[project.slug]), {"environment": staging.id, "kind": "write", "name": "web"}
    )
    assert response.status_code == 302  # a reload of the next page cannot create a second key
    key = ApiKey.objects.get(project=project, name="web")
    body = client.get(response["Location"]).content.decode()
    raw = body.split('id="raw-key-write">')[1].split("<")[0]
    assert raw.startswith(key.prefix) and len(raw) == 38
    assert 'id="snippet-card-browser"' in body and "staging" in body
    assert raw not in client.get(reverse("api-keys", args=[project.slug])).content.decode()


def test_a_new_project_shows_its_keys_once(client, owner, project):
    client.force_login(owner)
    response = client.post(
        reverse("project-create"),
        {"name": "Mobile app", "timezone": "Europe/Paris", "organization": project.organization.slug},
    )
    assert response.status_code == 302
    overview = client.get(response["Location"]).content.decode()
    assert "Copy your new write key now" in overview and "Copy your new secret key now" in overview
    assert "Copy your new write key now" not in client.get(response["Location"]).content.decode()


def test_a_member_cannot_create_projects(client, member, project):
    client.force_login(member)
    assert client.get(reverse("project-create")).status_code == 404


def test_deleting_needs_the_slug_typed(client, project, owner):
    client.force_login(owner)
    client.post(reverse("project-delete", args=[project.slug]), {"confirm_slug": "wrong"})
    assert type(project).objects.filter(id=project.id).exists()


# --- organization pages ----------------------------------------------------------------------------


def member_actions(project, viewer, invitation):
    org = project.organization.slug
    target = Membership.objects.get(user=viewer, organization=project.organization)
    return [
        ("invite", reverse("members", args=[org]), {"email": "x@example.com", "role": "member"}),
        ("change role", reverse("member-role", args=[org, target.id]), {"role": "member"}),
        ("revoke invitation", reverse("invitation-revoke", args=[org, invitation.id])),
        ("remove member", reverse("member-remove", args=[org, target.id]), {}),
    ]


@pytest.fixture
def invitation(project, owner):
    from projects.actions import do_invite

    return do_invite(
        organization=project.organization,
        email="pending@example.com",
        role=Role.VIEWER,
        acting_user=owner,
        accept_url_for=lambda token: f"/invitations/{token}/",
    )


@pytest.mark.parametrize("who", ["outsider", "viewer", "member"])
def test_nobody_below_admin_can_manage_members(client, project, viewer, invitation, request, who):
    client.force_login(request.getfixturevalue(who))
    for name, url, *data in member_actions(project, viewer, invitation):
        assert client.post(url, data[0] if data else {}).status_code == 404, f"{who} could {name}"
    assert Membership.objects.get(user=viewer, organization=project.organization).role == Role.VIEWER


def test_members_page_and_audit_log_visibility(client, project, viewer, admin_user, outsider):
    org = project.organization.slug
    client.force_login(viewer)
    assert client.get(reverse("members", args=[org])).status_code == 200
    assert client.get(reverse("audit-log", args=[org])).status_code == 404
    client.force_login(admin_user)
    assert client.get(reverse("audit-log", args=[org])).status_code == 200
    client.force_login(outsider)
    assert client.get(reverse("members", args=[org])).status_code == 404


def test_an_admin_cannot_make_an_owner_but_an_owner_can(client, project, owner, admin_user, viewer):
    org = project.organization.slug
    target = Membership.objects.get(user=viewer, organization=project.organization)
    client.force_login(admin_user)
    response = client.post(reverse("member-role", args=[org, target.id]), {"role": "owner"})
    assert response.status_code == 400 and b"Only an owner" in response.content
    client.force_login(owner)
    assert client.post(reverse("member-role", args=[org, target.id]), {"role": "owner"}).status_code == 200
    assert Membership.objects.get(id=target.id).role == Role.OWNER


def test_the_last_owner_cannot_be_removed_from_the_page(client, project, owner):
    me = Membership.objects.get(user=owner, organization=project.organization)
    client.force_login(owner)
    response = client.post(reverse("member-remove", args=[project.organization.slug, me.id]))
    assert response.status_code == 400 and b"last owner" in response.content


def test_the_audit_log_page_lists_changes_with_before_and_after(client, project, owner, viewer):
    target = Membership.objects.get(user=viewer, organization=project.organization)
    client.force_login(owner)
    client.post(reverse("member-role", args=[project.organization.slug, target.id]), {"role": "member"})
    page = client.get(
        reverse("audit-log", args=[project.organization.slug]), {"action": "member."}
    ).content.decode()
    assert "member.role_changed" in page and "viewer" in page and owner.email in page
    assert (
        AuditLogEntry.objects.filter(organization=project.organization, action="member.role_changed").count()
        == 1
    )


def test_an_invitation_link_for_a_visitor_asks_to_log_in(client, invitation):
    response = client.get(reverse("invitation-accept", args=["not-a-token"]))
    assert response.status_code == 404
    assert Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True).exists()


# --- signup and login ------------------------------------------------------------------------------


def test_signup_logs_in_and_shows_the_first_project_with_keys(client):
    response = client.post(
        reverse("signup"),
        {"email": "grace@example.com", "password": "not-so-easy-4821", "organization_name": "Grace Inc"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Copy your new write key now" in response.content.decode()
    assert response.context["user"].email == "grace@example.com"


def test_signup_refuses_a_weak_password_and_a_taken_email(client, owner):
    response = client.post(
        reverse("signup"), {"email": owner.email, "password": "123", "organization_name": "X"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "email" in errors and "password" in errors


def test_login_by_email_is_rate_limited_per_account(client, settings):
    from tests.conftest import make_user

    user = make_user(f"ratelimit-{id(client)}")
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert client.post(reverse("login"), {"username": user.email, "password": "wrong"}).status_code == 200
    response = client.post(reverse("login"), {"username": user.email, "password": "pw-unused-123"})
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link(client, owner, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": owner.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body
