"""DDL both backends share. Run once, by the event store's migration."""

EVENTS_TABLE = """
CREATE TABLE events (
    time            timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    project_id      bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    event           text        NOT NULL,
    message_id      text        NOT NULL,
    distinct_id     text,
    person_id       uuid,
    anonymous_id    text,
    device_id       text,
    session_id      text,
    properties      jsonb       NOT NULL DEFAULT '{{}}',
    context         jsonb       NOT NULL DEFAULT '{{}}',
    plan_status     smallint    NOT NULL DEFAULT 0
) {partitioning}
"""

# Events stored with plan violations (flagged, allowed: plan_status 2 and 3), for the alerts that watch
# them: a few percent of events at most, so the index stays small and counting them reads it alone.
BROKEN_EVENTS_INDEX = (
    "CREATE INDEX events_broken_env_time ON events (project_id, environment_id, time) "
    "INCLUDE (event) WHERE plan_status IN (2, 3)"
)

# For the queries of DESIGN.md section 7: trends and live views by environment and time, trends and
# funnel steps by event name, funnels and person timelines by distinct_id, session analysis.
EVENTS_INDEXES = (
    "CREATE INDEX events_project_env_time ON events (project_id, environment_id, time DESC)",
    # person and session included: funnels, retention and unique counts read them index-only
    "CREATE INDEX events_project_event_time ON events (project_id, event, time) INCLUDE (distinct_id, person_id, session_id)",
    "CREATE INDEX events_project_distinct_time ON events (project_id, distinct_id, time)",
    "CREATE INDEX events_project_session_time ON events (project_id, session_id, time) WHERE session_id IS NOT NULL",
    BROKEN_EVENTS_INDEX,
)

# Exactly-once writes. A unique index on a time-partitioned table must contain the time column, and
# a retry may carry another timestamp (clock-skew correction), so message ids are claimed in their own
# table. The key is the md5 digest of the message id: 16 bytes whatever the SDK sends, so the primary key
# stays small and fast to insert into. received_at only serves pruning, which scans in insertion
# order: a BRIN index costs next to nothing to maintain.
DEDUP_TABLE = (
    """
    CREATE TABLE event_dedup (
        project_id  bigint      NOT NULL,
        message_key bytea       NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, message_key)
    )
    """,
    "CREATE INDEX event_dedup_received_at ON event_dedup USING brin (received_at)",
)
