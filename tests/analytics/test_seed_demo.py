"""`manage.py seed_demo` (what `make run` shows first): a plan, events, test cases and two releases."""

import io

import pytest
from django.core.management import call_command

from analytics.verification.models import EventTestCase, Release
from analytics.verification.releases import Outcome, check_release

pytestmark = pytest.mark.django_db


def test_it_seeds_test_cases_and_releases_whose_reports_reflect_the_staging_bugs(store):
    call_command("seed_demo", days=2, sessions_per_hour=12, stdout=io.StringIO())
    call_command("seed_demo", days=2, sessions_per_hour=12, stdout=io.StringIO())  # idempotent
    assert EventTestCase.objects.filter(event__project__slug="demo-shop").count() == 6
    production, staging = (
        Release.objects.get(project__slug="demo-shop", environment__slug=slug)
        for slug in ("production", "staging")
    )
    assert staging.app_version == "1.6.0-rc.1" and production.app_version == "1.5.0"
    staging_report, production_report = check_release(staging), check_release(production)
    assert {result.outcome for result in staging_report.results} & {Outcome.VIOLATIONS, Outcome.INVALID}
    assert any(result.outcome == Outcome.VALID for result in production_report.results)


def test_it_seeds_people_insights_a_dashboard_and_a_precomputed_funnel(store):
    from analytics.insights.funnels import saved_result
    from analytics.insights.models import Dashboard, Insight
    from analytics.models import PersonDistinctId

    call_command("seed_demo", days=2, sessions_per_hour=12, stdout=io.StringIO())
    call_command("seed_demo", days=2, sessions_per_hour=12, stdout=io.StringIO())  # idempotent
    assert PersonDistinctId.objects.filter(project__slug="demo-shop").exists()
    insights = Insight.objects.filter(project__slug="demo-shop")
    assert sorted(insights.values_list("kind", flat=True)) == [
        "funnel",
        "kpi",
        "kpi",
        "kpi",
        "retention",
        "trend",
    ]
    dashboard = Dashboard.objects.get(project__slug="demo-shop")
    assert dashboard.tiles.count() == 6
    funnel = saved_result(insights.get(kind="funnel"))
    assert funnel.source == "precomputed"
    assert funnel.steps[0].count > funnel.steps[2].count > 0


def test_it_seeds_an_email_channel_and_evaluated_alert_rules_one_of_them_firing(store):
    from alerts.models import AlertRule, Channel, RuleState

    # Staging gets 1/20 of the traffic: enough sessions that its release candidate breaks the plan > 5 times a day.
    call_command("seed_demo", days=2, sessions_per_hour=80, stdout=io.StringIO())
    call_command("seed_demo", days=2, sessions_per_hour=80, stdout=io.StringIO())  # idempotent
    rules = AlertRule.objects.filter(project__slug="demo-shop")
    assert rules.count() == 5 and Channel.objects.filter(project__slug="demo-shop").count() == 1
    assert all(rule.last_evaluated_at is not None and rule.channels.count() == 1 for rule in rules)
    staging = rules.get(kind="violations_above")
    assert staging.state == RuleState.FIRING and staging.last_value > staging.threshold
    assert staging.events.filter(kind="fired").count() == 1
