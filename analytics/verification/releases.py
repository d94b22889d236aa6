"""Release verification (DESIGN.md section 6): did the events a release should send arrive, and do
they match the plan?

Reads (``expected_event_names``, ``build_report``, ``check_release``) never write. Writes are the
``do_*`` actions: atomic, keyword-only. Plan changes (definitions marked verified, confirmed live)
go through ``change_plan``: one plan version per check or confirmation, whatever the number of
definitions. The page, the ``verify_release`` command and the periodic task share this module.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analytics.plan.actions import change_plan
from analytics.plan.models import EventDefinition, EventStatus
from analytics.queries.verification import event_volumes
from analytics.verification.models import Release
from projects.actions import ActionRefused
from projects.audit import record
from projects.models import Environment, Project

logger = logging.getLogger(__name__)

# Above this share of events with violations an event is "mostly invalid" (and the CI gate fails).
MOSTLY_INVALID_SHARE = 0.5
# A release this young is checked every minute, and its page refreshes itself.
YOUNG = timedelta(hours=24)
# Definitions a passing check promotes to verified. Earlier ones wait for approval; later ones stay.
PROMOTABLE = (EventStatus.APPROVED, EventStatus.IMPLEMENTED)
UNAPPROVED = (EventStatus.DRAFT, EventStatus.IN_REVIEW)


class Outcome(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"
    VIOLATIONS = "violations"
    VALID = "valid"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.MISSING: "never seen",
    Outcome.INVALID: "mostly invalid",
    Outcome.VIOLATIONS: "seen with violations",
    Outcome.VALID: "seen valid",
}


@dataclass(frozen=True)
class EventResult:
    name: str
    definition: EventDefinition | None  # None: listed by the release, no longer in the plan
    count: int
    with_violations: int
    first_seen: datetime | None
    last_seen: datetime | None
    passed: bool

    @property
    def share(self) -> float:
        """The share of this event's arrivals that broke the plan (0 when never seen)."""
        return self.with_violations / self.count if self.count else 0.0

    @property
    def share_percent(self) -> float:
        return round(100 * self.share, 1)

    @property
    def outcome(self) -> Outcome:
        if not self.count:
            return Outcome.MISSING
        if self.share > MOSTLY_INVALID_SHARE:
            return Outcome.INVALID
        return Outcome.VIOLATIONS if self.with_violations else Outcome.VALID

    @property
    def status(self) -> str | None:
        return self.definition.status if self.definition else None

    @property
    def promotable(self) -> bool:
        return self.passed and self.status in PROMOTABLE

    @property
    def note(self) -> str:
        if self.definition is None:
            return "not in the tracking plan"
        if self.passed and self.status in UNAPPROVED:
            return "passes; approve it first"
        if self.promotable:
            return "passes; to be marked verified"
        return ""


@dataclass(frozen=True)
class ReleaseReport:
    project: Project
    environment: Environment
    app_version: str  # blank: any version
    start: datetime
    max_invalid_share: float
    checked_at: datetime
    results: list[EventResult]

    @property
    def failing(self) -> list[EventResult]:
        return [result for result in self.results if not result.passed]

    @property
    def passing(self) -> list[EventResult]:
        return [result for result in self.results if result.passed]

    @property
    def passed(self) -> bool:
        """Every expected event passed (trivially true without expected events: see ``summary``)."""
        return not self.failing

    def with_outcome(self, outcome: Outcome) -> list[EventResult]:
        return [result for result in self.results if result.outcome == outcome]

    @property
    def outcome_counts(self) -> list[tuple[Outcome, int]]:
        """(outcome, how many expected events have it), for the outcomes that occur."""
        counts = [(outcome, len(self.with_outcome(outcome))) for outcome in Outcome]
        return [(outcome, count) for outcome, count in counts if count]

    @property
    def awaiting_go_live(self) -> list[EventResult]:
        return [result for result in self.results if result.status == EventStatus.VERIFIED]

    @property
    def summary(self) -> str:
        """One line, e.g. "2 of 4 expected events pass; never seen: a; mostly invalid: b"."""
        if not self.results:
            return "No expected events: nothing to verify."
        total = len(self.results)
        line = f"{len(self.passing)} of {total} expected {'events pass' if total != 1 else 'event passes'}"
        problems = []
        for outcome in Outcome:
            names = [result.name for result in self.failing if result.outcome == outcome]
            if names:
                problems.append(f"{outcome.label}: {', '.join(names)}")
        return "; ".join([line, *problems]) + "."


