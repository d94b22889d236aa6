"""Funnels: each order mode, any-entry semantics, the window edge, per-step windows, exclusions,
breakdowns, identity merge across login, and saved funnels precomputed. Expected values by hand."""

import pytest
from django.utils import timezone

from analytics.insights.actions import do_save_insight, do_update_insight
from analytics.insights.definitions import QueryError, parse_funnel
from analytics.insights.funnels import precompute, precompute_all, run_funnel, saved_result
from analytics.models import FunnelResult
from tests.analytics.insight_data import at, ev, refresh_rollups, write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

NOW = at("2026-11-12 12:00")
DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}
STEPS = ["view", "cart", "buy"]


def funnel(project, steps=STEPS, **query):
    definition = parse_funnel({"steps": steps, "date_range": DAYS, "window_seconds": 86400, **query})
    return run_funnel(project, definition, now=NOW)


def counts(outcome):
    return [step.count for step in outcome.steps]


@pytest.fixture
def shoppers(project):
    write(
        [
            # A: view, cart after 5 min, buy after 15 more: converts.
            ev(project, "2026-11-10 10:00", "view", "A", source="ads"),
            ev(project, "2026-11-10 10:05", "cart", "A"),
            ev(project, "2026-11-10 10:20", "buy", "A"),
            # B: view, cart an hour later.
            ev(project, "2026-11-10 10:00", "view", "B", source="ads"),
            ev(project, "2026-11-10 11:00", "cart", "B"),
            # C: only views.
            ev(project, "2026-11-10 10:00", "view", "C", source="mail"),
            # D: never views: not in the funnel (but two steps in any order).
            ev(project, "2026-11-10 10:00", "cart", "D"),
            ev(project, "2026-11-10 10:10", "buy", "D"),
            # E: buys before adding to cart.
            ev(project, "2026-11-10 10:00", "view", "E"),
            ev(project, "2026-11-10 10:10", "buy", "E"),
            ev(project, "2026-11-10 10:20", "cart", "E"),
        ]
    )
    return project


def test_ordered_funnel_counts_conversion_drop_off_and_times(shoppers):
    outcome = funnel(shoppers)
    assert counts(outcome) == [4, 3, 1]  # A B C E viewed; A B E added; only A bought after adding
    assert [s.conversion_from_first for s in outcome.steps] == [1, 0.75, 0.25]
    assert [round(s.conversion_from_previous, 4) for s in outcome.steps] == [1, 0.75, 0.3333]
    assert [s.drop_off for s in outcome.steps] == [0, 1, 2]
    # Times from entering the funnel. view -> cart: A 300 s, E 1200 s, B 3600 s;
    # percentile_cont(0.9): 1200 + 0.8 * 2400. view -> buy: A 1200 s.
    assert outcome.steps[1].median_seconds == 1200
    assert outcome.steps[1].p90_seconds == pytest.approx(3120)
    assert (outcome.steps[2].median_seconds, outcome.steps[2].p90_seconds) == (1200, 1200)
    assert outcome.median_total_seconds == 1200  # A: 10:00 -> 10:20
    assert outcome.conversion == 0.25


def test_any_order_counts_steps_done_in_whatever_order(shoppers):
    outcome = funnel(shoppers, order="any")
    # At least 1 step: A B C D E; 2: A B D E; all 3: A and E (E bought before adding to cart).
    assert counts(outcome) == [5, 4, 2]


def test_strict_order_breaks_on_any_other_event(shoppers):
    write(
        [
            ev(shoppers, "2026-11-10 10:00", "view", "I"),
            ev(shoppers, "2026-11-10 10:01", "page_view", "I"),  # in between: breaks the strict chain
            ev(shoppers, "2026-11-10 10:02", "cart", "I"),
        ]
    )
    strict = funnel(shoppers, order="strict")
    # A view,cart,buy back to back: 3; B: 2; C: 1; E: view then buy breaks: 1; I: 1.
    assert counts(strict) == [5, 2, 1]
    assert counts(funnel(shoppers)) == [5, 4, 1]  # ordered: I reaches cart


def test_a_later_entry_that_fits_the_window_counts_not_only_the_first(project):
    write(
        [
            ev(project, "2026-11-10 09:00", "view", "F"),
            ev(project, "2026-11-10 12:00", "view", "F"),
            ev(project, "2026-11-10 12:30", "cart", "F"),
            ev(project, "2026-11-10 12:50", "buy", "F"),
        ]
    )
    outcome = funnel(project, window_seconds=3600)
    assert counts(outcome) == [1, 1, 1]
    assert [s.median_seconds for s in outcome.steps] == [None, 1800, 3000]  # from the 12:00 entry


def test_a_step_exactly_at_the_window_limit_counts_and_a_second_later_does_not(project):
    write(
        [
            ev(project, "2026-11-10 10:00:00", "view", "G"),
            ev(project, "2026-11-10 11:00:00", "cart", "G"),
            ev(project, "2026-11-10 10:00:00", "view", "H"),
            ev(project, "2026-11-10 11:00:01", "cart", "H"),
        ]
    )
    assert counts(funnel(project, steps=["view", "cart"], window_seconds=3600)) == [2, 1]
    assert counts(funnel(project, steps=["view", "cart"], window_seconds=3601)) == [2, 2]


