"""The tracking plan exported and imported as JSON Schema, CSV and YAML (pure functions, no database)."""

import csv
import io
import json

import jsonschema_rs
import pytest

from analytics.plan.compiler import snapshot_schemas
from analytics.plan.formats import (
    CSV_COLUMNS,
    FORMATS,
    detect_format,
    from_csv,
    from_json_schema,
    from_yaml,
    to_csv,
    to_json_schema,
    to_yaml,
)
from analytics.plan.snapshot import SnapshotError, normalize


def rich_plan() -> dict:
    """Every feature a plan has, with properties deliberately not in alphabetical order."""
    return {
        "format": "beacon-plan/1",
        "events": [
            {
                "name": "order_completed",
                "description": "An order is paid.\nSent once, by the server.",
                "trigger": "The payment provider confirms the payment.",
                "owner": "Checkout team",
                "tags": ["revenue", "core"],
                "status": "live",
                "expected_environments": ["production", "staging"],
                "property_groups": ["product"],
                "properties": [
                    {"name": "order_id", "required": True, "pattern": "^ord_[0-9]+$", "description": "Ours."},
                    {"name": "amount", "type": "number", "required": True, "minimum": 0, "maximum": 10000.5},
                    {"name": "currency", "enum": ["USD", "EUR"]},
                    {"name": "coupon", "min_length": 3, "max_length": 20},
                    {"name": "created_at", "type": "datetime"},
                    {"name": "quantity", "type": "integer", "minimum": 1, "enum": [1, 2, 3]},
                    {"name": "gift", "type": "boolean"},
                    {"name": "email", "pii": True, "description": "Where the receipt goes: “é”."},
                    {
                        "name": "shipping",
                        "type": "object",
                        "required": True,
                        "properties": [
                            {"name": "zip", "required": True},
                            {"name": "city", "required": True},
                            {"name": "country", "enum": ["FR", "DE"]},
                        ],
                    },
                    {
                        "name": "items",
                        "type": "array",
                        "item_type": "object",
                        "min_length": 1,
                        "max_length": 50,
                        "properties": [
                            {"name": "sku", "required": True},
                            {"name": "price", "type": "number", "minimum": 0},
                        ],
                    },
                    {"name": "labels", "type": "array", "item_type": "string", "max_length": 3},
                    {"name": "ratings", "type": "array", "item_type": "number", "enum": [1, 2.5]},
                ],
            },
            {
                "name": "product_viewed",
                "status": "in_review",
                "owner": "growth@example.com",
                "tags": ["discovery"],
                "expected_environments": ["production"],
                "property_groups": ["product"],
                "allow_unplanned_properties": True,
                "properties": [{"name": "position", "type": "integer", "minimum": 0}],
            },
            {"name": "app_opened", "description": "No properties at all.", "status": "deprecated"},
            {"name": "signed_up"},
        ],
        "property_groups": [
            {
                "name": "product",
                "description": "What every product event carries.",
                "properties": [
                    {"name": "product_name", "required": True, "max_length": 200},
                    {"name": "product_price", "type": "number", "minimum": 0},
                    {"name": "category", "enum": ["books", "games"]},
                ],
            }
        ],
    }


def test_the_rich_plan_keeps_its_properties_out_of_alphabetical_order():
    order = normalize(rich_plan())["events"][1]
    names = [prop["name"] for prop in order["properties"]]
    assert order["name"] == "order_completed" and names != sorted(names)


@pytest.mark.parametrize(
    "dump, load",
    [(to_json_schema, from_json_schema), (to_csv, from_csv), (to_yaml, from_yaml)],
    ids=["json_schema", "csv", "yaml"],
)
def test_it_round_trips_a_rich_plan(dump, load):
    assert load(dump(rich_plan())) == normalize(rich_plan())


@pytest.mark.parametrize("name", ["json", "csv", "yaml"])
def test_each_registered_format_round_trips_through_text(name):
    text = FORMATS[name].dump(rich_plan())
    assert isinstance(text, str)
    assert FORMATS[name].load(text) == normalize(rich_plan())
    assert FORMATS[name].load(text.encode()) == normalize(rich_plan())


