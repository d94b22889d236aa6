"""The SQL console: project A's console can never see project B's rows, whatever SQL it sends.

These tests commit (transactional_db): the console reads on a connection of its own, logged in as the
project's console role, which sees only committed rows. Each test drops the roles and schemas it made.
"""

import base64
import csv
import hashlib
import hmac
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from analytics.models import Person, PersonDistinctId
from analytics.queries import console
from analytics.storage import get_store
from projects import actions
from projects.models import Membership, Role
from tests.analytics.events import event
from tests.conftest import make_project

SECRET_B = "b-secret-7f3a9c"  # in project B's events, persons and distinct ids: never in A's console
NOW = datetime.now(UTC)


@pytest.fixture
def tenants(transactional_db):
    """Projects A and B, with events and persons. No members: a page test adds the user it needs with
    ``join`` (hashing a password costs a tenth of a second, and most tests here need no user)."""
    project_a = make_project()
    project_b = make_project()
    store = get_store()
    store.insert_events(
        [
            event(
                project_a,
                time=NOW - timedelta(hours=1),
                name="signup",
                distinct_id="a-user",
                properties={"secret": "42"},
            ),
            event(
                project_a,
                time=NOW - timedelta(hours=2),
                name="signup",
                distinct_id="a-user",
                properties={"secret": "7"},
            ),
            event(
                project_a,
                time=NOW - timedelta(hours=3),
                name="purchase",
                distinct_id="a-user",
                properties={"secret": "1"},
            ),
            event(
                project_b,
                time=NOW - timedelta(hours=1),
                name=f"{SECRET_B}-event",
                distinct_id=f"{SECRET_B}-user",
                properties={"secret": SECRET_B},
            ),
        ]
    )
    person_a = Person.objects.create(
        id=uuid.uuid4(), project=project_a, properties={"secret": "42", "plan": "pro"}
    )
    person_b = Person.objects.create(id=uuid.uuid4(), project=project_b, properties={"secret": SECRET_B})
    PersonDistinctId.objects.create(project=project_a, distinct_id="a-user", person=person_a)
    PersonDistinctId.objects.create(project=project_b, distinct_id=f"{SECRET_B}-user", person=person_b)
    console.ensure_console(project_b.id)  # B uses its console too: its schema and role exist
    project_ids = (project_a.id, project_b.id)
    yield project_a, project_b
    for project_id in project_ids:
        console.drop_console(project_id)
        store.delete_project(project_id)


def join(project, user, role: Role):
    Membership.objects.create(organization=project.organization, user=user, role=role)


def run(project, query: str):
    """The result, or the error message: what the user would see."""
    try:
        return console.run_query(project.id, query)
    except console.ConsoleQueryError as error:
        return error.message


def shown(outcome) -> str:
    if isinstance(outcome, str):
        return outcome
    return repr((outcome.columns, outcome.rows))


