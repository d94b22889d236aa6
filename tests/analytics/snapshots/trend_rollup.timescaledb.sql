SELECT time_bucket('1 hour'::interval, e.bucket, 'UTC'::text) AS bucket, NULL::text, false, sum(e.events)::float8 AS value
        FROM "event_counts_hourly" e
        WHERE e.project_id = %s AND e.bucket >= %s AND e.bucket < %s AND e.event = %s
        GROUP BY 1 ORDER BY 1
-- params: [1, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 11, 8, 0, 0, tzinfo=datetime.timezone.utc), 'order_completed']
