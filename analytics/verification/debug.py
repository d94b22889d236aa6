"""Debug sessions: a developer's own events, checked against the test cases of their definitions.

A test case is a reporting rule of one event definition (``EventTestCase``). ``check_session``
runs every rule of the events under test on the session's events, oldest first, and says per rule:
pass, fail (with what was wrong), not exercised (the session never sent that event), or, for rules
only a person can judge, needs review until someone records a verdict.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import orjson
from django.db import transaction
from django.utils import timezone

from analytics.plan.compiler import CompiledPlan
from analytics.plan.models import EventDefinition
from analytics.queries.debug import session_events
from analytics.storage.base import EventRecord
from analytics.verification.inspection import violations_of
from analytics.verification.models import DebugSession, EventTestCase, RuleKind, TestVerdict
from projects import audit
from projects.actions import ActionRefused

PASS, FAIL, NOT_EXERCISED, NEEDS_REVIEW = "pass", "fail", "not_exercised", "needs_review"
DEBUG_LINK_PARAMETER = "beacon_debug"
SESSION_DURATIONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
MAX_SESSION_EVENTS = 2000
_EXAMPLES = 3  # offending values named in a failure


@dataclass
class RuleResult:
    test_case: EventTestCase
    outcome: str
    detail: str
    verdict: TestVerdict | None = None

    @property
    def event(self) -> str:
        return self.test_case.event.name


@dataclass
class SessionReport:
    results: list[RuleResult]
    truncated: bool = False  # the session sent more events than were checked (the newest ones were)

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def passed_count(self) -> int:
        return self.count(PASS)

    @property
    def failed_count(self) -> int:
        return self.count(FAIL)

    @property
    def review_count(self) -> int:
        return self.count(NEEDS_REVIEW)

    @property
    def exercised(self) -> list[RuleResult]:
        return [result for result in self.results if result.outcome != NOT_EXERCISED]

    @property
    def not_exercised(self) -> list[RuleResult]:
        return [result for result in self.results if result.outcome == NOT_EXERCISED]

    @property
    def passed(self) -> bool:
        return all(result.outcome in (PASS, NOT_EXERCISED) for result in self.results)


# --- reading a path of an event --------------------------------------------------------------------


def field_value(record: EventRecord, path: str):
    """`properties.a.b`, `context.page.url`, or an envelope field (`session_id`, `distinct_id`...)."""
    head, _, rest = path.partition(".")
    if head in ("properties", "context"):
        value = getattr(record, head) or {}
        for part in rest.split(".") if rest else []:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    if head in EventRecord._fields and not rest:
        return getattr(record, head)
    return None


def _present(value) -> bool:
    return value is not None and value != ""


def _examples(values) -> str:
    values = list(values)
    shown = ", ".join(str(value) for value in values[:_EXAMPLES])
    return shown + (f" and {len(values) - _EXAMPLES} more" if len(values) > _EXAMPLES else "")


# --- the rules --------------------------------------------------------------------------------------


def _fires(case: EventTestCase, occurrences: list[EventRecord], **_) -> tuple[str, str]:
    low = int(case.config.get("min") if case.config.get("min") is not None else 1)
    high = case.config.get("max")
    count = len(occurrences)
    expected = f"{low}" + (
        f" to {high}" if high is not None and high != low else "" if high == low else " or more"
    )
    if count < low or (high is not None and count > int(high)):
        return FAIL, f"Fired {count} time{'s' if count != 1 else ''}; expected {expected}."
    return PASS, f"Fired {count} time{'s' if count != 1 else ''}."


def _hashable(value):
    """A field's value as a Counter key: objects and arrays by their JSON."""
    return (
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if isinstance(value, dict | list) else value
    )


def _once_per(case: EventTestCase, occurrences: list[EventRecord], **_) -> tuple[str, str]:
    path = case.config.get("field", "")
    per_value = Counter(_hashable(field_value(record, path)) for record in occurrences)
    missing = per_value.pop(None, 0)
    repeated = {value: count for value, count in per_value.items() if count > 1}
    problems = []
    if repeated:
        problems.append(
            f"fired more than once for {path} = "
            + _examples(f"{value} ({count}×)" for value, count in repeated.items())
        )
    if missing:
        problems.append(f"{missing} occurrence{'s' if missing != 1 else ''} without {path}")
    if problems:
        return FAIL, "; ".join(problems).capitalize() + "."
    return PASS, f"Once for each of {len(per_value)} value{'s' if len(per_value) != 1 else ''} of {path}."


