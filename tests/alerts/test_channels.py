"""Channel kinds: exact payloads on the wire, config validation, the transport and the SSRF guard."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from alerts import channels
from alerts.channels import base, dingtalk, slack, webhook, wecom
from alerts.channels.base import Message, PermanentError, TransientError
from alerts.models import ChannelKind
from tests.alerts import http_server as stub
from tests.alerts.http_server import Reply

# The stub server's fixtures, used by name below (aliases, so no import is shadowed).
http_server = stub.http_server
private_urls_allowed = stub.private_urls_allowed

MESSAGE = Message(
    type="alert.fired",
    title="Checkout volume low is firing",
    summary="12 `checkout` events in the last 15 min, below the threshold of 50.",
    severity="critical",
    project={"id": 7, "slug": "shop", "name": "Shop"},
    environment="production",
    details=(("Rule", "Checkout volume low (Volume below)"), ("Severity", "Critical")),
    links={
        "chart": "https://beacon.example/p/shop/alerts/rules/3/",
        "alert": "https://beacon.example/p/shop/alerts/history/9/",
    },
    rule={"id": 3, "name": "Checkout volume low", "kind": "volume_below"},
    alert={"id": 9, "state": "firing", "severity": "critical", "value": 12.0, "threshold": 50.0},
)
SLACK_PATH = "/services/T000/B000/XXXXSECRETXXXX"


@pytest.fixture(autouse=True)
def _private_urls_refused(settings):
    """The production default, whatever the environment says; tests opt in with private_urls_allowed."""
    settings.ALERTS_ALLOW_PRIVATE_URLS = False


# --- Slack ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_posts_slack_blocks_with_a_fallback_text_and_link_buttons(http_server):
    http_server.respond(SLACK_PATH, Reply(200, "ok"))

    status = slack.send({"url": http_server.url(SLACK_PATH)}, MESSAGE)

    assert status == 200
    [request] = http_server.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "text": "[Critical] Checkout volume low is firing (Shop / production): "
        "12 `checkout` events in the last 15 min, below the threshold of 50.",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":red_circle: *Critical: Checkout volume low is firing*\n"
                    "12 `checkout` events in the last 15 min, below the threshold of 50.",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Shop / production · Rule: Checkout volume low (Volume below) · Severity: Critical",
                    }
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View chart"},
                        "url": "https://beacon.example/p/shop/alerts/rules/3/",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View alert"},
                        "url": "https://beacon.example/p/shop/alerts/history/9/",
                    },
                ],
            },
        ],
    }


def test_it_escapes_slack_control_characters():
    message = Message(**{**MESSAGE.__dict__, "summary": "a <b> & c"})
    rendered = slack.render(message)
    assert "a &lt;b&gt; &amp; c" in rendered["blocks"][0]["text"]["text"]
    assert rendered["text"].endswith(": a &lt;b&gt; &amp; c")  # the fallback text is mrkdwn too


@pytest.mark.usefixtures("private_urls_allowed")
@pytest.mark.parametrize(
    "status,body", [(404, "no_service"), (403, "invalid_token"), (410, "channel_is_archived")]
)
def test_it_treats_slacks_gone_webhooks_as_permanent_without_leaking_the_url(http_server, status, body):
    http_server.respond(SLACK_PATH, Reply(status, body))

    with pytest.raises(PermanentError) as caught:
        slack.send({"url": http_server.url(SLACK_PATH)}, MESSAGE)

    assert caught.value.status == status
    assert str(caught.value) == f"HTTP {status} from 127.0.0.1/…: {body}"


# --- Generic webhook -----------------------------------------------------------------------------


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_signs_the_webhook_body_so_a_receiver_can_verify_it_with_hmac_alone(http_server):
    http_server.respond("/hook", Reply(204, b""))
    secret = "whsec-documented-secret-123"

    status = webhook.send({"url": http_server.url("/hook"), "secret": secret}, MESSAGE)

    assert status == 204
    [request] = http_server.requests
    timestamp = request.headers["x-beacon-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    # What a receiver does, with the standard library only:
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-beacon-signature"], f"sha256={expected}")
    assert request.headers["x-beacon-event"] == "alert.fired"
    assert request.json() == {
        "type": "alert.fired",
        "title": "[Critical] Checkout volume low is firing (Shop / production)",
        "text": "12 `checkout` events in the last 15 min, below the threshold of 50.",
        "project": {"id": 7, "slug": "shop", "name": "Shop"},
        "environment": "production",
        "rule": {"id": 3, "name": "Checkout volume low", "kind": "volume_below"},
        "alert": {"id": 9, "state": "firing", "severity": "critical", "value": 12.0, "threshold": 50.0},
        "links": MESSAGE.links,
    }
    assert webhook.verify_signature(secret, timestamp, request.body, request.headers["x-beacon-signature"])


def test_it_rejects_a_tampered_body_a_wrong_secret_and_a_stale_timestamp():
    body, secret, now = b'{"type":"test"}', "s" * 32, 1_700_000_000
    header = webhook.sign(secret, now, body)

    assert webhook.verify_signature(secret, str(now), body, header, now=now + 299)
    assert webhook.verify_signature(secret, str(now), body, f"sha256=old, {header}", now=now)
    assert not webhook.verify_signature(secret, str(now), body + b" ", header, now=now)
    assert not webhook.verify_signature("x" * 32, str(now), body, header, now=now)
    assert not webhook.verify_signature(secret, str(now), body, header, now=now + 301)
    assert not webhook.verify_signature(secret, "yesterday", body, header, now=now)
    assert not webhook.verify_signature(secret, str(now), body, "", now=now)


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_generates_a_webhook_secret_when_the_form_leaves_it_blank():
    config = channels.clean_config("webhook", {"url": "http://127.0.0.1:9/hook", "secret": ""})

    assert len(config["secret"]) >= 40
    assert config != channels.clean_config("webhook", {"url": "http://127.0.0.1:9/hook"})


# --- WeCom ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_posts_wecom_markdown_to_the_robot_url(http_server):
    http_server.respond("/cgi-bin/webhook/send", Reply(200, {"errcode": 0, "errmsg": "ok"}))

    wecom.send({"url": http_server.url("/cgi-bin/webhook/send?key=robot-key-1")}, MESSAGE)

    [request] = http_server.requests
    assert request.query == {"key": "robot-key-1"}
    assert request.json() == {
        "msgtype": "markdown",
        "markdown": {
            "content": '<font color="warning">**Critical: Checkout volume low is firing**</font>\n'
            "> Shop / production\n\n"
            "12 `checkout` events in the last 15 min, below the threshold of 50.\n"
            '\n> Rule: <font color="comment">Checkout volume low (Volume below)</font>'
            '\n> Severity: <font color="comment">Critical</font>'
            "\n[View chart](https://beacon.example/p/shop/alerts/rules/3/)"
            "\n[View alert](https://beacon.example/p/shop/alerts/history/9/)"
        },
    }


def test_it_truncates_wecom_content_to_4096_bytes_keeping_tags_and_links():
    message = Message(**{**MESSAGE.__dict__, "summary": "事件" * 3000})

    content = wecom.render(message)["markdown"]["content"]

    assert len(content.encode()) <= 4096
    assert content.startswith('<font color="warning">**Critical')
    assert content.endswith("[View alert](https://beacon.example/p/shop/alerts/history/9/)")
    content.encode().decode()  # still valid UTF-8: no character cut in half


@pytest.mark.usefixtures("private_urls_allowed")
@pytest.mark.parametrize(
    "errcode,error_class",
    [(93000, PermanentError), (40008, PermanentError), (45009, TransientError), (-1, TransientError)],
)
def test_it_reads_wecoms_errcode_on_http_200(http_server, errcode, error_class):
    http_server.respond("/cgi-bin/webhook/send", Reply(200, {"errcode": errcode, "errmsg": "nope"}))

    with pytest.raises(error_class, match=f"WeCom error {errcode}: nope"):
        wecom.send({"url": http_server.url("/cgi-bin/webhook/send?key=k")}, MESSAGE)


# --- DingTalk ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_signs_the_dingtalk_request_with_the_robots_secret(http_server):
    http_server.respond("/robot/send", Reply(200, {"errcode": 0, "errmsg": "ok"}))
    secret = "SEC0123456789abcdef"

    dingtalk.send({"url": http_server.url("/robot/send?access_token=tok123"), "secret": secret}, MESSAGE)

    [request] = http_server.requests
    assert request.query["access_token"] == "tok123"
    timestamp = request.query["timestamp"]
    assert abs(int(timestamp) / 1000 - time.time()) < 5
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert request.query["sign"] == base64.b64encode(digest).decode()  # parse_qs undid the urlencoding
    assert request.json() == {
        "msgtype": "markdown",
        "markdown": {
            "title": "[Critical] Checkout volume low is firing (Shop / production)",
            "text": "#### Critical: Checkout volume low is firing\n\n**Shop / production**\n\n"
            "12 `checkout` events in the last 15 min, below the threshold of 50.\n\n"
            "- Rule: Checkout volume low (Volume below)\n- Severity: Critical\n"
            "\n[View chart](https://beacon.example/p/shop/alerts/rules/3/) · "
            "[View alert](https://beacon.example/p/shop/alerts/history/9/)\n\n###### Sent by Beacon",
        },
    }


def test_it_url_encodes_the_dingtalk_sign_exactly_once():
    url = dingtalk.signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECx", 1700000000000)
    sign = dingtalk.sign("SECx", 1700000000000)

    assert url.endswith("&sign=" + sign.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"))
    assert url.startswith("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&")


@pytest.mark.usefixtures("private_urls_allowed")
@pytest.mark.parametrize(
    "errcode,error_class",
    [(310000, PermanentError), (300001, PermanentError), (400102, PermanentError), (130101, TransientError)],
)
def test_it_reads_dingtalks_errcode_on_http_200(http_server, errcode, error_class):
    http_server.respond("/robot/send", Reply(200, {"errcode": errcode, "errmsg": "refused"}))

    with pytest.raises(error_class) as caught:
        dingtalk.send(
            {"url": http_server.url("/robot/send?access_token=tok123"), "secret": "SECabc"}, MESSAGE
        )

    assert str(caught.value).startswith(f"DingTalk error {errcode}: refused")
    assert "tok123" not in str(caught.value) and "SECabc" not in str(caught.value)


# --- Config validation ---------------------------------------------------------------------------


def errors_of(kind, data, **kw) -> dict:
    with pytest.raises(ValidationError) as caught:
        channels.clean_config(kind, data, **kw)
    return caught.value.message_dict


def test_it_maps_every_channel_kind_to_a_module_with_the_whole_contract():
    assert set(channels.KINDS) == set(ChannelKind.values)
    for module in channels.KINDS.values():
        for name in ("ConfigForm", "SECRET_FIELDS", "HOW_TO_FIX", "describe", "render", "send"):
            assert hasattr(module, name), f"{module.__name__} has no {name}"


def test_it_accepts_real_service_urls_without_resolving_them():
    assert channels.clean_config("slack", {"url": "https://hooks.slack.com/services/T0/B0/abc"}) == {
        "url": "https://hooks.slack.com/services/T0/B0/abc"
    }
    wecom_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123"
    assert channels.clean_config("wecom", {"url": wecom_url}) == {"url": wecom_url}
    ding = {"url": "https://oapi.dingtalk.com/robot/send?access_token=abc", "secret": "SECabc"}
    assert channels.clean_config("dingtalk", ding) == ding


@pytest.mark.parametrize(
    "kind,data,field,fragment",
    [
        (
            "slack",
            {"url": "https://example.com/services/x"},
            "url",
            "must start with https://hooks.slack.com/",
        ),
        (
            "slack",
            {"url": "http://hooks.slack.com/services/x"},
            "url",
            "must start with https://hooks.slack.com/",
        ),
        ("slack", {"url": "https://hooks.slack.com/other"}, "url", "path must start with /services/"),
        ("slack", {}, "url", "This field is required."),
        ("wecom", {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "url", "no key= parameter"),
        (
            "dingtalk",
            {"url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "abc"},
            "secret",
            "starts with SEC",
        ),
        (
            "dingtalk",
            {"url": "https://oapi.dingtalk.com/robot/send", "secret": "SEC1"},
            "url",
            "no access_token=",
        ),
        (
            "email",
            {"addresses": "ops@example.com, not-an-address"},
            "addresses",
            "“not-an-address” is not an email",
        ),
        ("email", {"addresses": ""}, "addresses", "This field is required."),
        ("webhook", {"url": "https://example.com/x", "secret": "short"}, "secret", "at least 16 characters"),
        ("webhook", {"url": "ftp://example.com/x"}, "url", "Only http:// and https:// URLs"),
        ("pager", {}, "kind", "Unknown channel kind “pager”: use one of email, slack"),
    ],
)
def test_it_explains_what_is_wrong_with_a_config(kind, data, field, fragment):
    errors = errors_of(kind, data)

    assert fragment in " ".join(errors[field])


def test_it_accepts_addresses_as_a_list_or_as_lines_of_a_form_post():
    posted = QueryDict(mutable=True)
    posted["addresses"] = "a@example.com\nb@example.com; a@example.com"

    assert channels.clean_config("email", posted) == {"addresses": ["a@example.com", "b@example.com"]}
    assert channels.clean_config("email", {"addresses": ["c@example.com"]}) == {
        "addresses": ["c@example.com"]
    }


def test_it_keeps_a_secret_left_blank_when_editing():
    previous = {"url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "SECold"}

    config = channels.clean_config("dingtalk", {"url": previous["url"], "secret": ""}, previous=previous)

    assert config["secret"] == "SECold"


def test_it_renders_secret_fields_as_password_inputs():
    for module in channels.KINDS.values():
        form = module.ConfigForm()
        for name in module.SECRET_FIELDS:
            assert 'type="password"' in str(form[name]), f"{module.__name__}.{name}"


def test_it_describes_and_masks_configs_without_their_secrets():
    slack_config = {"url": "https://hooks.slack.com/services/T0/B0/abcdefghWXYZ"}
    ding_config = {"url": "https://oapi.dingtalk.com/robot/send?access_token=tok-9876", "secret": "SECsecret"}

    assert channels.describe("slack", slack_config) == "hooks.slack.com/…/WXYZ"
    assert channels.describe("dingtalk", ding_config) == "oapi.dingtalk.com robot …9876"
    assert channels.describe(
        "wecom", {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ab-1234"}
    ) == ("qyapi.weixin.qq.com robot …1234")
    assert channels.describe("webhook", {"url": "https://api.example.com/in?token=x", "secret": "s"}) == (
        "api.example.com/…"
    )
    assert channels.describe("email", {"addresses": ["a@x.io", "b@x.io", "c@x.io"]}) == "a@x.io and 2 more"
    assert channels.describe("email", {"addresses": 5}) == "invalid configuration"
    assert channels.masked_config("dingtalk", ding_config) == {"url": "••••", "secret": "••••"}
    assert (
        channels.redact("dingtalk", ding_config, "bad token tok-9876 for SECsecret")
        == "bad token •••• for ••••"
    )


# --- Transport and the SSRF guard ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_it_refuses_webhook_urls_that_reach_private_addresses(settings, url):
    settings.ALERTS_ALLOW_PRIVATE_URLS = False

    assert "private or reserved address" in " ".join(errors_of("webhook", {"url": url})["url"])
    with pytest.raises(PermanentError, match="refusing to send"):
        base.post_json(url, b"{}")


def test_it_sends_nothing_to_a_local_server_while_private_urls_are_refused(settings, http_server):
    settings.ALERTS_ALLOW_PRIVATE_URLS = False
    http_server.respond("/hook", Reply(200))

    with pytest.raises(PermanentError):
        webhook.send({"url": http_server.url("/hook"), "secret": "s" * 32}, MESSAGE)

    assert http_server.requests == []


def test_it_refuses_schemes_other_than_http():
    with pytest.raises(PermanentError, match="only http"):
        base.post_json("file:///etc/passwd", b"{}")


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_classifies_http_failures_and_keeps_retry_after(http_server):
    http_server.respond("/busy", Reply(503, "busy", {"Retry-After": "7"}))
    http_server.respond("/slow-down", Reply(429, "too many"))
    http_server.respond("/bad", Reply(400, "invalid_payload"))
    http_server.respond("/timeout", Reply(408, "request timeout"))
    http_server.respond("/too-early", Reply(425, "too early", {"Retry-After": "3"}))
    http_server.respond("/moved", Reply(302, "", {"Location": "http://127.0.0.1:9/elsewhere"}))

    with pytest.raises(TransientError) as busy:
        base.post_json(http_server.url("/busy"), b"{}")
    with pytest.raises(TransientError) as slow_down:
        base.post_json(http_server.url("/slow-down"), b"{}")
    with pytest.raises(PermanentError, match="HTTP 400 .*invalid_payload"):
        base.post_json(http_server.url("/bad"), b"{}")
    with pytest.raises(TransientError) as timeout:
        base.post_json(http_server.url("/timeout"), b"{}")
    with pytest.raises(TransientError) as too_early:
        base.post_json(http_server.url("/too-early"), b"{}")
    with pytest.raises(PermanentError, match="redirects are not followed"):
        base.post_json(http_server.url("/moved"), b"{}")

    assert (busy.value.status, busy.value.retry_after) == (503, 7.0)
    assert (slow_down.value.status, slow_down.value.retry_after) == (429, None)
    assert (timeout.value.status, too_early.value.status, too_early.value.retry_after) == (408, 425, 3.0)
    assert [request.path for request in http_server.requests] == [
        "/busy",
        "/slow-down",
        "/bad",
        "/timeout",
        "/too-early",
        "/moved",
    ]


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_treats_timeouts_and_refused_connections_as_transient(http_server):
    http_server.respond("/sleepy", Reply(200, delay=1.0))

    with pytest.raises(TransientError, match="timed out"):
        base.post_json(http_server.url("/sleepy"), b"{}", timeout=0.2)
    with pytest.raises(TransientError, match="could not connect to 127.0.0.1"):
        base.post_json("http://127.0.0.1:9/closed", b"{}")


def test_it_knows_public_from_private_addresses():
    assert base.is_public_address("8.8.8.8")
    assert base.is_public_address("2606:4700:4700::1111")
    assert base.is_public_address("64:ff9b::808:808")  # NAT64 of 8.8.8.8
    assert base.is_public_address("2002:808:808::1")  # 6to4 of 8.8.8.8
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.1.1",
        "::1",
        "fe80::1%eth0",
        "224.0.0.1",
    ):
        assert not base.is_public_address(address), address


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 (well-known prefix) of 169.254.169.254, the metadata service
        "64:ff9b:1::a9fe:a9fe",  # NAT64 (local-use prefix) of 169.254.169.254
        "64:ff9b:1:a9fe:a9:fe00::",  # the local-use prefix with the IPv4 address at another offset
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2001:0:808:808::80ff:fffe",  # Teredo: public server, client 127.0.0.1
        "2001:0:a9fe:a9fe::f7f7:f7f7",  # Teredo: server 169.254.169.254, public client
        "192.0.0.8",  # IETF protocol assignments, global on Python 3.11
        "fc00::1",  # unique local
        "ff0e::1",  # multicast, even global scope
        "3fff::1",  # documentation, outside 2000::/3's is_global on Python 3.11
        "100::1",  # discard-only
    ],
)
def test_it_refuses_ipv6_forms_that_carry_a_private_ipv4_address(address):
    assert not base.is_public_address(address)


def test_it_serializes_json_compactly_and_keeps_non_ascii_text():
    assert json.loads(base.json_body({"text": "告警"})) == {"text": "告警"}
    assert "告警".encode() in base.json_body({"text": "告警"})
