"""The data set of bench/queries.py: millions of realistic shop events, generated inside PostgreSQL.

    .venv/bin/python bench/querydata.py [--events 10000000] [--days 30] [--persons 200000] [--seed 7]
                                        [--workers 2] [--force]

Where it goes: a database of its own, ``beacon_bench_queries`` on the server of DATABASE_URL (the
embedded PostgreSQL by default), created and migrated the way the other benchmarks make theirs
(Django's test-database creation, here with ``keepdb``), and KEPT: a marker row (table
``bench_querydata``) records the parameters, the project and the counts, and a rerun with the same
parameters that finds those counts again loads nothing. ``use_bench_database()`` points Django's
connection at it; ``load()`` then returns the stats, whether it loaded or found the data.

How rows are made: no row travels from Python. Each UTC day (one partition on plain PostgreSQL) is
one ``INSERT INTO events ... SELECT`` whose every value is a pure function of the seed and a number:
``hashint8extended(number, salt)`` scaled to [0, 1) (``pg_temp.bench_u``) is the random draw, so a
rerun with the same seed writes the same events.

1. Hours: Python spreads ``events`` over the hours of ``days`` ending at the current hour with a
   daily cycle (quiet nights, lunch bump, evening peak, UTC+1 shoppers), busier weekends and slow
   growth; each hour gets an exact count (largest remainder), so the total is exact.
2. Sessions: each hour draws candidate sessions; a session's intent (browse, or add to cart, start
   checkout, complete the order, each less likely than the one before), whether it logs in or signs up,
   and its length (a geometric number of browsing events plus what the intent needs) come first; a
   running sum packs them into the hour's count, the last one cut short. Persons: 30 % of sessions
   from anyone, 70 % from a bounded Pareto (a few persons with hundreds of sessions a month, most
   with one to three); person numbers are scrambled, so ``user_000000`` is nobody special.
3. Events of a session, in order: a landing page view, browsing (page views, product views,
   searches, clicks, errors), the login if any, then the funnel block
   ``(product_viewed, added_to_cart) x 1..3, checkout_started, order_completed`` cut at the
   session's intent, maybe one more page view. A few minutes per session, inside its hour.
4. Identity: every person has ``user_<n>`` and a row in ``analytics_person``; 20 % also have an
   ``anon_<hex>`` id mapped to the same person, and half of their sessions start logged out, so
   the events before the login carry the anonymous id (``person_id`` is the person either way).

Mix at the defaults (measured, 10M): page_view ~45 %, product_viewed ~20 %, added_to_cart ~10 %,
search ~8 %, checkout_started ~5 %, order_completed ~3 %, logged_in ~3 %, signed_up ~1 %,
button_clicked ~3 %, error_shown ~2 %; production ~95 %, staging ~5 %.

Speed: the event indexes are dropped before the load and built again after it (the same names and
definitions, read from the catalog: what the migrations installed); days are loaded by ``--workers``
connections at once; then ANALYZE and ``get_store().refresh_rollups(full=True)``, with the planner
steered away from a join that makes it quadratic (see STEERED_ROLLUP_REFRESH; ``--plain-refresh``
runs it unsteered). Each phase is timed and reported. A load holds an advisory lock, so a second
process waits and then finds the data. At 10M on this 2-core machine: about 1.5 min of inserts,
0.5 min of index builds, 10 s of ANALYZE, under 1 min of rollups; 7.8 GB with indexes.
"""

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from psycopg import sql  # noqa: E402

from analytics.storage import EventRecord, get_store  # noqa: E402
from analytics.storage.registry import forget_store  # noqa: E402

DATABASE_NAME = "beacon_bench_queries"
MARKER_TABLE = "bench_querydata"
BENCH_EMAIL = "bench-queries@example.com"
ORGANIZATION_NAME = "Bench queries"
PROJECT_NAME = "Bench shop"

# --- the shape of the data -----------------------------------------------------------------------

PRODUCTS = 400  # catalog size; product popularity is skewed (u^2)
FILLER_MEAN = 5.1  # browsing events per session, geometric, at least 1 (the landing page view)
FILLER_MAX = 40
P_CART = 0.53  # a session adds to cart ...
P_CHECKOUT = 0.40  # ... starts checkout (of all sessions) ...
P_ORDER = 0.24  # ... and completes the order (of all sessions)
P_SECOND_ADD, P_THIRD_ADD = 0.38, 0.12  # more items in the cart (each a product view + an add)
P_TRAIL = 0.6  # one more page view after the funnel block
ANON_SHARE = 0.2  # persons with an anonymous distinct id too
P_LOGGED_OUT = 0.5  # ... whose sessions start logged out
P_LOGIN = 0.24  # other sessions that log in (or sign up) early on
SIGNUP_SHARE = 0.25  # of logins, the ones that are sign-ups
STAGING_SHARE = 0.05
UNIFORM_PERSONS = 0.3  # share of sessions from a person drawn uniformly; the rest: bounded Pareto
PARETO_K, PARETO_B = 1000.0, 1.5
SCRAMBLE = 1_000_003  # a prime: person number = rank * SCRAMBLE mod persons

