"""The SQL console: read-only SQL over one project's own events and persons, enforced by PostgreSQL.

The boundary is a database role, not an inspection of the SQL. Per project:

1. A schema ``console_p<id>`` holds three ``security_barrier`` views (``events``, ``persons``,
   ``person_distinct_ids``), each filtered by the project id written into the view as a literal.
   The main database user owns them, so they read the real tables with its rights.
2. A LOGIN role (:func:`role_name`) has USAGE on that schema and SELECT on those views, and no
   privilege on any real table. It is NOSUPERUSER, NOINHERIT, NOBYPASSRLS, read-only by default.
   Its password is derived from ``SECRET_KEY`` (:func:`console_password`), never stored.
3. :func:`run_query` logs in as that role on a connection of its own, in a READ ONLY transaction,
   and runs the user's text as ``DECLARE ... CURSOR FOR <text>`` through the extended protocol:
   PostgreSQL itself refuses a second statement ("cannot insert multiple commands into a prepared
   statement") and anything but a query (SET, RESET ROLE, COPY, DO, EXPLAIN, DDL, DML). Rows come
   from the server-side cursor in batches, up to ``CONSOLE_MAX_ROWS``, within
   ``CONSOLE_STATEMENT_TIMEOUT_MS`` in all.

TRICKY: ``security_barrier`` is what keeps another project's values out of error messages: without
it the planner may evaluate the user's ``(properties->>'x')::int`` on rows before the view's own
``project_id = <id>`` filter drops them, and the cast error would quote another tenant's value.
"""

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg import errors, sql
from psycopg.adapt import AdaptersMap
from psycopg.types.numeric import IntDumper
from psycopg.types.string import StrDumper, TextLoader

from analytics.storage.base import EVENT_COLUMNS

logger = logging.getLogger(__name__)

# Bumped whenever the views or grants below change: the next console use re-provisions.
VERSION = "beacon-console-1"
CONNECTION_LIMIT = 3  # concurrent console queries per project
FETCH_BATCH = 500  # rows per FETCH; the deadline and the byte budget are checked between batches
MAX_RESULT_BYTES = 50 * 1024 * 1024  # text of all cells of one result, at most (then: truncated)
MAX_QUERY_CHARS = 100_000
CURSOR_NAME = "beacon_console"
# TRICKY: psycopg's own DECLARE prefix; PostgreSQL's error positions count from its start.
_DECLARE_PREFIX_CHARS = len(f'DECLARE "{CURSOR_NAME}" CURSOR FOR ')
_NUMERIC_TYPES = {20, 21, 23, 26, 700, 701, 1700}  # int8, int2, int4, oid, float4, float8, numeric
# Extensions that open connections to a server as another role: never next to the console.
_FORBIDDEN_EXTENSIONS = ("dblink", "postgres_fdw")


@dataclass(frozen=True)
class ConsoleView:
    name: str  # in the console's schema
    source: str  # the real table
    columns: tuple[str, ...]


VIEWS = (
    ConsoleView("events", "events", tuple(EVENT_COLUMNS)),
    ConsoleView(
        "persons", "analytics_person", ("id", "properties", "is_identified", "created_at", "updated_at")
    ),
    ConsoleView("person_distinct_ids", "analytics_persondistinctid", ("distinct_id", "person_id")),
)


@dataclass(frozen=True)
class ConsoleResult:
    columns: list[str]
    rows: list[tuple]  # PostgreSQL's text for each value (as psql shows it), None for NULL
    truncated: bool
    elapsed_ms: int
    row_count: int
    numeric: list[bool]  # per column: right-align it


class ConsoleUnavailable(Exception):
    """The console cannot be set up on this database; ``message`` says what an operator must do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConsoleQueryError(Exception):
    """The user's query failed; ``message`` is safe and useful to show to them."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- names and credentials ------------------------------------------------------------------------


def schema_name(project_id: int) -> str:
    return f"console_p{int(project_id)}"


def role_name(project_id: int) -> str:
    """``beacon_console_p<id>_<tag of the database name>``.

    TRICKY: roles are global to the server while project ids are per database: without the tag,
    project 1 of the test database and project 1 of the development database (or staging and
    production on one server) would share a role, and dropping one would break the other.
    """
    database = connection.settings_dict["NAME"]
    tag = hashlib.sha256(database.encode()).hexdigest()[:8]
    return f"beacon_console_p{int(project_id)}_{tag}"