def test_a_per_step_window_limits_the_time_from_the_previous_step(shoppers):
    steps = ["view", "cart", {"event": "buy", "window_seconds": 600}]
    assert counts(funnel(shoppers, steps=steps)) == [4, 3, 0]  # A: cart -> buy took 900 s
    steps[2]["window_seconds"] = 900
    assert counts(funnel(shoppers, steps=steps)) == [4, 3, 1]


def test_a_per_step_window_applies_in_strict_order_too(project):
    write([ev(project, "2026-11-10 10:00", "view", "S"), ev(project, "2026-11-10 12:00", "cart", "S")])
    steps = ["view", {"event": "cart", "window_seconds": 60}]
    assert counts(funnel(project, steps=steps, order="strict")) == [1, 0]
    steps[1]["window_seconds"] = 7200
    assert counts(funnel(project, steps=steps, order="strict")) == [1, 1]


def test_exclusion_steps_leave_out_people_who_did_the_excluded_event_in_between(shoppers):
    write(
        [
            ev(shoppers, "2026-11-10 10:00", "view", "J"),
            ev(shoppers, "2026-11-10 10:01", "refund", "J"),  # between view and cart: excluded
            ev(shoppers, "2026-11-10 10:02", "cart", "J"),
            ev(shoppers, "2026-11-10 10:00", "view", "K"),
            ev(shoppers, "2026-11-10 10:01", "cart", "K"),
            ev(shoppers, "2026-11-10 10:02", "refund", "K"),  # after cart: not between steps 0 and 1
        ]
    )
    exclusions = [{"event": "refund", "from_step": 0, "to_step": 1}]
    assert counts(funnel(shoppers)) == [6, 5, 1]
    assert counts(funnel(shoppers, exclusions=exclusions)) == [5, 4, 1]
    # Between cart and buy: K's refund after cart, with no purchase within the window, excludes K.
    later = [{"event": "refund", "from_step": 1, "to_step": 2}]
    assert counts(funnel(shoppers, exclusions=later)) == [5, 4, 1]


def test_a_refunded_attempt_does_not_hide_a_clean_one_whatever_their_order(project):
    exclusions = [{"event": "refund", "from_step": 0, "to_step": 1}]
    write(
        [
            ev(project, "2026-11-10 10:00", "view", "P"),
            ev(project, "2026-11-10 10:01", "refund", "P"),
            ev(project, "2026-11-10 10:02", "cart", "P"),
            ev(project, "2026-11-10 15:00", "view", "P"),  # a clean attempt, later
            ev(project, "2026-11-10 15:01", "cart", "P"),
            ev(project, "2026-11-10 10:00", "view", "Q"),  # the clean attempt first
            ev(project, "2026-11-10 10:01", "cart", "Q"),
            ev(project, "2026-11-10 15:00", "view", "Q"),
            ev(project, "2026-11-10 15:01", "refund", "Q"),
            ev(project, "2026-11-10 15:02", "cart", "Q"),
        ]
    )
    assert counts(funnel(project, steps=["view", "cart"], exclusions=exclusions)) == [2, 2]


def test_step_filters_and_global_filters(shoppers):
    steps = [{"event": "view", "filters": [{"property": "source", "value": "ads"}]}, "cart", "buy"]
    assert counts(funnel(shoppers, steps=steps)) == [2, 2, 1]
    assert counts(
        funnel(shoppers, filters=[{"property": "browser", "source": "context", "value": "Safari"}])
    ) == [0, 0, 0]


def test_breakdown_by_the_first_steps_property(shoppers):
    outcome = funnel(shoppers, breakdown={"property": "source", "limit": 1})
    groups = {(g.breakdown, g.is_other): [s.count for s in g.steps] for g in outcome.breakdowns}
    # ads: A, B; the rest (C mail, E not set) fold into other.
    assert groups == {("ads", False): [2, 2, 1], (None, True): [2, 1, 0]}
    assert counts(outcome) == [4, 3, 1]


def test_people_are_followed_across_login(project):
    write([ev(project, "2026-11-10 10:00", "view", "anon-1")])
    write(
        [ev(project, "2026-11-10 10:10", "cart", "u1"), ev(project, "2026-11-10 10:20", "buy", "u1")],
        links={"u1": "anon-1"},
    )
    assert counts(funnel(project)) == [1, 1, 1]


def test_an_anonymous_person_merged_into_a_known_user_counts_once(project):
    from analytics.models import PersonMerge

    write([ev(project, "2026-11-10 09:00", "page_view", "u2")], links={"u2": "u2-phone"})  # identified
    write([ev(project, "2026-11-10 10:00", "view", "anon-2")])  # a person of its own
    write(
        [ev(project, "2026-11-10 10:10", "cart", "u2"), ev(project, "2026-11-10 10:20", "buy", "u2")],
        links={"u2": "anon-2"},
    )
    assert PersonMerge.objects.filter(project=project).count() == 1  # anon-2's person went into u2's
    assert counts(funnel(project)) == [1, 1, 1]


