from django.urls import path

from projects.views import account, keys, manage, members, overview

urlpatterns = [
    path("", overview.home, name="home"),
    path("signup/", account.signup, name="signup"),
    path("projects/new/", manage.project_create, name="project-create"),
    path("projects/<slug:slug>/", overview.project_overview, name="project-overview"),
    path("projects/<slug:slug>/settings/", manage.project_settings, name="project-settings"),
    path("projects/<slug:slug>/environments/", manage.environment_add, name="environment-add"),
    path(
        "projects/<slug:slug>/environments/<slug:environment_slug>/rename/",
        manage.environment_rename,
        name="environment-rename",
    ),
    path(
        "projects/<slug:slug>/environments/<slug:environment_slug>/policy/",
        manage.environment_policy,
        name="environment-policy",
    ),
    path("projects/<slug:slug>/delete/", manage.project_delete, name="project-delete"),
    path("projects/<slug:slug>/keys/", keys.api_keys, name="api-keys"),
    path("projects/<slug:slug>/keys/<int:key_id>/rotate/", keys.api_key_rotate, name="api-key-rotate"),
    path("projects/<slug:slug>/keys/<int:key_id>/revoke/", keys.api_key_revoke, name="api-key-revoke"),
    path("orgs/<slug:org_slug>/members/", members.members, name="members"),
    path("orgs/<slug:org_slug>/members/<int:membership_id>/role/", members.member_role, name="member-role"),
    path(
        "orgs/<slug:org_slug>/members/<int:membership_id>/remove/",
        members.member_remove,
        name="member-remove",
    ),
    path(
        "orgs/<slug:org_slug>/invitations/<int:invitation_id>/revoke/",
        members.invitation_revoke,
        name="invitation-revoke",
    ),
    path("orgs/<slug:org_slug>/audit/", members.audit_log, name="audit-log"),
    path("invitations/<str:token>/", members.invitation_accept, name="invitation-accept"),
]
