"""The tracking plan compiled to JSON Schema, and every violation kind it reports."""

import pytest

from analytics.plan.compiler import CompiledPlan, pii_in, plan_schemas
from analytics.plan.models import EventDefinition, PropertyDefinition, PropertyGroup, PropertyType

pytestmark = pytest.mark.django_db

GOOD = {
    "order_id": "ord_123",
    "amount": 42.5,
    "currency": "EUR",
    "coupon": "WELCOME",
    "created_at": "2026-11-22T12:00:00Z",
    "quantity": 2,
    "gift": False,
    "shipping": {"city": "Lyon", "zip": "69001"},
    "items": [{"sku": "A-1", "price": 10.0}, {"sku": "B-2", "price": 32.5}],
    "labels": ["new", "promo"],
    "email": "jane@example.com",
    "$lib": "beacon-js",
}


def prop(owner, name, type_=PropertyType.STRING, **options):
    owner_field = {EventDefinition: "event", PropertyGroup: "group", PropertyDefinition: "parent"}[
        type(owner)
    ]
    return PropertyDefinition.objects.create(**{owner_field: owner}, name=name, type=type_, **options)


@pytest.fixture
def plan(project):
    order = EventDefinition.objects.create(
        project=project, name="order_completed", description="An order is paid."
    )
    prop(order, "order_id", required=True, pattern="^ord_[0-9]+$")
    prop(order, "amount", PropertyType.NUMBER, required=True, minimum=0, maximum=10_000)
    prop(order, "currency", enum=["USD", "EUR"])
    prop(order, "coupon", min_length=3, max_length=20)
    prop(order, "created_at", PropertyType.DATETIME)
    prop(order, "quantity", PropertyType.INTEGER, minimum=1)
    prop(order, "gift", PropertyType.BOOLEAN)
    shipping = prop(order, "shipping", PropertyType.OBJECT)
    prop(shipping, "city", required=True)
    prop(shipping, "zip")
    items = prop(order, "items", PropertyType.ARRAY, item_type=PropertyType.OBJECT, min_length=1)
    prop(items, "sku", required=True)
    prop(items, "price", PropertyType.NUMBER, minimum=0)
    prop(order, "labels", PropertyType.ARRAY, item_type=PropertyType.STRING, max_length=3)
    prop(order, "email", pii=True)
    product = PropertyGroup.objects.create(project=project, name="product")
    prop(product, "product_name", required=True)
    prop(product, "price", PropertyType.NUMBER)
    viewed = EventDefinition.objects.create(project=project, name="product_viewed")
    viewed.property_groups.add(product)
    prop(viewed, "position", PropertyType.INTEGER)
    return CompiledPlan.from_schemas(1, plan_schemas(project.id))


def kinds(violations) -> list[tuple[str, str]]:
    return sorted((v.kind, v.property) for v in violations)


def test_a_conforming_event_has_no_violations(plan):
    assert plan.check("order_completed", GOOD) == []
    assert plan.check("product_viewed", {"product_name": "Lamp", "price": 20, "position": 3}) == []


def test_the_plan_compiles_to_json_schema(plan, project):
    schema = plan_schemas(project.id)["order_completed"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["order_id", "amount"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["items"]["items"]["required"] == ["sku"]
    assert schema["properties"]["created_at"] == {"type": "string", "format": "date-time"}
    assert schema["properties"]["email"]["x-pii"] is True


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"order_id": None}, [("missing_required", "order_id")]),
        ({"amount": "42"}, [("wrong_type", "amount")]),
        ({"quantity": 1.5}, [("wrong_type", "quantity")]),
        ({"created_at": "yesterday"}, [("wrong_type", "created_at")]),
        ({"currency": "GBP"}, [("enum", "currency")]),
        ({"order_id": "123"}, [("pattern", "order_id")]),
        ({"coupon": "AB"}, [("length", "coupon")]),
        ({"labels": ["a", "b", "c", "d"]}, [("length", "labels")]),
        ({"amount": -1}, [("range", "amount")]),
        ({"amount": 10_001}, [("range", "amount")]),
        ({"shipping": "Lyon"}, [("nested_structure", "shipping")]),
        ({"shipping": {"zip": "69001"}}, [("missing_required", "shipping.city")]),
        (
            {"items": [{"sku": "A"}, {"price": -2}]},
            [("missing_required", "items.1.sku"), ("range", "items.1.price")],
        ),
        ({"items": []}, [("length", "items")]),
        ({"utm": "x"}, [("unplanned_property", "utm")]),
        ({"shipping": {"city": "Lyon", "floor": 3}}, [("unplanned_property", "shipping.floor")]),
        ({"coupon": "+33 6 12 34 56 78"}, [("pii", "coupon")]),
    ],
)
def test_each_constraint_reports_its_own_kind(plan, change, expected):
    properties = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    assert kinds(plan.check("order_completed", properties)) == expected


def test_an_unplanned_event_is_reported_but_reserved_events_are_not(plan):
    assert kinds(plan.check("order_refunded", {})) == [("unplanned_event", "")]
    assert plan.check("$pageview", {"$current_url": "https://shop.example/"}) == []


def test_shared_group_properties_are_checked(plan):
    assert kinds(plan.check("product_viewed", {"price": "cheap"})) == [
        ("missing_required", "product_name"),
        ("wrong_type", "price"),
    ]


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("jane@example.com", "email"),
        ("card 4111 1111 1111 1111", "card number"),
        ("4111-1111-1111-1111", "card number"),
        ("+1 415 555 0100", "phone number"),
        ("(415) 555-0100", "phone number"),
        ("order 1795348972511", None),  # an id, not a card or a phone
        ("203.0.113.255", None),
        ("4111 1111 1111 1112", None),  # fails the Luhn check, and is not written like a phone
        ("2026-11-22T12:00:00Z", None),
    ],
)
def test_pii_patterns(value, found):
    assert pii_in(value) == found


def test_pii_in_a_property_marked_pii_is_not_a_violation(plan):
    assert plan.check("order_completed", {**GOOD, "email": "jane@example.com"}) == []
    assert kinds(plan.check("unknown_event", {"note": "mail me at jane@example.com"})) == [
        ("pii", "note"),
        ("unplanned_event", ""),
    ]
