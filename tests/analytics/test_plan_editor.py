"""The tracking plan editor: list and filters, inline properties, statuses, breaking-change warnings,
naming conventions, versions and diffs, and who may do what."""

import pytest
from django.utils import timezone

from analytics.plan import actions
from analytics.plan.models import EventDefinition, PlanVersion, PropertyDefinition, PropertyGroup
from projects.models import NamingConvention

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(project, rest=""):
    return f"/projects/{project.slug}/plan/{rest}"


def new_event(project, user, name="order_completed", **fields):
    return actions.do_create_event(project=project, name=name, acting_user=user, **fields)


def add(event, user, name, **values):
    actions.do_add_property(owner=event, name=name, values={"type": "string", **values}, acting_user=user)
    return PropertyDefinition.objects.get(event=event, name=name)


@pytest.fixture
def order(project, owner):
    event = new_event(
        project, owner, description="An order is paid.", owner="checkout team", tags=["revenue"]
    )
    add(event, owner, "order_id", required=True)
    add(event, owner, "currency", enum=["USD", "EUR"])
    return event


# --- who may see and change the plan -------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["", "versions/", "diff/", "violations/", "unplanned/", "quarantine/", "import/"]
)
def test_an_outsider_gets_404_on_every_plan_page(client, outsider, project, order, path):
    client.force_login(outsider)
    assert client.get(url(project, path)).status_code == 404


def test_an_outsider_cannot_reach_an_event_or_property_by_id(client, outsider, project, order):
    client.force_login(outsider)
    prop = order.properties.first()
    assert client.get(url(project, f"events/{order.id}/")).status_code == 404
    assert client.post(url(project, f"properties/{prop.id}/delete/")).status_code == 404
    assert PropertyDefinition.objects.filter(id=prop.id).exists()


def test_a_property_of_another_project_is_404_even_through_my_project(client, owner, project, order):
    from tests.conftest import make_project

    other = make_project(owner=owner)
    client.force_login(owner)
    prop = order.properties.first()
    assert client.post(f"/projects/{other.slug}/plan/properties/{prop.id}/delete/").status_code == 404
    assert client.get(f"/projects/{other.slug}/plan/events/{order.id}/").status_code == 404


def test_a_viewer_reads_the_plan_but_cannot_change_it(client, viewer, project, order):
    client.force_login(viewer)
    page = client.get(url(project, f"events/{order.id}/"))
    assert page.status_code == 200
    assert b"order_id" in page.content
    assert b"Add a property" not in page.content
    response = client.post(
        url(project, "properties/add/"), {"owner": f"event:{order.id}", "name": "x", "type": "string"}
    )
    assert response.status_code == 404
    assert not order.properties.filter(name="x").exists()


# --- the list ------------------------------------------------------------------------------------


def test_the_list_filters_by_search_status_owner_tag_and_seen(client, member, project, owner, order):
    new_event(project, owner, name="cart_viewed", owner="growth", tags=["funnel"])
    EventDefinition.objects.filter(id=order.id).update(last_seen_at=timezone.now())
    client.force_login(member)

    def names(**query):
        response = client.get(url(project), query, **HTMX, HTTP_HX_TARGET="plan-results")
        assert response.status_code == 200
        return sorted(
            name for name in ("order_completed", "cart_viewed") if name.encode() in response.content
        )

    assert names() == ["cart_viewed", "order_completed"]
    assert names(q="paid") == ["order_completed"]
    assert names(owner="growth") == ["cart_viewed"]
    assert names(tag="revenue") == ["order_completed"]
    assert names(seen="unseen") == ["cart_viewed"]
    assert names(seen="seen") == ["order_completed"]
    assert names(status="live") == []


def test_htmx_filtering_returns_only_the_results(client, member, project, order):
    client.force_login(member)
    response = client.get(url(project), {"q": "order"}, **HTMX, HTTP_HX_TARGET="plan-results")
    assert b"order_completed" in response.content
    assert b"<nav" not in response.content


def test_an_empty_plan_says_what_to_do(client, member, project):
    client.force_login(member)
    assert b"The plan is empty" in client.get(url(project)).content


# --- creating events and properties, with the naming convention -----------------------------------


def test_creating_an_event_redirects_to_its_page_and_records_a_version(client, member, project):
    client.force_login(member)
    response = client.post(url(project, "events/new/"), {"name": "signup_completed"}, **HTMX)
    event = EventDefinition.objects.get(project=project, name="signup_completed")
    assert response.status_code == 204
    assert response["HX-Redirect"] == url(project, f"events/{event.id}/")
    version = PlanVersion.objects.get(project=project)
    assert (version.number, version.created_by, version.events) == (1, member, ["signup_completed"])
    assert version.summary == "Added event signup_completed"


