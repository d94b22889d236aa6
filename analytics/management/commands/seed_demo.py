"""Create (idempotently) the demo organization, user, project and a week of events."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from alerts.actions import do_create_alert_rule, do_create_channel
from alerts.evaluation import evaluate_rule
from alerts.models import AlertRule
from analytics.demo import generate
from analytics.demo_plan import DEMO_PLAN, with_release_candidate_bugs
from analytics.demo_shop import ShopConfig, load_config, save_config
from analytics.identity import resolve_persons
from analytics.insights.actions import do_add_tile, do_create_dashboard, do_save_insight
from analytics.insights.funnels import precompute
from analytics.insights.models import Insight
from analytics.plan.actions import do_import_plan
from analytics.plan.models import EventDefinition
from analytics.plan.observed import observe
from analytics.plan.runtime import apply_policy, compiled_plan
from analytics.storage import get_store
from analytics.verification.debug import do_add_test_case
from analytics.verification.models import EventTestCase, Release, RuleKind
from analytics.verification.releases import do_check_release, do_declare_release
from projects.actions import do_create_api_key
from projects.models import ApiKeyKind, Environment, Membership, Organization, Project, Role

DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@beacon.local"
DEMO_PASSWORD = "beacon-demo"
DEMO_PROJECT = "demo-shop"
# Reporting rules a debug session checks (event, description, kind, config).
DEMO_TEST_CASES = (
    ("page_view", "carries the page's path", RuleKind.CARRIES, {"properties": ["path"]}),
    (
        "product_click",
        "carries product_id, position and the list",
        RuleKind.CARRIES,
        {"properties": ["product_id", "position", "list"]},
    ),
    ("product_click", "follows a page view", RuleKind.PRECEDED_BY, {"event": "page_view", "match": ""}),
    ("add_to_cart", "matches the plan", RuleKind.VALID, {}),
    ("purchase", "fires once per order", RuleKind.ONCE_PER, {"field": "properties.order_id"}),
    ("product_click", "fires when the product tile is visible and tapped", RuleKind.MANUAL, {}),
)

# The Analysis tab's demo: KPI cards, a trend, the shop's funnel and weekly retention.
DEMO_INSIGHTS = (
    (
        "kpi",
        "Purchases this week",
        {"series": {"event": "purchase"}, "date_range": "7d", "target": 900, "lower": 800, "upper": 1200},
    ),
    (
        "kpi",
        "Weekly shoppers",
        {"series": {"event": "page_view", "math": "users"}, "date_range": "7d", "target": 1500},
    ),
    (
        "kpi",
        "Revenue this week",
        {
            "series": {"event": "purchase", "math": "sum", "property": "revenue"},
            "date_range": "7d",
            "target": 150000,
        },
    ),
    (
        "trend",
        "Page views and purchases",
        {"series": [{"event": "page_view"}, {"event": "purchase"}], "interval": "hour", "date_range": "7d"},
    ),
    (
        "funnel",
        "Click to purchase",
        {"steps": ["product_click", "add_to_cart", "purchase"], "window_seconds": 3600, "date_range": "7d"},
    ),
    (
        "retention",
        "Signups who come back to buy",
        {
            "cohort_event": "signup",
            "return_event": "purchase",
            "interval": "day",
            "periods": 6,
            "date_range": "7d",
        },
    ),
)

# The Alerts tab's demo: (environment, rule fields).
DEMO_ALERT_RULES = (
    (
        "production",
        {"name": "No purchase in 6 hours", "kind": "volume_below", "event": "purchase", "threshold": 1,
         "window_minutes": 360, "severity": "critical"},
    ),
    (
        "production",
        {"name": "Cart to purchase below 20 %", "kind": "rate_below", "event": "purchase",
         "denominator_event": "add_to_cart", "threshold": 20, "min_sample": 30, "window_minutes": 180},
    ),
    (
        "production",
        {"name": "No page views for 15 minutes", "kind": "absence", "event": "page_view", "window_minutes": 15,
         "severity": "critical"},
    ),
    (
        "production",
        {"name": "Unusually large orders (p95 revenue)", "kind": "property_above", "event": "purchase",
         "property": "revenue", "aggregate": "p95", "threshold": 2000, "min_sample": 5, "window_minutes": 360},
    ),
    (
        "staging",
        {"name": "Any plan violation in staging (24 h)", "kind": "violations_above", "event": "", "threshold": 0,
         "window_minutes": 1440},
    ),
)  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo organization, user and project with 7 days of realistic events (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument(
            "--sessions-per-hour", type=int, default=150, help="Peak-ish sessions per hour in production."
        )

    def handle(self, *args, days: int, sessions_per_hour: int, **options):
        project, environments, user = self.ensure_tenancy()
        if not EventDefinition.objects.filter(project=project).exists():
            do_import_plan(
                project=project, snapshot=DEMO_PLAN, acting_user=user, summary="The demo shop's plan"
            )
            project.refresh_from_db()
        plan = compiled_plan(project.id, project.plan_version)
        store = get_store()
        store.maintain(timezone.now())
        now = timezone.now()
        written = 0
        for environment, base, version in (
            (environments["production"], sessions_per_hour, "1.5.0"),
            (environments["staging"], max(1, sessions_per_hour // 20), "1.6.0-rc.1"),
        ):
            batch = []
            buggy = environment.slug == "staging"
            for hour_records in generate(
                project_id=project.id,
                environment_id=environment.id,
                end=now,
                days=days,
                base_per_hour=base,
                users=2000,
                app_version=version,
            ):
                batch.extend(self.checked(plan, hour_records, buggy, environment.plan_policy))
                if len(batch) >= 5000:
                    written += self.write(store, batch)
                    batch = []
            written += self.write(store, batch)
        self.seed_verification(project, environments, user)
        buckets = store.refresh_rollups()
        self.seed_analysis(project, user)
        self.seed_alerts(project, environments, user)
        self.seed_demo_shop(project, environments["production"], user)
        self.stdout.write(
            f"demo: project {project.slug!r}, {written} new events written, {buckets} rollup buckets refreshed"
        )

    @staticmethod
    def seed_verification(project, environments, user) -> None:
        """Test cases on the funnel's events, and the two releases the demo's data comes from."""
        definitions = {event.name: event for event in EventDefinition.objects.filter(project=project)}
        if not EventTestCase.objects.filter(event__project=project).exists():
            for name, description, kind, config in DEMO_TEST_CASES:
                do_add_test_case(
                    event=definitions[name],
                    description=description,
                    kind=kind,
                    config=config,
                    acting_user=user,
                )
        if not Release.objects.filter(project=project).exists():
            now = timezone.now()
            for slug, version, days in (("production", "1.5.0", 6), ("staging", "1.6.0-rc.1", 2)):
                release = do_declare_release(
                    project=project,
                    environment=environments[slug],
                    app_version=version,
                    name=f"Shop {version}",
                    started_at=now - timedelta(days=days),
                    acting_user=user,
                )
                do_check_release(release=release, acting_user=user)

    @staticmethod
    def seed_analysis(project, user) -> None:
        """Saved insights and a dashboard, so the Analysis tab has something to show."""
        if Insight.objects.filter(project=project).exists():
            return
        production = {"environment": "production"}
        insights = [
            do_save_insight(
                project=project,
                kind=kind,
                name=name,
                query={**production, **query},
                acting_user=user,
            )
            for kind, name, query in DEMO_INSIGHTS
        ]
        dashboard = do_create_dashboard(
            project=project, name="Shop overview", description="The demo shop's week.", acting_user=user
        )
        for insight, width in zip(insights, (4, 4, 4, 6, 6, 12), strict=True):
            do_add_tile(dashboard=dashboard, insight=insight, width=width, acting_user=user)
        for insight in insights:
            if insight.kind == "funnel":
                precompute(insight, force=True)

    @staticmethod
    def seed_alerts(project, environments, user) -> None:
        """An email channel and a few rules, evaluated once, so the Alerts tab shows states and an
        alert (staging's release candidate breaks the plan: its violations rule fires)."""
        if AlertRule.objects.filter(project=project).exists():
            return
        channel = do_create_channel(
            project=project,
            name="Demo team inbox",
            kind="email",
            config={"addresses": [DEMO_EMAIL]},
            acting_user=user,
        )
        for environment, fields in DEMO_ALERT_RULES:
            rule = do_create_alert_rule(
                project=project,
                fields={"environment": environments[environment], **fields},
                channels=[channel],
                acting_user=user,
            )
            evaluate_rule(rule.id)

    @staticmethod
    def seed_demo_shop(project, environment, user) -> None:
        """A write key for the demo shop (/demo/shop/), unless the one it has still works."""
        config = load_config()
        if config is not None and config.project == project.slug:
            return
        _, raw_key = do_create_api_key(
            environment=environment, kind=ApiKeyKind.WRITE, name="Demo shop (browser)", acting_user=user
        )
        save_config(ShopConfig(write_key=raw_key, environment=environment.slug, project=project.slug))

    @staticmethod
    def checked(plan, records, buggy: bool, policy: str):
        """The records as ingestion would store them: checked against the plan."""
        for record in records:
            if buggy:
                record = with_release_candidate_bugs(record)
            yield apply_policy(record, plan.check(record.event, record.properties or {}), policy)

    @staticmethod
    @transaction.atomic
    def write(store, batch) -> int:
        # Persons as the ingest writer resolves them, so unique users and funnels count people.
        fresh = store.insert_new(batch, prepare=lambda new: resolve_persons(new, {}))
        observe(fresh)
        return len(fresh)

    @transaction.atomic
    def ensure_tenancy(self):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": DEMO_EMAIL, "is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        organization, _ = Organization.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Outdoor Co."}
        )
        Membership.objects.get_or_create(organization=organization, user=user, defaults={"role": Role.OWNER})
        project, _ = Project.objects.get_or_create(
            slug=DEMO_PROJECT,
            defaults={"organization": organization, "name": "Demo shop", "timezone": "Europe/Paris"},
        )
        environments = {}
        for slug in ("production", "staging"):
            environments[slug], _ = Environment.objects.get_or_create(
                project=project, slug=slug, defaults={"name": slug.capitalize()}
            )
        return project, environments, user
