WITH top AS (
            SELECT (p.properties ->> %s) AS breakdown FROM events e LEFT JOIN "analytics_persondistinctid" pdi ON pdi.project_id = e.project_id AND pdi.distinct_id = e.distinct_id LEFT JOIN "analytics_person" p ON p.id = pdi.person_id
            WHERE e.project_id = %s AND e.time >= %s AND e.time < %s AND e.environment_id = %s AND e.event = %s AND (e.properties -> %s = %s OR e.properties ->> %s = %s)
            GROUP BY 1 ORDER BY count(*) DESC, 1 NULLS LAST LIMIT %s
        )
        SELECT (date_bin('1 day'::interval, e.time AT TIME ZONE 'Europe/Paris'::text, TIMESTAMP '2000-01-03') AT TIME ZONE 'Europe/Paris'::text) AS bucket,
               CASE WHEN top.ranked THEN (p.properties ->> %s) END AS breakdown,
               NOT coalesce(top.ranked, false) AS is_other,
               count(DISTINCT pdi.person_id)::float8 AS value
        FROM events e LEFT JOIN "analytics_persondistinctid" pdi ON pdi.project_id = e.project_id AND pdi.distinct_id = e.distinct_id LEFT JOIN "analytics_person" p ON p.id = pdi.person_id
        LEFT JOIN (SELECT breakdown, true AS ranked FROM top) top ON top.breakdown IS NOT DISTINCT FROM (p.properties ->> %s)
        WHERE e.project_id = %s AND e.time >= %s AND e.time < %s AND e.environment_id = %s AND e.event = %s AND (e.properties -> %s = %s OR e.properties ->> %s = %s)
        GROUP BY 1, 2, 3
        ORDER BY 1, 3, 2 NULLS LAST
-- params: ['country', 1, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 11, 8, 0, 0, tzinfo=datetime.timezone.utc), 2, 'order_completed', 'currency', Jsonb('EUR'), 'currency', 'EUR', 5, 'country', 'country', 1, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 11, 8, 0, 0, tzinfo=datetime.timezone.utc), 2, 'order_completed', 'currency', Jsonb('EUR'), 'currency', 'EUR']
