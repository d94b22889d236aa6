"""Generic webhooks: a signed JSON POST to any public URL.

The body (`render`) is::

    {"type": "alert.fired" | "alert.resolved" | "test",
     "title": str, "text": str,
     "project": {"id", "slug", "name"}, "environment": slug | null,
     "rule": {"id", "name", "kind", "event", "severity", "window_minutes", "threshold"} | null,
     "alert": {"id", "state", "severity", "value", "threshold", "window_start", "window_end",
               "fired_at", "resolved_at"} | null,
     "links": {"chart": url, "alert": url}}

Signature (Stripe style): `X-Beacon-Timestamp: <unix seconds>` and
`X-Beacon-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>`. The
timestamp is inside the signed bytes, so a captured request cannot be replayed later than the
receiver's tolerance. `verify_signature` below is what a receiver runs.
"""

import hashlib
import hmac
import secrets
import time

from django import forms
from django.core.exceptions import ValidationError

from alerts.channels.base import Message, host_of, json_body, post_json, validate_public_url

SECRET_FIELDS = ("secret",)
TIMESTAMP_HEADER = "X-Beacon-Timestamp"
SIGNATURE_HEADER = "X-Beacon-Signature"
MIN_SECRET_LENGTH = 16
HOW_TO_FIX = (
    "The receiver refused the request (a 4xx status other than 429). Check that the URL is still "
    "right and that the receiver accepts Beacon's signature, then enable the channel again."
)


class ConfigForm(forms.Form):
    url = forms.URLField(
        label="URL", max_length=1000, assume_scheme="https", help_text="Beacon POSTs JSON to this URL."
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Leave blank and Beacon generates one. Requests carry X-Beacon-Signature.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        validate_public_url(url)
        return url

    def clean_secret(self):
        secret = self.cleaned_data.get("secret", "").strip()
        if not secret:
            return secrets.token_urlsafe(32)
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValidationError(
                f"Use at least {MIN_SECRET_LENGTH} characters, or leave it blank and Beacon generates one.",
                code="short_secret",
            )
        return secret


def describe(config: dict) -> str:
    url = str(config.get("url", ""))
    return f"{host_of(url) or 'no URL'}/…"


def render(message: Message) -> dict:
    return {
        "type": message.type,
        "title": message.subject,
        "text": message.summary,
        "project": message.project,
        "environment": message.environment or None,
        "rule": message.rule,
        "alert": message.alert,
        "links": message.links,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send(config: dict, message: Message) -> int:
    body = json_body(render(message))
    timestamp = int(time.time())
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(config["secret"], timestamp, body),
        "X-Beacon-Event": message.type,
    }
    return post_json(config["url"], body, headers).status


def verify_signature(
    secret: str, timestamp: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver runs: True if `header` signs `body` at `timestamp`, within `tolerance` seconds.

    Uses only the standard library so it can be copied as is. `header` may hold several
    comma-separated signatures (while a secret is being rotated); one match is enough.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{sent_at}.".encode() + body, hashlib.sha256).hexdigest()
    )
    # compare_digest: a plain == leaks how many leading characters matched through timing.
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in (header or "").split(","))
