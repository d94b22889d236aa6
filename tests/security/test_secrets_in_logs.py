"""Secrets never reach the logs: passwords, API keys (created, used, refused) and channel secrets,
through the real views, with every logger captured at DEBUG."""

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from alerts.models import Channel
from projects.models import ApiKeyKind
from tests.alerts.http_server import StubServer
from tests.conftest import make_project

pytestmark = pytest.mark.django_db

PASSWORD = "pw-unused-123"  # tests.conftest.make_user's
WRONG_PASSWORD = "not-the-password-4711"
WEBHOOK_SECRET = "whsec-never-log-this-0123456789"
RAW_KEY = re.compile(r"bcn_[ws]_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def receiver(settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    server = StubServer().start()
    yield server
    server.stop()


def create_key(client: Client, project, kind: str) -> str:
    environment = project.environments.get(slug="production")
    url = reverse("api-keys", kwargs={"slug": project.slug})
    assert client.post(url, {"environment": environment.id, "kind": kind, "name": kind}).status_code == 302
    [raw] = set(RAW_KEY.findall(client.get(url).content.decode()))  # shown once, on the next page
    return raw


def everything_logged(caplog) -> str:
    """Formatted lines, and each record's message, arguments and traceback (any formatter may print
    those). Not the `request` object django.request attaches: no Beacon handler prints it.
    TRICKY: its repr has the query string, where `?apiKey=` travels (sendBeacon), as has gunicorn's
    default access-log line."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    return "\n".join(parts)


def test_passwords_keys_and_channel_secrets_are_never_logged(caplog, owner, receiver, streams):
    caplog.set_level(logging.DEBUG)
    project = make_project(owner=owner)
    client = Client()

    # Logging in: once wrong, then right (the lock-out counts failures, and must not log the guess).
    login = reverse("login")
    assert client.post(login, {"username": owner.username, "password": WRONG_PASSWORD}).status_code == 200
    assert client.post(login, {"username": owner.username, "password": PASSWORD}).status_code == 302

    write_key = create_key(client, project, ApiKeyKind.WRITE)
    secret_key = create_key(client, project, ApiKeyKind.SECRET)

    # A signed webhook, and a test message signed with its secret sent to it.
    created = client.post(
        reverse("alert-channel-create", kwargs={"slug": project.slug}),
        {
            "name": "Hook",
            "kind": "webhook",
            "webhook-url": receiver.url("/hook"),
            "webhook-secret": WEBHOOK_SECRET,
        },
    )
    assert created.status_code == 302
    channel = Channel.objects.get(project=project)
    assert channel.config["secret"] == WEBHOOK_SECRET
    client.post(reverse("alert-channel-test", kwargs={"slug": project.slug, "channel_id": channel.id}))
    assert receiver.requests_to("/hook"), "the test message was not sent"

    # Events with the key in each place a sender puts it; a bad event; a revoked-looking key.
    event = {"environment": "production", "event": "e", "distinct_id": "u1", "properties": {}}
    sender = Client()

    def send(body, path="/track", **headers):
        return sender.post(path, body, content_type="application/json", headers=headers).status_code

    assert send(event, **{"X-API-Key": write_key}) == 200
    assert send(event, path=f"/track?apiKey={write_key}") == 200
    assert send(event, Authorization=f"Bearer {write_key}") == 200
    assert send({**event, "environment": "staging"}, **{"X-API-Key": write_key}) == 400
    almost = write_key[:-4] + ("AAAA" if not write_key.endswith("AAAA") else "BBBB")
    assert send(event, **{"X-API-Key": almost}) == 401
    assert send(event, path=f"/track?apiKey={almost}") == 401

    # The query API: read with the secret key, refused with the write key.
    assert sender.get("/api/v1/event-counts", headers={"X-API-Key": secret_key}).status_code == 200
    assert sender.get("/api/v1/event-counts", headers={"X-API-Key": write_key}).status_code == 403

    logged = everything_logged(caplog)
    assert caplog.records, "nothing was captured: the test would prove nothing"
    for secret in (PASSWORD, WRONG_PASSWORD, WEBHOOK_SECRET, write_key, secret_key, almost):
        assert secret not in logged, f"a secret reached the logs: {secret[:8]}…"


def test_the_web_servers_access_log_leaves_out_query_strings():
    """sendBeacon puts the write key in `?apiKey=`: gunicorn's default access line (`%(r)s`) would log it."""
    from pathlib import Path

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    [web] = [line for line in procfile.splitlines() if line.startswith("web:")]
    assert "--access-logformat" in web and "%(U)s" in web
    assert "%(r)s" not in web and "%(q)s" not in web
