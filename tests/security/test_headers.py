"""Security headers on every kind of response: a page, an API answer (and its errors), the SDK file,
a static file; HSTS only when Beacon runs behind HTTPS (BEACON_HTTPS)."""

import os
import subprocess
import sys

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from config.security import CONTENT_SECURITY_POLICY, ContentSecurityPolicyMiddleware
from tests.analytics.ingest import new_key

pytestmark = pytest.mark.django_db

HSTS = "Strict-Transport-Security"


def assert_security_headers(response) -> None:
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_policy_allows_only_beacons_own_scripts():
    directives = dict(
        (directive.split(" ", 1)[0], directive.split(" ", 1)[1])
        for directive in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert not any("unsafe-eval" in value or "*" in value for value in directives.values())
    assert "unsafe-inline" not in directives["script-src"] + directives["style-src"]


def test_a_page_carries_every_header(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["X-Frame-Options"] == "DENY"
    assert HSTS not in response


def test_a_logged_in_project_page_carries_them_too(client, project, member):
    client.force_login(member)
    response = client.get(f"/projects/{project.slug}/")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["X-Frame-Options"] == "DENY"


def test_an_api_json_answer_and_an_api_error_carry_them(client, project, owner):
    key = new_key(project, owner)
    answer = client.get("/api/v1/key", headers={"X-API-Key": key})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert_security_headers(answer)
    refused = client.get("/api/v1/key", headers={"X-API-Key": "bcn_w_" + "A" * 32})
    assert refused.status_code == 401
    assert_security_headers(refused)


def test_an_ingestion_answer_keeps_its_cors_headers_beside_them(client, project, owner, streams):
    key = new_key(project, owner)
    preflight = client.options("/track", HTTP_ORIGIN="https://shop.example.com")
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == "*"
    assert_security_headers(preflight)
    sent = client.post(
        "/track",
        {"environment": "production", "event": "e", "distinct_id": "u", "properties": {}},
        content_type="application/json",
        headers={"X-API-Key": key, "Origin": "https://shop.example.com"},
    )
    assert sent.status_code == 200
    assert_security_headers(sent)


def test_the_sdk_file_and_static_files_carry_them(client):
    sdk = client.get("/sdk/beacon.min.js")
    assert sdk.status_code == 200 and "javascript" in sdk["Content-Type"]
    assert_security_headers(sdk)
    static = client.get("/static/js/copy.js")
    assert static.status_code == 200
    assert static["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert static["X-Content-Type-Options"] == "nosniff"


def test_a_views_own_policy_is_kept():
    own = "default-src 'none'; img-src https://example.com"

    def view_with_its_own_policy(request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = own
        return response

    def view_trying_a_policy(request):
        response = HttpResponse("x")
        response["Content-Security-Policy-Report-Only"] = own
        return response

    request = RequestFactory().get("/")
    assert (
        ContentSecurityPolicyMiddleware(view_with_its_own_policy)(request)["Content-Security-Policy"] == own
    )
    trial = ContentSecurityPolicyMiddleware(view_trying_a_policy)(request)
    assert "Content-Security-Policy" not in trial
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("x"))(request)
    assert plain["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


# --- HSTS --------------------------------------------------------------------------------------------


def test_there_is_no_hsts_without_https_even_on_a_forwarded_https_request(client):
    # BEACON_HTTPS is off in tests: the proxy header is not trusted and no HSTS is sent.
    assert HSTS not in client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert HSTS not in client.get("/accounts/login/", secure=True)


def test_with_https_on_hsts_is_sent_on_https_requests_only(client, settings):
    # What settings.py sets with BEACON_HTTPS=1 (test_beacon_https_turns_on_hsts... checks that).
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_proxy = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert behind_proxy[HSTS] == "max-age=31536000"
    assert_security_headers(behind_proxy)
    assert HSTS not in client.get("/accounts/login/")  # plain http: browsers ignore it there anyway


def test_beacon_https_turns_on_hsts_and_secure_cookies():
    """A real start-up with BEACON_HTTPS=1: the settings the test above assumes."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, 'config.security.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "BEACON_SECRET_KEY": "x" * 50}
    on = subprocess.run(
        [sys.executable, "-c", code], env={**env, "BEACON_HTTPS": "1"}, capture_output=True, text=True
    )
    assert on.returncode == 0, on.stderr
    assert on.stdout.split() == ["31536000", "('HTTP_X_FORWARDED_PROTO',", "'https')", "True", "True", "True"]
    off = subprocess.run(
        [sys.executable, "-c", code], env={**env, "BEACON_HTTPS": "0"}, capture_output=True, text=True
    )
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["0", "None", "False", "False", "True"]