def console_password(project_id: int) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"console:{int(project_id)}".encode(), hashlib.sha256
    ).hexdigest()


def _stamp() -> str:
    """What the schema's comment says once provisioned: the VERSION, and which SECRET_KEY derived the
    role's password (a key id, not the key), so a rotated key re-provisions the password at next use."""
    key_id = hmac.new(settings.SECRET_KEY.encode(), b"console-key-id", hashlib.sha256).hexdigest()[:12]
    return f"{VERSION} key:{key_id}"


# --- provisioning -------------------------------------------------------------------------------

_STATE_SQL = sql.SQL(
    """
    SELECT
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s),
        (SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %(schema)s),
        (SELECT array_agg(extname::text) FROM pg_extension WHERE extname = ANY(%(forbidden)s))
    """
)
_CAN_CREATE_ROLES_SQL = sql.SQL("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
# Serialises provisioning across web workers (two first uses at once would both CREATE ROLE).
_PROVISION_LOCK_SQL = sql.SQL("SELECT pg_advisory_xact_lock(hashtext('beacon-sql-console'))")
_ROLE_ATTRIBUTES = sql.SQL(
    "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {}"
).format(sql.Literal(CONNECTION_LIMIT))


def _state(project_id: int) -> tuple[bool, str | None, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            _STATE_SQL,
            {
                "role": role_name(project_id),
                "schema": schema_name(project_id),
                "forbidden": list(_FORBIDDEN_EXTENSIONS),
            },
        )
        role_exists, stamp, forbidden = cursor.fetchone()
    return role_exists, stamp, forbidden or []


def _refuse_forbidden_extensions(forbidden: list[str]) -> None:
    if forbidden:
        names = " and ".join(sorted(forbidden))
        verb = "is" if len(forbidden) == 1 else "are"
        raise ConsoleUnavailable(
            f"The SQL console is off because {names} {verb} installed in this database: they let a "
            f"database role open connections as another role. DROP EXTENSION to use the console."
        )


def can_create_roles() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_CAN_CREATE_ROLES_SQL)
        row = cursor.fetchone()
    return bool(row and row[0])


def ensure_console(project_id: int) -> None:
    """Create or update the project's console schema, views, role and grants. Idempotent.

    Cheap once done: one catalog query finds the role, and the schema stamped with the current
    VERSION and SECRET_KEY.
    Raises ConsoleUnavailable when the database user may not create roles, or dblink/postgres_fdw
    is installed.
    """
    role_exists, stamp, forbidden = _state(project_id)
    _refuse_forbidden_extensions(forbidden)
    if role_exists and stamp == _stamp():
        return
    if not can_create_roles():
        user = connection.settings_dict.get("USER") or "the database user"
        raise ConsoleUnavailable(
            f"The SQL console needs the database user {user} to create roles (one read-only role per "
            f"project is the console's security boundary). A superuser can allow it with: "
            f"ALTER ROLE {user} CREATEROLE;"
        )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PROVISION_LOCK_SQL)
            role_exists, stamp, _ = _state(project_id)  # again, under the lock
            if role_exists and stamp == _stamp():
                return
            _provision(cursor, project_id, role_exists=role_exists)
    except DatabaseError as error:
        logger.exception("Could not set up the SQL console of project %s", project_id)
        raise ConsoleUnavailable(
            f"The SQL console could not be set up on this database: {_primary_message(error)}"
        ) from error


