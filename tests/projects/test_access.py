import pytest
from django.http import Http404

from projects.access import access_project
from projects.models import Membership, Role
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def test_it_gives_a_member_their_project(member, project):
    assert access_project(member, slug=project.slug) == project


def test_a_role_below_the_minimum_is_the_same_404(member, project):
    with pytest.raises(Http404):
        access_project(member, slug=project.slug, min_role=Role.ADMIN)


def test_another_members_role_does_not_lend_its_rights(owner, outsider):
    """A viewer must not pass an admin check because the owner of the same organization is one."""
    project = make_project(owner=owner)
    Membership.objects.create(organization=project.organization, user=outsider, role=Role.VIEWER)
    assert access_project(outsider, slug=project.slug) == project
    with pytest.raises(Http404):
        access_project(outsider, slug=project.slug, min_role=Role.ADMIN)
    assert access_project(owner, slug=project.slug, min_role=Role.OWNER) == project


def test_an_outsider_and_an_anonymous_visitor_get_404(outsider, project):
    from django.contrib.auth.models import AnonymousUser

    for user in (outsider, AnonymousUser()):
        with pytest.raises(Http404):
            access_project(user, slug=project.slug)