@pytest.mark.parametrize(
    ("convention", "object_action", "name", "reason"),
    [
        (NamingConvention.SNAKE_CASE, False, "OrderCompleted", "lower-case words joined by underscores"),
        (NamingConvention.CAMEL_CASE, False, "order_completed", "camelCase"),
        (NamingConvention.TITLE_CASE, False, "order completed", "capitalized words separated by spaces"),
        (NamingConvention.SNAKE_CASE, True, "checkout", "has only one word"),
        (NamingConvention.SNAKE_CASE, True, "completed_order", "`order` is not an action"),
    ],
)
def test_the_naming_convention_refuses_an_event_with_the_reason(
    client, member, project, convention, object_action, name, reason
):
    project.naming_convention, project.require_object_action = convention, object_action
    project.save()
    client.force_login(member)
    response = client.post(url(project, "events/new/"), {"name": name}, **HTMX)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not EventDefinition.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    ("convention", "name"),
    [
        (NamingConvention.SNAKE_CASE, "order_completed"),
        (NamingConvention.CAMEL_CASE, "orderCompleted"),
        (NamingConvention.TITLE_CASE, "Order Completed"),
    ],
)
def test_names_following_the_convention_pass(project, owner, convention, name):
    project.naming_convention, project.require_object_action = convention, True
    project.save()
    assert new_event(project, owner, name=name).name == name


def test_the_naming_convention_applies_to_new_properties(client, member, project, order):
    project.naming_convention = NamingConvention.SNAKE_CASE
    project.save()
    client.force_login(member)
    response = client.post(
        url(project, "properties/add/"),
        {"owner": f"event:{order.id}", "name": "orderTotal", "type": "number"},
        **HTMX,
    )
    assert response.status_code == 400
    assert "lower-case words joined by underscores" in response.content.decode()


def test_properties_are_added_nested_edited_moved_and_deleted_inline(client, member, project, order):
    client.force_login(member)
    post = lambda path, data: client.post(url(project, path), data, **HTMX)  # noqa: E731
    response = post(
        "properties/add/",
        {"owner": f"event:{order.id}", "name": "items", "type": "array", "item_type": "object"},
    )
    assert response.status_code == 200
    assert b"<html" not in response.content  # a fragment, not a page
    items = order.properties.get(name="items")
    post("properties/add/", {"owner": f"prop:{items.id}", "name": "sku", "type": "string", "required": "on"})
    sku = items.children.get(name="sku")
    assert sku.required

    edit = {"type": "string", "pattern": "^[A-Z]-[0-9]+$", "required": "on"}
    assert b"pattern added or changed" in post(f"properties/{sku.id}/edit/", edit).content
    response = post(f"properties/{sku.id}/edit/", {**edit, "confirm": "1"})
    assert response.status_code == 200
    sku.refresh_from_db()
    assert sku.pattern == "^[A-Z]-[0-9]+$"

    assert [p.name for p in order.properties.all()] == ["order_id", "currency", "items"]
    post(f"properties/{items.id}/move/", {"direction": "up"})
    assert [p.name for p in order.properties.all()] == ["order_id", "items", "currency"]

    response = post(f"properties/{sku.id}/delete/", {})
    assert b"This change breaks" in response.content
    assert items.children.filter(id=sku.id).exists(), "held back until confirmed"
    post(f"properties/{sku.id}/delete/", {"confirm": "1"})
    assert not items.children.filter(id=sku.id).exists()


def test_a_bad_property_gets_a_clear_message(client, member, project, order):
    client.force_login(member)
    response = client.post(
        url(project, "properties/add/"),
        {"owner": f"event:{order.id}", "name": "age", "type": "integer", "minimum": "10", "maximum": "1"},
        **HTMX,
    )
    assert response.status_code == 400
    assert "minimum is larger than maximum" in response.content.decode()
    response = client.post(
        url(project, "properties/add/"),
        {"owner": f"event:{order.id}", "name": "code", "pattern": "(", "type": "string"},
        **HTMX,
    )
    assert "not a valid regular expression" in response.content.decode()
    response = client.post(
        url(project, "properties/add/"),
        {"owner": f"event:{order.id}", "name": "order_id", "type": "string"},
        **HTMX,
    )
    assert "already a property" in response.content.decode()


# --- breaking changes are confirmed first ----------------------------------------------------------


def test_a_breaking_edit_shows_the_banner_and_saves_only_when_confirmed(client, member, project, order):
    client.force_login(member)
    currency = order.properties.get(name="currency")
    data = {"type": "string", "enum": "USD", "required": "on"}
    response = client.post(url(project, f"properties/{currency.id}/edit/"), data, **HTMX)
    text = response.content.decode()
    assert "This change breaks what is being sent today" in text
    assert "enum value removed: EUR" in text
    assert "property made required" in text
    currency.refresh_from_db()
    assert (currency.enum, currency.required) == (["USD", "EUR"], False)
    versions = PlanVersion.objects.filter(project=project).count()

    response = client.post(url(project, f"properties/{currency.id}/edit/"), {**data, "confirm": "1"}, **HTMX)
    assert "Saved" in response.content.decode()
    currency.refresh_from_db()
    assert (currency.enum, currency.required) == (["USD"], True)
    latest = PlanVersion.objects.filter(project=project).first()
    assert latest.number == versions + 1
    assert {change["breaking"] for change in latest.changes} == {
        "enum value removed: EUR",
        "property made required",
    }


