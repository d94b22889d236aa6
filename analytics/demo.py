"""A week of realistic shop traffic for the demo project.

Deterministic per hour: the events of an hour come from a random generator seeded with the project
and the hour, and their message ids are derived from the same, so running the seeder again writes
only the hours that are new since the last run (the store drops ids it has already seen).
"""

import math
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from analytics.storage import EventRecord, PlanStatus

NAMESPACE = uuid.UUID("6f1c1f4e-63a2-4f7b-9a51-2d3c8f0b7e11")
PRODUCTS = [
    ("sku-1001", "Trail running shoes", 129.0),
    ("sku-1002", "Merino base layer", 79.0),
    ("sku-1003", "Ultralight tent", 349.0),
    ("sku-1004", "Headlamp 400lm", 39.0),
    ("sku-1005", "Water filter", 49.0),
    ("sku-1006", "Down jacket", 229.0),
    ("sku-1007", "Trekking poles", 89.0),
    ("sku-1008", "Camp stove", 59.0),
]
SEARCHES = ["tent", "jacket", "shoes waterproof", "headlamp", "stove gas", "poles carbon", "filter"]
AGENTS = [
    ({"browser": "Chrome", "os": "Windows", "device_type": "desktop"}, 0.38),
    ({"browser": "Safari", "os": "iOS", "device_type": "mobile"}, 0.27),
    ({"browser": "Chrome", "os": "Android", "device_type": "mobile"}, 0.2),
    ({"browser": "Firefox", "os": "Linux", "device_type": "desktop"}, 0.08),
    ({"browser": "Safari", "os": "macOS", "device_type": "desktop"}, 0.07),
]
REFERRERS = ["", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/", ""]


def hourly_sessions(hour: datetime, base_per_hour: int) -> int:
    """A daily cycle: quiet at night, a lunchtime bump and an evening peak (UTC+1-ish shoppers)."""
    hour_of_day = hour.hour + 1
    evening = math.exp(-((hour_of_day - 20) ** 2) / 8)
    lunch = 0.6 * math.exp(-((hour_of_day - 13) ** 2) / 4)
    weekend = 1.25 if hour.weekday() >= 5 else 1.0
    return max(1, round(base_per_hour * (0.12 + evening + lunch) * weekend))


def _pick_agent(rng: random.Random) -> dict:
    return rng.choices([agent for agent, _ in AGENTS], weights=[weight for _, weight in AGENTS])[0]


def generate_hour(
    *, project_id: int, environment_id: int, hour: datetime, base_per_hour: int, users: int, app_version: str
) -> list[EventRecord]:
    rng = random.Random(f"{project_id}:{environment_id}:{hour.isoformat()}")
    records: list[EventRecord] = []

    def emit(
        offset: float,
        event: str,
        user: str,
        session: str,
        device: str,
        agent: dict,
        properties: dict,
        page: str,
    ):
        sequence = len(records)
        time = hour + timedelta(seconds=offset)
        records.append(
            EventRecord(
                time=time,
                received_at=time + timedelta(milliseconds=rng.randint(40, 900)),
                project_id=project_id,
                environment_id=environment_id,
                event=event,
                message_id=str(
                    uuid.uuid5(NAMESPACE, f"{project_id}:{environment_id}:{hour.isoformat()}:{sequence}")
                ),
                distinct_id=user,
                anonymous_id=device,
                device_id=device,
                session_id=session,
                properties=properties,
                context={
                    "library": {"name": "beacon.js", "version": "0.1.0"},
                    "page": {"path": page, "url": f"https://shop.example.com{page}"},
                    "user_agent": agent,
                    "app_version": app_version,
                },
                plan_status=PlanStatus.VALID,
            )
        )

    for _ in range(hourly_sessions(hour, base_per_hour)):
        # Two thirds of sessions come from anyone in the user base, a third from a loyal core
        # that returns often (a long tail, not everyone once).
        if rng.random() < 0.67:
            user_number = rng.randrange(users)
        else:
            user_number = int(rng.paretovariate(1.3) * 10) % (users // 10)
        user = f"user_{user_number:05d}"
        device = str(uuid.uuid5(NAMESPACE, f"device:{user}"))
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        agent = _pick_agent(rng)
        clock = rng.uniform(0, 3300)
        referrer = rng.choice(REFERRERS)
        emit(
            clock,
            "page_view",
            user,
            session,
            device,
            agent,
            {"path": "/", "title": "Shop", "referrer": referrer},
            "/",
        )
        if rng.random() < 0.3:
            clock += rng.uniform(3, 40)
            query = rng.choice(SEARCHES)
            emit(
                clock,
                "search",
                user,
                session,
                device,
                agent,
                {"query": query, "results": rng.randint(0, 40)},
                "/search",
            )
        if rng.random() < 0.04:
            clock += rng.uniform(5, 60)
            emit(
                clock,
                "signup",
                user,
                session,
                device,
                agent,
                {"method": rng.choice(["email", "google"])},
                "/signup",
            )
        if rng.random() > 0.62:
            continue
        product_id, name, price = rng.choice(PRODUCTS)
        clock += rng.uniform(4, 90)
        position = rng.randint(1, 12)
        emit(
            clock,
            "product_click",
            user,
            session,
            device,
            agent,
            {"product_id": product_id, "name": name, "position": position, "list": "home"},
            "/",
        )
        emit(
            clock + 0.5,
            "page_view",
            user,
            session,
            device,
            agent,
            {"path": f"/products/{product_id}", "title": name, "referrer": "/"},
            f"/products/{product_id}",
        )
        if rng.random() > 0.34:
            continue
        quantity = rng.choice([1, 1, 1, 2])
        clock += rng.uniform(10, 240)
        emit(
            clock,
            "add_to_cart",
            user,
            session,
            device,
            agent,
            {"product_id": product_id, "price": price, "quantity": quantity},
            f"/products/{product_id}",
        )
        if rng.random() > 0.42:
            continue
        clock += rng.uniform(30, 600)
        emit(
            clock,
            "purchase",
            user,
            session,
            device,
            agent,
            {
                "order_id": f"o-{rng.getrandbits(40):x}",
                "revenue": round(price * quantity, 2),
                "currency": "EUR",
                "items": [{"product_id": product_id, "quantity": quantity}],
            },
            "/checkout",
        )
    return records


def generate(
    *,
    project_id: int,
    environment_id: int,
    end: datetime,
    days: int,
    base_per_hour: int,
    users: int,
    app_version: str,
) -> Iterator[list[EventRecord]]:
    """One list of events per hour, for the `days` before `end`, never later than `end`."""
    end = end.astimezone(UTC)
    hour = (end - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        records = generate_hour(
            project_id=project_id,
            environment_id=environment_id,
            hour=hour,
            base_per_hour=base_per_hour,
            users=users,
            app_version=app_version,
        )
        yield [record for record in records if record.time <= end]
        hour += timedelta(hours=1)
