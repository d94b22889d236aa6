"""Settings of alert delivery, read at call time so tests can change them with the `settings` fixture.

config/settings.py sets them from the environment (BEACON_ALERTS_ALLOW_PRIVATE_URLS,
BEACON_ALERTS_DELIVERY_MAX_ATTEMPTS, BEACON_ALERTS_RETRY_BASE_SECONDS, BEACON_ALERTS_RETRY_MAX_SECONDS,
BEACON_ALERTS_HTTP_TIMEOUT); the defaults here apply only where a setting is missing.
"""

from django.conf import settings


def allow_private_urls() -> bool:
    """ALERTS_ALLOW_PRIVATE_URLS: may channels post to loopback/private/link-local addresses?

    Off in production (SSRF guard: a webhook URL must not reach our own network); on by default in
    DEBUG so a developer can point a webhook at a local receiver.
    """
    return bool(getattr(settings, "ALERTS_ALLOW_PRIVATE_URLS", settings.DEBUG))


def max_attempts() -> int:
    """ALERTS_DELIVERY_MAX_ATTEMPTS: attempts per channel and alert event before giving up."""
    return max(1, int(getattr(settings, "ALERTS_DELIVERY_MAX_ATTEMPTS", 5)))


def retry_base_seconds() -> float:
    """ALERTS_RETRY_BASE_SECONDS: the wait before the second attempt; it doubles for each next one."""
    return float(getattr(settings, "ALERTS_RETRY_BASE_SECONDS", 30))


def retry_max_seconds() -> float:
    """ALERTS_RETRY_MAX_SECONDS: no wait is longer, even when the server asks for more."""
    return float(getattr(settings, "ALERTS_RETRY_MAX_SECONDS", 900))


def http_timeout() -> float:
    """ALERTS_HTTP_TIMEOUT: seconds for one HTTP request to a channel (connect and each read)."""
    return float(getattr(settings, "ALERTS_HTTP_TIMEOUT", 10))


def public_url() -> str:
    """Where links in messages point (PUBLIC_URL, without a trailing slash)."""
    return str(getattr(settings, "PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