def test_a_widening_edit_saves_without_a_banner(client, member, project, order):
    client.force_login(member)
    currency = order.properties.get(name="currency")
    response = client.post(
        url(project, f"properties/{currency.id}/edit/"), {"type": "string", "enum": "USD, EUR, GBP"}, **HTMX
    )
    assert "breaks" not in response.content.decode()
    currency.refresh_from_db()
    assert currency.enum == ["USD", "EUR", "GBP"]


def test_removing_an_event_asks_first(client, member, project, order):
    client.force_login(member)
    response = client.post(url(project, f"events/{order.id}/delete/"))
    assert b"event removed" in response.content
    assert EventDefinition.objects.filter(id=order.id).exists()
    response = client.post(url(project, f"events/{order.id}/delete/"), {"confirm": "1"})
    assert response.status_code == 302
    assert not EventDefinition.objects.filter(id=order.id).exists()


# --- details, status, history, versions and diffs --------------------------------------------------


def test_details_save_inline(client, member, project, order):
    client.force_login(member)
    production = project.environments.get(slug="production")
    response = client.post(
        url(project, f"events/{order.id}/"),
        {"description": "Paid.", "trigger": "After the payment succeeds", "owner": "payments", "tags": "revenue, core",
         "expected_environments": [production.id]},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.trigger, order.owner, order.tags) == (
        "After the payment succeeds",
        "payments",
        ["revenue", "core"],
    )
    assert list(order.expected_environments.all()) == [production]


def test_a_status_change_with_a_comment_shows_in_the_history(client, member, project, order):
    client.force_login(member)
    response = client.post(
        url(project, f"events/{order.id}/status/"),
        {"status": "in_review", "comment": "Ready for Ana"},
        **HTMX,
    )
    assert b"Status changed" in response.content
    order.refresh_from_db()
    assert order.status == "in_review"
    page = client.get(url(project, f"events/{order.id}/")).content.decode()
    assert "order_completed: Draft → In review" in page
    assert "Ready for Ana" in page


def test_the_history_of_an_event_lists_only_its_changes(project, owner, order):
    other = new_event(project, owner, name="cart_viewed")
    add(other, owner, "cart_id")
    from analytics.plan.selectors import event_history

    history = event_history(order)
    assert [entry.version.summary for entry in history] == [
        "Added property order_completed.currency",
        "Added property order_completed.order_id",
        "Added event order_completed",
    ]
    assert all(change.event == "order_completed" for entry in history for change in entry.changes)


def test_the_diff_between_any_two_versions(client, viewer, project, owner, order):
    currency = order.properties.get(name="currency")
    actions.do_update_property(prop=currency, values={"type": "string", "enum": ["USD"]}, acting_user=owner)
    client.force_login(viewer)
    numbers = list(PlanVersion.objects.filter(project=project).values_list("number", flat=True))
    response = client.get(url(project, "diff/"), {"from": min(numbers), "to": max(numbers)})
    assert "order_completed.currency" in response.content.decode()
    response = client.get(url(project, "diff/"), {"from": max(numbers) - 1, "to": max(numbers)})
    text = response.content.decode()
    assert "order_completed.order_id" not in text and "order_completed.currency" in text
    assert "breaking: enum value removed: EUR" in text
    assert client.get(url(project, "diff/"), {"from": 1, "to": 999}).status_code == 404


def test_restoring_a_version_brings_its_plan_back_as_a_new_version(client, member, project, owner, order):
    first_full = PlanVersion.objects.filter(project=project).first()
    actions.do_delete_event(event=order, acting_user=owner)
    client.force_login(member)
    client.post(url(project, f"versions/{first_full.number}/restore/"))
    restored = EventDefinition.objects.get(project=project, name="order_completed")
    assert [p.name for p in restored.properties.all()] == ["order_id", "currency"]
    assert PlanVersion.objects.filter(project=project).first().summary == f"Restored v{first_full.number}"