def _provision(cursor, project_id: int, *, role_exists: bool) -> None:
    role = sql.Identifier(role_name(project_id))
    schema = sql.Identifier(schema_name(project_id))
    project_literal = sql.Literal(int(project_id))
    # The SCRAM verifier, computed here as psql's \password does: the plain password never reaches
    # the server, so it cannot end up in its log.
    raw_connection = connection.connection
    verifier = raw_connection.pgconn.encrypt_password(
        console_password(project_id).encode(), role_name(project_id).encode(), b"scram-sha-256"
    )
    statements = [
        sql.SQL("{verb} ROLE {role} WITH {attributes} PASSWORD {password}").format(
            verb=sql.SQL("ALTER" if role_exists else "CREATE"),
            role=role,
            attributes=_ROLE_ATTRIBUTES,
            password=sql.Literal(verifier.decode()),
        ),
        sql.SQL("ALTER ROLE {} SET search_path TO {}").format(role, schema),
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only TO on").format(role),
        sql.SQL("ALTER ROLE {} SET statement_timeout TO {}").format(
            role, sql.Literal(settings.CONSOLE_STATEMENT_TIMEOUT_MS)
        ),
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema),
        sql.SQL("DROP VIEW IF EXISTS {}").format(
            sql.SQL(", ").join(sql.Identifier(schema_name(project_id), view.name) for view in VIEWS)
        ),
    ]
    for view in VIEWS:
        qualified = sql.Identifier(schema_name(project_id), view.name)
        statements += [
            sql.SQL(
                "CREATE VIEW {view} WITH (security_barrier) AS SELECT {columns} FROM {source} "
                "WHERE project_id = {project_id}"
            ).format(
                view=qualified,
                columns=sql.SQL(", ").join(map(sql.Identifier, view.columns)),
                source=sql.Identifier(view.source),
                project_id=project_literal,
            ),
            # Default privileges could have granted the new view to PUBLIC: only the role reads it.
            sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(qualified),
            sql.SQL("GRANT SELECT ON {} TO {}").format(qualified, role),
        ]
    statements += [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(schema, sql.Literal(_stamp())),
    ]
    for statement in statements:
        cursor.execute(statement)


def drop_console(project_id: int) -> None:
    """After a project is deleted: its console schema and role. Never raises (the project is gone)."""
    role_exists, stamp, _ = _state(project_id)
    if not role_exists and stamp is None:
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema_name(project_id)))
            )
            if role_exists:
                role = sql.Identifier(role_name(project_id))
                cursor.execute(sql.SQL("DROP OWNED BY {}").format(role))  # its grants in this database
                cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
    except DatabaseError:
        logger.exception("Could not drop the SQL console of project %s", project_id)


# --- running a query ----------------------------------------------------------------------------


def _text_adapters() -> AdaptersMap:
    """Every value as PostgreSQL's own text (as psql shows it): no client-side parsing that could fail
    (``'infinity'::date``) or differ from the server. Dumpers only for the console's own statements."""
    adapters = AdaptersMap()
    adapters.register_dumper(str, StrDumper)
    adapters.register_dumper(int, IntDumper)
    adapters.register_loader(0, TextLoader)  # 0: any type without a loader of its own, i.e. all
    return adapters


_TEXT_ADAPTERS = _text_adapters()
# Keys of Django's OPTIONS that are Django's, not libpq's or psycopg.connect()'s.
_DJANGO_ONLY_OPTIONS = {"pool", "server_side_binding", "isolation_level", "assume_role", "cursor_factory"}
# SET statements, not set_config(): the function is revoked from PUBLIC (migration 0011), since a
# console query could otherwise raise its own work_mem to gigabytes.


def _set_timeout_sql(timeout_ms: int) -> sql.Composed:
    return sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(timeout_ms)))


def _set_search_path_sql(project_id: int) -> sql.Composed:
    return sql.SQL("SET search_path = {}").format(sql.Identifier(schema_name(project_id)))


def _connect(project_id: int) -> psycopg.Connection:
    params = connection.settings_dict
    options = {
        key: value for key, value in params.get("OPTIONS", {}).items() if key not in _DJANGO_ONLY_OPTIONS
    }
    return psycopg.connect(
        **{
            "connect_timeout": 5,
            **options,
            "host": params.get("HOST") or None,
            "port": params.get("PORT") or None,
            "dbname": params["NAME"],
            "user": role_name(project_id),
            "password": console_password(project_id),
            "application_name": "beacon-sql-console",
            "autocommit": False,
            "context": _TEXT_ADAPTERS,
        }
    )