# Browsing events after the landing page view (cumulative upper bounds of a uniform draw).
FILLER_MIX = (
    ("page_view", 0.586),
    ("product_viewed", 0.766),
    ("search", 0.910),
    ("button_clicked", 0.964),
    ("error_shown", 1.0),
)
CATEGORIES = ["shoes", "jackets", "tents", "backpacks", "lights", "stoves", "poles", "water"]
SEARCHES = [
    "tent", "jacket", "shoes waterproof", "headlamp", "stove gas", "poles carbon", "water filter",
    "sleeping bag", "backpack 40l", "down jacket", "trail shoes", "merino",
]  # fmt: skip
PAGES = ["/", "/", "/deals", "/cart", "/account", "/help", "/category/{category}", "/products/{product}"]
REFERRERS = [
    "", "", "", "https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
    "https://t.co/", "https://www.facebook.com/", "https://news.ycombinator.com/", "https://duckduckgo.com/",
]  # fmt: skip
# (browser, os, device_type), repeated by popularity; picked once per person.
AGENTS = (
    [("Chrome", "Windows", "desktop")] * 7
    + [("Mobile Safari", "iOS", "mobile")] * 5
    + [("Chrome Mobile", "Android", "mobile")] * 4
    + [("Safari", "Mac OS X", "desktop")] * 2
    + [("Firefox", "Linux", "desktop"), ("Edge", "Windows", "desktop"), ("Mobile Safari", "iOS", "tablet")]
)
BUTTONS = ["add_to_wishlist", "size_guide", "newsletter", "share", "filter", "sort"]
ERRORS = [("payment_declined", "Payment declined"), ("timeout", "Request timed out"), ("404", "Not found")]
PLANS = ["free"] * 16 + ["pro"] * 3 + ["enterprise"]
COUNTRIES = ["DE"] * 5 + ["FR"] * 3 + ["GB"] * 3 + ["US"] * 4 + ["NL", "ES", "IT", "PL", "SE", "CN", "JP"]


@dataclass
class LoadStats:
    """What load() did (or found, when ``skipped``): the data set, where it is, what it cost."""

    database: str
    project_id: int
    environments: dict[str, int]
    start: datetime  # first hour loaded (inclusive)
    end: datetime  # the hour the data ends at (exclusive): "now" for queries over this data
    events: int
    persons: int
    distinct_ids: int
    days: int
    seed: int
    load_seconds: float = 0.0  # persons + events, indexes dropped
    index_seconds: float = 0.0  # building the event indexes again
    analyze_seconds: float = 0.0
    rollup_seconds: float = 0.0  # get_store().refresh_rollups(full=True)
    table_bytes: int = 0  # pg_total_relation_size of events, all partitions, with indexes
    index_bytes: int = 0  # of which indexes
    partitions: int = 0
    skipped: bool = False  # the data was already there: nothing loaded, timings are the original load's
    mix: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LoadStats":
        data = dict(data)
        data["start"] = datetime.fromisoformat(data["start"])
        data["end"] = datetime.fromisoformat(data["end"])
        return cls(**data)

    def describe(self) -> str:
        size = f"{self.table_bytes / 2**30:.2f} GiB (indexes {self.index_bytes / 2**30:.2f} GiB)"
        verb = "found (already loaded, nothing done)" if self.skipped else "loaded"
        lines = [
            f"database {self.database}: project {self.project_id}, environments {self.environments}",
            f"{verb}: {self.events:,} events, {self.persons:,} persons, {self.distinct_ids:,} distinct ids,"
            f" {self.days} days [{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}) UTC, seed {self.seed}",
            f"load {self.load_seconds:.1f} s ({self.events / max(self.load_seconds, 1e-9):,.0f} events/s),"
            f" indexes {self.index_seconds:.1f} s, analyze {self.analyze_seconds:.1f} s,"
            f" rollups (full refresh) {self.rollup_seconds:.1f} s",
            f"events table: {size} in {self.partitions} partitions",
        ]
        if self.mix:
            total = sum(self.mix.values())
            by_count = sorted(self.mix.items(), key=lambda item: -item[1])
            shares = ", ".join(f"{name} {count / total:.1%}" for name, count in by_count)
            lines.append(f"mix: {shares}")
        return "\n".join(lines)


# --- the database ----------------------------------------------------------------------------------


def use_bench_database(name: str = DATABASE_NAME) -> str:
    """Point Django's default connection at ``name``, creating and migrating it if needed; kept."""
    connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": name}
    created = connection.creation.create_test_db(verbosity=0, autoclobber=False, serialize=False, keepdb=True)
    forget_store()  # the store (and its partition cache) of the database we just left
    return created


# --- hours ---------------------------------------------------------------------------------------


def hour_weight(hour: datetime, day_number: int, seed: int) -> float:
    """Relative traffic of an hour: daily cycle in UTC+1, weekends busier, slow growth, daily noise."""
    local = (hour.hour + 1) % 24
    evening = math.exp(-((local - 20) ** 2) / 8)
    lunch = 0.6 * math.exp(-((local - 13) ** 2) / 4)
    morning = 0.3 * math.exp(-((local - 9) ** 2) / 3)
    weekend = 1.25 if (hour + timedelta(hours=1)).weekday() >= 5 else 1.0
    noise = 1 + 0.08 * math.sin(day_number * 2.3 + seed)
    return (0.06 + morning + evening + lunch) * weekend * noise * (1 + 0.006 * day_number)


def plan_hours(*, events: int, days: int, end: datetime, seed: int) -> list[tuple[int, datetime, int]]:
    """(hour number, hour start, events) for every hour of ``days`` before ``end``; counts add up."""
    start = end - timedelta(days=days)
    hours = [start + timedelta(hours=number) for number in range(days * 24)]
    weights = [hour_weight(hour, (hour - start).days, seed) for hour in hours]
    shares = [events * weight / sum(weights) for weight in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(hours)), key=lambda index: counts[index] - shares[index])
    for index in by_remainder[: events - sum(counts)]:
        counts[index] += 1
    return [(number, hour, count) for number, (hour, count) in enumerate(zip(hours, counts, strict=True))]


