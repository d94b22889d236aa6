import zoneinfo

from django import forms
from django.contrib.auth import get_user_model, password_validation

from projects.actions import MAX_GRACE_DAYS
from projects.models import ApiKeyKind, Project, Role


class SignupForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    organization_name = forms.CharField(
        max_length=200, label="Organization", help_text="Your company or team."
    )

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email exists already. Log in, or reset its password."
            )
        return email

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            user = get_user_model()(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(cleaned["password"], user)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


def timezone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    timezone = forms.ChoiceField(choices=timezone_choices, initial="UTC")


class ProjectSettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=timezone_choices)

    class Meta:
        model = Project
        fields = [
            "name",
            "timezone",
            "retention_days",
            "keep_ip",
            "naming_convention",
            "require_object_action",
        ]


class DeleteProjectForm(forms.Form):
    confirm_slug = forms.CharField(label="Type the project's slug to confirm")

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_confirm_slug(self):
        if self.cleaned_data["confirm_slug"].strip() != self.project.slug:
            raise forms.ValidationError(f"Type {self.project.slug} exactly to delete this project.")
        return self.cleaned_data["confirm_slug"]


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=100)


class ApiKeyCreateForm(forms.Form):
    environment = forms.ModelChoiceField(queryset=None, empty_label=None)
    kind = forms.ChoiceField(choices=ApiKeyKind.choices)
    name = forms.CharField(max_length=100, required=False, help_text="What uses this key, e.g. 'iOS app'.")

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = project.environments.all()


class RotateKeyForm(forms.Form):
    grace_days = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (days, f"{days} day{'s' if days != 1 else ''}" if days else "none: stop the old key now")
            for days in range(MAX_GRACE_DAYS + 1)
        ],
        initial=1,
        label="Old key keeps working for",
    )


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
