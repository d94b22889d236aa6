"""Data management pages: request a GDPR person deletion (owners and admins) or an event export
(members and above), follow a job's progress (htmx polling), download a finished export.

Viewers and outsiders get 404 on every page, as does anyone for another project's job.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from analytics.datajobs import (
    EXPORT_FORMATS,
    do_request_export,
    do_request_person_deletion,
    export_path,
    find_person,
)
from analytics.models import DataJob
from projects.access import access_project, has_role, role_in
from projects.models import Environment, Role

DELETE_ROLE = Role.ADMIN
EXPORT_ROLE = Role.MEMBER
POLL_SECONDS = 2
JOBS_LISTED = 20
MAX_EXPORT_DAYS = 366


class DeletePersonForm(forms.Form):
    identifier = forms.CharField(
        max_length=400, label="Distinct id or person id", help_text="Every event of this person is deleted."
    )
    confirm = forms.BooleanField(label="I understand this cannot be undone")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_identifier(self):
        identifier = self.cleaned_data["identifier"].strip()
        self.person = find_person(self.project, identifier)
        if self.person is None:
            raise forms.ValidationError("No person with this distinct id or person id in this project.")
        return identifier


class ExportForm(forms.Form):
    environment = forms.ModelChoiceField(queryset=Environment.objects.none(), to_field_name="slug")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        label="To",
        help_text="Included; the project's time zone.",
    )
    event = forms.CharField(max_length=200, required=False, help_text="Blank: every event.")
    file_format = forms.ChoiceField(choices=[(name, name.upper()) for name in EXPORT_FORMATS], label="Format")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.filter(project=project)

    def clean(self):
        values = super().clean()
        start, end = values.get("start_date"), values.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The range ends before it starts.")
        elif start and end and (end - start).days >= MAX_EXPORT_DAYS:
            self.add_error("end_date", f"Export at most {MAX_EXPORT_DAYS} days at a time.")
        return values


def _page(request, project, *, delete_form=None, export_form=None, status=200):
    can_delete = has_role(role_in(request.user, project.organization), DELETE_ROLE)
    jobs = DataJob.objects.filter(project=project).select_related("created_by")
    if not can_delete:
        jobs = jobs.filter(kind=DataJob.Kind.EXPORT)
    today = timezone.now().astimezone(ZoneInfo(project.timezone)).date()
    context = {
        "project": project,
        "tab": "settings",
        "can_delete": can_delete,
        "delete_form": delete_form or DeletePersonForm(project=project),
        "export_form": export_form
        or ExportForm(
            project=project,
            initial={"start_date": today - timedelta(days=7), "end_date": today, "file_format": "csv"},
        ),
        "jobs": jobs[:JOBS_LISTED],
    }
    return render(request, "datajobs/data.html", context, status=status)


@login_required
@require_GET
def data_page(request, slug):
    project = access_project(request.user, slug=slug, min_role=EXPORT_ROLE)
    return _page(request, project)


@login_required
@require_POST
def delete_person(request, slug):
    project = access_project(request.user, slug=slug, min_role=DELETE_ROLE)
    form = DeletePersonForm(request.POST, project=project)
    if not form.is_valid():
        return _page(request, project, delete_form=form, status=400)
    job = do_request_person_deletion(
        project=project,
        person=form.person,
        distinct_id=form.cleaned_data["identifier"],
        acting_user=request.user,
    )
    messages.success(request, "Deletion requested: it runs in the background.")
    return redirect("data-job", slug=project.slug, job_id=job.id)


@login_required
@require_POST
def export_events(request, slug):
    project = access_project(request.user, slug=slug, min_role=EXPORT_ROLE)
    form = ExportForm(request.POST, project=project)
    if not form.is_valid():
        return _page(request, project, export_form=form, status=400)
    values = form.cleaned_data
    job = do_request_export(
        project=project,
        environment=values["environment"],
        start_date=values["start_date"],
        end_date=values["end_date"],
        event=values["event"].strip(),
        file_format=values["file_format"],
        acting_user=request.user,
    )
    messages.success(request, "Export requested: it runs in the background.")
    return redirect("data-job", slug=project.slug, job_id=job.id)


def _job(request, slug, job_id) -> tuple:
    """The job, if the user may see it: exports for members and above, deletions for admins."""
    project = access_project(request.user, slug=slug, min_role=EXPORT_ROLE)
    job = get_object_or_404(DataJob.objects.select_related("created_by"), project=project, id=job_id)
    if job.kind == DataJob.Kind.DELETE_PERSON and not has_role(
        role_in(request.user, project.organization), DELETE_ROLE
    ):
        raise Http404("No such job.")
    return project, job


@login_required
@require_GET
def job_page(request, slug, job_id):
    project, job = _job(request, slug, job_id)
    context = {
        "project": project,
        "tab": "settings",
        "job": job,
        "downloadable": export_path(job, timezone.now()) is not None,
        "poll_seconds": POLL_SECONDS,
    }
    template = "datajobs/job.html#progress" if request.htmx else "datajobs/job.html"
    return render(request, template, context)


@login_required
@require_GET
def job_download(request, slug, job_id):
    project, job = _job(request, slug, job_id)
    path = export_path(job, timezone.now())
    if path is None:
        raise Http404("No such export (or it expired).")
    start, end = job.params["start_date"], job.params["end_date"]
    filename = f"{project.slug}-{job.params['environment']}-events-{start}-to-{end}{path.suffix}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)