def group_by_day(hours: list[tuple[int, datetime, int]]) -> dict[date, list[tuple[int, datetime, int]]]:
    days: dict[date, list[tuple[int, datetime, int]]] = {}
    for entry in hours:
        days.setdefault(entry[1].date(), []).append(entry)
    return days


# --- SQL -----------------------------------------------------------------------------------------


def _functions_sql(seed: int, persons: int) -> list[sql.Composed]:
    """Per-connection helpers (pg_temp, inlined by the planner): the draws and the identities."""
    if math.gcd(SCRAMBLE, persons) != 1:
        raise ValueError(f"persons must not be a multiple of {SCRAMBLE}")
    # Inverse CDF of a density proportional to (rank + k)^-b on [0, persons).
    pareto = sql.SQL(
        "least({n} - 1, floor(power(power({k}, {e}) + pg_temp.bench_u(skey, 3)"
        " * (power({n} + {k}, {e}) - power({k}, {e})), 1 / {e}) - {k}))"
    ).format(n=sql.Literal(float(persons)), k=sql.Literal(PARETO_K), e=sql.Literal(1 - PARETO_B))
    return [
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_u(key bigint, draw int) RETURNS float8"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT (hashint8extended(key, {seed}::bigint * 1000 + draw) & 4503599627370495)::float8"
            " / 4503599627370496 $$"
        ).format(seed=sql.Literal(seed)),
        # Which person a session belongs to (scrambled rank of a uniform or a bounded-Pareto draw).
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_person(skey bigint) RETURNS int"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT mod((CASE"
            " WHEN pg_temp.bench_u(skey, 2) < {uniform} THEN floor(pg_temp.bench_u(skey, 3) * {n})"
            " ELSE {pareto} END)::bigint * {scramble}, {n})::int $$"
        ).format(
            uniform=sql.Literal(UNIFORM_PERSONS),
            n=sql.Literal(persons),
            pareto=pareto,
            scramble=sql.Literal(SCRAMBLE),
        ),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_has_anon(person int) RETURNS boolean"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_temp.bench_u(person, 40) < {share} $$"
        ).format(share=sql.Literal(ANON_SHARE)),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_person_uuid(person int) RETURNS uuid"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT md5(concat_ws(':', 'person', {seed}, person))::uuid $$"
        ).format(seed=sql.Literal(seed)),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_user_id(person int) RETURNS text"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT 'user_' || lpad(person::text, greatest(6, length(person::text)), '0') $$"
        ),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_anon_id(person int) RETURNS text"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT 'anon_' || left(md5(concat_ws(':', 'anon', {seed}, person)), 12) $$"
        ).format(seed=sql.Literal(seed)),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_price(product bigint) RETURNS numeric"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT round((4.99 + 395 * power(pg_temp.bench_u(product, 41), 2))::numeric, 2) $$"
        ),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION pg_temp.bench_quantity(skey bigint, item bigint) RETURNS int"
            " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1"
            " + (pg_temp.bench_u(skey * 4 + item, 42) < 0.2)::int + (pg_temp.bench_u(skey * 4 + item, 42) < 0.05)::int $$"
        ),
    ]


def _text_array(values: list[str]) -> sql.Composed:
    return sql.SQL("ARRAY[{}]::text[]").format(sql.SQL(", ").join(map(sql.Literal, values)))


def _pick(values: list[str], draw: sql.Composable) -> sql.Composed:
    """One of ``values`` (repeat a value to weight it) for a uniform draw in [0, 1)."""
    return sql.SQL("({array})[1 + floor({draw} * {n})::int]").format(
        array=_text_array(values), draw=draw, n=sql.Literal(len(values))
    )


def _draw(key: str, number: int) -> sql.Composed:
    return sql.SQL("pg_temp.bench_u({}, {})").format(sql.SQL(key), sql.Literal(number))


def _filler_event() -> sql.Composed:
    whens = sql.SQL(" ").join(
        sql.SQL("WHEN {} < {} THEN {}").format(
            _draw("s.skey * 100 + e.position", 20), sql.Literal(bound), sql.Literal(name)
        )
        for name, bound in FILLER_MIX[:-1]
    )
    return sql.SQL("CASE {} ELSE {} END").format(whens, sql.Literal(FILLER_MIX[-1][0]))


