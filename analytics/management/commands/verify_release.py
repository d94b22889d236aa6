"""Check a release from CI: are the expected events arriving, and do they match the plan?

    manage.py verify_release --project shop --environment production --app-version 2.4.0 --since 1h

Prints one row per expected event (✓/✗) and a summary line. Exit codes: 0 every expected event
passed, 1 one failed (the gate): never seen, mostly invalid (more than half of it breaks the plan), or
over the tolerance (--max-invalid-share: 0.5 by default; with --release, that release's own), 2 bad
arguments.
"""

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.verification.models import Release
from analytics.verification.releases import (
    MOSTLY_INVALID_SHARE,
    ReleaseReport,
    build_report,
    check_event_names,
    check_release,
    default_expected_events,
    mark_verified,
    release_label,
)
from projects.actions import ActionRefused
from projects.models import Environment, Project

USAGE_ERROR = 2
GATE_FAILED = 1
DEFAULT_SINCE = "24h"
AD_HOC_OPTIONS = ("environment", "app_version", "since", "events")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``1h``, ``2d``, ``1w`` ago, or an ISO 8601 datetime (naive: UTC)."""
    text = text.strip()
    if match := _DURATION.match(text):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"--since {text!r}: expected a duration (30m, 1h, 2d, 1w) or an ISO 8601 datetime.",
            returncode=USAGE_ERROR,
        )
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def format_table(report: ReleaseReport) -> str:
    """The report as a fixed-width table (times in UTC)."""
    header = ["", "event", "result", "events", "violations", "share", "first seen", "last seen", "note"]
    rows = [
        [
            "✓" if result.passed else "✗",
            result.name,
            result.outcome.label,
            str(result.count),
            str(result.with_violations),
            f"{result.share_percent:g}%" if result.count else "-",
            _when(result.first_seen),
            _when(result.last_seen),
            result.note,
        ]
        for result in report.results
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    numeric = {3, 4, 5}
    lines = [
        "  ".join(
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Check that a release's expected events arrive and match the tracking plan. Exits 1 when one is "
        "missing or has too many violations, 2 on bad arguments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="The project's slug.")
        parser.add_argument("--environment", help="The environment's slug (required without --release).")
        parser.add_argument("--app-version", default="", help="Only events of this app version.")
        parser.add_argument(
            "--since",
            help=f"Events since: 30m, 1h, 2d, 1w or an ISO 8601 datetime (default {DEFAULT_SINCE}).",
        )
        parser.add_argument(
            "--events",
            help="Comma-separated event names (default: every event the plan expects in the environment).",
        )
        parser.add_argument(
            "--max-invalid-share",
            type=float,
            help=f"Fail an event when more than this share of it has violations (default {MOSTLY_INVALID_SHARE}; "
            "with --release, the release's tolerance).",
        )
        parser.add_argument(
            "--mark-verified",
            action="store_true",
            help="Also mark passing approved or implemented definitions verified (one plan version).",
        )
        parser.add_argument("--release", type=int, help="Check this declared release instead.")

    def handle(self, *args, **options):
        now = timezone.now()
        project = Project.objects.select_related("organization").filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {options['project']!r}.", returncode=USAGE_ERROR)
        share = options["max_invalid_share"]
        if share is not None and not 0 <= share <= 1:
            raise CommandError("--max-invalid-share is a share between 0 and 1.", returncode=USAGE_ERROR)
        if options["release"] is not None:
            report, label = self._release_report(project, options, now)
        else:
            report, label = self._adhoc_report(project, options, now)
        self._print(report)
        if options["mark_verified"]:
            verified = mark_verified(project=project, report=report, label=label, acting_user=None)
            self.stdout.write(
                f"Marked verified: {', '.join(verified)}." if verified else "Nothing to mark verified."
            )
        if not report.passed:
            raise CommandError(
                f"Release verification failed: {len(report.failing)} of {len(report.results)} expected "
                "events do not pass.",
                returncode=GATE_FAILED,
            )

    def _release_report(self, project, options, now) -> tuple[ReleaseReport, str]:
        given = [f"--{name.replace('_', '-')}" for name in AD_HOC_OPTIONS if options[name]]
        if given:
            raise CommandError(
                f"--release takes its scope from the release; drop {', '.join(given)}.",
                returncode=USAGE_ERROR,
            )
        release = (
            Release.objects.select_related("project__organization", "environment")
            .filter(project=project, id=options["release"])
            .first()
        )
        if release is None:
            raise CommandError(
                f"No release {options['release']} in project {project.slug!r}.", returncode=USAGE_ERROR
            )
        if options["max_invalid_share"] is not None:
            release.max_invalid_share = options["max_invalid_share"]  # this run only, never saved
        return check_release(release, now), release_label(release)

    def _adhoc_report(self, project, options, now) -> tuple[ReleaseReport, str]:
        if not options["environment"]:
            raise CommandError("--environment is required (or name a --release).", returncode=USAGE_ERROR)
        environment = Environment.objects.filter(project=project, slug=options["environment"]).first()
        if environment is None:
            known = ", ".join(Environment.objects.filter(project=project).values_list("slug", flat=True))
            raise CommandError(
                f"No environment {options['environment']!r} in project {project.slug!r} (it has: {known}).",
                returncode=USAGE_ERROR,
            )
        start = parse_since(options["since"] or DEFAULT_SINCE, now)
        if options["events"]:
            try:
                events = check_event_names(project, options["events"].split(","))
            except ActionRefused as refused:
                raise CommandError(refused.message, returncode=USAGE_ERROR) from None
        else:
            events = default_expected_events(project, environment)
        share = options["max_invalid_share"]
        report = build_report(
            project=project,
            environment=environment,
            events=events,
            start=start,
            app_version=options["app_version"].strip(),
            max_invalid_share=MOSTLY_INVALID_SHARE if share is None else share,
            now=now,
        )
        version = options["app_version"].strip() or "any version"
        return report, f"Release check {version} ({environment.slug})"

    def _print(self, report: ReleaseReport) -> None:
        version = report.app_version or "any app version"
        self.stdout.write(
            f"{report.project.slug} / {report.environment.slug} / {version}, since {_when(report.start)} UTC, "
            f"tolerance {report.max_invalid_share:.0%}"
        )
        if report.results:
            self.stdout.write(format_table(report))
        mark = "✓" if report.passed else "✗"
        self.stdout.write(f"{mark} {report.summary}")