def _carries(case: EventTestCase, occurrences: list[EventRecord], **_) -> tuple[str, str]:
    names = case.config.get("properties", [])
    lacking = Counter()
    for record in occurrences:
        for name in names:
            if not _present(field_value(record, f"properties.{name}")):
                lacking[name] += 1
    if lacking:
        return FAIL, "; ".join(
            f"{count} of {len(occurrences)} lack {name}" for name, count in lacking.items()
        ).capitalize() + "."
    return PASS, f"All {len(occurrences)} carry {', '.join(names)}."


def _valid(
    case: EventTestCase, occurrences: list[EventRecord], plan: CompiledPlan | None, **_
) -> tuple[str, str]:
    if plan is None:
        return FAIL, "The project has no tracking plan to check against."
    per_record = [violations_of(plan, record) for record in occurrences]
    messages = Counter(violation.message for violations in per_record for violation in violations)
    invalid = sum(1 for violations in per_record if violations)
    if invalid:
        return FAIL, f"{invalid} of {len(occurrences)} break the plan: " + _examples(messages) + "."
    return PASS, f"All {len(occurrences)} match the plan."


def _preceded_by(
    case: EventTestCase, occurrences: list[EventRecord], session: list[EventRecord], **_
) -> tuple[str, str]:
    earlier_name = case.config.get("event", "")
    match = case.config.get("match", "")
    unmatched = []
    for record in occurrences:
        key = field_value(record, f"properties.{match}") if match else None
        found = any(
            other.event == earlier_name
            and (other.time, other.received_at) <= (record.time, record.received_at)
            and other is not record
            and (not match or field_value(other, f"properties.{match}") == key)
            for other in session
        )
        if not found:
            unmatched.append(key if match else record.time.strftime("%H:%M:%S"))
    with_match = f" with the same {match}" if match else ""
    if unmatched:
        label = f"{match} = " if match else "at "
        return FAIL, (
            f"{len(unmatched)} of {len(occurrences)} had no {earlier_name}{with_match} before them "
            f"({label}{_examples(unmatched)})."
        )
    return PASS, f"Each followed a {earlier_name}{with_match}."


def _manual(case: EventTestCase, occurrences: list[EventRecord], verdict: TestVerdict | None, **_):
    if verdict is None:
        return NEEDS_REVIEW, "Check by hand, then record pass or fail."
    who = verdict.decided_by.get_username() if verdict.decided_by else "someone"
    note = f": {verdict.note}" if verdict.note else ""
    return (
        PASS if verdict.passed else FAIL
    ), f"Marked {'pass' if verdict.passed else 'fail'} by {who}{note}."


_RULES = {
    RuleKind.FIRES: _fires,
    RuleKind.ONCE_PER: _once_per,
    RuleKind.CARRIES: _carries,
    RuleKind.VALID: _valid,
    RuleKind.PRECEDED_BY: _preceded_by,
    RuleKind.MANUAL: _manual,
}


def check_session(
    session: DebugSession, events: list[EventRecord], plan: CompiledPlan | None
) -> SessionReport:
    """Every rule of the events under test (the session's list, or the events it sent)."""
    timeline = sorted(events, key=lambda record: (record.time, record.received_at))
    seen = Counter(record.event for record in timeline)
    under_test = set(session.events) or set(seen)
    verdicts = {verdict.test_case_id: verdict for verdict in session.verdicts.select_related("decided_by")}
    cases = EventTestCase.objects.filter(event__project_id=session.project_id).select_related("event")
    results = []
    for case in cases.order_by("event__name", "position", "id"):
        occurrences = [record for record in timeline if record.event == case.event.name]
        verdict = verdicts.get(case.id)
        if case.event.name not in under_test or (not occurrences and case.kind != RuleKind.FIRES):
            results.append(RuleResult(case, NOT_EXERCISED, "The session did not send this event.", verdict))
            continue
        outcome, detail = _RULES[RuleKind(case.kind)](
            case, occurrences, session=timeline, plan=plan, verdict=verdict
        )
        results.append(RuleResult(case, outcome, detail, verdict))
    return SessionReport(results, truncated=len(events) >= MAX_SESSION_EVENTS)