# TRICKY: one statement per day; `{...}` are composed in by _events_sql, `%(...)s` are parameters.
_EVENTS_SQL = """
INSERT INTO events (time, received_at, project_id, environment_id, event, message_id, distinct_id,
                    person_id, anonymous_id, device_id, session_id, properties, context, plan_status)
WITH hours AS (
    SELECT * FROM unnest(%(hour_numbers)s::int[], %(hour_starts)s::timestamptz[], %(hour_events)s::int[])
        AS h(hour_number, hour, events)
),
slots AS (  -- candidate sessions of each hour (more than enough), keyed hour * 1e6 + slot
    SELECT h.hour_number, h.hour, h.events, h.hour_number::bigint * 1000000 + s.slot AS skey
    FROM hours AS h
    CROSS JOIN LATERAL generate_series(0, ceil(h.events * 1.5 / {mean_length})::int + 50) AS s(slot)
),
intents AS (  -- what the session will do, decided before its length
    SELECT s.*,
           CASE WHEN {u_intent} < {p_order} THEN 3 WHEN {u_intent} < {p_checkout} THEN 2
                WHEN {u_intent} < {p_cart} THEN 1 ELSE 0 END AS depth,
           1 + ({u_adds} < {p_second})::int + ({u_adds} < {p_third})::int AS adds,
           least({filler_max}, 1 + floor(ln(1 - {u_length}) / ln(1 - 1 / {filler_mean})))::int AS filler,
           pg_temp.bench_person(s.skey) AS person
    FROM slots AS s
),
shaped AS (
    SELECT i.*,
           pg_temp.bench_has_anon(i.person) AND {u_login} < {p_logged_out} AS logged_out,
           CASE WHEN pg_temp.bench_has_anon(i.person) AND {u_login} < {p_logged_out} THEN true
                ELSE {u_login_other} < {p_login} END AS logs_in,
           CASE WHEN i.depth = 0 THEN 0 ELSE 2 * i.adds + (i.depth >= 2)::int + (i.depth >= 3)::int END AS block,
           (i.depth > 0 AND {u_trail} < {p_trail})::int AS trail
    FROM intents AS i
),
placed AS (  -- pack the sessions into the hour's count; the one crossing it is cut short
    SELECT s.*, s.filler + s.logs_in::int + s.block + s.trail AS planned,
           sum(s.filler + s.logs_in::int + s.block + s.trail)
               OVER (PARTITION BY s.hour_number ORDER BY s.skey) - (s.filler + s.logs_in::int + s.block + s.trail)
               AS first_row
    FROM shaped AS s
),
sessions AS (
    SELECT p.skey, p.hour, p.person, p.depth, p.adds, p.block, p.logged_out, p.logs_in,
           least(p.planned, p.events - p.first_row) AS length,
           CASE WHEN NOT p.logs_in THEN -1
                WHEN p.logged_out THEN least(p.filler, 1 + floor({u_login_at} * 3)::int)
                ELSE floor({u_login_at} * 2)::int END AS login_at,
           p.filler + p.logs_in::int AS block_at,
           CASE WHEN {u_signup} < {signup_share} THEN 'signed_up' ELSE 'logged_in' END AS login_event,
           6 + 40 * {u_pace} AS pace,
           {u_start} AS start_draw,
           CASE WHEN {u_env} < {staging_share} THEN %(staging)s::bigint ELSE %(production)s::bigint END
               AS environment_id,
           floor({products} * power({u_product}, 2))::int AS product,
           {referrer} AS referrer,
           {app_version} AS app_version,
           md5(concat_ws(':', 'session', {seed}, p.skey))::uuid::text AS session_id,
           pg_temp.bench_person_uuid(p.person) AS person_id,
           pg_temp.bench_user_id(p.person) AS user_id,
           CASE WHEN pg_temp.bench_has_anon(p.person) THEN pg_temp.bench_anon_id(p.person) END AS anon_id,
           md5(concat_ws(':', 'device', {seed}, p.person))::uuid::text AS device_id,
           {browser} AS browser,
           {os} AS os,
           {device_type} AS device_type,
           CASE WHEN pg_temp.bench_u(p.person, 44) < 0.8 THEN 'EUR' ELSE 'USD' END AS currency
    FROM placed AS p
    WHERE p.first_row < p.events
),
typed AS (  -- every event of every session, its name, its product and its page
    SELECT s.*, e.position, s.skey * 100 + e.position AS ekey,
           e.position - s.block_at AS step,
           CASE
               WHEN e.position = s.login_at THEN s.login_event
               WHEN e.position >= s.block_at AND e.position < s.block_at + s.block THEN
                   CASE WHEN e.position - s.block_at < 2 * s.adds THEN
                            CASE WHEN mod(e.position - s.block_at, 2) = 0 THEN 'product_viewed' ELSE 'added_to_cart' END
                        WHEN e.position - s.block_at = 2 * s.adds THEN 'checkout_started'
                        ELSE 'order_completed' END
               WHEN e.position = 0 THEN 'page_view'
               ELSE {filler_event}
           END AS event
    FROM sessions AS s
    CROSS JOIN LATERAL generate_series(0, s.length - 1) AS e(position)
),
pages AS (
    SELECT t.*,
           CASE WHEN t.step >= 0 AND t.step < 2 * t.adds THEN mod(t.product + (t.step / 2) * 37, {products})
                ELSE floor({products} * power({u_event_product}, 2))::int END AS item,
           {u_event} AS u
    FROM typed AS t
),
located AS (
    SELECT p.*, 'sku-' || (10000 + p.item) AS product_id,
           CASE p.event
               WHEN 'product_viewed' THEN '/products/sku-' || (10000 + p.item)
               WHEN 'added_to_cart' THEN '/products/sku-' || (10000 + p.item)
               WHEN 'checkout_started' THEN '/checkout'
               WHEN 'order_completed' THEN '/checkout/complete'
               WHEN 'search' THEN '/search'
               WHEN 'logged_in' THEN '/login'
               WHEN 'signed_up' THEN '/signup'
               WHEN 'error_shown' THEN CASE WHEN p.u < 0.5 THEN '/checkout' ELSE '/' END
               ELSE replace(replace({page}, '{{category}}', {category}), '{{product}}', 'sku-' || (10000 + p.item))
           END AS path,
           p.hour + interval '1 second' * (
               p.start_draw * greatest(0, 3599 - p.length * p.pace) + p.position * p.pace + p.u * p.pace * 0.8
           ) AS time
    FROM pages AS p
)
SELECT
    l.time,
    l.time + interval '1 millisecond' * (40 + floor(860 * {u_received})),
    %(project)s::bigint,
    l.environment_id,
    l.event,
    md5(concat_ws(':', 'event', {seed}, l.ekey))::uuid::text,
    CASE WHEN l.logged_out AND l.position < l.login_at THEN l.anon_id ELSE l.user_id END,
    l.person_id,
    l.anon_id,
    l.device_id,
    l.session_id,
    CASE l.event
        WHEN 'page_view' THEN jsonb_build_object(
            'path', l.path,
            'referrer', CASE WHEN l.position = 0 THEN l.referrer ELSE 'https://shop.example.com/' END,
            'load_time_ms', round(120 + 2500 * power(l.u, 3)))
        WHEN 'product_viewed' THEN jsonb_build_object(
            'product_id', l.product_id, 'category', {item_category}, 'price', pg_temp.bench_price(l.item))
        WHEN 'added_to_cart' THEN jsonb_build_object(
            'product_id', l.product_id, 'price', pg_temp.bench_price(l.item),
            'quantity', pg_temp.bench_quantity(l.skey, l.step / 2))
        WHEN 'checkout_started' THEN jsonb_build_object('items', {items}, 'value', {revenue})
        WHEN 'order_completed' THEN jsonb_build_object(
            'order_id', 'o-' || left(md5(concat_ws(':', 'order', {seed}, l.skey)), 10),
            'revenue', {revenue}, 'currency', l.currency, 'items', {items})
        WHEN 'search' THEN jsonb_build_object('query', {query}, 'results', floor(60 * l.u)::int)
        WHEN 'signed_up' THEN jsonb_build_object('method', CASE WHEN l.u < 0.6 THEN 'email' ELSE 'google' END)
        WHEN 'logged_in' THEN jsonb_build_object('method', CASE WHEN l.u < 0.7 THEN 'password' ELSE 'google' END)
        WHEN 'button_clicked' THEN jsonb_build_object('button', {button}, 'path', l.path)
        ELSE jsonb_build_object('code', {error_code}, 'message', {error_message})
    END,
    jsonb_build_object(
        'library', jsonb_build_object('name', 'beacon.js', 'version', '1.4.2'),
        'browser', l.browser, 'os', l.os, 'device_type', l.device_type,
        'page', jsonb_build_object('path', l.path),
        'app_version', l.app_version),
    0
FROM located AS l
"""


