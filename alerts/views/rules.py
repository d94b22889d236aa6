"""Alert rules: the list (with its enable toggle), the form and its live preview, a rule's page, its
writes (delete, toggle, mute), and the one-click anomaly rule of a live plan event."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import actions
from alerts.evaluation import format_value, preview
from alerts.forms import KIND_FIELDS, MUTE_DURATIONS, AlertRuleForm, MuteForm, kinds_of, label_of
from alerts.models import AlertRule, RuleKind
from alerts.views import selectors
from alerts.views.common import base_context, can_edit, readable_project, rule_of, writable_project
from analytics.plan.models import EventDefinition, EventStatus
from projects.actions import ActionRefused

SECTIONS = [
    ("What to watch", ["name", "kind", "environment", "event", "property", "aggregate", "denominator_event"]),
    (
        "When it fires",
        [
            "threshold",
            "min_sample",
            "window_minutes",
            "anomaly_weeks",
            "anomaly_mode",
            "anomaly_deviations",
            "anomaly_percent",
            "anomaly_direction",
        ],
    ),  # fmt: skip
    (
        "Who hears about it",
        [
            "severity",
            "cooldown_minutes",
            "owner",
            "channels",
            "quiet_hours_start",
            "quiet_hours_end",
            "quiet_hours_timezone",
        ],
    ),  # fmt: skip
]
# Shown only for one anomaly mode (static/js/alerts.js).
MODE_FIELDS = {"anomaly_deviations": "stddev", "anomaly_percent": "percent"}
# What the threshold means, by kind.
THRESHOLD_HINTS = [
    ("volume_below volume_above violations_above", "Events in the window."),
    ("rate_below rate_above", "Percent (0–100) of the “out of” events."),
    ("property_above property_below", "In the property's own unit."),
]


def _sections(form: AlertRuleForm) -> list[dict]:
    return [
        {
            "title": title,
            "fields": [
                {"field": form[name], "kinds": kinds_of(name), "mode": MODE_FIELDS.get(name, "")}
                for name in names
            ],
            "filters": index == 0,
        }
        for index, (title, names) in enumerate(SECTIONS)
    ]


def _form_context(request, project, form: AlertRuleForm, rule: AlertRule | None) -> dict:
    return base_context(request, project, "rules") | {
        "form": form,
        "rule": rule,
        "sections": _sections(form),
        "denominator_kinds": " ".join(KIND_FIELDS["denominator_filters"]),
        "threshold_hints": THRESHOLD_HINTS,
    }


@login_required
@require_GET
def rule_list(request, slug):
    project = readable_project(request, slug)
    context = base_context(request, project, "rules") | {"rules": selectors.rules_for_list(project)}
    return render(request, "alerts/rule_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request, slug):
    project = writable_project(request, slug)
    if request.method == "GET":
        initial = {
            "kind": request.GET.get("kind") or RuleKind.VOLUME_BELOW,
            "event": request.GET.get("event", ""),
        }
        form = AlertRuleForm(project=project, initial=initial)
        return render(request, "alerts/rule_form.html", _form_context(request, project, form, None))
    form = AlertRuleForm(request.POST, project=project)
    if form.is_valid():
        rule = actions.do_create_alert_rule(
            project=project,
            fields=form.rule_fields(),
            channels=form.cleaned_data["channels"],
            acting_user=request.user,
        )
        messages.success(request, f"Alert rule created: {rule.name}.")
        return redirect("alert-rule", slug=project.slug, rule_id=rule.id)
    return render(request, "alerts/rule_form.html", _form_context(request, project, form, None), status=400)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, slug, rule_id):
    project = writable_project(request, slug)
    rule = rule_of(project, rule_id)
    if request.method == "GET":
        form = AlertRuleForm(instance=rule, project=project)
        return render(request, "alerts/rule_form.html", _form_context(request, project, form, rule))
    form = AlertRuleForm(request.POST, instance=rule, project=project)
    if form.is_valid():
        actions.do_update_alert_rule(
            rule=rule,
            fields=form.rule_fields(),
            channels=form.cleaned_data["channels"],
            acting_user=request.user,
        )
        messages.success(request, f"Saved {rule.name}.")
        return redirect("alert-rule", slug=project.slug, rule_id=rule.id)
    rule.refresh_from_db()  # the failed form changed the instance in memory
    return render(request, "alerts/rule_form.html", _form_context(request, project, form, rule), status=400)


@login_required
@require_GET
def rule_page(request, slug, rule_id):
    project = readable_project(request, slug)
    rule = selectors.with_value_text(rule_of(project, rule_id))
    context = base_context(request, project, "rules") | {
        "rule": rule,
        "channels": list(rule.channels.all()),
        "threshold_text": format_value(rule, rule.threshold) if rule.threshold is not None else "",
        "history": selectors.rule_history(rule),
        "muted": rule.muted_until is not None and rule.muted_until > timezone.now(),
        "mute_choices": [key for key in MUTE_DURATIONS if key != "unmute"],
    }
    return render(request, "alerts/rule.html", context)


@login_required
@require_POST
def rule_delete(request, slug, rule_id):
    project = writable_project(request, slug)
    rule = rule_of(project, rule_id)
    name = rule.name
    actions.do_delete_alert_rule(rule=rule, acting_user=request.user)
    messages.success(request, f"Deleted the alert rule {name}.")
    return redirect("alert-rules", slug=project.slug)


@login_required
@require_POST
def rule_toggle(request, slug, rule_id):
    """Enable or disable (``enabled`` = 1 or 0; without it, the opposite of now). htmx gets the
    list's row back; a plain form goes back to the rule's page or the list."""
    project = writable_project(request, slug)
    rule = rule_of(project, rule_id)
    wanted = request.POST.get("enabled")
    enabled = (wanted == "1") if wanted in ("0", "1") else not rule.enabled
    actions.do_set_rule_enabled(rule=rule, enabled=enabled, acting_user=request.user)
    if request.htmx:
        context = base_context(request, project, "rules") | {"rule": selectors.with_value_text(rule)}
        return render(request, "alerts/rule_list.html#rule-row", context)
    messages.success(request, f"{rule.name} is {'enabled' if enabled else 'disabled'}.")
    if request.POST.get("next") == "rule":
        return redirect("alert-rule", slug=project.slug, rule_id=rule.id)
    return redirect("alert-rules", slug=project.slug)


@login_required
@require_POST
def rule_mute(request, slug, rule_id):
    project = writable_project(request, slug)
    rule = rule_of(project, rule_id)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Mute for 1h, 8h or 24h, or unmute.")
        return redirect("alert-rule", slug=project.slug, rule_id=rule.id)
    duration = MUTE_DURATIONS[form.cleaned_data["duration"]]
    until = timezone.now() + duration if duration else None
    actions.do_mute_rule(rule=rule, until=until, acting_user=request.user)
    messages.success(request, f"Muted until {until:%Y-%m-%d %H:%M} UTC." if until else "Unmuted.")
    return redirect("alert-rule", slug=project.slug, rule_id=rule.id)


# --- the preview -------------------------------------------------------------------------------------


def _unsaved_rule(request, project) -> tuple[AlertRule | None, AlertRuleForm]:
    """The rule the form describes (unsaved, no channels), or None while it is incomplete."""
    data = (request.POST if request.method == "POST" else request.GET).copy()
    if not data.get("name", "").strip():
        data["name"] = "Preview"  # a name is not needed to draw the rule
    form = AlertRuleForm(data, project=project)
    if not form.is_valid():
        return None, form
    fields = form.rule_fields()
    return AlertRule(project=project, **fields), form


def _missing(form: AlertRuleForm | None) -> list[str]:
    """What the form lacks before a preview can be drawn, as "Field: message" lines."""
    if form is None or not form.errors:
        return []
    return [
        f"{form.fields[name].label if name in form.fields else label_of(name)}: {' '.join(errors)}"
        if name != "__all__"
        else " ".join(errors)
        for name, errors in form.errors.items()
    ]


@login_required
@require_http_methods(["GET", "POST"])
def rule_preview(request, slug):
    """The preview chart fragment: of a saved rule (``?rule=<id>``), or of the form's fields."""
    project = readable_project(request, slug)
    rule_id = request.GET.get("rule", "")
    form = None
    if rule_id:
        if not rule_id.isdigit():
            raise Http404("No such rule.")
        rule = rule_of(project, int(rule_id))
    else:
        rule, form = _unsaved_rule(request, project)
    context = {"project": project, "result": None, "missing": _missing(form)}
    if rule is not None:
        result = preview(rule)
        label = rule.event or "plan violations"
        context |= {
            "result": result,
            "rule": rule,
            "chart": selectors.chart_data(result, label=label, timezone=project.timezone),
            "threshold_text": format_value(rule, result.threshold) if result.threshold is not None else "",
        }
    return render(request, "alerts/_preview.html", context)