def catalog(query: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


# --- isolation ---------------------------------------------------------------------------------------

ATTACKS = [
    "SELECT * FROM public.events",
    "TABLE public.events",
    "SELECT * FROM ONLY public.events",
    "SELECT * FROM events UNION ALL SELECT * FROM public.events",
    "SELECT * FROM events WHERE project_id = {b}",
    "SELECT * FROM console_p{b}.events",
    "SELECT * FROM console_p{a}.events e JOIN console_p{b}.events f USING (event)",
    "SELECT * FROM console_p{b}.persons",
    "SET search_path TO console_p{b}; SELECT * FROM events",
    "SELECT set_config('search_path', 'console_p{b}', false), * FROM events",
    "RESET ROLE; SELECT * FROM public.events",
    "SET ROLE postgres",
    "SELECT set_config('role', current_setting('is_superuser'), false)",
    "SELECT set_config('role', 'postgres', false), * FROM public.events",
    "SELECT set_config('session_authorization', 'postgres', false)",
    "SELECT * FROM analytics_person",
    "SELECT * FROM public.analytics_person",
    "SELECT * FROM public.analytics_persondistinctid",
    "SELECT * FROM public.auth_user",
    "SELECT * FROM public.projects_apikey",
    "SELECT * FROM public.event_actors_daily",
    "SELECT * FROM pg_stats WHERE tablename LIKE 'events%' OR tablename LIKE 'analytics_person%'",
    "SELECT * FROM pg_catalog.pg_statistic",
    "SELECT * FROM pg_stats_ext",
    "SELECT query FROM pg_stat_activity",
    "SELECT definition FROM pg_views WHERE schemaname LIKE 'console_%'",
    "SELECT query_to_xml('SELECT * FROM public.events', true, true, '')",
    "SELECT query_to_xml('SELECT * FROM console_p{b}.events', true, true, '')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT * FROM public.events') AS t(x text)",
    "COPY (SELECT * FROM public.events) TO STDOUT",
    "COPY events TO STDOUT",
    "CREATE TABLE stolen AS SELECT * FROM public.events",
    "CREATE TEMP TABLE stolen (x text)",
    "CREATE FUNCTION leak(text) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
    "DO $$ BEGIN PERFORM * FROM public.events; END $$",
    "EXPLAIN ANALYZE SELECT * FROM events",
    "INSERT INTO events (time, received_at, project_id, environment_id, event, message_id) VALUES (now(), now(), {b}, 1, 'x', 'x')",
    "UPDATE events SET event = 'x'",
    "DELETE FROM events",
    "WITH gone AS (DELETE FROM events RETURNING *) SELECT * FROM gone",
    "SELECT * FROM events FOR UPDATE",
    "LOCK TABLE events IN ACCESS EXCLUSIVE MODE",
    "SELECT 1; SELECT * FROM public.events",
    "SELECT 1; /* ; */ SELECT * FROM console_p{b}.events",
    # Through the security barrier, a cast error would quote B's value if B's rows reached the cast.
    "SELECT (properties->>'secret')::int FROM events",
    "SELECT * FROM events WHERE (properties->>'secret')::int > 0",
    "SELECT (properties->>'secret')::int FROM persons",
    "SELECT * FROM persons WHERE (properties->>'secret')::int > 0",
    "SELECT distinct_id::int FROM person_distinct_ids",
    "SELECT * FROM events WHERE distinct_id::int > 0",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_it_never_shows_another_projects_rows_whatever_sql_it_sends(tenants, attack):
    project_a, project_b = tenants
    catalog("ANALYZE events")  # so pg_statistic holds B's values too
    catalog("ANALYZE analytics_person")
    outcome = run(project_a, attack.format(a=project_a.id, b=project_b.id))
    assert SECRET_B not in shown(outcome)
    if not isinstance(outcome, str) and "project_id" in outcome.columns:
        at = outcome.columns.index("project_id")
        assert {row[at] for row in outcome.rows} <= {str(project_a.id)}


@pytest.mark.parametrize(
    "query",
    [
        "SELECT pg_advisory_xact_lock(7201, 1)",
        "SELECT pg_try_advisory_lock(7240001)",
        "SELECT pg_advisory_lock_shared(1)",
        "SELECT pg_notify('beacon', 'x')",
        "SELECT set_config('work_mem', '100GB', false)",
    ],
)
def test_it_cannot_hold_beacons_locks_notify_or_raise_its_memory(tenants, query):
    """Advisory locks are shared by every project on the server: holding the identity or rollup lock
    would stall everyone's ingestion."""
    project_a, _ = tenants
    outcome = run(project_a, query)
    assert isinstance(outcome, str) and "permission denied" in outcome.lower()


def test_it_hides_the_statistics_postgresql_keeps_on_the_real_tables(tenants):
    project_a, _ = tenants
    catalog("ANALYZE events")
    superuser_sees = catalog(
        "SELECT count(*) FROM pg_stats WHERE concat(most_common_vals::text, histogram_bounds::text) LIKE %s",
        [f"%{SECRET_B}%"],
    )
    assert superuser_sees[0][0] > 0  # so the statistics do hold B's values
    result = console.run_query(project_a.id, "SELECT * FROM pg_stats WHERE tablename LIKE 'events%'")
    assert result.rows == []


def test_it_reads_only_the_projects_own_events(tenants):
    project_a, _ = tenants
    result = console.run_query(project_a.id, "SELECT event, count(*) FROM events GROUP BY 1 ORDER BY 1")
    assert result.columns == ["event", "count"]
    assert result.rows == [("purchase", "1"), ("signup", "2")]
    assert result.numeric == [False, True]
    assert not result.truncated


def test_it_evaluates_the_users_functions_only_on_the_projects_own_rows(tenants):
    project_a, _ = tenants
    result = console.run_query(
        project_a.id, "SELECT (properties->>'secret')::int AS s FROM events ORDER BY 1"
    )
    assert result.rows == [("1",), ("7",), ("42",)]


def test_it_shows_only_the_projects_persons_and_distinct_ids(tenants):
    project_a, _ = tenants
    persons = console.run_query(project_a.id, "SELECT properties->>'plan', is_identified FROM persons")
    assert persons.rows == [("pro", "f")]
    ids = console.run_query(
        project_a.id,
        "SELECT d.distinct_id, p.properties->>'secret' FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id",
    )
    assert ids.rows == [("a-user", "42")]


def test_it_denies_the_console_role_every_real_table(tenants):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    role = console.role_name(project_a.id)
    # TimescaleDB's own catalog schemas hold metadata and are readable by everyone by design;
    # _timescaledb_internal (the chunks: data) is checked like the rest.
    readable = catalog(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s)
          AND n.nspname NOT IN ('_timescaledb_catalog', '_timescaledb_config', 'timescaledb_information',
                                'timescaledb_experimental', '_timescaledb_cache', '_timescaledb_debug')
          AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast%%'
          AND has_table_privilege(%s, c.oid, 'SELECT')
        """,
        [console.schema_name(project_a.id), role],
    )
    assert readable == []
    assert catalog("SELECT has_table_privilege(%s, 'public.events', 'SELECT')", [role]) == [(False,)]
    assert catalog(
        "SELECT has_schema_privilege(%s, %s, 'USAGE')", [role, console.schema_name(tenants[1].id)]
    ) == [(False,)]
    assert catalog("SELECT has_schema_privilege(%s, 'public', 'CREATE')", [role]) == [(False,)]


def test_it_creates_a_role_with_no_power(tenants):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    [row] = catalog(
        """
        SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin,
               rolconnlimit, rolconfig
        FROM pg_roles WHERE rolname = %s
        """,
        [console.role_name(project_a.id)],
    )
    assert row[:7] == (False, False, False, False, False, False, True)
    assert 0 < row[7] <= 5
    assert "default_transaction_read_only=on" in row[8]
    assert f"search_path=console_p{project_a.id}" in row[8]
    assert catalog(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
        [console.role_name(project_a.id)],
    ) == [(0,)]


def test_it_builds_the_views_as_security_barriers(tenants):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    options = catalog(
        "SELECT c.relname, c.reloptions FROM pg_class c WHERE c.relnamespace = %s::regnamespace ORDER BY 1",
        [console.schema_name(project_a.id)],
    )
    assert [name for name, _ in options] == ["events", "person_distinct_ids", "persons"]
    assert all("security_barrier=true" in (reloptions or []) for _, reloptions in options)


def password_matches(role: str, password: str) -> bool:
    """Whether the role's SCRAM-SHA-256 verifier (RFC 5802, as PostgreSQL stores it) is for this password."""
    [(verifier,)] = catalog("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return method == "SCRAM-SHA-256" and keys.split(":")[0] == stored_key and password not in verifier


def test_it_stores_the_derived_password_as_a_scram_verifier(tenants):
    """The password is HMAC(SECRET_KEY, "console:<id>"), never stored: the server keeps only a verifier."""
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    role = console.role_name(project_a.id)
    assert password_matches(role, console.console_password(project_a.id))
    assert not password_matches(role, console.console_password(project_a.id + 1))


def test_it_keeps_no_session_state_between_runs(tenants):
    project_a, project_b = tenants
    run(project_a, f"SELECT set_config('search_path', 'console_p{project_b.id}', false)")
    result = console.run_query(project_a.id, "SELECT count(*) FROM events")
    assert result.rows == [("3",)]


def test_it_finds_no_dblink_or_postgres_fdw_installed(tenants):
    assert catalog("SELECT extname FROM pg_extension WHERE extname IN ('dblink', 'postgres_fdw')") == []


def test_it_refuses_to_run_next_to_dblink(tenants):
    project_a, _ = tenants
    if not catalog("SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'"):
        pytest.skip("dblink is not available on this server")
    catalog("CREATE EXTENSION dblink")
    try:
        with pytest.raises(console.ConsoleUnavailable, match="dblink"):
            console.run_query(project_a.id, "SELECT 1")
    finally:
        catalog("DROP EXTENSION dblink")


# --- limits and errors ---------------------------------------------------------------------------------


def test_it_stops_a_query_at_the_statement_timeout(tenants, settings):
    project_a, _ = tenants
    settings.CONSOLE_STATEMENT_TIMEOUT_MS = 300
    started = datetime.now(UTC)
    message = run(project_a, "SELECT pg_sleep(5)")
    assert message == (
        "The query ran longer than 0.3 s and was stopped. Narrow it down: a shorter time range, "
        "fewer columns, an aggregate."
    )
    assert datetime.now(UTC) - started < timedelta(seconds=3)
    # Nor can a query lift its own timeout.
    lifted = run(project_a, "SELECT set_config('statement_timeout', '0', false), pg_sleep(5)")
    assert lifted.startswith("permission denied for function set_config")


def test_it_bounds_the_total_time_of_many_fast_batches(tenants, settings, monkeypatch):
    project_a, _ = tenants
    settings.CONSOLE_STATEMENT_TIMEOUT_MS = 1000
    monkeypatch.setattr(console, "FETCH_BATCH", 5)  # each batch takes 0.5 s, under the timeout
    started = datetime.now(UTC)
    message = run(project_a, "SELECT pg_sleep(0.1) FROM generate_series(1, 100)")
    assert "was stopped" in message
    assert datetime.now(UTC) - started < timedelta(seconds=3)


def test_it_truncates_at_the_row_limit(tenants, settings):
    project_a, _ = tenants
    settings.CONSOLE_MAX_ROWS = 5
    over = console.run_query(project_a.id, "SELECT n FROM generate_series(1, 12) n")
    assert (over.row_count, over.truncated) == (5, True)
    assert over.rows == [(str(n),) for n in range(1, 6)]
    exact = console.run_query(project_a.id, "SELECT n FROM generate_series(1, 5) n")
    assert (exact.row_count, exact.truncated) == (5, False)


def test_it_truncates_across_fetch_batches(tenants, settings, monkeypatch):
    project_a, _ = tenants
    settings.CONSOLE_MAX_ROWS = 7
    monkeypatch.setattr(console, "FETCH_BATCH", 3)
    over = console.run_query(project_a.id, "SELECT n FROM generate_series(1, 20) n")
    assert (over.row_count, over.truncated, over.rows[-1]) == (7, True, ("7",))
    exact = console.run_query(project_a.id, "SELECT n FROM generate_series(1, 7) n")
    assert (exact.row_count, exact.truncated) == (7, False)
    fewer = console.run_query(project_a.id, "SELECT n FROM generate_series(1, 6) n")
    assert (fewer.row_count, fewer.truncated) == (6, False)


def test_it_truncates_a_result_too_large_to_hold(tenants, monkeypatch):
    project_a, _ = tenants
    monkeypatch.setattr(console, "FETCH_BATCH", 2)
    monkeypatch.setattr(console, "MAX_RESULT_BYTES", 2500)
    result = console.run_query(project_a.id, "SELECT repeat('x', 1000) FROM generate_series(1, 10)")
    assert (result.row_count, result.truncated) == (4, True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1; SELECT 2", "Run one statement at a time: the console takes a single query per run."),
        (
            "SELECT * FROM public.events",
            "permission denied for table events. The console reads this project's events, persons and person_distinct_ids only.",
        ),
        (
            "SELECT * FROM nowhere",
            'relation "nowhere" does not exist. The tables are events, persons and person_distinct_ids.',
        ),
        (
            "DELETE FROM events",
            'syntax error at or near "DELETE" (at character 1). The console runs queries only: SELECT, WITH … SELECT, VALUES or TABLE',
        ),
        ("SELECT event FROM events WHERE", "syntax error at end of input (at character 31)"),
        ("SELECT 'abc'::int", 'invalid input syntax for type integer: "abc" (at character 8)'),
        ("   ", "Write a query first, for example: SELECT count(*) FROM events"),
    ],
)
def test_it_explains_what_went_wrong(tenants, query, message):
    project_a, _ = tenants
    assert run(project_a, query) == message


def test_it_accepts_a_trailing_semicolon_comments_and_percent_signs(tenants):
    project_a, _ = tenants
    result = console.run_query(project_a.id, "-- how many?\nSELECT 7 % 4 AS rest, '%s' AS literal; ")
    assert result.rows == [("3", "%s")]


def test_it_returns_values_as_postgresqls_text(tenants):
    project_a, _ = tenants
    result = console.run_query(
        project_a.id, "SELECT 'infinity'::date, '{\"a\": [1]}'::jsonb, NULL::text, true, 1.50::numeric"
    )
    assert result.rows == [("infinity", '{"a": [1]}', None, "t", "1.50")]


def test_it_is_cheap_once_set_up(tenants, django_assert_num_queries):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    with django_assert_num_queries(1):
        console.ensure_console(project_a.id)


def test_it_rebuilds_the_console_when_its_version_changes(tenants, monkeypatch):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    monkeypatch.setattr(console, "VERSION", "beacon-console-next")
    console.ensure_console(project_a.id)
    [(stamp,)] = catalog(
        "SELECT obj_description(%s::regnamespace, 'pg_namespace')", [console.schema_name(project_a.id)]
    )
    assert stamp.startswith("beacon-console-next key:")
    assert console.run_query(project_a.id, "SELECT count(*) FROM events").rows == [("3",)]


def test_it_sets_the_new_password_when_the_secret_key_changes(tenants, settings):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789-abcdefghijklmnop"
    console.ensure_console(project_a.id)
    assert password_matches(console.role_name(project_a.id), console.console_password(project_a.id))


def test_it_repairs_a_role_left_without_its_schema(tenants):
    project_a, _ = tenants
    console.ensure_console(project_a.id)
    catalog(f"DROP SCHEMA console_p{project_a.id} CASCADE")  # e.g. a test database dropped under it
    assert console.run_query(project_a.id, "SELECT count(*) FROM events").rows == [("3",)]


def test_it_drops_the_console_when_the_project_is_deleted(tenants, owner):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    project_id = project_a.id
    console.ensure_console(project_id)
    role = console.role_name(project_id)
    actions.do_delete_project(project=project_a, acting_user=owner)
    assert catalog("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]) == []
    assert catalog("SELECT 1 FROM pg_namespace WHERE nspname = %s", [console.schema_name(project_id)]) == []


def test_it_says_what_to_grant_when_the_database_user_cannot_create_roles(
    tenants, client, owner, monkeypatch
):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    monkeypatch.setattr(console, "can_create_roles", lambda: False)
    client.force_login(owner)
    response = client.get(reverse("sql-console", args=[project_a.slug]))
    assert response.status_code == 200
    assert "CREATEROLE" in response.content.decode()
    response = client.post(
        reverse("sql-console", args=[project_a.slug]), {"query": "SELECT 1"}, HTTP_HX_REQUEST="true"
    )
    assert "CREATEROLE" in response.content.decode()


# --- the pages -------------------------------------------------------------------------------------------


def test_it_shows_the_console_with_an_example_query(tenants, client, owner):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    client.force_login(owner)
    response = client.get(reverse("sql-console", args=[project_a.slug]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "SELECT event, count(*) FROM events WHERE time &gt; now() - interval &#x27;7 days&#x27;" in page
    assert "person_distinct_ids" in page
    assert "no events yet" not in page


def test_it_shows_an_empty_state_when_the_project_has_no_events(transactional_db, client, owner):
    project = make_project(owner=owner)
    client.force_login(owner)
    try:
        response = client.get(reverse("sql-console", args=[project.slug]))
    finally:
        console.drop_console(project.id)
    assert "This project has no events yet" in response.content.decode()


def test_it_runs_a_query_into_the_result_fragment(tenants, client, member):
    project_a, _ = tenants
    join(project_a, member, Role.MEMBER)
    client.force_login(member)
    response = client.post(
        reverse("sql-console", args=[project_a.slug]),
        {"query": "SELECT event, count(*) FROM events GROUP BY 1 ORDER BY 1"},
        HTTP_HX_REQUEST="true",
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in fragment
    assert "<code>signup</code>" in fragment and "2 rows" in fragment and " ms" in fragment


def test_it_runs_a_query_without_javascript(tenants, client, owner):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    client.force_login(owner)
    response = client.post(
        reverse("sql-console", args=[project_a.slug]), {"query": "SELECT 'hello' AS greeting"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and "<code>hello</code>" in page and "SELECT &#x27;hello&#x27; AS greeting" in page


def test_it_lets_a_viewer_run_queries(tenants, client, viewer):
    project_a, _ = tenants
    join(project_a, viewer, Role.VIEWER)
    client.force_login(viewer)
    response = client.post(
        reverse("sql-console", args=[project_a.slug]),
        {"query": "SELECT count(*) FROM events"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "<code>3</code>" in response.content.decode()


def test_it_shows_an_error_instead_of_failing(tenants, client, owner):
    project_a, project_b = tenants
    join(project_a, owner, Role.OWNER)
    client.force_login(owner)
    response = client.post(
        reverse("sql-console", args=[project_a.slug]),
        {"query": f"SELECT * FROM console_p{project_b.id}.events"},
        HTTP_HX_REQUEST="true",
    )
    fragment = response.content.decode()
    assert response.status_code == 400
    assert "permission denied for schema" in fragment and 'role="alert"' in fragment
    assert SECRET_B not in fragment


def test_it_shows_the_truncation(tenants, client, owner, settings):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    settings.CONSOLE_MAX_ROWS = 3
    client.force_login(owner)
    response = client.post(
        reverse("sql-console", args=[project_a.slug]),
        {"query": "SELECT generate_series(1, 10)"},
        HTTP_HX_REQUEST="true",
    )
    assert "3 rows (truncated at 3" in response.content.decode()


def test_it_downloads_the_result_as_csv(tenants, client, viewer):
    project_a, _ = tenants
    join(project_a, viewer, Role.VIEWER)
    client.force_login(viewer)
    response = client.post(
        reverse("sql-console-csv", args=[project_a.slug]),
        {"query": "SELECT event, properties->>'secret' AS secret, NULL AS nothing FROM events ORDER BY time"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{project_a.slug}-sql-')
    body = b"".join(response.streaming_content).decode()
    assert list(csv.reader(io.StringIO(body))) == [
        ["event", "secret", "nothing"],
        ["purchase", "1", ""],
        ["signup", "7", ""],
        ["signup", "42", ""],
    ]
    assert response["X-Beacon-Truncated"] == "false"


def test_it_limits_the_csv_download_to_the_row_limit(tenants, client, owner, settings):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    settings.CONSOLE_MAX_ROWS = 4
    client.force_login(owner)
    response = client.post(
        reverse("sql-console-csv", args=[project_a.slug]), {"query": "SELECT generate_series(1, 100) AS n"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["n"], ["1"], ["2"], ["3"], ["4"]]
    assert response["X-Beacon-Truncated"] == "true"


def test_it_shows_a_failed_csv_query_on_the_page(tenants, client, owner):
    project_a, _ = tenants
    join(project_a, owner, Role.OWNER)
    client.force_login(owner)
    response = client.post(
        reverse("sql-console-csv", args=[project_a.slug]), {"query": "SELECT * FROM public.events"}
    )
    assert response.status_code == 400
    assert "permission denied for table events" in response.content.decode()


def test_it_hides_both_urls_from_an_outsider(tenants, client, outsider):
    project_a, _ = tenants
    join(tenants[1], outsider, Role.OWNER)  # a user of another project
    client.force_login(outsider)
    page = reverse("sql-console", args=[project_a.slug])
    download = reverse("sql-console-csv", args=[project_a.slug])
    assert client.get(page).status_code == 404
    assert client.post(page, {"query": "SELECT 1"}).status_code == 404
    assert client.post(download, {"query": "SELECT 1"}).status_code == 404


def test_it_sends_an_anonymous_visitor_to_log_in(tenants, client):
    project_a, _ = tenants
    response = client.get(reverse("sql-console", args=[project_a.slug]))
    assert response.status_code == 302 and "/login" in response["Location"]