def test_it_round_trips_an_empty_plan_through_every_format():
    for plan_format in FORMATS.values():
        assert plan_format.load(plan_format.dump({"events": []})) == normalize({"events": []})


def test_the_registry_names_an_extension_and_content_type_per_format():
    assert {name: (f.extension, f.content_type.split(";")[0]) for name, f in FORMATS.items()} == {
        "json": ("json", "application/json"),
        "csv": ("csv", "text/csv"),
        "yaml": ("yaml", "application/yaml"),
    }


# --- JSON Schema -----------------------------------------------------------------------------------


def test_a_json_schema_export_puts_events_and_groups_in_defs():
    document = to_json_schema(rich_plan())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["x-beacon-format"] == "beacon-plan/1"
    definitions = document["$defs"]
    assert list(definitions) == [
        "app_opened",
        "order_completed",
        "product_viewed",
        "signed_up",
        "group:product",
    ]
    viewed = definitions["product_viewed"]
    assert viewed["allOf"] == [{"$ref": "#/$defs/group:product"}]
    assert list(viewed["properties"]) == ["position"]  # the group's are not inlined
    assert viewed["x-beacon-status"] == "in_review" and viewed["x-beacon-tags"] == ["discovery"]
    assert definitions["order_completed"]["unevaluatedProperties"] is False
    assert definitions["group:product"]["x-beacon-kind"] == "property-group"
    assert definitions["order_completed"]["properties"]["email"]["x-pii"] is True


def test_the_exported_json_schema_accepts_and_refuses_events_as_the_compiler_does():
    document = to_json_schema(rich_plan())
    compiled = snapshot_schemas(normalize(rich_plan()))
    samples = [
        {"product_name": "Dune", "position": 2},
        {"product_name": "Dune", "position": 2, "surprise": True},
        {"position": 2},
        {"product_name": "Dune", "position": -1, "$lib": "beacon-js"},
    ]
    for event in ("product_viewed", "order_completed"):
        exported = jsonschema_rs.validator_for({"$ref": f"#/$defs/{event}", "$defs": document["$defs"]})
        expected = jsonschema_rs.validator_for(compiled[event])
        assert [exported.is_valid(sample) for sample in samples] == [expected.is_valid(s) for s in samples]
    order = jsonschema_rs.validator_for({"$ref": "#/$defs/order_completed", "$defs": document["$defs"]})
    assert not order.is_valid({"product_name": "Dune", "unplanned": 1})


def test_it_keeps_a_constraint_json_schema_cannot_apply_to_the_type():
    plan = {
        "events": [{"name": "paid", "properties": [{"name": "total", "type": "number", "max_length": 9}]}]
    }
    document = to_json_schema(plan)
    assert document["$defs"]["paid"]["properties"]["total"]["x-beacon-max-length"] == 9
    assert from_json_schema(document) == normalize(plan)