@dataclass(frozen=True)
class ReleaseCheck:
    report: ReleaseReport
    verified: list[str] = field(default_factory=list)  # definitions this check marked verified


def is_young(release: Release, now: datetime | None = None) -> bool:
    return release.started_at > (now or timezone.now()) - YOUNG


# --- reads -----------------------------------------------------------------------------------------


def default_expected_events(project: Project, environment: Environment) -> list[str]:
    """Non-deprecated definitions expected in the environment, or in every environment (none listed)."""
    return list(
        EventDefinition.objects.filter(project=project)
        .exclude(status=EventStatus.DEPRECATED)
        # one filter() call: both conditions read the same (outer) join of expected_environments
        .filter(Q(expected_environments=environment) | Q(expected_environments__isnull=True))
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )


def check_event_names(project: Project, names: list[str]) -> list[str]:
    """The names, deduplicated, if each is a non-deprecated definition of the plan; else refused,
    naming the culprits."""
    names = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    statuses = dict(
        EventDefinition.objects.filter(project=project, name__in=names).values_list("name", "status")
    )
    unknown = [name for name in names if name not in statuses]
    deprecated = [name for name in names if statuses.get(name) == EventStatus.DEPRECATED]
    problems = []
    if unknown:
        problems.append(f"not in the tracking plan: {', '.join(unknown)}")
    if deprecated:
        problems.append(f"deprecated (never expected): {', '.join(deprecated)}")
    if problems:
        raise ActionRefused("Unknown expected events, " + "; ".join(problems) + ".")
    return names


def expected_event_names(release: Release) -> list[str]:
    return release.expected_events or default_expected_events(release.project, release.environment)


def build_report(
    *,
    project: Project,
    environment: Environment,
    events: list[str],
    start: datetime,
    app_version: str = "",
    max_invalid_share: float = 0.0,
    now: datetime | None = None,
) -> ReleaseReport:
    """Per expected event: volume, violations and pass/fail since ``start``. Deprecated definitions
    are dropped (never expected), names no longer in the plan are kept (and reported as such)."""
    definitions = {
        definition.name: definition
        for definition in EventDefinition.objects.filter(project=project, name__in=events)
    }
    names = sorted(
        name
        for name in set(events)
        if name not in definitions or definitions[name].status != EventStatus.DEPRECATED
    )
    volumes = event_volumes(
        project_id=project.id,
        environment_id=environment.id,
        events=names,
        start=start,
        app_version=app_version,
    )
    results = []
    for name in names:
        volume = volumes.get(name)
        count = volume.count if volume else 0
        with_violations = volume.with_violations if volume else 0
        results.append(
            EventResult(
                name=name,
                definition=definitions.get(name),
                count=count,
                with_violations=with_violations,
                first_seen=volume.first_seen if volume else None,
                last_seen=volume.last_seen if volume else None,
                # compared as counts: no float rounding on the boundary (1 of 4 at a 25% tolerance);
                # a mostly invalid event never passes, whatever the tolerance
                passed=count > 0
                and with_violations <= max_invalid_share * count + 1e-9
                and with_violations <= MOSTLY_INVALID_SHARE * count,
            )
        )
    return ReleaseReport(
        project=project,
        environment=environment,
        app_version=app_version,
        start=start,
        max_invalid_share=max_invalid_share,
        checked_at=now or timezone.now(),
        results=results,
    )


def check_release(release: Release, now: datetime | None = None) -> ReleaseReport:
    """The release's report as of now. Read-only."""
    return build_report(
        project=release.project,
        environment=release.environment,
        events=expected_event_names(release),
        start=release.started_at,
        app_version=release.app_version,
        max_invalid_share=release.max_invalid_share,
        now=now,
    )


def release_label(release: Release) -> str:
    """ "Release 2.4.0 (production)", for plan versions and messages."""
    title = release.name or release.app_version or f"#{release.id}"
    if release.name and release.app_version and release.app_version not in release.name:
        title = f"{release.name} {release.app_version}"
    return f"Release {title} ({release.environment.slug})"


# --- writes ----------------------------------------------------------------------------------------


