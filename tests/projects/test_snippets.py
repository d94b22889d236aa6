"""The copy-paste SDK snippets shown after a key is created (no database needed)."""

import ast
import re

import pytest
from django.template.loader import render_to_string

from projects.snippets import Snippet, build_snippets

HOST = "https://beacon.example.com"
WRITE_KEY = "bk_w_Write-Key_0123456789"
SECRET = "bk_s_TOPSECRET_zz_9876543210"
ENVIRONMENT = "staging"

SERVER_SDKS = {
    "segment-python",
    "segment-node",
    "rudderstack-python",
    "posthog-python",
    "posthog-node",
    "altertable-python",
}


def snippets(**overrides) -> dict[str, Snippet]:
    arguments = {"host": HOST, "write_key": WRITE_KEY, "secret_key": SECRET, "environment": ENVIRONMENT}
    built = build_snippets(**(arguments | overrides))
    assert len({snippet.slug for snippet in built}) == len(built), "slugs are element ids: unique"
    return {snippet.slug: snippet for snippet in built}


def test_it_offers_the_browser_curl_and_every_server_sdk():
    built = snippets()
    assert {"browser", "curl"} | SERVER_SDKS <= set(built)
    for snippet in built.values():
        assert snippet.language in {"html", "shell", "javascript", "python"}
        assert snippet.title and snippet.code.strip()
        assert "\n" not in snippet.note


def test_every_snippet_carries_the_host_and_the_write_key():
    for snippet in snippets().values():
        assert HOST in snippet.code, snippet.slug
        assert WRITE_KEY in snippet.code, snippet.slug


def test_no_snippet_contains_the_secret_key():
    for snippet in snippets().values():
        assert SECRET not in snippet.code, snippet.slug
        assert SECRET not in snippet.note, snippet.slug
        assert SECRET not in snippet.title, snippet.slug


def test_the_browser_snippet_loads_beacon_js_with_the_write_key_and_environment():
    browser = snippets()["browser"]
    assert browser.language == "html"
    assert f'<script src="{HOST}/sdk/beacon.min.js"' in browser.code
    assert f'beacon.init("{WRITE_KEY}", {{ host: "{HOST}", environment: "{ENVIRONMENT}" }})' in browser.code
    assert "beacon.track(" in browser.code
    assert SECRET not in browser.code


def test_the_browser_snippet_is_the_same_with_or_without_a_secret_key():
    assert snippets(secret_key=None)["browser"] == snippets()["browser"]


def test_curl_posts_to_the_native_track_endpoint_with_the_environment():
    curl = snippets()["curl"]
    assert curl.language == "shell"
    assert f"'{HOST}/track'" in curl.code
    assert f"-H 'X-API-Key: {WRITE_KEY}'" in curl.code
    for field in ('"environment": "staging"', '"event": ', '"properties": ', '"distinct_id": '):
        assert field in curl.code


@pytest.mark.parametrize(
    ("slug", "host_option"),
    [
        # The option each SDK uses to change its host, as WIRE.md documents it.
        ("segment-python", f'analytics.host = "{HOST}"'),
        ("segment-node", f'host: "{HOST}"'),
        ("rudderstack-python", f'rudder_analytics.dataPlaneUrl = "{HOST}"'),
        ("posthog-python", f'host="{HOST}"'),
        ("posthog-node", f'{{ host: "{HOST}" }}'),
        ("altertable-python", f'server_url="{HOST}"'),
    ],
)
def test_each_server_sdk_uses_its_documented_host_option(slug, host_option):
    assert host_option in snippets()[slug].code


@pytest.mark.parametrize(
    ("slug", "key_option"),
    [
        ("segment-python", f'analytics.write_key = "{WRITE_KEY}"'),
        ("segment-node", f'writeKey: "{WRITE_KEY}"'),
        ("rudderstack-python", f'rudder_analytics.write_key = "{WRITE_KEY}"'),
        ("posthog-python", f'Posthog("{WRITE_KEY}"'),
        ("posthog-node", f'new PostHog("{WRITE_KEY}"'),
        ("altertable-python", f'Altertable("{WRITE_KEY}"'),
    ],
)
def test_each_server_sdk_is_given_the_write_key(slug, key_option):
    assert key_option in snippets()[slug].code