def _revenue_terms(what: str) -> sql.Composed:
    """Sum over the session's cart items (up to 3) of quantity, or of price x quantity."""
    terms = []
    for item in range(3):
        product = sql.SQL("mod(l.product + {} * 37, {})").format(sql.Literal(item), sql.Literal(PRODUCTS))
        quantity = sql.SQL("pg_temp.bench_quantity(l.skey, {})").format(sql.Literal(item))
        value = (
            quantity if what == "items" else sql.SQL("pg_temp.bench_price({}) * {}").format(product, quantity)
        )
        terms.append(sql.SQL("CASE WHEN l.adds > {} THEN {} ELSE 0 END").format(sql.Literal(item), value))
    return sql.SQL("({})").format(sql.SQL(" + ").join(terms))


def _agent_sql(part: int) -> sql.Composed:
    """Browser (0), OS (1) or device type (2) of the person's one user agent."""
    return _pick([agent[part] for agent in AGENTS], _draw("p.person", 43))


def _category_of(item: str) -> sql.Composed:
    count = sql.Literal(len(CATEGORIES))
    return _pick(CATEGORIES, sql.SQL("(mod({}, {}) + 0.5) / {}").format(sql.SQL(item), count, count))


def _events_sql(seed: int) -> sql.Composed:
    literal = sql.Literal
    mean_length = FILLER_MEAN + P_CART * 2 * (1 + P_SECOND_ADD + P_THIRD_ADD) + P_CHECKOUT + P_ORDER + 0.3
    return sql.SQL(_EVENTS_SQL).format(
        mean_length=literal(round(mean_length, 3)),
        u_intent=_draw("s.skey", 5),
        p_order=literal(P_ORDER),
        p_checkout=literal(P_CHECKOUT),
        p_cart=literal(P_CART),
        u_adds=_draw("s.skey", 6),
        p_second=literal(P_SECOND_ADD),
        p_third=literal(P_THIRD_ADD),
        filler_max=literal(FILLER_MAX),
        u_length=_draw("s.skey", 1),
        filler_mean=literal(FILLER_MEAN),
        u_login=_draw("i.skey", 7),
        p_logged_out=literal(P_LOGGED_OUT),
        u_login_other=_draw("i.skey", 8),
        p_login=literal(P_LOGIN),
        u_trail=_draw("i.skey", 9),
        p_trail=literal(P_TRAIL),
        u_login_at=_draw("p.skey", 10),
        u_signup=_draw("p.skey", 11),
        signup_share=literal(SIGNUP_SHARE),
        u_pace=_draw("p.skey", 12),
        u_start=_draw("p.skey", 13),
        u_env=_draw("p.skey", 14),
        staging_share=literal(STAGING_SHARE),
        products=literal(PRODUCTS),
        u_product=_draw("p.skey", 15),
        referrer=_pick(REFERRERS, _draw("p.skey", 16)),
        app_version=sql.SQL("'4.' || (p.hour_number / 168) || '.' || floor(3 * {})::int").format(
            _draw("p.skey", 17)
        ),
        seed=literal(seed),
        browser=_agent_sql(0),
        os=_agent_sql(1),
        device_type=_agent_sql(2),
        filler_event=_filler_event(),
        u_event_product=_draw("t.ekey", 21),
        u_event=_draw("t.ekey", 22),
        page=_pick(PAGES, _draw("p.ekey", 23)),
        category=_category_of("p.item"),
        u_received=_draw("l.ekey", 24),
        item_category=_category_of("l.item"),
        items=_revenue_terms("items"),
        revenue=_revenue_terms("revenue"),
        query=_pick(SEARCHES, sql.SQL("l.u")),
        button=_pick(BUTTONS, sql.SQL("l.u")),
        error_code=_pick([code for code, _ in ERRORS], sql.SQL("l.u")),
        error_message=_pick([message for _, message in ERRORS], sql.SQL("l.u")),
    )


