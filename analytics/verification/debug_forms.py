"""Forms of debug sessions and of event test cases. They parse and check; writes are in debug.py."""

import re

from django import forms

from analytics.plan.forms import split_names
from analytics.plan.models import EventDefinition
from analytics.verification.debug import SESSION_DURATIONS
from analytics.verification.models import RuleKind
from projects.models import Environment

_FIELD_PATH = re.compile(
    r"^(properties|context)(\.[^.\s]+)+$|^(distinct_id|anonymous_id|device_id|session_id)$"
)


class DebugSessionForm(forms.Form):
    environment = forms.ModelChoiceField(queryset=Environment.objects.none(), empty_label=None)
    device_id = forms.CharField(
        required=False, max_length=400, help_text="Your phone's or browser's device id, if you know it."
    )
    app_url = forms.URLField(
        required=False,
        max_length=450,
        assume_scheme="https",
        label="App URL",
        help_text="Where the debug link (and its QR code) opens your app with the debug flag on.",
    )
    label = forms.CharField(required=False, max_length=200)
    events = forms.ModelMultipleChoiceField(
        queryset=EventDefinition.objects.none(),
        required=False,
        to_field_name="name",
        label="Events under test",
        help_text="None chosen: the rules of whichever events the session sends.",
    )
    duration = forms.ChoiceField(choices=[(key, key) for key in SESSION_DURATIONS], initial="4h")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.filter(project=project)
        self.fields["environment"].label_from_instance = lambda environment: environment.slug
        self.fields["events"].queryset = EventDefinition.objects.filter(project=project)

    def clean(self):
        data = super().clean()
        if not data.get("device_id") and not data.get("app_url"):
            raise forms.ValidationError("Enter your device id, or your app's URL for a debug link (or both).")
        return data


class TestCaseForm(forms.Form):
    """One rule; which of the optional fields it needs depends on its kind."""

    __test__ = False  # not a pytest class

    description = forms.CharField(max_length=300, help_text='e.g. "fires once per page load"')
    kind = forms.ChoiceField(choices=RuleKind.choices)
    min = forms.IntegerField(required=False, min_value=0, label="At least")
    max = forms.IntegerField(required=False, min_value=0, label="At most")
    field = forms.CharField(
        required=False, max_length=400, help_text="e.g. context.page.url, properties.$page_load_id"
    )
    properties = forms.CharField(required=False, max_length=1000, help_text="Comma separated.")
    event = forms.CharField(required=False, max_length=200, label="After event")
    match = forms.CharField(required=False, max_length=200, label="With the same property")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        config: dict = {}
        if kind == RuleKind.FIRES:
            low, high = data.get("min"), data.get("max")
            if low is not None and high is not None and high < low:
                self.add_error("max", "At most must not be less than at least.")
            config = {"min": 1 if low is None else low, "max": high}
        elif kind == RuleKind.ONCE_PER:
            path = (data.get("field") or "").strip()
            if not _FIELD_PATH.match(path):
                self.add_error(
                    "field",
                    "Name the field like properties.product_id, context.page.url or session_id.",
                )
            config = {"field": path}
        elif kind == RuleKind.CARRIES:
            names = split_names(data.get("properties") or "")
            if not names:
                self.add_error("properties", "Name at least one property.")
            config = {"properties": names}
        elif kind == RuleKind.PRECEDED_BY:
            earlier = (data.get("event") or "").strip()
            if not earlier:
                self.add_error("event", "Name the event that must come first.")
            config = {"event": earlier, "match": (data.get("match") or "").strip()}
        data["config"] = config
        return data
