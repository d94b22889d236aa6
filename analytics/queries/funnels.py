"""The funnel builder: ClickHouse ``windowFunnel`` semantics in one PostgreSQL statement.

For each person, the furthest step reached from ANY entry into step 1 whose later steps fall inside
the window (not only from the first entry). A naive "first entry, then self-joins" funnel is both
wrong (it misses later, complete attempts) and slow; this one is a single pass over the person's
step events, sorted once:

1. ``base``: the range's events of the steps' names (every event, in strict order, since any event
   breaks a strict chain), each with a bitmask of the steps (and exclusions) it matches, its
   person (``events.person_id`` moved through later merges: a join on a small uuid table), its
   time in epoch seconds and its breakdown value. With the person and time in the event-name
   index, a week of step events is an index-only scan.
2. ``levelK``: for each event matching step K, the best chain that ends there. The best chain is
   the one that started LATEST: it is the one most likely to fit the window, whatever comes next.
   So the chain ending at a step-K event starts at the latest start of the chains ending at an
   earlier step-(K-1) event, kept only if ``tK - start <= window`` (inclusive: a step exactly at
   the limit counts). With ``ROWS UNBOUNDED PRECEDING`` that maximum is a running aggregate: every
   level costs one linear pass over the already-sorted rows. A chain is just its start time (a
   float); with exclusion steps it is the array of its step times (``max`` compares arrays element
   by element, start first), since exclusions sit between two given steps.
   - strict order: the previous event of the person (``lag``) must be the step-(K-1) event;
   - a per-step window narrows the frame to ``RANGE <seconds> PRECEDING``;
   - any order: for each event, the next time each step happens (a running ``min`` over the rows
     in reverse), and the steps reached are those within the window, in time order.
3. ``people``: per person, the furthest step with a chain, the time from entering the funnel to
   each step (the fastest), the breakdown value of their first step-1 event, and whether an
   exclusion event falls between the chain's exclusion steps (such a person is left out).
4. One aggregate over people: counts per step, median and p90 time from entry to each step, for
   the whole funnel and per breakdown value (top N, the rest folded into "other").
"""

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from analytics.insights.definitions import FunnelQuery
from analytics.queries import bounded_cursor
from analytics.queries import filters as f


@dataclass(frozen=True)
class FunnelScope:
    project_id: int
    environment_id: int | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class FunnelRow:
    """One group of people: the whole funnel (``is_total``) or one breakdown value."""

    is_total: bool
    breakdown: str | None
    is_other: bool
    counts: list[int]  # people who reached each step
    median_seconds: list[float | None]  # from entering the funnel (None for step 1)
    p90_seconds: list[float | None]
    median_total_seconds: float | None  # from step 1 to the last step, for those who converted


def _mask(conditions: list[f.Fragment]) -> f.Fragment:
    if not conditions:
        return f.Fragment(sql.SQL("0"))
    parts = [
        sql.SQL("(CASE WHEN {} THEN {} ELSE 0 END)").format(c.sql, sql.Literal(1 << i))
        for i, c in enumerate(conditions)
    ]
    return f.Fragment(sql.SQL(" | ").join(parts), [p for c in conditions for p in c.params])


def _matches(event: str, filters) -> f.Fragment:
    condition = f.all_of(filters)
    return f.Fragment(sql.SQL("(e.event = %s AND {})").format(condition.sql), [event, *condition.params])


def _base(query: FunnelQuery, scope: FunnelScope) -> f.Fragment:
    steps = _mask([_matches(step.event, step.filters) for step in query.steps])
    exclusions = _mask([_matches(x.event, x.filters) for x in query.exclusions])
    all_filters = [*query.filters, *(flt for step in query.steps for flt in step.filters)]
    all_filters += [flt for x in query.exclusions for flt in x.filters]
    joins = [f.MERGE_JOIN]
    if f.needs_person(all_filters, query.breakdown):
        joins.append(f.ACTOR_PROPERTIES_JOIN)
    breakdown = f.breakdown_value(query.breakdown) if query.breakdown else f.Fragment(sql.SQL("NULL::text"))
    global_filters = f.all_of(query.filters)
    where = [sql.SQL("e.project_id = %s AND e.time >= %s AND e.time < %s AND e.person_id IS NOT NULL")]
    params = [scope.project_id, scope.start, scope.end]
    if scope.environment_id is not None:
        where.append(sql.SQL("e.environment_id = %s"))
        params.append(scope.environment_id)
    if query.order != "strict":
        where.append(sql.SQL("e.event = ANY(%s)"))
        params.append(sorted({step.event for step in query.steps} | {x.event for x in query.exclusions}))
    where.append(global_filters.sql)
    params += global_filters.params
    text = sql.SQL(
        """
        SELECT {actor} AS actor,
               date_part('epoch', e.time) AS ts,
               {steps} AS mask,
               {exclusions} AS xmask,
               {breakdown} AS bd
        FROM events e {joins}
        WHERE {where}
        """
    ).format(
        actor=f.ACTOR,
        steps=steps.sql,
        exclusions=exclusions.sql,
        breakdown=breakdown.sql,
        joins=sql.SQL(" ").join(joins),
        where=sql.SQL(" AND ").join(where),
    )
    return f.Fragment(text, [*steps.params, *exclusions.params, *breakdown.params, *params])


