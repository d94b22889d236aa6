"""The compiled plan each web process keeps, and how a plan change reaches it.

Every plan change bumps ``Project.plan_version`` and republishes the project's API keys, whose
cached scope carries the version (``KeyInfo.plan_version``). An ingest request therefore learns
the current version from the key it authenticated with, at no extra cost, and recompiles only when
the version moved: no database read per event, and the next request after a change sees it.
"""

from django.db import transaction
from django.db.models import F

from analytics.plan.compiler import CompiledPlan, Violation, plan_schemas
from analytics.storage.base import EventRecord, PlanStatus
from projects import keys
from projects.models import Project

_compiled: dict[int, CompiledPlan] = {}


def compiled_plan(project_id: int, version: int) -> CompiledPlan:
    plan = _compiled.get(project_id)
    if plan is None or plan.version != version:
        plan = _compiled[project_id] = CompiledPlan.from_schemas(version, plan_schemas(project_id))
    return plan


def bump_plan_version(project_id: int) -> None:
    """After a plan change (inside its transaction): a new version every ingest process will see."""
    Project.objects.filter(id=project_id).update(plan_version=F("plan_version") + 1)
    keys.publish_project_keys(project_id)
    transaction.on_commit(lambda: _compiled.pop(project_id, None))


_STATUS_BY_POLICY = {"allow": PlanStatus.ALLOWED, "flag": PlanStatus.INVALID, "block": PlanStatus.BLOCKED}


def apply_policy(record: EventRecord, violations: list[Violation], policy: str) -> EventRecord:
    """The record as the environment's policy wants it stored (or quarantined, for `block`)."""
    if not violations:
        return record._replace(plan_status=PlanStatus.VALID)
    context = {**(record.context or {}), "plan_violations": [v.as_dict() for v in violations]}
    return record._replace(plan_status=_STATUS_BY_POLICY[policy], context=context)