def test_it_imports_a_hand_written_json_schema():
    document = {
        "$defs": {
            "order_completed": {
                "type": "object",
                "description": "An order is paid.",
                "properties": {
                    "order_id": {"type": "string", "pattern": "^ord_", "minLength": 5, "maxLength": 40},
                    "coupon": {"type": ["string", "null"]},
                    "paid_at": {"type": "string", "format": "date-time"},
                    "amount": {"type": "number", "minimum": 0, "maximum": 1000},
                    "currency": {"enum": ["USD", "EUR"]},
                    "shipping": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                        "required": ["city"],
                    },
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 10,
                        "items": {
                            "type": "object",
                            "properties": {"sku": {"type": "string"}},
                            "required": ["sku"],
                        },
                    },
                    "labels": {"type": "array", "items": {"type": "string", "enum": ["new", "sale"]}},
                },
                "required": ["order_id", "amount"],
                "additionalProperties": False,
            },
            "page_viewed": {"type": "object", "properties": {"path": {"type": "string"}}},
        }
    }
    snapshot = from_json_schema(document)
    order, viewed = snapshot["events"]
    assert (order["name"], order["description"], order["allow_unplanned_properties"]) == (
        "order_completed",
        "An order is paid.",
        False,
    )
    props = {prop["name"]: prop for prop in order["properties"]}
    assert list(props) == [
        "order_id",
        "coupon",
        "paid_at",
        "amount",
        "currency",
        "shipping",
        "items",
        "labels",
    ]
    assert (
        props["order_id"]["pattern"],
        props["order_id"]["min_length"],
        props["order_id"]["max_length"],
    ) == (
        "^ord_",
        5,
        40,
    )
    assert props["order_id"]["required"] and props["amount"]["required"] and not props["coupon"]["required"]
    assert props["coupon"]["type"] == "string"
    assert props["paid_at"]["type"] == "datetime"
    assert (props["amount"]["minimum"], props["amount"]["maximum"]) == (0, 1000)
    assert (props["currency"]["type"], props["currency"]["enum"]) == ("string", ["USD", "EUR"])
    assert [(p["name"], p["required"]) for p in props["shipping"]["properties"]] == [
        ("city", True),
        ("zip", False),
    ]
    assert (props["items"]["item_type"], props["items"]["min_length"], props["items"]["max_length"]) == (
        "object",
        1,
        10,
    )
    assert [(p["name"], p["required"]) for p in props["items"]["properties"]] == [("sku", True)]
    assert (props["labels"]["item_type"], props["labels"]["enum"]) == ("string", ["new", "sale"])
    # No `additionalProperties: false`: JSON Schema allows anything else, and so does the import.
    assert viewed["name"] == "page_viewed" and viewed["allow_unplanned_properties"] is True


def test_it_imports_segment_protocols_like_event_schemas():
    document = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {
            "Order Completed": {
                "description": "An order is paid.",
                "type": "object",
                "properties": {
                    "context": {},
                    "traits": {"type": "object"},
                    "properties": {
                        "type": "object",
                        "properties": {"total": {"type": "number"}, "coupon": {"type": "string"}},
                        "required": ["total"],
                        "additionalProperties": False,
                    },
                },
                "required": ["properties"],
            }
        },
    }
    [event] = from_json_schema(document)["events"]
    assert event["name"] == "Order Completed" and event["description"] == "An order is paid."
    assert [(p["name"], p["type"], p["required"]) for p in event["properties"]] == [
        ("total", "number", True),
        ("coupon", "string", False),
    ]
    assert event["allow_unplanned_properties"] is False


def test_it_reads_shared_types_and_groups_through_local_refs():
    document = {
        "$defs": {
            "money": {"type": "number", "minimum": 0},
            "device": {"type": "object", "properties": {"os": {"type": "string"}}},
            "checkout_started": {
                "type": "object",
                "allOf": [{"$ref": "#/$defs/device"}],
                "properties": {"total": {"$ref": "#/$defs/money", "description": "Before tax."}},
            },
        }
    }
    snapshot = from_json_schema(document)
    assert [event["name"] for event in snapshot["events"]] == ["checkout_started"]
    [event] = snapshot["events"]
    assert event["property_groups"] == ["device"]
    assert [group["name"] for group in snapshot["property_groups"]] == ["device"]
    [total] = event["properties"]
    assert (total["type"], total["minimum"], total["description"]) == ("number", 0, "Before tax.")


def test_it_imports_one_event_schema_named_by_its_title():
    document = {"title": "signed_up", "type": "object", "properties": {"plan": {"enum": ["free", "pro"]}}}
    [event] = from_json_schema(document)["events"]
    assert event["name"] == "signed_up" and event["properties"][0]["enum"] == ["free", "pro"]


def test_an_unknown_type_in_json_schema_names_the_event_and_property():
    document = {"$defs": {"signed_up": {"type": "object", "properties": {"age": {"type": "int"}}}}}
    with pytest.raises(SnapshotError, match=r"event `signed_up`, property `age`: unknown type `int`"):
        from_json_schema(document)


def test_a_property_with_two_types_is_refused():
    document = {"$defs": {"e": {"properties": {"id": {"type": ["string", "integer"]}}}}}
    with pytest.raises(SnapshotError, match="property `id`: has the types"):
        from_json_schema(document)