# --- the one-click anomaly rule of a live event ------------------------------------------------------


def _event_definition(project, event_definition_id: int) -> EventDefinition:
    return get_object_or_404(EventDefinition, id=event_definition_id, project=project)


@login_required
@require_GET
def event_alerts(request, slug, event_definition_id):
    """The plan event page's "Alerts" card (loaded by htmx): the event's rules, and the one-click
    anomaly rule for a live event."""
    project = readable_project(request, slug)
    event = _event_definition(project, event_definition_id)
    context = {
        "project": project,
        "event": event,
        "rules": selectors.rules_of_event(project, event.name),
        "can_edit": can_edit(request.user, project),
        "is_live": event.status == EventStatus.LIVE,
    }
    return render(request, "alerts/event_alerts.html", context)


@login_required
@require_POST
def rule_from_event(request, slug, event_definition_id):
    project = writable_project(request, slug)
    event = _event_definition(project, event_definition_id)
    try:
        rule = actions.do_create_default_anomaly_rule(event_definition=event, acting_user=request.user)
    except ActionRefused as refused:
        messages.error(request, refused.message)
        return redirect("plan-event", slug=project.slug, event_id=event.id)
    if rule.channels.exists():
        messages.success(request, f"Alert rule created: {rule.name}, sent to {rule.channels.first().name}.")
    else:
        messages.warning(
            request,
            f"Alert rule created: {rule.name}. It has no channel yet: the event's owner is not a member "
            "or an email address. Edit the rule to add one.",
        )
    return redirect("alert-rule", slug=project.slug, rule_id=rule.id)
