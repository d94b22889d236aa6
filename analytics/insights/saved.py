"""A saved insight's current result, whatever its kind: the one dispatch behind its page, its
dashboard tile and the query API."""

from analytics.insights.definitions import QueryError, parse
from analytics.insights.funnels import FunnelOutcome, precompute, saved_result
from analytics.insights.kpis import run_kpi
from analytics.insights.models import FunnelResult, Insight, InsightKind
from analytics.insights.retention import run_retention
from analytics.insights.trends import cached_trend


def saved_funnel(insight: Insight) -> FunnelOutcome:
    """The precomputed result; computed now (and kept) when there is no row yet. A funnel that
    cannot run raises QueryError with the reason its row holds (until the beat task runs it again)."""
    outcome = saved_result(insight)
    if outcome is not None:
        return outcome
    error = FunnelResult.objects.filter(insight=insight).values_list("error", flat=True).first()
    if not error:
        precompute(insight, force=True)
        outcome = saved_result(insight)
        if outcome is not None:
            return outcome
        error = FunnelResult.objects.filter(insight=insight).values_list("error", flat=True).first()
    raise QueryError("", error or "This funnel could not be computed.")


def result_of(project, insight: Insight):
    """The result object of a saved insight (raises QueryError)."""
    if insight.kind == InsightKind.FUNNEL:
        return saved_funnel(insight)
    definition = parse(insight.kind, insight.query)
    if insight.kind == InsightKind.TREND:
        return cached_trend(project, definition)
    if insight.kind == InsightKind.RETENTION:
        return run_retention(project, definition)
    return run_kpi(project, definition, cached=True)
