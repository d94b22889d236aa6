WITH people AS (
            SELECT reached, bd, "t2" AS "t2", "t3" AS "t3" FROM (
        SELECT actor, CASE WHEN count("c3") > 0 THEN 3 WHEN count("c2") > 0 THEN 2 WHEN count("c1") > 0 THEN 1 ELSE 0 END AS reached, NULL::float8[] AS chain, min(ts - "c2") AS "t2", min(ts - "c3") AS "t3",
               NULL::text AS bd
        FROM
            (SELECT "actor", "ts", "mask", "xmask", "bd", "c1", "c2", CASE WHEN mask & 4 <> 0 AND ts - prior <= 3600.0 THEN prior END AS "c3"
             FROM (SELECT *, max("c2") OVER (PARTITION BY actor ORDER BY ts, mask ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior FROM
            (SELECT "actor", "ts", "mask", "xmask", "bd", "c1", CASE WHEN mask & 2 <> 0 AND ts - prior <= 3600.0 THEN prior END AS "c2"
             FROM (SELECT *, max("c1") OVER (PARTITION BY actor ORDER BY ts, mask ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior FROM (SELECT *, CASE WHEN mask & 1 <> 0 THEN ts END AS c1 FROM (
        SELECT coalesce(pm.person_id, e.person_id) AS actor,
               date_part('epoch', e.time) AS ts,
               (CASE WHEN (e.event = %s AND TRUE) THEN 1 ELSE 0 END) | (CASE WHEN (e.event = %s AND ((CASE WHEN jsonb_typeof(e.properties -> %s) = 'number' THEN (e.properties ->> %s)::float8 END) >= %s)) THEN 2 ELSE 0 END) | (CASE WHEN (e.event = %s AND TRUE) THEN 4 ELSE 0 END) AS mask,
               0 AS xmask,
               NULL::text AS bd
        FROM events e LEFT JOIN "analytics_personmerge" pm ON pm.project_id = e.project_id AND pm.old_person_id = e.person_id
        WHERE e.project_id = %s AND e.time >= %s AND e.time < %s AND e.person_id IS NOT NULL AND e.event = ANY(%s) AND TRUE
        ) b) level1) with_prior) "level2"
            ) with_prior) "level3"
        GROUP BY actor
        ) per_person
            WHERE reached > 0
        ), top AS (
            SELECT bd FROM people GROUP BY bd ORDER BY count(*) DESC, bd NULLS LAST LIMIT %s
        ), labelled AS (
            SELECT people.*, CASE WHEN top.ranked THEN people.bd END AS breakdown,
                   NOT coalesce(top.ranked, false) AS is_other
            FROM people LEFT JOIN (SELECT bd, true AS ranked FROM top) top ON top.bd IS NOT DISTINCT FROM people.bd
        )
        SELECT true AS is_total, NULL::text, false,
               ARRAY[count(*) FILTER (WHERE reached >= 1), count(*) FILTER (WHERE reached >= 2), count(*) FILTER (WHERE reached >= 3)] AS counts,
               ARRAY[NULL::float8, percentile_cont(0.5) WITHIN GROUP (ORDER BY "t2") FILTER (WHERE reached >= 2), percentile_cont(0.5) WITHIN GROUP (ORDER BY "t3") FILTER (WHERE reached >= 3)] AS medians,
               ARRAY[NULL::float8, percentile_cont(0.9) WITHIN GROUP (ORDER BY "t2") FILTER (WHERE reached >= 2), percentile_cont(0.9) WITHIN GROUP (ORDER BY "t3") FILTER (WHERE reached >= 3)] AS p90s,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY "t3") FILTER (WHERE reached >= 3)
        FROM labelled
        GROUP BY GROUPING SETS (())
        ORDER BY 1 DESC, 4 DESC
-- params: ['product_viewed', 'added_to_cart', 'quantity', 'quantity', 1.0, 'order_completed', 1, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 11, 8, 0, 0, tzinfo=datetime.timezone.utc), ['added_to_cart', 'order_completed', 'product_viewed'], 0]
