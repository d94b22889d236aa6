"""Forms of the alert pages. They only parse and check input; writes are in alerts/actions.py.

The rule form is one ModelForm for every kind: which fields matter depends on ``kind`` (``KIND_FIELDS``),
and ``clean`` checks those and blanks the others, so a rule never keeps a denominator it does not
use. Property filters travel as the analysis builders' dotted names (``filters.0.property``) and are
validated by the insights' own ``parse_filters``, so a rule filters exactly as a trend does.
"""

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model

from alerts.models import (
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertState,
    AnomalyMode,
    Channel,
    ChannelKind,
    RuleKind,
    Severity,
)
from analytics.insights import forms as insight_forms
from analytics.insights.definitions import QueryError, parse_filters
from projects.models import Environment, Project, validate_timezone

MAX_WINDOW_MINUTES = 7 * 24 * 60
DEFAULT_MIN_SAMPLE = 30
VOLUME_KINDS = (RuleKind.VOLUME_BELOW, RuleKind.VOLUME_ABOVE)
RATE_KINDS = (RuleKind.RATE_BELOW, RuleKind.RATE_ABOVE)
PROPERTY_KINDS = (RuleKind.PROPERTY_ABOVE, RuleKind.PROPERTY_BELOW)
# The kind-specific fields each kind uses; the page shows only these (static/js/alerts.js).
KIND_FIELDS = {
    "denominator_event": RATE_KINDS,
    "denominator_filters": RATE_KINDS,
    "min_sample": RATE_KINDS + PROPERTY_KINDS,
    "property": PROPERTY_KINDS,
    "aggregate": PROPERTY_KINDS,
    "threshold": VOLUME_KINDS + RATE_KINDS + PROPERTY_KINDS + (RuleKind.VIOLATIONS_ABOVE,),
    "anomaly_weeks": (RuleKind.ANOMALY,),
    "anomaly_mode": (RuleKind.ANOMALY,),
    "anomaly_deviations": (RuleKind.ANOMALY,),
    "anomaly_percent": (RuleKind.ANOMALY,),
    "anomaly_direction": (RuleKind.ANOMALY,),
}
# Left blank, these take the model's defaults (a volume rule need not post anomaly settings).
DEFAULTS = {
    "window_minutes": 60,
    "cooldown_minutes": 60,
    "anomaly_weeks": 4,
    "anomaly_mode": AnomalyMode.STDDEV,
    "anomaly_deviations": 3.0,
    "anomaly_percent": 50.0,
    "anomaly_direction": "both",
    "quiet_hours_timezone": "UTC",
    "severity": Severity.WARNING,
}
BLANK_VALUES = {
    "denominator_event": "",
    "denominator_filters": [],
    "min_sample": 0,
    "property": "",
    "aggregate": "",
    "threshold": None,
}


def label_of(name: str) -> str:
    """``window_minutes`` -> "Window minutes": a field name as a person reads it."""
    return name.replace("_", " ").capitalize()


def kinds_of(field_name: str) -> str:
    """The kinds using a field, space separated (a ``data-kinds`` attribute); "" for every kind."""
    return " ".join(KIND_FIELDS.get(field_name, ()))


def members_of(project: Project):
    return (
        get_user_model()
        .objects.filter(memberships__organization_id=project.organization_id)
        .order_by("email", "username")
    )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return user.email or user.username


