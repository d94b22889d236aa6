"""Slack incoming webhooks (https://api.slack.com/messaging/webhooks): a JSON POST with Block Kit.

Slack answers 200 "ok". Its permanent failures are 404 no_service (webhook removed), 403
invalid_token (app uninstalled) and 410 channel_is_archived; post_json classifies them.
"""

from django import forms

from alerts.channels.base import (
    Message,
    host_of,
    json_body,
    post_json,
    truncate_utf8,
    validate_service_url,
)

HOST = "hooks.slack.com"
EXAMPLE = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
SECRET_FIELDS = ("url",)  # whoever has the URL can post to the channel
HOW_TO_FIX = (
    "Slack no longer accepts this webhook: it was removed, the Slack app was uninstalled or the "
    "Slack channel was archived. Create a new incoming webhook in Slack, paste its URL into this "
    "channel and enable the channel again."
)
SECTION_LIMIT = 3000  # characters in one mrkdwn text object


class ConfigForm(forms.Form):
    url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.PasswordInput(attrs={"placeholder": EXAMPLE, "autocomplete": "off"}),
        help_text="In Slack: Apps → Incoming Webhooks → Add to Slack, pick a channel, copy the URL.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        validate_service_url(url, host=HOST, path="/services/", query_param=None, example=EXAMPLE)
        return url


def describe(config: dict) -> str:
    url = str(config.get("url", ""))
    return f"{host_of(url) or 'no URL'}/…/{url.rstrip('/')[-4:]}"


def _escape(text: str) -> str:
    """Slack's mrkdwn treats only &, < and > specially."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _emoji(message: Message) -> str:
    if message.type == "test":
        return ":wave:"
    if message.type == "alert.resolved":
        return ":white_check_mark:"
    return ":red_circle:" if message.severity == "critical" else ":warning:"


def render(message: Message) -> dict:
    headline = f"{_emoji(message)} *{_escape(message.label)}: {_escape(message.title)}*"
    context = " · ".join([message.where] + [f"{label}: {value}" for label, value in message.details])
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate_utf8(f"{headline}\n{_escape(message.summary)}", SECTION_LIMIT),
            },
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate_utf8(_escape(context), SECTION_LIMIT)}],
        },
    ]
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": f"View {name}"}, "url": url}
        for name, url in message.links.items()
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    # `text` is the notification preview and what clients without Block Kit show. TRICKY: it is
    # mrkdwn too, so an unescaped "<!channel>" in a rule or event name would ping everyone.
    return {"text": _escape(f"{message.subject}: {message.summary}"), "blocks": blocks}


def send(config: dict, message: Message) -> int:
    return post_json(config["url"], json_body(render(message))).status