def events_of(session: DebugSession, *, after=None, limit: int = MAX_SESSION_EVENTS) -> list[EventRecord]:
    return session_events(
        project_id=session.project_id,
        environment_id=session.environment_id,
        device_id=session.device_id,
        code=session.code,
        start=session.started_at,
        end=session.ends_at,
        after=after,
        limit=limit,
    )


def debug_link(session: DebugSession) -> str:
    """The app URL with the parameter the browser SDK turns into a debug flag (``$debug_session``)."""
    if not session.app_url:
        return ""
    base, hash_mark, fragment = session.app_url.partition("#")
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{DEBUG_LINK_PARAMETER}={session.code}{hash_mark}{fragment}"


# --- writes -----------------------------------------------------------------------------------------


def do_start_session(
    *,
    project,
    environment,
    device_id: str,
    label: str,
    app_url: str,
    events: list[str],
    duration,
    acting_user,
) -> DebugSession:
    if not device_id and not app_url:
        raise ActionRefused("Enter your device id, or your app's URL for a debug link (or both).")
    with transaction.atomic():
        session = DebugSession.objects.create(
            project=project,
            environment=environment,
            device_id=device_id,
            label=label,
            app_url=app_url,
            events=events,
            created_by=acting_user,
            ends_at=timezone.now() + duration,
        )
        audit.record(
            organization=project.organization,
            actor=acting_user,
            action="debug_session.start",
            target=session,
            after=audit.snapshot(session, ["environment", "device_id", "app_url", "events", "ends_at"]),
            project=project,
        )
    return session


def do_end_session(*, session: DebugSession, acting_user) -> None:
    with transaction.atomic():
        now = timezone.now()
        if not DebugSession.objects.filter(id=session.id, ends_at__gt=now).update(ends_at=now):
            return  # ended already
        audit.record(
            organization=session.project.organization,
            actor=acting_user,
            action="debug_session.end",
            target=session,
            project=session.project,
        )


def do_record_verdict(
    *, session: DebugSession, test_case: EventTestCase, passed: bool, note: str, acting_user
):
    if test_case.kind != RuleKind.MANUAL:
        raise ActionRefused("Beacon checks this rule itself; only rules checked by a person take a verdict.")
    with transaction.atomic():
        verdict, _ = TestVerdict.objects.update_or_create(
            session=session,
            test_case=test_case,
            defaults={
                "passed": passed,
                "note": note.strip()[:500],
                "decided_by": acting_user,
                "decided_at": timezone.now(),
            },
        )
        audit.record(
            organization=session.project.organization,
            actor=acting_user,
            action="debug_session.verdict",
            target=verdict,
            after=audit.snapshot(verdict, ["test_case", "passed", "note"]),
            project=session.project,
        )


def do_add_test_case(
    *, event: EventDefinition, description: str, kind: str, config: dict, acting_user
) -> EventTestCase:
    with transaction.atomic():
        position = event.test_cases.count()
        case = EventTestCase.objects.create(
            event=event,
            description=description,
            kind=kind,
            config=config,
            position=position,
            created_by=acting_user,
        )
        audit.record(
            organization=event.project.organization,
            actor=acting_user,
            action="test_case.add",
            target=case,
            after=audit.snapshot(case, ["event", "description", "kind", "config"]),
            project=event.project,
        )
    return case


def do_delete_test_case(*, test_case: EventTestCase, acting_user) -> None:
    with transaction.atomic():
        project = test_case.event.project
        audit.record(
            organization=project.organization,
            actor=acting_user,
            action="test_case.delete",
            target=test_case,
            before=audit.snapshot(test_case, ["event", "description", "kind", "config"]),
            project=project,
        )
        test_case.delete()