class AlertRuleForm(forms.ModelForm):
    window_minutes = forms.IntegerField(
        min_value=1,
        max_value=MAX_WINDOW_MINUTES,
        initial=60,
        label="Window (minutes)",
        help_text="The period each evaluation looks back over. For “no events”: X minutes without the event.",
    )
    cooldown_minutes = forms.IntegerField(
        min_value=0,
        max_value=MAX_WINDOW_MINUTES,
        initial=60,
        label="Cooldown (minutes)",
        help_text="The rule does not fire again sooner than this after it fired.",
    )
    min_sample = forms.IntegerField(
        min_value=0,
        required=False,
        initial=DEFAULT_MIN_SAMPLE,
        label="Minimum sample",
        help_text="Below this many events (the denominator for a rate), no verdict.",
    )
    anomaly_weeks = forms.IntegerField(
        min_value=1, max_value=12, initial=4, label="Baseline weeks",
        help_text="The same hour of this many past weeks is the baseline.",
    )  # fmt: skip
    quiet_hours_timezone = forms.CharField(
        max_length=64, initial="UTC", label="Quiet hours time zone", validators=[validate_timezone]
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "kind",
            "environment",
            "event",
            "denominator_event",
            "min_sample",
            "property",
            "aggregate",
            "threshold",
            "window_minutes",
            "anomaly_weeks",
            "anomaly_mode",
            "anomaly_deviations",
            "anomaly_percent",
            "anomaly_direction",
            "severity",
            "cooldown_minutes",
            "quiet_hours_start",
            "quiet_hours_end",
            "quiet_hours_timezone",
            "owner",
            "channels",
        ]
        labels = {
            "event": "Event",
            "denominator_event": "Out of the event",
            "property": "Numeric property",
            "anomaly_deviations": "Standard deviations (k)",
            "anomaly_percent": "Percent away from the mean",
            "anomaly_direction": "Direction",
            "quiet_hours_start": "Quiet hours from",
            "quiet_hours_end": "Quiet hours until",
        }
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "channels": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.filter_error: QueryError | None = None
        self._filter_values = {
            "filters": self.instance.filters,
            "denominator_filters": self.instance.denominator_filters,
        }
        # Only this project's environments and channels, and its organization's members: an id of
        # another project's row is "not one of the available choices", however it is posted.
        environments = Environment.objects.filter(project=project).order_by("id")
        self.fields["environment"].queryset = environments
        self.fields["environment"].empty_label = None
        self.fields["environment"].label_from_instance = lambda environment: environment.name
        self.fields["channels"].queryset = Channel.objects.filter(project=project)
        self.fields["owner"] = MemberChoiceField(
            queryset=members_of(project), required=False, empty_label="(nobody)"
        )
        for name in ("event", "threshold", "aggregate", *DEFAULTS):
            self.fields[name].required = False
        if not self.instance.pk:
            production = environments.filter(slug="production").first()
            if production is not None:
                self.initial.setdefault("environment", production.pk)

    # --- filters: the builders' rows ---------------------------------------------------------------

    @property
    def choices(self) -> dict:
        """What templates/analysis/_filter_row.html reads as ``form.choices``: evaluation filters on
        event and context properties only (alerts/metrics.py), so person properties are not offered."""
        sources = [(value, label) for value, label in insight_forms.CHOICES["sources"] if value != "person"]
        return {**insight_forms.CHOICES, "sources": sources}

    @property
    def filter_rows(self) -> list:
        return insight_forms.rows(self._filter_values["filters"], "filters", self.filter_error)

    @property
    def denominator_filter_rows(self) -> list:
        return insight_forms.rows(
            self._filter_values["denominator_filters"], "denominator_filters", self.filter_error
        )

    def _clean_filters(self) -> dict[str, list]:
        try:
            tree = insight_forms.unflatten(self.data)
        except QueryError as error:
            self.filter_error = error
            self.add_error(None, f"Filters: {error.message}")
            return {}
        cleaned = {}
        for name in ("filters", "denominator_filters"):
            typed = [row for row in _list(tree.get(name)) if not _is_blank_row(row)]
            self._filter_values[name] = typed
            try:
                parsed = parse_filters(typed, name)
                for index, item in enumerate(parsed):
                    if item.source == "person":
                        raise QueryError(
                            f"{name}.{index}.source", "Alerts filter on event and context properties."
                        )
                cleaned[name] = [_plain(dataclasses.asdict(item)) for item in parsed]
            except QueryError as error:
                self.filter_error = error
                self.add_error(None, f"Filter {_row_label(error.field)}: {error.message}")
        return cleaned

    # --- the kind's rules --------------------------------------------------------------------------

    def clean(self):
        data = super().clean()
        for name, default in DEFAULTS.items():
            if name in data and data[name] in (None, ""):
                data[name] = default
        kind = data.get("kind")
        filters = self._clean_filters() if self.is_bound else {}
        if not kind:
            return data
        self._check_kind(kind, data)
        if bool(data.get("quiet_hours_start")) != bool(data.get("quiet_hours_end")):
            self.add_error("quiet_hours_end", "Quiet hours need both a start and an end (or neither).")
        for name, value in filters.items():
            setattr(self.instance, name, value)
        for name, blank in BLANK_VALUES.items():
            if kind not in KIND_FIELDS[name]:
                data[name] = blank
                setattr(self.instance, name, blank)
        if kind in KIND_FIELDS["min_sample"] and data.get("min_sample") is None:
            data["min_sample"] = DEFAULT_MIN_SAMPLE
        return data

    def _check_kind(self, kind: str, data: dict) -> None:
        threshold = data.get("threshold")
        if kind != RuleKind.VIOLATIONS_ABOVE and not data.get("event"):
            self.add_error("event", "Which event does this rule watch?")
        if kind in KIND_FIELDS["threshold"] and threshold is None:
            self.add_error("threshold", "A threshold is required for this kind of rule.")
        if kind in VOLUME_KINDS + (RuleKind.VIOLATIONS_ABOVE,) and threshold is not None and threshold < 0:
            self.add_error("threshold", "A number of events: 0 or more.")
        if kind in RATE_KINDS:
            if not data.get("denominator_event"):
                self.add_error("denominator_event", "A rate needs the event it is a share of.")
            if threshold is not None and not 0 <= threshold <= 100:
                self.add_error("threshold", "A rate threshold is a percentage from 0 to 100.")
        if kind in PROPERTY_KINDS:
            if not data.get("property"):
                self.add_error("property", "Which numeric property is measured?")
            if not data.get("aggregate"):
                self.add_error("aggregate", "Average or 95th percentile?")
        if kind == RuleKind.ANOMALY:
            mode = data.get("anomaly_mode")
            deviations, percent = data.get("anomaly_deviations"), data.get("anomaly_percent")
            if mode == AnomalyMode.STDDEV and (deviations is None or deviations <= 0):
                self.add_error("anomaly_deviations", "A number of standard deviations above 0.")
            if mode == AnomalyMode.PERCENT and (percent is None or percent <= 0):
                self.add_error("anomaly_percent", "A percentage above 0.")

    def rule_fields(self) -> dict:
        """The rule's field values (no project, no channels): what the actions take as ``fields``."""
        values = {name: self.cleaned_data[name] for name in self.Meta.fields if name != "channels"}
        values["filters"] = self.instance.filters
        values["denominator_filters"] = self.instance.denominator_filters
        return values


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _is_blank_row(row) -> bool:
    """A filter row added and left empty: ignored, not an error."""
    return isinstance(row, dict) and not row.get("property") and not row.get("value")


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _row_label(field_path: str) -> str:
    """``filters.1.value`` -> "2 (value)", as the page numbers rows from 1."""
    parts = field_path.split(".")
    if len(parts) >= 3 and parts[1].isdigit():
        return f"{int(parts[1]) + 1} ({parts[2]})"
    return field_path


