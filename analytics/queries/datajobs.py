"""The SQL of the data jobs (analytics/datajobs.py): a person's events, and an export's range.

Parameters are named (``%(project_id)s``) and always bound.
"""

from psycopg import sql

PERSON_EVENTS = sql.SQL(
    "project_id = %(project_id)s AND (person_id = ANY(%(person_ids)s) OR distinct_id = ANY(%(distinct_ids)s)"
    " OR anonymous_id = ANY(%(distinct_ids)s))"
)
COUNT_PERSON_EVENTS = sql.SQL("SELECT count(*) FROM events WHERE {}").format(PERSON_EVENTS)
# The time of the batch's last event: batches are time windows, so each DELETE stays in a few
# partitions (chunks) and holds its locks briefly.
BATCH_END = sql.SQL(
    "SELECT time FROM events WHERE {} AND time >= %(since)s ORDER BY time OFFSET %(offset)s LIMIT 1"
).format(PERSON_EVENTS)
DELETE_WINDOW = sql.SQL("DELETE FROM events WHERE {} AND time >= %(since)s AND time <= %(until)s").format(
    PERSON_EVENTS
)
DELETE_REST = sql.SQL("DELETE FROM events WHERE {}").format(PERSON_EVENTS)


EXPORT_WHERE = sql.SQL(
    "project_id = %(project_id)s AND environment_id = %(environment_id)s AND time >= %(start)s AND time < %(end)s"
    " AND (%(event)s = '' OR event = %(event)s)"
)
COUNT_EXPORT = sql.SQL("SELECT count(*) FROM events WHERE {}").format(EXPORT_WHERE)
SELECT_EXPORT = sql.SQL(
    "SELECT time, event, distinct_id, person_id::text, session_id, properties::text, context::text"
    " FROM events WHERE {} ORDER BY time, message_id"
).format(EXPORT_WHERE)

# The export's progress, written through a second connection while its cursor streams the rows.
SAVE_PROGRESS = sql.SQL("UPDATE {table} SET progress_done = %s WHERE id = %s")