def test_a_plan_edit_is_seen_by_the_next_ingest_request(
    client, member, project, owner, order, streams, django_capture_on_commit_callbacks
):
    from tests.analytics.ingest import new_key, post

    key = new_key(project, owner, environment="staging")
    event = {
        "environment": "staging",
        "event": "order_completed",
        "distinct_id": "u1",
        "properties": {"order_id": "1", "coupon": "X"},
    }
    first = post(client, "/track", event, key=key).json()
    assert [v["kind"] for v in first["violations"][0]["violations"]] == ["unplanned_property"]
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url(project, "properties/add/"),
            {"owner": f"event:{order.id}", "name": "coupon", "type": "string"},
            **HTMX,
        )
    second = post(client, "/track", event, key=key).json()
    assert "violations" not in second


def test_groups_share_properties_and_have_their_own_page(client, member, project, owner, order):
    client.force_login(member)
    response = client.post(url(project, "groups/new/"), {"name": "product"})
    group = PropertyGroup.objects.get(project=project, name="product")
    assert response["Location"] == url(project, f"groups/{group.id}/")
    client.post(
        url(project, "properties/add/"),
        {"owner": f"group:{group.id}", "name": "sku", "type": "string"},
        **HTMX,
    )
    assert [p.name for p in group.properties.all()] == ["sku"]
    assert b"sku" in client.get(url(project, f"groups/{group.id}/")).content


# --- import and export through the pages -----------------------------------------------------------


@pytest.mark.parametrize("format_name", ["json", "csv", "yaml"])
def test_an_exported_plan_imports_into_another_project_as_the_same_plan(
    client, owner, project, order, format_name
):
    from analytics.plan.snapshot import export_plan
    from tests.conftest import make_project

    group = PropertyGroup.objects.create(project=project, name="product")
    actions.do_add_property(
        owner=group, name="sku", values={"type": "string", "required": True}, acting_user=owner
    )
    actions.do_update_event(event=order, acting_user=owner, values={"property_groups": [group]})
    client.force_login(owner)
    exported = client.get(url(project, f"export.{format_name}"))
    assert exported.status_code == 200
    assert f'filename="{project.slug}-plan.' in exported["Content-Disposition"]

    other = make_project(owner=owner)
    preview = client.post(url(other, "import/"), {"text": exported.content.decode(), "format": format_name})
    assert preview.status_code == 200
    assert ("order_completed", "added") in [
        (change.path, change.what) for change in preview.context["preview"]
    ]
    snapshot_json = preview.context["snapshot_json"]
    client.post(
        url(other, "import/"), {"apply": "1", "snapshot": snapshot_json, "comment": "from the other project"}
    )
    assert export_plan(other.id) == export_plan(project.id)
    [version] = PlanVersion.objects.filter(project=other)
    assert (version.summary, version.comment) == ("Imported the plan", "from the other project")


def test_an_import_previews_breaking_changes_and_applies_them_as_one_version(client, member, project, order):
    client.force_login(member)
    yaml_text = client.get(url(project, "export.yaml")).content.decode()
    same = client.post(url(project, "import/"), {"text": yaml_text, "format": "yaml"})
    assert "the same as the current one" in same.content.decode()

    changed = yaml_text.replace("enum: [USD, EUR]", "enum: [USD]")
    assert changed != yaml_text
    before = PlanVersion.objects.filter(project=project).count()
    preview = client.post(url(project, "import/"), {"text": changed, "format": "yaml"})
    text = preview.content.decode()
    assert "1 breaking change" in text and "enum value removed: EUR" in text
    assert order.properties.get(name="currency").enum == ["USD", "EUR"], "a preview changes nothing"
    assert PlanVersion.objects.filter(project=project).count() == before
    client.post(url(project, "import/"), {"apply": "1", "snapshot": preview.context["snapshot_json"]})
    assert order.properties.get(name="currency").enum == ["USD"]
    assert PlanVersion.objects.filter(project=project).count() == before + 1


def test_a_bad_import_says_what_is_wrong(client, member, project):
    client.force_login(member)
    response = client.post(
        url(project, "import/"), {"text": "events:\n  - name: a\n    status: shipped\n", "format": "yaml"}
    )
    assert response.status_code == 400
    assert "unknown status `shipped`" in response.content.decode()
    assert client.post(url(project, "import/"), {"text": ""}).status_code == 400


def test_a_viewer_can_export_but_not_import(client, viewer, project, order):
    client.force_login(viewer)
    assert client.get(url(project, "export.csv")).status_code == 200
    assert b"Preview the changes" not in client.get(url(project, "import/")).content
    assert client.post(url(project, "import/"), {"text": "events: []", "format": "yaml"}).status_code == 404


def test_the_codegen_links_download_typed_modules(client, viewer, project, order):
    client.force_login(viewer)
    typescript = client.get(url(project, "codegen/typescript"))
    assert typescript.status_code == 200
    assert "export function orderCompleted(" in typescript.content.decode()
    python = client.get(url(project, "codegen/python")).content.decode()
    assert "def order_completed(" in python
    assert "Literal['USD', 'EUR']" in python
    assert client.get(url(project, "codegen/cobol")).status_code == 404