def test_merges_of_merged_persons_point_to_the_final_person(project):
    from analytics.identity import resolve_persons
    from analytics.ingest.incoming import PersonUpdate
    from analytics.models import PersonDistinctId, PersonMerge
    from analytics.storage import get_store

    def send(record, **update):
        get_store().insert_new(
            [record],
            prepare=lambda fresh: resolve_persons(
                fresh, {(project.id, record.message_id): PersonUpdate(**update)}
            ),
        )

    send(ev(project, "2026-11-10 09:00", "page_view", "u"), link="u-phone", identify=True)  # a known user
    send(ev(project, "2026-11-10 10:00", "view", "anon-a"))
    send(ev(project, "2026-11-10 10:05", "cart", "anon-b"))
    send(ev(project, "2026-11-10 10:06", "page_view", "anon-b"), link="anon-a")  # neither known: a joins b
    send(ev(project, "2026-11-10 10:20", "buy", "u"), link="anon-b", identify=True)  # b's person joins u's
    final = PersonDistinctId.objects.get(project=project, distinct_id="u").person_id
    assert set(PersonMerge.objects.filter(project=project).values_list("person_id", flat=True)) == {final}
    assert PersonMerge.objects.filter(project=project).count() == 2
    assert counts(funnel(project)) == [1, 1, 1]


def test_twenty_steps_run_in_one_statement(project):
    names = [f"s{i}" for i in range(20)]
    write([ev(project, f"2026-11-10 10:{i:02d}", name, "P") for i, name in enumerate(names)])
    assert counts(funnel(project, steps=names)) == [1] * 20


def test_an_empty_funnel_is_zeros(project):
    outcome = funnel(project)
    assert counts(outcome) == [0, 0, 0]
    assert outcome.conversion == 0
    assert outcome.steps[1].median_seconds is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"steps": ["view"]}, "steps"),
        ({"steps": ["a"] * 21}, "steps"),
        ({"steps": ["a", "b"], "order": "random"}, "order"),
        ({"steps": ["a", "b"], "exclusions": [{"event": "x", "from_step": 1}]}, "exclusions.0.from_step"),
        ({"steps": ["a", {"event": ""}]}, "steps.1.event"),
        ({"steps": ["a", {"event": "b", "window_seconds": 60}], "order": "any"}, "order"),
        ({"steps": ["a", "b"], "order": "any", "exclusions": [{"event": "x"}]}, "exclusions"),
        ({"steps": ["a", "b"], "window_seconds": 1e999}, "window_seconds"),
    ],
)
def test_bad_funnels_name_the_field(query, field):
    with pytest.raises(QueryError) as error:
        parse_funnel(query)
    assert error.value.field == field


def test_saved_funnels_are_precomputed_and_read_from_their_row(shoppers, owner):
    insight = do_save_insight(
        project=shoppers,
        kind="funnel",
        name="Checkout",
        query={"steps": STEPS, "date_range": DAYS},
        acting_user=owner,
    )
    refresh_rollups()
    assert saved_result(insight) is None
    assert precompute(insight, now=NOW) is True
    result = saved_result(insight)
    assert result.source == "precomputed"
    assert [s.count for s in result.steps] == [4, 3, 1]
    # Nothing new in its window: not computed again.
    assert precompute(insight, now=NOW) is False
    assert precompute_all(now=NOW) == {"computed": 0, "unchanged": 1, "failed": 0}
    # A late event in the window changes the rollups, so the fingerprint: computed again.
    write([ev(shoppers, "2026-11-10 11:30", "buy", "B")])
    refresh_rollups()
    assert precompute_all(now=NOW) == {"computed": 1, "unchanged": 0, "failed": 0}
    assert [s.count for s in saved_result(insight).steps] == [4, 3, 2]
    assert FunnelResult.objects.get(insight=insight).computed_at <= timezone.now()
    # Edited: the old result answers another question, so it is gone at once.
    do_update_insight(
        insight=insight,
        name="Checkout",
        query={"steps": ["cart", "view"], "date_range": DAYS},
        acting_user=owner,
    )
    assert saved_result(insight) is None


# The TimescaleDB test server (PGlite, one wasm thread) has no timer to cancel a statement with.
@pytest.mark.postgres_only
def test_a_question_too_big_for_the_time_limit_is_a_clear_error(shoppers, settings):
    from analytics.queries import bounded_cursor

    settings.ANALYSIS_STATEMENT_TIMEOUT_MS = 1000

    with pytest.raises(QueryError) as error, bounded_cursor() as cursor:
        cursor.execute("SELECT pg_sleep(3)")
    assert "took longer than 1 s" in error.value.message
    assert counts(funnel(shoppers)) == [4, 3, 1]  # ordinary questions still run
