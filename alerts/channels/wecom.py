"""WeCom (企业微信) group robots: https://developer.work.weixin.qq.com/document/path/91770

A markdown message POSTed to the robot's webhook URL (the `key` parameter is the credential).
WeCom answers HTTP 200 with {"errcode": 0, "errmsg": "ok"}; any other errcode is an error.
"""

from urllib.parse import parse_qs, urlsplit

from django import forms

from alerts.channels.base import (
    Message,
    check_errcode,
    host_of,
    json_body,
    post_json,
    truncate_utf8,
    validate_service_url,
)

HOST = "qyapi.weixin.qq.com"
EXAMPLE = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
SECRET_FIELDS = ("url",)
MAX_CONTENT_BYTES = 4096  # WeCom rejects longer markdown content
TRANSIENT_CODES = frozenset({-1, 45009})  # system busy; over the limit of 20 messages a minute
HINTS = {
    93000: "the webhook URL is invalid: the robot was removed from the group or the key is wrong",
    40008: "invalid message type",
    45009: "the robot sends more than 20 messages a minute",
    -1: "WeCom is busy",
}
HOW_TO_FIX = (
    "WeCom refused the message. If the robot was removed from the group, add a robot again "
    "(group settings → Group robots → Add), copy its webhook URL into this channel and enable it again."
)
COLORS = {"alert.resolved": "info", "test": "comment"}  # WeCom's three colors: info, comment, warning


class ConfigForm(forms.Form):
    url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.PasswordInput(attrs={"placeholder": EXAMPLE, "autocomplete": "off"}),
        help_text="In the WeCom group: Group robots → Add robot → copy the webhook URL (with key=).",
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        validate_service_url(url, host=HOST, path="/cgi-bin/webhook/send", query_param="key", example=EXAMPLE)
        return url


def describe(config: dict) -> str:
    url = str(config.get("url", ""))
    key = parse_qs(urlsplit(url).query).get("key", [""])[0]
    return f"{host_of(url) or 'no URL'} robot …{key[-4:]}"


def render(message: Message) -> dict:
    color = COLORS.get(message.type, "warning")
    head = f'<font color="{color}">**{message.label}: {message.title}**</font>\n> {message.where}\n\n'
    details = "".join(
        f'\n> {label}: <font color="comment">{value}</font>' for label, value in message.details
    )
    tail = "".join(f"\n[View {name}]({url})" for name, url in message.links.items())
    # TRICKY: truncate only the middle, so the <font> tag is never cut open and the links survive.
    room = MAX_CONTENT_BYTES - len(head.encode()) - len(tail.encode())
    body = truncate_utf8(message.summary + "\n" + details, max(room, 0), ellipsis="…\n")
    return {
        "msgtype": "markdown",
        "markdown": {"content": truncate_utf8(head + body + tail, MAX_CONTENT_BYTES)},
    }


def send(config: dict, message: Message) -> int:
    response = post_json(config["url"], json_body(render(message)))
    check_errcode(response, service="WeCom", transient=TRANSIENT_CODES, hints=HINTS)
    return response.status