_PERSONS_SQL = """
INSERT INTO analytics_person (id, project_id, properties, is_identified, created_at, updated_at)
SELECT pg_temp.bench_person_uuid(n), %(project)s,
       jsonb_build_object('plan', {plan}, 'country', {country}),
       true,
       %(start)s::timestamptz - interval '1 hour' * floor(24 * 365 * pg_temp.bench_u(n, 47)),
       %(start)s::timestamptz
FROM generate_series(0, %(persons)s - 1) AS n
"""

_DISTINCT_IDS_SQL = """
INSERT INTO analytics_persondistinctid (project_id, distinct_id, person_id)
SELECT %(project)s, pg_temp.bench_user_id(n), pg_temp.bench_person_uuid(n)
FROM generate_series(0, %(persons)s - 1) AS n
UNION ALL
SELECT %(project)s, pg_temp.bench_anon_id(n), pg_temp.bench_person_uuid(n)
FROM generate_series(0, %(persons)s - 1) AS n
WHERE pg_temp.bench_has_anon(n)
"""


def _persons_sql() -> tuple[sql.Composed, sql.Composed]:
    persons = sql.SQL(_PERSONS_SQL).format(
        plan=_pick(PLANS, _draw("n", 45)), country=_pick(COUNTRIES, _draw("n", 46))
    )
    return persons, sql.SQL(_DISTINCT_IDS_SQL).format()


# --- loading -------------------------------------------------------------------------------------

GENERATOR_VERSION = 1  # bump when the generator changes: a rerun then reloads
LOAD_LOCK_KEY = 7_240_077  # pg_advisory_lock: one load at a time per database
_ON_ONLY = re.compile(r" ON ONLY ")
_SESSION_SETTINGS = (
    "SET synchronous_commit = off",  # bench data: losing the last commits in a crash is fine
    "SET work_mem = '64MB'",
)
_SETTING_NAME = re.compile(r"SET (\w+) =")


# TRICKY: PostgresStore.refresh_rollups joins a temp table of hours (never analyzed, so guessed at
# 1850 rows) to `events` on project_id, with the hour's range as a join filter. Left alone, the planner
# picks a merge or hash join on project_id, or a nested loop with `events` outside, each evaluating the
# filter for every (event, hour) pair: the full refresh took 113 s at 1M events and grows with events x
# hours. Steered (no merge or hash join, index pages as cheap as on SSD) it runs one index range scan
# per hour: 7 s + 14 s for the two hourly inserts at 10M. The store's own fix would be to ANALYZE the
# temp table, or to join on date_trunc('hour', e.time) = h.hour within the claimed range.
STEERED_ROLLUP_REFRESH = (
    "SET LOCAL enable_mergejoin = off",
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL random_page_cost = 1.1",
    "SET LOCAL work_mem = '256MB'",
)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _prepare_cursor(cursor, *, seed: int, persons: int) -> None:
    for statement in (*_SESSION_SETTINGS, *_functions_sql(seed, persons)):
        cursor.execute(statement)


def _ensure_marker_table(cursor) -> None:
    cursor.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (id int PRIMARY KEY CHECK (id = 1), params jsonb NOT NULL,"
            " stats jsonb NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(MARKER_TABLE))
    )


def _found(cursor, params: dict) -> LoadStats | None:
    """The stats of the last load if it had these parameters and its rows are all still there."""
    cursor.execute(
        sql.SQL("SELECT stats::text FROM {} WHERE id = 1 AND params = %s::jsonb").format(
            sql.Identifier(MARKER_TABLE)
        ),
        [json.dumps(params)],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    stats = LoadStats.from_json(json.loads(row[0]))
    cursor.execute("SELECT count(*) FROM events WHERE project_id = %s", [stats.project_id])
    events = cursor.fetchone()[0]
    cursor.execute(
        "SELECT count(*) FROM analytics_persondistinctid WHERE project_id = %s", [stats.project_id]
    )
    distinct_ids = cursor.fetchone()[0]
    if (events, distinct_ids) != (stats.events, stats.distinct_ids):
        return None
    stats.skipped = True
    return stats


def _bench_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=BENCH_EMAIL).first()


def _forget_previous(cursor, store, *, end: datetime, days: int) -> None:
    """Delete what an earlier load left (its projects, persons, events, rollups, the marker)."""
    from projects.models import Project

    cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(MARKER_TABLE)))
    user = _bench_user()
    if user is None:
        return
    projects = list(Project.objects.filter(organization__memberships__user=user))
    ids = [project.id for project in projects]
    cursor.execute("SELECT EXISTS (SELECT 1 FROM events WHERE project_id <> ALL(%s))", [ids])
    if cursor.fetchone()[0]:  # other data shares the table: delete ours only (slow, but theirs stays)
        for project_id in ids:
            store.delete_project(project_id)
    else:  # the table holds the bench's data only (its own database): the fast way
        cursor.execute("TRUNCATE events, event_dedup, rollup_dirty_hours")
        cursor.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, _ROLLUPS))))
        if store.name == "postgres":  # drop the older, now empty, partitions (TimescaleDB: its policy)
            store.apply_retention(max_days=days + 1, now=end)
    cursor.execute("DELETE FROM analytics_persondistinctid WHERE project_id = ANY(%s)", [ids])
    cursor.execute("DELETE FROM analytics_person WHERE project_id = ANY(%s)", [ids])
    for project in projects:
        project.delete()


_ROLLUPS = ("event_counts_hourly", "event_actors_hourly", "event_counts_daily", "event_actors_daily")


