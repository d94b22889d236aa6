"""The demo shop's tracking plan (a snapshot, imported once by ``seed_demo``), and the bugs of the
staging release candidate that the plan catches (so the violations report has something to show)."""

import zlib

from analytics.storage import EventRecord


def _prop(name, type_="string", **options):
    return {"name": name, "type": type_, **options}


DEMO_PLAN = {
    "events": [
        {
            "name": "page_view",
            "description": "A page of the shop is shown.",
            "trigger": "On every page load, after the route resolves.",
            "owner": "web team",
            "tags": ["core"],
            "status": "live",
            "expected_environments": ["production", "staging"],
            "properties": [
                _prop("path", required=True, pattern="^/"),
                _prop("title"),
                _prop("referrer"),
            ],
        },
        {
            "name": "search",
            "description": "A search is submitted.",
            "trigger": "When the search form is submitted (not on each keystroke).",
            "owner": "discovery",
            "tags": ["discovery"],
            "status": "live",
            "properties": [
                _prop("query", required=True, min_length=1, max_length=200),
                _prop("results", "integer", required=True, minimum=0),
            ],
        },
        {
            "name": "signup",
            "description": "An account is created.",
            "trigger": "After the account is saved.",
            "owner": "growth",
            "tags": ["growth", "core"],
            "status": "verified",
            "properties": [_prop("method", required=True, enum=["email", "google"])],
        },
        {
            "name": "product_click",
            "description": "A product card is clicked in a list.",
            "trigger": "On click of a product card, before navigating.",
            "owner": "discovery",
            "tags": ["discovery"],
            "status": "implemented",
            "property_groups": ["product"],
            "properties": [
                _prop("position", "integer", required=True, minimum=1),
                _prop("list", required=True, enum=["home", "search", "category"]),
            ],
        },
        {
            "name": "add_to_cart",
            "description": "A product is added to the cart.",
            "trigger": "When the cart API confirms the addition.",
            "owner": "checkout",
            "tags": ["revenue"],
            "status": "live",
            "properties": [
                _prop("product_id", required=True, pattern="^sku-[0-9]+$"),
                _prop("price", "number", required=True, minimum=0),
                _prop("quantity", "integer", required=True, minimum=1, maximum=99),
            ],
        },
        {
            "name": "purchase",
            "description": "An order is paid.",
            "trigger": "When the payment provider confirms the payment.",
            "owner": "checkout",
            "tags": ["revenue", "core"],
            "status": "live",
            "properties": [
                _prop("order_id", required=True),
                _prop("revenue", "number", required=True, minimum=0),
                _prop("currency", required=True, enum=["EUR", "USD", "GBP"]),
                _prop(
                    "items",
                    "array",
                    item_type="object",
                    required=True,
                    min_length=1,
                    properties=[
                        _prop("product_id", required=True, pattern="^sku-[0-9]+$"),
                        _prop("quantity", "integer", required=True, minimum=1),
                    ],
                ),
            ],
        },
        {
            "name": "wishlist_added",
            "description": "A product is saved to the wishlist.",
            "trigger": "When the heart icon is clicked.",
            "owner": "growth",
            "tags": ["growth"],
            "status": "approved",
            "property_groups": ["product"],
        },
    ],
    "property_groups": [
        {
            "name": "product",
            "description": "The product a shopper interacts with.",
            "properties": [
                _prop("product_id", required=True, pattern="^sku-[0-9]+$"),
                _prop("name", required=True),
            ],
        }
    ],
}


def with_release_candidate_bugs(record: EventRecord) -> EventRecord:
    """The staging build sends some prices as text and forgets the currency now and then."""
    roll = zlib.crc32(record.message_id.encode()) % 10
    properties = dict(record.properties or {})
    if record.event == "add_to_cart" and roll < 3:
        properties["price"] = f"{properties['price']:.2f}"
    elif record.event == "purchase" and roll < 2:
        properties.pop("currency", None)
    elif record.event == "search" and roll < 1:
        properties["source"] = "voice"
    else:
        return record
    return record._replace(properties=properties)
