from datetime import timedelta

import pytest
from django.utils import timezone

from projects import actions
from projects.models import ApiKeyKind, AuditLogEntry, Invitation, Membership, Role
from tests.conftest import make_project, make_user

pytestmark = pytest.mark.django_db


def test_signup_creates_the_owner_organization_project_environments_and_keys():
    user, project, new_keys = actions.do_signup(
        email=" Ada@Example.com ", password="x-long-pass-123", organization_name="Ada Co"
    )
    assert user.email == "ada@example.com"
    assert user.password.startswith("argon2")
    assert Membership.objects.get(user=user).role == Role.OWNER
    assert sorted(project.environments.values_list("slug", flat=True)) == [
        "development",
        "production",
        "staging",
    ]
    assert set(new_keys) == {ApiKeyKind.WRITE, ApiKeyKind.SECRET}
    assert project.api_keys.filter(environment__slug="production").count() == 2
    logged = set(
        AuditLogEntry.objects.filter(organization=project.organization).values_list("action", flat=True)
    )
    assert {"organization.created", "project.created", "api_key.created"} <= logged


def test_the_last_owner_cannot_be_demoted_or_removed(project, owner):
    membership = Membership.objects.get(user=owner, organization=project.organization)
    with pytest.raises(actions.ActionRefused, match="at least one owner"):
        actions.do_change_role(membership=membership, role=Role.ADMIN, acting_user=owner)
    with pytest.raises(actions.ActionRefused, match="last owner"):
        actions.do_remove_member(membership=membership, acting_user=owner)


def test_with_two_owners_one_can_leave(project, owner, member):
    other = Membership.objects.get(user=member, organization=project.organization)
    actions.do_change_role(membership=other, role=Role.OWNER, acting_user=owner)
    actions.do_remove_member(
        membership=Membership.objects.get(user=owner, organization=project.organization), acting_user=member
    )
    owners = project.organization.memberships.filter(role=Role.OWNER).values_list("user", flat=True)
    assert list(owners) == [member.id]


def test_role_changes_are_audited_with_before_and_after(project, owner, member):
    membership = Membership.objects.get(user=member, organization=project.organization)
    actions.do_change_role(membership=membership, role=Role.VIEWER, acting_user=owner)
    entry = AuditLogEntry.objects.filter(action="member.role_changed").latest("id")
    assert (entry.before, entry.after, entry.actor) == ({"role": "member"}, {"role": "viewer"}, owner)


def _invite(project, owner, email="new@example.com", role=Role.VIEWER):
    links = []
    invitation = actions.do_invite(
        organization=project.organization,
        email=email,
        role=role,
        acting_user=owner,
        accept_url_for=lambda token: links.append(token) or f"https://beacon.test/invitations/{token}/",
    )
    return invitation, links[0]


def test_an_invitation_is_found_by_its_token_and_accepted_by_its_email(project, owner):
    invitation, token = _invite(project, owner)
    assert actions.find_invitation(token) == invitation
    assert actions.find_invitation("wrong-token") is None
    newcomer = make_user("newcomer")
    newcomer.email = "new@example.com"
    newcomer.save()
    membership = actions.do_accept_invitation(invitation=invitation, user=newcomer)
    assert membership.role == Role.VIEWER
    with pytest.raises(actions.ActionRefused, match="already used"):
        actions.do_accept_invitation(invitation=invitation, user=newcomer)


def test_an_invitation_refuses_another_email_and_expires(project, owner, outsider):
    invitation, _ = _invite(project, owner)
    with pytest.raises(actions.ActionRefused, match="is for new@example.com"):
        actions.do_accept_invitation(invitation=invitation, user=outsider)
    Invitation.objects.filter(id=invitation.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    invitation.refresh_from_db()
    assert not invitation.is_open()


def test_inviting_a_member_again_is_refused(project, owner, member):
    with pytest.raises(actions.ActionRefused, match="already a member"):
        _invite(project, owner, email=member.email)


def test_the_invitation_mail_carries_the_link(project, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _, token = _invite(project, owner)
    assert len(mailoutbox) == 1
    assert f"https://beacon.test/invitations/{token}/" in mailoutbox[0].body
    assert mailoutbox[0].to == ["new@example.com"]


def test_key_rotation_is_audited_and_bounded(project, owner):
    production = project.environments.get(slug="production")
    key, _ = actions.do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    with pytest.raises(actions.ActionRefused, match="0 to 7 days"):
        actions.do_rotate_api_key(key=key, grace_days=8, acting_user=owner)
    new_key, _ = actions.do_rotate_api_key(key=key, grace_days=3, acting_user=owner)
    entry = AuditLogEntry.objects.filter(action="api_key.rotated").latest("id")
    assert entry.before["expires_at"] is None
    assert entry.after["replaced_by"] == new_key.prefix
    with pytest.raises(actions.ActionRefused, match="already rotated"):
        actions.do_rotate_api_key(key=key, grace_days=1, acting_user=owner)


def test_settings_changes_are_validated_and_audited(project, owner):
    actions.do_update_project_settings(
        project=project, acting_user=owner, timezone="Asia/Shanghai", retention_days=30
    )
    entry = AuditLogEntry.objects.filter(action="project.updated").latest("id")
    assert entry.before["timezone"] == "UTC" and entry.after["timezone"] == "Asia/Shanghai"
    assert entry.after["retention_days"] == 30
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        actions.do_update_project_settings(project=project, acting_user=owner, timezone="Mars/Olympus")


def test_deleting_a_project_revokes_its_keys_and_deletes_its_events(
    owner, store, django_capture_on_commit_callbacks
):
    from analytics.storage import get_store
    from config.celery import app
    from tests.analytics.events import event

    project = make_project(owner=owner)
    production = project.environments.get(slug="production")
    _, raw = actions.do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    get_store().insert_events([event(project, time=timezone.now() - timedelta(hours=1))])
    project_id = project.id
    app.conf.task_always_eager = True  # run the real task inline instead of through a worker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_delete_project(project=project, acting_user=owner)
    finally:
        app.conf.task_always_eager = False
    from django.db import connection

    from projects.keys import authenticate_key

    assert authenticate_key(raw) is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE project_id = %s", [project_id])
        assert cursor.fetchone() == (0,)
    assert AuditLogEntry.objects.filter(action="project.deleted", target_id=str(project_id)).exists()
