"""DingTalk (钉钉) group robots with a signing secret (加签):
https://open.dingtalk.com/document/orgapp/customize-robot-security-settings

Each request carries `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
msg=f"{timestamp}\\n{secret}"))) next to the pasted URL's access_token. DingTalk answers HTTP 200
with {"errcode": 0, "errmsg": "ok"}; any other errcode is an error.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from django import forms
from django.core.exceptions import ValidationError

from alerts.channels.base import (
    Message,
    check_errcode,
    host_of,
    json_body,
    post_json,
    truncate_utf8,
    validate_service_url,
)

HOST = "oapi.dingtalk.com"
EXAMPLE = "https://oapi.dingtalk.com/robot/send?access_token=XXXXXXXX"
SECRET_FIELDS = ("url", "secret")
MAX_TEXT_BYTES = 5000  # DingTalk's documented limit is 20000; long alerts are unreadable on a phone
TRANSIENT_CODES = frozenset({-1, 130101})  # system busy; more than 20 messages a minute
HINTS = {
    310000: "the signature, keyword or IP check failed: check the signing secret, or add the keyword Beacon",
    300001: "the access_token is invalid",
    400102: "the robot is disabled",
    130101: "the robot sends more than 20 messages a minute",
}
HOW_TO_FIX = (
    "DingTalk refused the message. Check in the group's robot settings that the robot still exists and "
    "is enabled, that the signing secret (加签) matches, and that any custom keyword appears in "
    "Beacon's messages (they all contain the word Beacon). Then update this channel and enable it again."
)


class ConfigForm(forms.Form):
    url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.PasswordInput(attrs={"placeholder": EXAMPLE, "autocomplete": "off"}),
        help_text="In the DingTalk group: Settings → Robots → Add a custom robot → copy the webhook URL.",
    )
    secret = forms.CharField(
        label="Signing secret (加签)",
        max_length=200,
        widget=forms.PasswordInput(attrs={"placeholder": "SEC…", "autocomplete": "off"}),
        help_text="Choose 'Additional signature' (加签) in the robot's security settings and copy the secret.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        validate_service_url(url, host=HOST, path="/robot/send", query_param="access_token", example=EXAMPLE)
        return url

    def clean_secret(self):
        secret = self.cleaned_data["secret"].strip()
        if not secret.startswith("SEC"):
            raise ValidationError(
                "A DingTalk signing secret starts with SEC: copy it from the robot's security settings (加签).",
                code="invalid_secret",
            )
        return secret


def describe(config: dict) -> str:
    url = str(config.get("url", ""))
    token = parse_qs(urlsplit(url).query).get("access_token", [""])[0]
    return f"{host_of(url) or 'no URL'} robot …{token[-4:]}"


def sign(secret: str, timestamp_ms: int) -> str:
    """base64 of the HMAC; urlencode() does the URL encoding DingTalk asks for, exactly once."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("timestamp", "sign")
    ]
    query += [("timestamp", str(timestamp_ms)), ("sign", sign(secret, timestamp_ms))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def render(message: Message) -> dict:
    head = f"#### {message.label}: {message.title}\n\n**{message.where}**\n\n"
    details = "".join(f"- {label}: {value}\n" for label, value in message.details)
    links = " · ".join(f"[View {name}]({url})" for name, url in message.links.items())
    tail = f"\n{links}\n\n###### Sent by Beacon" if links else "\n###### Sent by Beacon"
    room = MAX_TEXT_BYTES - len(head.encode()) - len(tail.encode())
    body = truncate_utf8(f"{message.summary}\n\n{details}", max(room, 0), ellipsis="…\n")
    # The title is what the chat list and the phone notification show.
    return {
        "msgtype": "markdown",
        "markdown": {"title": truncate_utf8(message.subject, 100), "text": head + body + tail},
    }


def send(config: dict, message: Message) -> int:
    url = signed_url(config["url"], config["secret"], int(time.time() * 1000))
    response = post_json(url, json_body(render(message)))
    check_errcode(response, service="DingTalk", transient=TRANSIENT_CODES, hints=HINTS)
    return response.status