@pytest.mark.parametrize(
    ("slug", "install"),
    [
        ("segment-python", "pip install segment-analytics-python"),
        ("segment-node", "npm install @segment/analytics-node"),
        ("rudderstack-python", "pip install rudder-sdk-python"),
        ("posthog-python", "pip install posthog"),
        ("posthog-node", "npm install posthog-node"),
        ("altertable-python", "pip install altertable"),
    ],
)
def test_server_sdk_notes_give_the_install_command(slug, install):
    assert install in snippets()[slug].note


def test_sdks_without_an_environment_field_say_which_environment_the_key_routes_to():
    built = snippets()
    for slug in ("segment-python", "segment-node", "rudderstack-python", "posthog-python", "posthog-node"):
        assert "environment" not in built[slug].code, slug
        assert f"bound to {ENVIRONMENT}" in built[slug].note, slug
    # Altertable sends an environment field on every call: the snippet sets it.
    assert f'environment="{ENVIRONMENT}"' in built["altertable-python"].code


def test_python_snippets_are_valid_python():
    for snippet in snippets().values():
        if snippet.language == "python":
            ast.parse(snippet.code)


def test_a_trailing_slash_on_the_host_is_dropped():
    built = snippets(host=HOST + "/")
    assert f"'{HOST}/track'" in built["curl"].code
    assert HOST + "//" not in "".join(snippet.code for snippet in built.values())


def test_local_hosts_with_a_port_work():
    built = snippets(host="http://127.0.0.1:8000")
    assert 'analytics.host = "http://127.0.0.1:8000"' in built["segment-python"].code


@pytest.mark.parametrize(
    "write_key",
    ["", "key with space", 'key"quote', "key'quote", "key\n", "key;rm", "ключ", "key</script>", None],
)
def test_an_unsafe_write_key_is_refused(write_key):
    with pytest.raises(ValueError):
        build_snippets(host=HOST, write_key=write_key, secret_key=None, environment=ENVIRONMENT)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "beacon.example.com",
        "ftp://beacon.example.com",
        "javascript:alert(1)",
        "https://",
        'https://beacon.example.com"; alert(1); "',
        "https://beacon.example.com'",
        "https://beacon.example.com/ x",
        "https://beacon.example.com\n",
        "https://beacon.example.com?x=1",
        "https://user:pw@beacon.example.com",
        None,
    ],
)
def test_an_unsafe_host_is_refused(host):
    with pytest.raises(ValueError):
        build_snippets(host=host, write_key=WRITE_KEY, secret_key=None, environment=ENVIRONMENT)


@pytest.mark.parametrize("environment", ["", "prod uction", 'prod"', "prod'", "prod\n"])
def test_an_unsafe_environment_is_refused(environment):
    with pytest.raises(ValueError):
        build_snippets(host=HOST, write_key=WRITE_KEY, secret_key=None, environment=environment)


def test_the_secret_key_passed_as_the_write_key_is_refused():
    with pytest.raises(ValueError):
        build_snippets(host=HOST, write_key=SECRET, secret_key=SECRET, environment=ENVIRONMENT)


def test_the_template_shows_every_snippet_escaped_with_a_copy_button():
    built = list(snippets().values())
    html = render_to_string("projects/_snippets.html", {"snippets": built})
    for snippet in built:
        assert (
            f'<button type="button" class="copy" data-copy-target="snippet-{snippet.slug}">Copy</button>'
            in html
        )
        assert f'id="snippet-{snippet.slug}"' in html
        assert snippet.title in html
    # The browser snippet is HTML: it must be shown as text, never run on our page.
    assert "&lt;script src=&quot;https://beacon.example.com/sdk/beacon.min.js&quot;" in html
    assert f'<script src="{HOST}' not in html
    assert SECRET not in html


def test_the_template_has_no_inline_script_and_loads_copy_js():
    html = render_to_string("projects/_snippets.html", {"snippets": list(snippets().values())})
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts == [""], "only the external copy.js: the CSP allows no inline scripts"
    assert re.search(r'<script src="/static/js/copy\.js" defer></script>', html)
    assert " onclick=" not in html