def _make_tenancy():
    """The bench's organization (owner: the bench user), a fresh project, its environments."""
    import uuid

    from projects.actions import do_create_project, do_signup

    user = _bench_user()
    if user is None:
        _, project, _ = do_signup(
            email=BENCH_EMAIL,
            password=uuid.uuid4().hex,
            organization_name=ORGANIZATION_NAME,
            project_name=PROJECT_NAME,
        )
        return project
    organization = user.memberships.get().organization
    project, _ = do_create_project(organization=organization, name=PROJECT_NAME, acting_user=user)
    return project


def _prepare_partitions(store, project_id: int, days: list[date]) -> None:
    """The store's own preparation for writing these days (plain PostgreSQL: one partition each)."""
    starts = [datetime(day.year, day.month, day.day, tzinfo=UTC) for day in days]
    store.prepare_for(
        [
            EventRecord(
                time=t, received_at=t, project_id=project_id, environment_id=0, event="", message_id=""
            )
            for t in starts
        ]
    )


def _event_indexes(cursor) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every index on ``events`` as installed (none is unique).

    From the catalog rather than schema.py, so the bench builds what the migrations built. TRICKY: on a
    partitioned table the definition reads ``ON ONLY events``, which would not build the partitions'.
    """
    cursor.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'events'::regclass AND NOT i.indisunique ORDER BY c.relname
        """
    )
    return [(name, _ON_ONLY.sub(" ON ", definition, count=1)) for name, definition in cursor.fetchall()]


def _drop_indexes(cursor, indexes: list[tuple[str, str]]) -> None:
    for name, _ in indexes:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def _create_indexes(cursor, indexes: list[tuple[str, str]]) -> None:
    """Build them again; each builds every partition's index, with parallel workers."""
    for _, statement in indexes:
        with transaction.atomic():
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cursor.execute(statement)


def _day_params(entries, *, project_id: int, environments: dict[str, int]) -> dict:
    return {
        "hour_numbers": [number for number, _, _ in entries],
        "hour_starts": [hour for _, hour, _ in entries],
        "hour_events": [count for _, _, count in entries],
        "project": project_id,
        "production": environments["production"],
        "staging": environments["staging"],
    }


class _DayLoader:
    """Inserts one day per statement, on Django's connection (workers=1) or on its own connections."""

    def __init__(self, *, seed: int, persons: int, project_id: int, environments: dict[str, int]):
        self.seed, self.persons = seed, persons
        self.project_id, self.environments = project_id, environments
        self.statement = _events_sql(seed)
        self._params = connection.get_connection_params()  # of the database use_bench_database chose
        self._local = threading.local()
        self._connections: list = []
        self._lock = threading.Lock()

    def insert_day(self, cursor, entries) -> int:
        cursor.execute(
            self.statement, _day_params(entries, project_id=self.project_id, environments=self.environments)
        )
        expected = sum(count for _, _, count in entries)
        if cursor.rowcount != expected:
            raise RuntimeError(
                f"day of {entries[0][1]:%Y-%m-%d}: wrote {cursor.rowcount} events, not {expected}"
            )
        return cursor.rowcount

    def _own_cursor(self):
        """A connection of this thread, configured like Django's, autocommit, helpers created."""
        if getattr(self._local, "cursor", None) is None:
            raw = connection.get_new_connection(self._params)
            raw.autocommit = True
            with self._lock:
                self._connections.append(raw)
            self._local.cursor = raw.cursor()
            _prepare_cursor(self._local.cursor, seed=self.seed, persons=self.persons)
        return self._local.cursor

    def load(self, by_day: dict, workers: int) -> int:
        if workers <= 1:  # Django's connection, prepared by the caller
            with connection.cursor() as cursor:
                return sum(self.insert_day(cursor, entries) for entries in by_day.values())
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # Biggest days first, so the last one to finish is short.
                days = sorted(by_day.values(), key=lambda entries: -sum(count for *_, count in entries))
                return sum(pool.map(lambda entries: self.insert_day(self._own_cursor(), entries), days))
        finally:
            for raw in self._connections:
                raw.close()


def _refresh_rollups(store, *, steer_planner: bool) -> None:
    """The store's full refresh. Steered: merge and hash joins off for it (see STEERED_ROLLUP_REFRESH)."""
    if not steer_planner:
        store.refresh_rollups(full=True)
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in STEERED_ROLLUP_REFRESH:
            cursor.execute(setting)
        store.refresh_rollups(full=True)


def _table_sizes(cursor, store) -> tuple[int, int, int]:
    """(total bytes, index bytes, partitions or chunks) of ``events``."""
    if store.name == "timescaledb":
        cursor.execute(
            "SELECT total_bytes, index_bytes, (SELECT count(*) FROM show_chunks('events'))"
            " FROM hypertable_detailed_size('events')"
        )
    else:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(relid)), sum(pg_indexes_size(relid)), count(*) FILTER (WHERE isleaf)"
            " FROM pg_partition_tree('events')"
        )
    total, indexes, parts = cursor.fetchone()
    return int(total or 0), int(indexes or 0), int(parts or 0)


def _mix(cursor, project_id: int) -> dict[str, int]:
    cursor.execute(
        "SELECT event, sum(events)::bigint FROM event_counts_daily WHERE project_id = %s GROUP BY event"
        " ORDER BY 2 DESC",
        [project_id],
    )
    return dict(cursor.fetchall())