# TRICKY: events at the same instant are ordered by their step mask, so a step's event sorts before
# the next step's (and the order is deterministic without sorting on a wide text column).
_ORDERED = sql.SQL("PARTITION BY actor ORDER BY ts, mask")


def _prior_chain(query: FunnelQuery, index: int) -> sql.Composable:
    """The best chain ending at an earlier step-``index`` event (0-based ``index`` is the step before)."""
    previous = sql.Identifier(f"c{index}")
    step_window = query.steps[index].window_seconds
    if query.order == "strict":
        return sql.SQL("lag({}) OVER ({})").format(previous, _ORDERED)
    if step_window is not None:
        return sql.SQL(
            "max({}) OVER (PARTITION BY actor ORDER BY ts RANGE BETWEEN {} PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW)"
        ).format(previous, sql.Literal(float(step_window)))
    return sql.SQL("max({}) OVER ({} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)").format(
        previous, _ORDERED
    )


def _ordered_people(query: FunnelQuery, base: sql.Composable) -> sql.Composable:
    """Per person: the furthest step, the time from entry to each step, the breakdown value.

    Without exclusions a chain is only its start time (a float: cheap to carry through the window
    aggregates); exclusions need every step's time, so the chain is then the array of them.
    """
    steps = len(query.steps)
    window = sql.Literal(float(query.window_seconds))
    arrays = bool(query.exclusions)
    first, start, extend = (
        (sql.SQL("ARRAY[ts]"), sql.SQL("prior[1]"), sql.SQL("prior || ts"))
        if arrays
        else (sql.SQL("ts"), sql.SQL("prior"), sql.SQL("prior"))
    )
    relation = sql.SQL(
        "(SELECT *, CASE WHEN mask & 1 <> 0 THEN {first} END AS c1 FROM ({base}) b) level1"
    ).format(first=first, base=base)
    for index in range(1, steps):
        # A strict chain's previous step is the previous event: its time bounds a per-step window.
        # (In ordered mode the RANGE frame of _prior_chain does it.)
        hop, previous_time = sql.SQL(""), sql.SQL("")
        step_window = query.steps[index].window_seconds
        if query.order == "strict" and step_window is not None:
            hop = sql.SQL(" AND ts - previous_ts <= {}").format(sql.Literal(float(step_window)))
            previous_time = sql.SQL(", lag(ts) OVER ({}) AS previous_ts").format(_ORDERED)
        kept = sql.SQL(", ").join(
            sql.Identifier(name)
            for name in ("actor", "ts", "mask", "xmask", "bd", *(f"c{k}" for k in range(1, index + 1)))
        )
        relation = sql.SQL(
            """
            (SELECT {kept}, CASE WHEN mask & {bit} <> 0 AND ts - {start} <= {window}{hop} THEN {extend} END AS {current}
             FROM (SELECT *, {prior} AS prior{previous_time} FROM {source}) with_prior) {alias}
            """
        ).format(
            kept=kept,
            bit=sql.Literal(1 << index),
            start=start,
            window=window,
            extend=extend,
            current=sql.Identifier(f"c{index + 1}"),
            prior=_prior_chain(query, index),
            hop=hop,
            previous_time=previous_time,
            source=relation,
            alias=sql.Identifier(f"level{index + 1}"),
        )
    if arrays:
        # Every chain is checked against the exclusions on its own: a refunded attempt does not hide
        # a clean one that got as far (whatever their order).
        ok = {k: _clean_chain(query, k) for k in range(1, steps + 1)}
        relation = sql.SQL("(SELECT *{times} FROM {source}) with_exclusions").format(
            times=_exclusion_times(query), source=relation
        )
        chain = sql.SQL(", ").join(
            sql.SQL("min({}) FILTER (WHERE {})").format(sql.Identifier(f"c{k}"), ok[k])
            for k in range(steps, 0, -1)
        )
        per_person = sql.SQL("coalesce({}) AS chain").format(chain)
        times = sql.SQL("")
    else:
        ok = {k: sql.SQL("{} IS NOT NULL").format(sql.Identifier(f"c{k}")) for k in range(1, steps + 1)}
        # The fastest time from an entry to each step (ts minus the chain's start).
        per_person = sql.SQL("NULL::float8[] AS chain")
        times = sql.SQL("").join(
            sql.SQL(", min(ts - {c}) AS {t}").format(c=sql.Identifier(f"c{k}"), t=sql.Identifier(f"t{k}"))
            for k in range(2, steps + 1)
        )
    # The furthest step any chain reached; with exclusions the person counts only if one of the
    # chains that got that far is clean (else 0: left out of the funnel).
    furthest = (
        "WHEN count({c}) > 0 THEN CASE WHEN bool_or({ok}) THEN {k} ELSE 0 END"
        if arrays
        else "WHEN count({c}) > 0 THEN {k}"
    )
    reached = sql.SQL(" ").join(
        sql.SQL(furthest).format(c=sql.Identifier(f"c{k}"), ok=ok[k], k=sql.Literal(k))
        for k in range(steps, 0, -1)
    )
    return sql.SQL(
        """
        SELECT actor, CASE {reached} ELSE 0 END AS reached, {per_person}{times},
               {breakdown} AS bd
        FROM {relation}
        GROUP BY actor
        """
    ).format(
        breakdown=_first_breakdown(query, sql.SQL("mask & 1 <> 0")),
        reached=reached,
        per_person=per_person,
        times=times,
        relation=relation,
    )