@transaction.atomic
def do_declare_release(
    *,
    project: Project,
    environment: Environment,
    app_version: str = "",
    name: str = "",
    expected_events: list[str] | None = None,
    started_at: datetime | None = None,
    max_invalid_share: float = 0.0,
    acting_user,
) -> Release:
    """A release to verify. ``expected_events`` empty: every definition expected in the environment
    (resolved at each check)."""
    if environment.project_id != project.id:
        raise ActionRefused("That environment belongs to another project.")
    if not 0.0 <= max_invalid_share <= 1.0:
        raise ActionRefused("The tolerance is a share between 0 and 1.")
    release = Release.objects.create(
        project=project,
        environment=environment,
        app_version=app_version.strip(),
        name=name.strip(),
        expected_events=check_event_names(project, expected_events or []),
        started_at=started_at or timezone.now(),
        max_invalid_share=max_invalid_share,
        created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
    )
    record(
        organization=project.organization,
        project=project,
        actor=acting_user,
        action="release.declared",
        target=release,
        after={
            "environment": environment.slug,
            "app_version": release.app_version,
            "expected_events": release.expected_events,
            "started_at": release.started_at.isoformat(),
            "max_invalid_share": max_invalid_share,
        },
    )
    return release


def mark_verified(*, project: Project, report: ReleaseReport, label: str, acting_user) -> list[str]:
    """Promote the report's passing approved/implemented definitions to verified, in ONE plan
    version. Returns the names promoted (none: no version)."""
    candidates = list(
        EventDefinition.objects.filter(
            project=project,
            name__in=[result.name for result in report.results if result.promotable],
            status__in=PROMOTABLE,
        )
        .order_by("name")
        .values_list("name", flat=True)
    )  # as of now: the summary names what this version changes (apply re-reads under the lock)
    if not candidates:
        return []
    promoted: list[str] = []

    def apply():
        # TRICKY: re-read under change_plan's project lock: a concurrent check (the task, a click)
        # may have promoted some already, or a PM moved one back to draft since the report.
        definitions = EventDefinition.objects.filter(
            project=project, name__in=candidates, status__in=PROMOTABLE
        )
        promoted.extend(sorted(definitions.values_list("name", flat=True)))
        definitions.update(status=EventStatus.VERIFIED, updated_at=timezone.now())

    change_plan(
        project=project,
        acting_user=acting_user,
        summary=f"{label} verified: {', '.join(candidates)}",
        apply=apply,
    )
    if promoted:
        record(
            organization=project.organization,
            project=project,
            actor=acting_user,
            action="plan.events_verified",
            target=project,
            after={"events": promoted, "release": label},
        )
    return promoted


@transaction.atomic
def do_check_release(*, release: Release, acting_user=None, now: datetime | None = None) -> ReleaseCheck:
    """Check the release now: its report, the passing definitions marked verified, and the time."""
    now = now or timezone.now()
    report = check_release(release, now)
    verified = mark_verified(
        project=release.project, report=report, label=release_label(release), acting_user=acting_user
    )
    Release.objects.filter(id=release.id).update(last_checked_at=now)
    release.last_checked_at = now
    return ReleaseCheck(report=report, verified=verified)


@transaction.atomic
def do_confirm_live(*, release: Release, events: list[str], acting_user) -> list[str]:
    """A PM's go-live: the chosen verified definitions of this release become live (one version)."""
    chosen = set(
        EventDefinition.objects.filter(
            project=release.project,
            name__in=set(events) & set(expected_event_names(release)),
            status=EventStatus.VERIFIED,
        ).values_list("name", flat=True)
    )
    project = release.project
    moved: list[str] = []

    def apply():
        definitions = EventDefinition.objects.filter(
            project=project, name__in=chosen, status=EventStatus.VERIFIED
        )
        moved.extend(sorted(definitions.values_list("name", flat=True)))
        definitions.update(status=EventStatus.LIVE, updated_at=timezone.now())

    if chosen:
        change_plan(
            project=project,
            acting_user=acting_user,
            summary=f"{release_label(release)} live: {', '.join(sorted(chosen))}",
            apply=apply,
        )
    if not moved:
        raise ActionRefused("Choose verified events of this release to take live.")
    record(
        organization=project.organization,
        project=project,
        actor=acting_user,
        action="release.confirmed_live",
        target=release,
        after={"events": moved},
    )
    return moved


def check_young_releases(now: datetime | None = None) -> int:
    """Check every release started in the last 24 hours (and mark what passes verified). Returns
    how many definitions were marked verified."""
    now = now or timezone.now()
    releases = Release.objects.filter(started_at__gt=now - YOUNG).select_related(
        "project__organization", "environment"
    )
    verified = 0
    for release in releases:
        try:
            verified += len(do_check_release(release=release, now=now).verified)
        except Exception:  # one broken release must not stop the others' checks
            logger.exception("checking release %s failed", release.id)
    return verified
