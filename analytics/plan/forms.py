"""Forms of the tracking plan editor. They only parse and check input; writes are in actions.py."""

import json

from django import forms

from analytics.plan.models import EventStatus, PropertyGroup, PropertyType
from projects.models import Environment


def split_names(text: str) -> list[str]:
    """ "a, b\nc" -> ["a", "b", "c"]: what people type into a list field."""
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class PlanFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *EventStatus.choices])
    owner = forms.CharField(required=False)
    tag = forms.CharField(required=False)
    seen = forms.ChoiceField(
        required=False, choices=[("", "Seen or not"), ("seen", "Seen"), ("unseen", "Never seen")]
    )


class EventCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class EventForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="When does it fire?"
    )
    owner = forms.CharField(required=False, max_length=200, help_text="A member or a team.")
    tags = forms.CharField(required=False, help_text="Comma separated.")
    expected_environments = forms.ModelMultipleChoiceField(
        queryset=Environment.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    property_groups = forms.ModelMultipleChoiceField(
        queryset=PropertyGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    allow_unplanned_properties = forms.BooleanField(
        required=False, help_text="Properties the plan does not name are not violations."
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expected_environments"].queryset = Environment.objects.filter(project=project)
        self.fields["expected_environments"].label_from_instance = lambda environment: environment.slug
        self.fields["property_groups"].queryset = PropertyGroup.objects.filter(project=project)

    def clean_tags(self) -> list[str]:
        return split_names(self.cleaned_data["tags"])


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=EventStatus.choices)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PropertyForm(forms.Form):
    """Settings of one property. ``name`` is only used when adding (a rename is a remove + add)."""

    name = forms.CharField(max_length=200, required=False)
    description = forms.CharField(required=False)
    type = forms.ChoiceField(choices=PropertyType.choices)
    item_type = forms.ChoiceField(choices=[("", "—"), *PropertyType.choices], required=False)
    required = forms.BooleanField(required=False)
    enum = forms.CharField(required=False, help_text="Allowed values, comma separated (or a JSON list).")
    pattern = forms.CharField(required=False, max_length=500)
    min_length = forms.IntegerField(required=False, min_value=0)
    max_length = forms.IntegerField(required=False, min_value=0)
    minimum = forms.FloatField(required=False)
    maximum = forms.FloatField(required=False)
    pii = forms.BooleanField(required=False)

    def clean_enum(self):
        text = self.cleaned_data["enum"].strip()
        if not text:
            return None
        if text.startswith("["):
            try:
                values = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Not a valid JSON list.") from None
            if not isinstance(values, list) or not values:
                raise forms.ValidationError('A JSON list of allowed values, e.g. ["USD", "EUR"].')
            return values
        return split_names(text)

    def clean(self):
        cleaned = super().clean()
        enum = cleaned.get("enum")
        if enum and cleaned.get("type") in (PropertyType.NUMBER, PropertyType.INTEGER):
            try:
                numbers = [float(value) if isinstance(value, str) else value for value in enum]
            except ValueError:
                self.add_error("enum", "The values of a number property must be numbers.")
            else:
                if cleaned["type"] == PropertyType.INTEGER:
                    numbers = [int(value) if float(value).is_integer() else value for value in numbers]
                cleaned["enum"] = numbers
        return cleaned

    def values(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "name"}

    @staticmethod
    def initial_for(prop) -> dict:
        enum = prop.enum
        if enum and all(isinstance(value, str) and "," not in value for value in enum):
            enum_text = ", ".join(enum)
        else:
            enum_text = json.dumps(enum) if enum else ""
        return {
            "description": prop.description,
            "type": prop.type,
            "item_type": prop.item_type,
            "required": prop.required,
            "enum": enum_text,
            "pattern": prop.pattern,
            "min_length": prop.min_length,
            "max_length": prop.max_length,
            "minimum": prop.minimum,
            "maximum": prop.maximum,
            "pii": prop.pii,
        }


class ImportForm(forms.Form):
    FORMAT_CHOICES = [("", "Guess from the file"), ("json", "JSON Schema"), ("csv", "CSV"), ("yaml", "YAML")]
    file = forms.FileField(required=False)
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), label="Or paste it")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False)
    comment = forms.CharField(required=False)

    MAX_BYTES = 5 * 1024 * 1024

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 5 MB.")
            try:
                cleaned["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
            cleaned["filename"] = upload.name
        elif not cleaned.get("text", "").strip():
            raise forms.ValidationError("Choose a file or paste a plan.")
        return cleaned