def _load_rows(cursor, loader: "_DayLoader", by_day: dict, *, end: datetime, days: int, workers: int) -> int:
    """Persons, their distinct ids, then the events, day by day. Returns the events written."""
    _prepare_cursor(cursor, seed=loader.seed, persons=loader.persons)
    try:
        persons_sql, distinct_ids_sql = _persons_sql()
        cursor.execute(
            persons_sql,
            {"project": loader.project_id, "persons": loader.persons, "start": end - timedelta(days=days)},
        )
        cursor.execute(distinct_ids_sql, {"project": loader.project_id, "persons": loader.persons})
        return loader.load(by_day, workers)
    finally:
        for setting in _SESSION_SETTINGS:  # Django's connection goes on to measure queries: defaults
            cursor.execute(sql.SQL("RESET {}").format(sql.Identifier(_SETTING_NAME.match(setting)[1])))


def _describe(
    cursor, store, project, *, params: dict, end: datetime, written: int, seconds: dict
) -> LoadStats:
    total_bytes, index_bytes, partitions = _table_sizes(cursor, store)
    cursor.execute("SELECT count(*) FROM analytics_persondistinctid WHERE project_id = %s", [project.id])
    return LoadStats(
        database=connection.settings_dict["NAME"],
        project_id=project.id,
        environments=dict(project.environments.values_list("slug", "id")),
        start=end - timedelta(days=params["days"]),
        end=end,
        events=written,
        persons=params["persons"],
        distinct_ids=cursor.fetchone()[0],
        days=params["days"],
        seed=params["seed"],
        **{f"{phase}_seconds": round(value, 2) for phase, value in seconds.items()},
        table_bytes=total_bytes,
        index_bytes=index_bytes,
        partitions=partitions,
        mix=_mix(cursor, project.id),
    )


def load(
    *,
    events: int = 10_000_000,
    days: int = 30,
    persons: int = 200_000,
    seed: int = 7,
    workers: int = 2,
    force: bool = False,
    drop_indexes: bool = True,
    steer_rollup_planner: bool = True,
) -> LoadStats:
    """Load the data set into the database Django's connection points at, unless it is already there.

    Run it on a database of its own (``use_bench_database()`` first): it drops and rebuilds the event
    indexes, and truncates ``events`` when the table holds nothing but an earlier bench load.
    ``workers`` > 1 loads days on connections of its own, which must see committed data: use 1 inside
    a transaction (tests). The data ends at ``LoadStats.end`` (the hour of the load, not of a rerun).
    """
    params = {
        "events": events,
        "days": days,
        "persons": persons,
        "seed": seed,
        "generator": GENERATOR_VERSION,
    }
    connection.ensure_connection()
    with connection.cursor() as cursor:
        # Two processes loading at once would truncate each other's rows: the second one waits for the
        # first, then finds its data (or replaces it, if the parameters differ).
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOAD_LOCK_KEY])
        try:
            return _load_unless_found(
                params, workers=workers, force=force, drop_indexes=drop_indexes, steer=steer_rollup_planner
            )
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOAD_LOCK_KEY])


def _load_unless_found(
    params: dict, *, workers: int, force: bool, drop_indexes: bool, steer: bool
) -> LoadStats:
    days, persons, seed = params["days"], params["persons"], params["seed"]
    forget_store()  # a fresh store: its cache of partitions may remember a rolled-back transaction's
    store = get_store()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        _ensure_marker_table(cursor)
        if not force and (found := _found(cursor, params)) is not None:
            return found
        _forget_previous(cursor, store, end=end, days=days)
    project = _make_tenancy()
    environments = dict(project.environments.values_list("slug", "id"))
    by_day = group_by_day(plan_hours(events=params["events"], days=days, end=end, seed=seed))
    _prepare_partitions(store, project.id, list(by_day))
    loader = _DayLoader(seed=seed, persons=persons, project_id=project.id, environments=environments)
    seconds = {}
    with connection.cursor() as cursor:
        indexes = _event_indexes(cursor) if drop_indexes else []
        _drop_indexes(cursor, indexes)
        started = time.perf_counter()
        try:
            written = _load_rows(cursor, loader, by_day, end=end, days=days, workers=workers)
            seconds["load"] = time.perf_counter() - started
        finally:
            seconds["index"] = _timed(lambda: _create_indexes(cursor, indexes))
        seconds["analyze"] = _timed(
            lambda: cursor.execute("ANALYZE events, analytics_person, analytics_persondistinctid")
        )
        seconds["rollup"] = _timed(lambda: _refresh_rollups(store, steer_planner=steer))
        stats = _describe(cursor, store, project, params=params, end=end, written=written, seconds=seconds)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {} (id, params, stats) VALUES (1, %s, %s) ON CONFLICT (id)"
                " DO UPDATE SET params = excluded.params, stats = excluded.stats, loaded_at = now()"
            ).format(sql.Identifier(MARKER_TABLE)),
            [json.dumps(params), json.dumps(stats.to_json())],
        )
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="connections loading days at once")
    parser.add_argument("--database", default=DATABASE_NAME)
    parser.add_argument("--force", action="store_true", help="load again even if the data is there")
    parser.add_argument(
        "--keep-indexes", action="store_true", help="load with the event indexes in place (slower)"
    )
    parser.add_argument(
        "--plain-refresh",
        action="store_true",
        help="refresh the rollups with the planner's own choices (slow at this size, see STEERED_ROLLUP_REFRESH)",
    )
    args = parser.parse_args()
    database = use_bench_database(args.database)
    print(f"database {database} ({get_store().name} store); checking for an earlier load ...", flush=True)
    stats = load(
        events=args.events,
        days=args.days,
        persons=args.persons,
        seed=args.seed,
        workers=args.workers,
        force=args.force,
        drop_indexes=not args.keep_indexes,
        steer_rollup_planner=not args.plain_refresh,
    )
    print(stats.describe())


if __name__ == "__main__":
    main()