def test_a_ref_outside_the_file_is_refused():
    document = {"$defs": {"e": {"properties": {"id": {"$ref": "https://example.com/id.json"}}}}}
    with pytest.raises(SnapshotError, match="cannot follow `\\$ref: https://example.com/id.json`"):
        from_json_schema(document)


def test_invalid_json_text_says_where():
    with pytest.raises(SnapshotError, match=r"not valid JSON: .*line 2"):
        FORMATS["json"].load('{"$defs":\n  {,}}')


def test_the_json_format_also_loads_a_plain_snapshot():
    assert FORMATS["json"].load(json.dumps(rich_plan())) == normalize(rich_plan())


def test_a_file_in_a_newer_format_is_refused():
    with pytest.raises(SnapshotError, match="beacon-plan/2"):
        from_json_schema({"x-beacon-format": "beacon-plan/2", "$defs": {}})
    with pytest.raises(SnapshotError, match="beacon-plan/2"):
        from_yaml("format: beacon-plan/2\nevents: []\n")


# --- CSV -------------------------------------------------------------------------------------------


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_csv_export_has_a_row_per_event_and_per_property_nested_ones_as_paths():
    rows = csv_rows(to_csv(rich_plan()))
    assert tuple(rows[0]) == CSV_COLUMNS
    order_rows = [row for row in rows if row["event"] == "order_completed"]
    assert order_rows[0]["property"] == "" and order_rows[0]["status"] == "live"
    assert order_rows[0]["tags"] == "revenue|core"
    paths = [row["property"] for row in order_rows[1:]]
    assert paths[paths.index("shipping") : paths.index("shipping") + 4] == [
        "shipping",
        "shipping.zip",
        "shipping.city",
        "shipping.country",
    ]
    assert "items.sku" in paths
    assert [row["event"] for row in rows if row["property"] == ""][:2] == ["app_opened", "order_completed"]
    group_rows = [row for row in rows if row["group"] == "product"]
    assert [row["property"] for row in group_rows] == ["", "product_name", "product_price", "category"]


def test_an_enum_of_numbers_survives_csv():
    plan = {
        "events": [{"name": "rated", "properties": [{"name": "stars", "type": "integer", "enum": [1, 2, 5]}]}]
    }
    text = to_csv(plan)
    assert '"[1, 2, 5]"' in text
    [stars] = from_csv(text)["events"][0]["properties"]
    assert stars["enum"] == [1, 2, 5]
    assert all(isinstance(value, int) for value in stars["enum"])


def test_a_csv_with_a_bad_row_names_the_row():
    text = "event,property,type,required\norder_completed,,,\norder_completed,order_id,string,true\norder_completed,total,number,maybe\n"
    with pytest.raises(SnapshotError, match=r"Row 4: `required` must be true or false, not `maybe`"):
        from_csv(text)


@pytest.mark.parametrize(
    "row, message",
    [
        ("signed_up,age,int,", r"Row 2: unknown type `int`"),
        ("signed_up,age,integer,[1,", r"Row 2: `enum` is not a JSON list"),
        (
            "signed_up,items.sku,string,",
            r"Row 2: the property is nested in `items`, which no row above defines",
        ),
        (",age,integer,", r"Row 2: `event` is empty"),
    ],
)
def test_a_csv_error_names_the_row_and_the_problem(row, message):
    with pytest.raises(SnapshotError, match=message):
        from_csv(f"event,property,type,enum\n{row}\n")


def test_a_csv_property_nested_in_a_string_is_refused_with_both_rows():
    text = "event,property,type\nsigned_up,plan,string\nsigned_up,plan.name,string\n"
    with pytest.raises(SnapshotError, match=r"Row 3: .* `plan` \(row 2\), which is neither an object"):
        from_csv(text)


def test_a_csv_property_defined_twice_is_refused():
    text = "event,property\nsigned_up,plan\nsigned_up,plan\n"
    with pytest.raises(SnapshotError, match=r"Row 3: `plan` of event `signed_up` is already in row 2"):
        from_csv(text)


def test_an_unknown_csv_column_suggests_the_right_one():
    with pytest.raises(SnapshotError, match=r"unknown column `requried`. Did you mean `required`\?"):
        from_csv("event,property,requried\nsigned_up,plan,true\n")