def run_query(project_id: int, query: str) -> ConsoleResult:
    """Run one read-only query as the project's console role. Raises ConsoleQueryError (a message for
    the user) or ConsoleUnavailable (a message for an operator)."""
    query = query.strip()
    if not query:
        raise ConsoleQueryError("Write a query first, for example: SELECT count(*) FROM events")
    if len(query) > MAX_QUERY_CHARS:
        raise ConsoleQueryError(f"The query is longer than {MAX_QUERY_CHARS:,} characters.")
    ensure_console(project_id)
    timeout_ms = settings.CONSOLE_STATEMENT_TIMEOUT_MS
    started = time.monotonic()
    try:
        with _connect(project_id) as console:
            console.read_only = True  # BEGIN READ ONLY, whatever the role's defaults say
            with console.cursor() as setup, console.cursor(name=CURSOR_NAME) as cursor:
                setup.execute(_set_search_path_sql(project_id))
                setup.execute(_set_timeout_sql(timeout_ms))
                # The user's text, on purpose: the role, not this string, is the boundary (see above).
                cursor.execute(sql.SQL(query))
                rows, truncated = _fetch(cursor, setup, deadline=started + timeout_ms / 1000)
                description = cursor.description or []
            console.rollback()
    except psycopg.Error as error:
        raise ConsoleQueryError(_explain(error, timeout_ms)) from error
    return ConsoleResult(
        columns=[column.name for column in description],
        rows=rows,
        truncated=truncated,
        elapsed_ms=round((time.monotonic() - started) * 1000),
        row_count=len(rows),
        numeric=[column.type_code in _NUMERIC_TYPES for column in description],
    )


def _fetch(cursor, setup, *, deadline: float) -> tuple[list[tuple], bool]:
    """Up to CONSOLE_MAX_ROWS rows, and whether there were more.

    1. Each FETCH runs with the statement timeout set to what is left of the run's budget, so many
       fast batches of a slow query cannot add up to more than one timeout.
    2. One row more than the limit is asked for: its presence means "truncated".
    3. Between batches, the text fetched so far is weighed against MAX_RESULT_BYTES.
    """
    limit = settings.CONSOLE_MAX_ROWS
    rows: list[tuple] = []
    size = 0
    while True:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            raise errors.QueryCanceled("canceling statement due to statement timeout")
        setup.execute(_set_timeout_sql(remaining_ms))
        wanted = min(FETCH_BATCH, limit + 1 - len(rows))
        batch = cursor.fetchmany(wanted)
        rows.extend(batch)
        if len(rows) > limit:
            return rows[:limit], True
        if len(batch) < wanted:
            return rows, False
        size += sum(len(value) for row in batch for value in row if value is not None)
        if size > MAX_RESULT_BYTES:
            return rows, True


def _primary_message(error: Exception) -> str:
    diag = getattr(error, "diag", None)
    return (diag.message_primary if diag is not None else None) or str(error).split("\n")[0]


def _explain(error: psycopg.Error, timeout_ms: int) -> str:
    """A message the user can act on. Only PostgreSQL's primary message, detail and hint are shown:
    its LINE context would quote the DECLARE wrapper instead of the user's text."""
    primary = _primary_message(error)
    diag = error.diag
    if isinstance(error, errors.QueryCanceled):
        return (
            f"The query ran longer than {timeout_ms / 1000:g} s and was stopped. Narrow it down: a shorter "
            f"time range, fewer columns, an aggregate."
        )
    if isinstance(error, errors.TooManyConnections):
        return "Too many queries are running in this project's console; try again in a moment."
    if isinstance(error, errors.InsufficientPrivilege):
        return f"{primary}. The console reads this project's events, persons and person_distinct_ids only."
    if isinstance(error, errors.ReadOnlySqlTransaction):
        return f"{primary}. The SQL console is read-only."
    if "multiple commands" in primary:
        return "Run one statement at a time: the console takes a single query per run."
    if isinstance(error, errors.UndefinedTable):
        return f"{primary}. The tables are events, persons and person_distinct_ids."
    if error.sqlstate is None:
        logger.warning("SQL console: %s", error)
        return "The SQL console could not reach the database; try again in a moment."
    message = primary
    position = diag.statement_position
    if position and position.isdigit():
        at = int(position) - _DECLARE_PREFIX_CHARS
        if at >= 1:
            message += f" (at character {at})"
        if isinstance(error, errors.SyntaxError) and at == 1:
            message += ". The console runs queries only: SELECT, WITH … SELECT, VALUES or TABLE"
    extra = [part for part in (diag.message_detail, diag.message_hint) if part]
    return ". ".join([message, *extra]) if extra else message


def project_has_events(project_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM events WHERE project_id = %s)"), [project_id])
        return cursor.fetchone()[0]