def _clean_chain(query: FunnelQuery, level: int) -> sql.Composable:
    """Whether the chain ending at this row's step ``level`` (1-based) is free of exclusion events:
    none between its from-step and to-step, or, when the chain stops before the to-step, none
    after its from-step inside the window."""
    chain = sql.Identifier(f"c{level}")
    window = sql.Literal(float(query.window_seconds))
    checks = [sql.SQL("{} IS NOT NULL").format(chain)]
    for i, exclusion in enumerate(query.exclusions):
        if exclusion.from_step + 1 > level:
            continue  # the chain has not reached the from-step
        until = (
            sql.SQL("{}[{}]").format(chain, sql.Literal(exclusion.to_step + 1))
            if exclusion.to_step + 1 <= level
            else sql.SQL("{}[1] + {}").format(chain, window)
        )
        checks.append(
            sql.SQL(
                "NOT EXISTS (SELECT 1 FROM unnest({times}) x WHERE x > {chain}[{start}] AND x < {until})"
            ).format(
                times=sql.Identifier(f"x{i}"),
                chain=chain,
                start=sql.Literal(exclusion.from_step + 1),
                until=until,
            )
        )
    return sql.SQL("({})").format(sql.SQL(" AND ").join(checks))


def _any_order_people(query: FunnelQuery, base: sql.Composable) -> sql.Composable:
    window = sql.Literal(float(query.window_seconds))
    reverse = sql.SQL(
        "PARTITION BY actor ORDER BY ts DESC, mask DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    )
    next_times = sql.SQL(", ").join(
        sql.SQL("min(CASE WHEN mask & {} <> 0 THEN ts END) OVER ({})").format(sql.Literal(1 << k), reverse)
        for k in range(len(query.steps))
    )
    return sql.SQL(
        """
        SELECT actor, max(cardinality(chain)) AS reached,
               (max(ARRAY[cardinality(chain)::float8, -ts] || chain))[3:] AS chain,
               {breakdown} AS bd
        FROM (
            SELECT *, CASE WHEN mask <> 0 THEN ARRAY(SELECT x FROM unnest(next_times) x WHERE x - ts <= {window} ORDER BY x)
                           ELSE '{{}}'::float8[] END AS chain
            FROM (SELECT *, ARRAY[{next_times}] AS next_times FROM ({base}) b) with_next
            WHERE mask <> 0 OR xmask <> 0
        ) chains
        GROUP BY actor
        """
    ).format(
        next_times=next_times,
        window=window,
        base=base,
        breakdown=_first_breakdown(query, sql.SQL("mask <> 0")),
    )


def _first_breakdown(query: FunnelQuery, entered: sql.Composable) -> sql.Composable:
    """The breakdown value of the person's first entry (NULL without a breakdown: no aggregate)."""
    if query.breakdown is None:
        return sql.SQL("NULL::text")
    return sql.SQL("(array_agg(bd ORDER BY ts, mask) FILTER (WHERE {}))[1]").format(entered)


def _exclusion_times(query: FunnelQuery) -> sql.Composable:
    """Each exclusion's times for the whole person, on every row (a window over the person)."""
    return sql.SQL("").join(
        sql.SQL(", array_agg(ts) FILTER (WHERE xmask & {} <> 0) OVER (PARTITION BY actor) AS {}").format(
            sql.Literal(1 << i), sql.Identifier(f"x{i}")
        )
        for i in range(len(query.exclusions))
    )


def build_funnel_query(query: FunnelQuery, scope: FunnelScope) -> f.Fragment:
    base = _base(query, scope)
    people = _any_order_people(query, base.sql) if query.order == "any" else _ordered_people(query, base.sql)
    steps = len(query.steps)
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE reached >= {})").format(sql.Literal(k)) for k in range(1, steps + 1)
    )

    # Time from entering the funnel to each step: from the chain's times when the chain is an array
    # (exclusions, any order), else the fastest per step, computed per person.
    uses_chain = query.order == "any" or bool(query.exclusions)
    times = sql.SQL(", ").join(
        sql.SQL("chain[{}] - chain[1] AS {}" if uses_chain else "{1} AS {1}").format(
            sql.Literal(k), sql.Identifier(f"t{k}")
        )
        for k in range(2, steps + 1)
    )

    def percentile(fraction: float) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("percentile_cont({}) WITHIN GROUP (ORDER BY {}) FILTER (WHERE reached >= {})").format(
                sql.Literal(fraction), sql.Identifier(f"t{k}"), sql.Literal(k)
            )
            for k in range(2, steps + 1)
        )

    limit = query.breakdown.limit if query.breakdown else 0
    text = sql.SQL(
        """
        WITH people AS (
            SELECT reached, bd, {times} FROM ({people}) per_person
            WHERE reached > 0
        ), top AS (
            SELECT bd FROM people GROUP BY bd ORDER BY count(*) DESC, bd NULLS LAST LIMIT %s
        ), labelled AS (
            SELECT people.*, CASE WHEN top.ranked THEN people.bd END AS breakdown,
                   NOT coalesce(top.ranked, false) AS is_other
            FROM people LEFT JOIN (SELECT bd, true AS ranked FROM top) top ON top.bd IS NOT DISTINCT FROM people.bd
        )
        SELECT {is_total} AS is_total, {breakdown}, {is_other},
               ARRAY[{counts}] AS counts,
               ARRAY[NULL::float8, {medians}] AS medians,
               ARRAY[NULL::float8, {p90s}] AS p90s,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {last_time}) FILTER (WHERE reached >= {last})
        FROM labelled
        GROUP BY GROUPING SETS ({grouping_sets})
        ORDER BY 1 DESC, 4 DESC
        """
    ).format(
        people=people,
        times=times,
        last_time=sql.Identifier(f"t{steps}"),
        counts=counts,
        medians=percentile(0.5),
        p90s=percentile(0.9),
        last=sql.Literal(steps),
        grouping_sets=sql.SQL("(), (breakdown, is_other)" if query.breakdown else "()"),
        is_total=sql.SQL("GROUPING(breakdown, is_other) <> 0" if query.breakdown else "true"),
        breakdown=sql.SQL("breakdown" if query.breakdown else "NULL::text"),
        is_other=sql.SQL("is_other" if query.breakdown else "false"),
    )
    return f.Fragment(text, [*base.params, limit])


# The sort of a week's step events (hundreds of thousands of rows) spills to disk at PostgreSQL's
# default 4 MB; this statement gets more, for its own transaction only.
WORK_MEM = "128MB"


def run(fragment: f.Fragment) -> list[FunnelRow]:
    with bounded_cursor(work_mem=WORK_MEM) as cursor:
        cursor.execute(fragment.sql, fragment.params)
        return [
            FunnelRow(
                is_total=bool(is_total),
                breakdown=breakdown,
                is_other=bool(is_other),
                counts=[int(c) for c in counts],
                median_seconds=list(medians),
                p90_seconds=list(p90s),
                median_total_seconds=total,
            )
            for is_total, breakdown, is_other, counts, medians, p90s, total in cursor.fetchall()
        ]