def test_a_hand_written_csv_takes_yes_no_and_the_first_event_value_given():
    text = (
        "Event;Property;Type;Required;PII;Enum;Status;Owner\n"
        "signed_up;plan;string;yes;0;free|pro;In review;\n"
        "signed_up;email;string;no;1;;live;Growth\n"
        "\n"
    )
    [event] = from_csv(text)["events"]
    assert (event["status"], event["owner"]) == ("in_review", "Growth")
    plan, email = event["properties"]
    assert (plan["required"], plan["pii"], plan["enum"]) == (True, False, ["free", "pro"])
    assert (email["required"], email["pii"]) == (False, True)


def test_a_csv_export_opened_in_excel_still_loads():
    text = "\ufeff" + to_csv(rich_plan()).replace("\n", "\r\n")
    assert from_csv(text.encode("utf-8")) == normalize(rich_plan())


def test_a_csv_that_is_not_utf8_says_how_to_save_it():
    with pytest.raises(SnapshotError, match="not UTF-8"):
        from_csv("event,property\ncafé,x\n".encode("latin-1"))


# --- YAML ------------------------------------------------------------------------------------------


def test_the_yaml_export_leaves_out_defaults_and_keeps_multi_line_text_readable():
    text = to_yaml(rich_plan())
    assert "allow_unplanned_properties: false" not in text
    assert "allow_unplanned_properties: true" in text
    assert "description: |-\n    An order is paid.\n    Sent once, by the server." in text
    assert "“é”" in text


def test_yaml_import_accepts_every_key_spelled_out():
    assert from_yaml(json.dumps(normalize(rich_plan()))) == normalize(rich_plan())


@pytest.mark.parametrize(
    "text, message",
    [
        ("- name: signed_up\n", "not a list"),
        ("just text\n", "not a single value"),
        ("", "empty"),
    ],
)
def test_yaml_that_is_not_a_mapping_is_refused(text, message):
    with pytest.raises(SnapshotError, match=message):
        from_yaml(text)


def test_invalid_yaml_reports_the_line():
    with pytest.raises(SnapshotError, match=r"line 3, column"):
        from_yaml("events:\n  - name: a\n   bad: [\n")


def test_an_unknown_type_in_yaml_names_the_event_and_property():
    with pytest.raises(SnapshotError, match=r"event `signed_up`, property `age`: unknown type `int`"):
        from_yaml("events:\n  - name: signed_up\n    properties:\n      - name: age\n        type: int\n")


def test_a_misspelt_yaml_key_is_refused_with_a_suggestion():
    text = "events:\n  - name: signed_up\n    properties:\n      - name: plan\n        requried: true\n"
    with pytest.raises(SnapshotError, match=r"event `signed_up`, property `plan`: unknown key `requried`"):
        from_yaml(text)


def test_yaml_dates_become_text_in_an_enum():
    text = "events:\n  - name: launched\n    properties:\n      - name: day\n        enum: [2026-01-01]\n"
    assert from_yaml(text)["events"][0]["properties"][0]["enum"] == ["2026-01-01"]


def test_a_yaml_alias_bomb_is_refused_rather_than_expanded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)]
    with pytest.raises(SnapshotError, match="more than a million values"):
        from_yaml("\n".join(lines) + "\nevents: []\n")


# --- detecting the format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename, expected",
    [("plan.schema.json", "json"), ("PLAN.CSV", "csv"), ("plan.yml", "yaml"), ("plan.yaml", "yaml")],
)
def test_it_detects_the_format_from_the_extension(filename, expected):
    assert detect_format(filename, "whatever is inside") == expected


@pytest.mark.parametrize("name", ["json", "csv", "yaml"])
def test_it_detects_the_format_of_an_export_from_its_content(name):
    assert detect_format("plan.txt", FORMATS[name].dump(rich_plan())) == name
    assert detect_format(None, FORMATS[name].dump(rich_plan())) == name


def test_it_refuses_to_guess_the_format_of_plain_text():
    with pytest.raises(SnapshotError, match="Cannot tell the format of `notes.txt`"):
        detect_format("notes.txt", "just some notes")