# --- channels ----------------------------------------------------------------------------------------


class ChannelForm(forms.Form):
    """A channel's name and kind; its config is the kind's own ConfigForm (alerts/channels/)."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ChannelKind.choices)

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, label) for kind, label in ChannelKind.choices if kind in kinds]


# --- history filters ---------------------------------------------------------------------------------


class HistoryFilterForm(forms.Form):
    rule = forms.ModelChoiceField(queryset=AlertRule.objects.none(), required=False, empty_label="Any rule")
    kind = forms.ChoiceField(required=False, choices=[("", "Fired or resolved"), *AlertEventKind.choices])
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *AlertState.choices])
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *Severity.choices])
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = AlertRule.objects.filter(project=project)
        self.timezone = ZoneInfo(project.timezone or "UTC")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The last day is before the first.")
        return data

    def filter(self, events):
        """The alert events that match (all of them when the form is not valid)."""
        if not self.is_valid():
            return events
        data = self.cleaned_data
        for name in ("rule", "kind", "state", "severity"):
            if data.get(name):
                events = events.filter(**{name: data[name]})
        # Days as the project's people read them (its time zone), not UTC days.
        if data.get("date_from"):
            events = events.filter(created_at__gte=self._start_of(data["date_from"]))
        if data.get("date_to") and data["date_to"] < date.max:
            events = events.filter(created_at__lt=self._start_of(data["date_to"] + timedelta(days=1)))
        return events

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.timezone)


class CommentForm(forms.Form):
    body = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), strip=True)


MUTE_DURATIONS = {
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "unmute": None,
}


class MuteForm(forms.Form):
    duration = forms.ChoiceField(choices=[(key, key) for key in MUTE_DURATIONS])


def is_acknowledgeable(alert_event: AlertEvent) -> bool:
    return alert_event.kind == AlertEventKind.FIRED and alert_event.acknowledged_at is None
