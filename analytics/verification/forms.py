"""Forms of release verification. They only parse and check input; writes are in releases.py."""

from django import forms
from django.utils import timezone

from analytics.plan.models import EventDefinition, EventStatus
from analytics.verification.releases import check_event_names
from projects.actions import ActionRefused
from projects.models import Environment


class EventNamesField(forms.MultipleChoiceField):
    """Event names offered as checkboxes, checked against the plan by the form (so that the message
    names every unknown event, not only the first one)."""

    def valid_value(self, value) -> bool:
        return True


class ReleaseForm(forms.Form):
    environment = forms.ModelChoiceField(queryset=Environment.objects.none(), to_field_name="slug")
    app_version = forms.CharField(
        max_length=100, required=False, help_text="Blank: events of any app version."
    )
    name = forms.CharField(max_length=200, required=False)
    expected_events = EventNamesField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every event the plan expects in the environment.",
    )
    started_at = forms.DateTimeField(
        required=False,
        label="Started at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Events from then on count (UTC). Blank: now.",
    )
    tolerance = forms.FloatField(
        min_value=0,
        max_value=100,
        initial=0,
        required=False,
        label="Tolerance (%)",
        help_text="An event passes when at most this share of it has violations.",
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["environment"].queryset = Environment.objects.filter(project=project).order_by("id")
        self.fields["environment"].label_from_instance = lambda environment: environment.slug
        self.fields["expected_events"].choices = [
            (name, name)
            for name in EventDefinition.objects.filter(project=project)
            .exclude(status=EventStatus.DEPRECATED)
            .order_by("name")
            .values_list("name", flat=True)
        ]

    def clean_expected_events(self) -> list[str]:
        try:
            return check_event_names(self.project, self.cleaned_data["expected_events"])
        except ActionRefused as refused:
            raise forms.ValidationError(refused.message) from None

    def clean_started_at(self):
        return self.cleaned_data["started_at"] or timezone.now()

    def clean_tolerance(self) -> float:
        """As a share (0..1)."""
        percent = self.cleaned_data["tolerance"]
        return (percent or 0.0) / 100
