"""The Django admin: every analytics model's pages open, and plan edits there reach ingestion."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from analytics.plan.models import EventDefinition
from projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-unused-123")


@pytest.mark.parametrize(
    "model", [m for m in admin.site._registry if m._meta.app_label == "analytics"], ids=str
)
def test_every_analytics_admin_page_opens(client, superuser, project, model):
    client.force_login(superuser)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200


def test_saving_an_event_definition_in_the_admin_bumps_the_plan_version(client, superuser, project):
    client.force_login(superuser)
    prefix = "properties"
    response = client.post(
        reverse("admin:analytics_eventdefinition_add"),
        {
            "project": project.id,
            "name": "checkout_started",
            "status": "draft",
            "tags": "[]",
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-0-position": "0",
            f"{prefix}-0-name": "cart_value",
            f"{prefix}-0-type": "number",
            f"{prefix}-0-required": "on",
        },
    )
    assert response.status_code == 302, (
        [e for e in response.context["errors"]] if response.context else response.content[:500]
    )
    event = EventDefinition.objects.get(project=project, name="checkout_started")
    assert [(p.name, p.type, p.required) for p in event.properties.all()] == [("cart_value", "number", True)]
    assert Project.objects.get(id=project.id).plan_version == 1
