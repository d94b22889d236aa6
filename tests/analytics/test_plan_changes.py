"""Diffs between plan snapshots, and which changes break the events being sent."""

import copy

import pytest

from analytics.plan.changes import Change, breaking, describe, diff
from analytics.plan.snapshot import SnapshotError, defaults_filled, normalize


def prop(name, type_="string", **options):
    return defaults_filled("property", {"name": name, "type": type_, **options})


def plan(*properties, groups=(), **event_options):
    return normalize(
        {
            "events": [{"name": "order_completed", "properties": list(properties), **event_options}],
            "property_groups": list(groups),
        }
    )


BASE = plan(
    prop("order_id", required=True),
    prop("amount", "integer", minimum=0),
    prop("currency", enum=["USD", "EUR"]),
    prop("coupon", max_length=20),
    prop("shipping", "object", properties=[prop("city"), prop("zip")]),
)


def changed(mutate) -> list[Change]:
    new = copy.deepcopy(BASE)
    mutate(new["events"][0]["properties"])
    return diff(BASE, new)


def reasons(changes) -> list[str]:
    return [change.breaking for change in breaking(changes)]


def test_identical_plans_have_no_changes():
    assert diff(BASE, copy.deepcopy(BASE)) == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda props: props.pop(3), "property removed"),
        (lambda props: props[1].update(type="string"), "type narrowed (integer → string)"),
        (lambda props: props[2].update(enum=["USD"]), "enum value removed: EUR"),
        (lambda props: props[3].update(required=True), "property made required"),
        (lambda props: props[4]["properties"].pop(0), "property removed"),
        (lambda props: props[4]["properties"][1].update(required=True), "property made required"),
        (lambda props: props.append(prop("channel", required=True)), "new required property"),
        (lambda props: props[3].update(max_length=10), "maximum lowered"),
        (lambda props: props[1].update(minimum=1), "minimum raised"),
        (lambda props: props[0].update(pattern="^ord_"), "pattern added or changed"),
        (lambda props: props[3].update(enum=["A", "B"]), "enum added: other values now fail"),
    ],
)
def test_it_flags_each_breaking_change(mutate, reason):
    assert reasons(changed(mutate)) == [reason]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda props: props[1].update(type="number"),  # integer → number only widens
        lambda props: props[2].update(enum=["USD", "EUR", "GBP"]),
        lambda props: props[0].update(required=False),
        lambda props: props.append(prop("channel")),
        lambda props: props[3].update(max_length=40),
        lambda props: props[3].update(description="The code typed at checkout."),
        lambda props: props[2].update(enum=None),
    ],
)
def test_it_does_not_flag_changes_that_accept_more(mutate):
    changes = changed(mutate)
    assert changes, "the change is seen"
    assert breaking(changes) == []


def test_nested_paths_name_the_property():
    changes = changed(lambda props: props[4]["properties"][1].update(type="integer"))
    assert [(change.path, change.what, change.before, change.after) for change in changes] == [
        ("order_completed.shipping.zip", "type", "string", "integer")
    ]
    assert describe(changes[0]) == "order_completed.shipping.zip: type string → integer"


def test_removing_an_event_or_disallowing_unplanned_properties_breaks():
    assert reasons(diff(BASE, normalize({"events": []}))) == ["event removed: senders of it now fail"]
    loose = plan(allow_unplanned_properties=True)
    strict = plan(allow_unplanned_properties=False)
    assert reasons(diff(loose, strict)) == ["unplanned properties are no longer allowed"]
    assert reasons(diff(strict, loose)) == []


def test_a_new_event_breaks_nobody_even_with_required_properties():
    new = copy.deepcopy(BASE)
    new["events"].append(
        defaults_filled("event", {"name": "cart_viewed", "properties": [prop("x", required=True)]})
    )
    changes = diff(BASE, new)
    assert [(change.path, change.what) for change in changes] == [("cart_viewed", "added")]
    assert breaking(changes) == []


def test_group_changes_are_named_by_group():
    product = {"name": "product", "properties": [prop("sku", required=True), prop("price", "number")]}
    old = plan(groups=[product], property_groups=["product"])
    new = copy.deepcopy(old)
    new["property_groups"][0]["properties"].pop(1)
    assert [(c.path, c.breaking) for c in diff(old, new)] == [("group product.price", "property removed")]
    assert Change("group product.price", "removed").event is None


def test_reordering_properties_is_a_change_but_not_a_breaking_one():
    changes = changed(lambda props: props.insert(0, props.pop(2)))
    assert [change.what for change in changes] == ["property order"]
    assert breaking(changes) == []


def test_normalize_refuses_what_cannot_be_a_plan():
    with pytest.raises(SnapshotError, match="unknown type `text`"):
        normalize({"events": [{"name": "a", "properties": [{"name": "b", "type": "text"}]}]})
    with pytest.raises(SnapshotError, match="appears twice"):
        normalize({"events": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(SnapshotError, match="only objects and arrays of objects have nested"):
        normalize({"events": [{"name": "a", "properties": [{"name": "b", "properties": [{"name": "c"}]}]}]})
    with pytest.raises(SnapshotError, match="unknown property group `product`"):
        normalize({"events": [{"name": "a", "property_groups": ["product"]}]})
    with pytest.raises(SnapshotError, match="not a valid regular expression"):
        normalize({"events": [{"name": "a", "properties": [{"name": "b", "pattern": "("}]}]})
