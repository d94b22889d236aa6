"""Notification channels: the list (with "Send test" and each channel's last delivery), the form
(one config form per kind, alerts/channels/), enable again, delete, and a channel's delivery log.

A secret Beacon generates (the webhook's signing secret) is shown once, after the redirect that
follows the save, as API keys are (projects/views/once.py): a reload cannot show it again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import actions
from alerts.channels import KINDS, clean_config, describe
from alerts.delivery import send_test
from alerts.forms import ChannelForm
from alerts.models import Channel
from alerts.views import selectors
from alerts.views.common import base_context, channel_of, readable_project, writable_project
from projects.actions import ActionRefused

NEW_SECRET_SESSION = "beacon-alerts-new-secret"
PAGE_SIZE = 50


def _remember_secret(request, channel: Channel, secrets: dict[str, str]) -> None:
    request.session[NEW_SECRET_SESSION] = {"channel_id": channel.id, "secrets": secrets}


def _pop_secret(request, project) -> tuple[Channel | None, dict]:
    stored = request.session.pop(NEW_SECRET_SESSION, None)
    if not stored:
        return None, {}
    channel = Channel.objects.filter(id=stored.get("channel_id"), project=project).first()
    return channel, (stored.get("secrets") or {}) if channel else {}


@login_required
@require_GET
def channel_list(request, slug):
    project = readable_project(request, slug)
    channels = selectors.channels_for_list(project)
    for channel in channels:
        channel.description = describe(channel.kind, channel.config)
    new_channel, new_secrets = _pop_secret(request, project)
    context = base_context(request, project, "channels") | {
        "channels": channels,
        "new_channel": new_channel,
        "new_secrets": new_secrets,
    }
    return render(request, "alerts/channels.html", context)


# --- the form ------------------------------------------------------------------------------------------


def _config_forms(kind: str | None, data=None, previous: dict | None = None) -> list[dict]:
    """One config form per kind, prefixed by its kind (``webhook-url``); only the chosen kind's is
    bound. Secrets are never filled in again: a blank secret keeps the stored one."""
    forms = []
    for name, module in KINDS.items():
        if name == kind and data is not None:
            form = module.ConfigForm(data, prefix=name)
        else:
            initial = {
                key: value for key, value in (previous or {}).items() if key not in module.SECRET_FIELDS
            }
            form = module.ConfigForm(initial=initial if name == kind else None, prefix=name)
        for secret in module.SECRET_FIELDS:
            if previous and name == kind and secret in form.fields:
                form.fields[secret].required = False
                form.fields[secret].help_text = "Leave blank to keep the current value."
        forms.append({"kind": name, "form": form})
    return forms


def _posted_config(request, kind: str) -> dict:
    module = KINDS[kind]
    return {name: request.POST.get(f"{kind}-{name}", "") for name in module.ConfigForm.base_fields}


def _generated_secrets(kind: str, posted: dict, config: dict, previous: dict | None) -> dict[str, str]:
    """Secrets left blank that Beacon filled in (the webhook's signing secret): shown once."""
    return {
        name: config[name]
        for name in KINDS[kind].SECRET_FIELDS
        if not posted.get(name) and config.get(name) and not (previous or {}).get(name)
    }


def _save(request, project, form: ChannelForm, channel: Channel | None):
    """The saved channel and the secrets to show once, or (None, config forms with errors)."""
    kind = form.cleaned_data["kind"] if channel is None else channel.kind
    previous = channel.config if channel else None
    posted = _posted_config(request, kind)
    try:
        config = clean_config(kind, posted, previous=previous)
    except ValidationError:
        return None, {}, _config_forms(kind, request.POST, previous)
    name = form.cleaned_data["name"]
    try:
        if channel is None:
            channel = actions.do_create_channel(
                project=project, name=name, kind=kind, config=config, acting_user=request.user
            )
        else:
            actions.do_update_channel(channel=channel, name=name, config=config, acting_user=request.user)
    except ActionRefused as refused:
        form.add_error("name", refused.message)
        return None, {}, _config_forms(kind, request.POST, previous)
    return channel, _generated_secrets(kind, posted, config, previous), None


def _form_page(request, project, form, config_forms, channel, status=200):
    context = base_context(request, project, "channels") | {
        "form": form,
        "config_forms": config_forms,
        "channel": channel,
        "selected_kind": channel.kind if channel else (form["kind"].value() or "email"),
    }
    return render(request, "alerts/channel_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def channel_create(request, slug):
    project = writable_project(request, slug)
    if request.method == "GET":
        kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else "email"
        form = ChannelForm(kinds=KINDS, initial={"kind": kind})
        return _form_page(request, project, form, _config_forms(kind), None)
    form = ChannelForm(request.POST, kinds=KINDS)
    if not form.is_valid():
        return _form_page(request, project, form, _config_forms(None), None, status=400)
    channel, secrets, config_forms = _save(request, project, form, None)
    if channel is None:
        return _form_page(request, project, form, config_forms, None, status=400)
    if secrets:
        _remember_secret(request, channel, secrets)
    messages.success(request, f"Channel created: {channel.name}. Send it a test to check it works.")
    return redirect("alert-channels", slug=project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, slug, channel_id):
    project = writable_project(request, slug)
    channel = channel_of(project, channel_id)
    if request.method == "GET":
        form = ChannelForm(kinds=KINDS, initial={"name": channel.name, "kind": channel.kind})
        return _form_page(
            request, project, form, _config_forms(channel.kind, previous=channel.config), channel
        )
    form = ChannelForm({**request.POST.dict(), "kind": channel.kind}, kinds=KINDS)  # a kind stays
    if not form.is_valid():
        forms = _config_forms(channel.kind, request.POST, channel.config)
        return _form_page(request, project, form, forms, channel, status=400)
    saved, _, config_forms = _save(request, project, form, channel)
    if saved is None:
        return _form_page(request, project, form, config_forms, channel, status=400)
    messages.success(request, f"Saved {channel.name}.")
    return redirect("alert-channels", slug=project.slug)


# --- the channel's writes ------------------------------------------------------------------------------


@login_required
@require_POST
def channel_enable(request, slug, channel_id):
    """Enable a channel again (after delivery disabled it), or disable it (``enabled=0``)."""
    project = writable_project(request, slug)
    channel = channel_of(project, channel_id)
    enabled = request.POST.get("enabled", "1") != "0"
    actions.do_update_channel(channel=channel, enabled=enabled, acting_user=request.user)
    messages.success(request, f"{channel.name} is {'enabled' if enabled else 'disabled'}.")
    return redirect("alert-channels", slug=project.slug)


@login_required
@require_POST
def channel_delete(request, slug, channel_id):
    project = writable_project(request, slug)
    channel = channel_of(project, channel_id)
    name = channel.name
    actions.do_delete_channel(channel=channel, acting_user=request.user)
    messages.success(request, f"Deleted the channel {name}.")
    return redirect("alert-channels", slug=project.slug)


@login_required
@require_POST
def channel_test(request, slug, channel_id):
    """Send a test message now and show how it went (htmx: inline, in the channel's row)."""
    project = writable_project(request, slug)
    channel = channel_of(project, channel_id)
    delivery = send_test(channel, acting_user=request.user)
    if request.htmx:
        context = {"project": project, "channel": channel, "delivery": delivery}
        return render(request, "alerts/channels.html#test-result", context)
    if delivery.status == "sent":
        messages.success(request, f"Test sent to {channel.name}.")
    else:
        messages.error(request, f"The test to {channel.name} failed: {delivery.error}")
    return redirect("alert-channels", slug=project.slug)


@login_required
@require_GET
def channel_deliveries(request, slug, channel_id):
    project = readable_project(request, slug)
    channel = channel_of(project, channel_id)
    deliveries = channel.deliveries.select_related("alert_event__rule").order_by("-created_at", "-id")
    context = base_context(request, project, "channels") | {
        "channel": channel,
        "description": describe(channel.kind, channel.config),
        "page": Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render(request, "alerts/deliveries.html", context)
