"""What every channel shares: the message it renders, the two errors it raises, and the HTTP transport.

`post_json` is the one place Beacon talks HTTP to the outside world for alerts, so the SSRF guard
lives here too: unless private URLs are allowed, every connection goes only to addresses that were
checked to be public, after redirects are refused and proxies are ignored.
"""

import http.client
import ipaddress
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from alerts import conf

USER_AGENT = "Beacon-Alerts/1"
# A channel's reply is only read for its status and error code; never keep a huge body in memory.
MAX_RESPONSE_BYTES = 64 * 1024
# 4xx answers that say "try again", not "fix the channel": request timeout, too early, rate limit.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Message:
    """What one notification says, before a channel renders it in its own format."""

    type: str  # "alert.fired" | "alert.resolved" | "test"
    title: str  # "Checkout volume low is firing"
    summary: str  # the numbers in words: "12 `checkout` events in the last 15 min, below ..."
    severity: str  # "warning" | "critical"; "" for a test
    project: dict  # {"id", "slug", "name"}
    environment: str  # the environment's slug; "" for a test
    details: tuple[tuple[str, str], ...] = ()  # (label, value) lines: Rule, Window, Fired for ...
    links: dict = field(default_factory=dict)  # {"chart": absolute URL, "alert": absolute URL}
    rule: dict | None = None  # the webhook body's "rule"; None for a test
    alert: dict | None = None  # the webhook body's "alert"; None for a test

    @property
    def label(self) -> str:
        if self.type == "test":
            return "Test"
        if self.type == "alert.resolved":
            return "Resolved"
        return self.severity.capitalize() or "Alert"

    @property
    def where(self) -> str:
        name = self.project.get("name", "")
        return f"{name} / {self.environment}" if self.environment else name

    @property
    def subject(self) -> str:
        return f"[{self.label}] {self.title} ({self.where})"


def as_text(message: Message) -> str:
    """The plain-text rendering: email bodies and chat fallbacks."""
    lines = [message.subject, "", message.summary, ""]
    lines += [f"{label}: {value}" for label, value in message.details]
    if message.links:
        lines.append("")
        lines += [f"{name.capitalize()}: {url}" for name, url in message.links.items()]
    return "\n".join(lines).strip() + "\n"


class DeliveryError(Exception):
    """A send failed. The text is shown to users: no secrets, no URLs with tokens in it."""

    def __init__(self, text: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(text)
        self.status = status
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Try again later: network trouble, timeouts, 5xx, 408/425, rate limits."""


class PermanentError(DeliveryError):
    """Trying again will not help until someone changes the channel: the channel gets disabled."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> dict | None:
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


def json_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def host_of(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def redacted_url(url: str) -> str:
    """'https://hooks.slack.com/services/T/B/secret' -> 'hooks.slack.com/…': safe to log and show."""
    return f"{host_of(url) or 'unknown host'}/…"


def truncate_utf8(text: str, limit_bytes: int, ellipsis: str = "…") -> str:
    """At most `limit_bytes` of UTF-8, cut at a character boundary (CJK text is 3 bytes a char)."""
    encoded = text.encode()
    if len(encoded) <= limit_bytes:
        return text
    room = max(0, limit_bytes - len(ellipsis.encode()))
    return encoded[:room].decode(errors="ignore") + ellipsis


# --- The SSRF guard ---------------------------------------------------------------------------


# Python 3.11 counts these as global; newer Pythons do not, and none of them is a public host.
_NOT_PUBLIC_V4 = (ipaddress.ip_network("192.0.0.0/24"),)  # IETF protocol assignments (192.0.0.8, ...)
_NOT_PUBLIC_V6 = (ipaddress.ip_network("3fff::/20"),)  # documentation (RFC 9637)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d; also :: and ::1
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries and may be translated to; None when it carries none.

    TRICKY: a translator or relay turns these into plain IPv4 traffic, so 64:ff9b::a9fe:a9fe
    reaches 169.254.169.254 and 2002:7f00:1:: reaches 127.0.0.1: the IPv4 address decides.
    """
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client): the packets go to both
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE:
        return [low32]
    if ip in _NAT64_LOCAL:
        # The local-use prefix may embed the IPv4 address at other offsets (RFC 6052 /48../64):
        # only the /96 form, with the bits between /48 and /96 zero, says unambiguously where it is.
        if (int(ip) >> 32) & ((1 << 48) - 1):
            return [ipaddress.IPv4Address(0)]  # not public: refused
        return [low32]
    return None


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _NOT_PUBLIC_V4)


def is_public_address(address: str) -> bool:
    """True only for a public unicast address; False for loopback, private, link-local, shared (CGNAT),
    reserved, multicast, unspecified, and IPv6 forms that carry such an IPv4 address (NAT64, 6to4,
    Teredo, IPv4-mapped and -compatible). Other IPv6 must be global unicast (2000::/3)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # strip an IPv6 zone id
    if ip.version == 4:
        return _is_public_v4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return all(_is_public_v4(v4) for v4 in embedded)
    return (
        ip in _GLOBAL_UNICAST
        and ip.is_global
        and not ip.is_multicast
        and not any(ip in net for net in _NOT_PUBLIC_V6)
    )


def public_addresses(host: str, port: int) -> list[tuple]:
    """The address infos of `host`; PermanentError if any of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TransientError(f"could not resolve {host}: {error.strerror}") from error
    # TRICKY: refuse when *any* address is private, not only the first: the OS may pick another.
    for info in infos:
        if not is_public_address(info[4][0]):
            raise PermanentError(
                f"refusing to send to {host}: it resolves to a private or reserved address "
                f"({info[4][0]}); alert channels may only reach public internet addresses"
            )
    return infos


def check_url(url: str) -> None:
    """PermanentError unless the URL is http(s) and (private URLs not allowed) its host is public."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError("only http:// and https:// URLs with a host can receive alerts")
    if not conf.allow_private_urls():
        public_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def validate_public_url(url: str) -> None:
    """For config forms: the same check as at send time, as a ValidationError a user can act on."""
    try:
        check_url(url)
    except PermanentError as error:
        text = str(error)
        raise ValidationError(text[:1].upper() + text[1:] + ".", code="private_url") from error
    except TransientError as error:
        raise ValidationError(f"Check the host name: {error}.", code="unresolvable") from error


def validate_service_url(url: str, *, host: str, path: str, query_param: str | None, example: str) -> None:
    """A pasted robot/webhook URL of a known service: right host and path, carrying its token.

    With private URLs allowed (development, tests) any http(s) host is accepted, so a local
    receiver can stand in for the service; the path and token are still required.
    """
    parts = urllib.parse.urlsplit(url)
    if conf.allow_private_urls():
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"Enter the full URL, like {example}.", code="invalid_url")
    elif parts.scheme != "https" or (parts.hostname or "").lower() != host:
        raise ValidationError(f"The URL must start with https://{host}/, like {example}.", code="wrong_host")
    if not parts.path.startswith(path):
        raise ValidationError(f"The URL path must start with {path}, like {example}.", code="wrong_path")
    if query_param and not urllib.parse.parse_qs(parts.query).get(query_param, [""])[0].strip():
        raise ValidationError(
            f"The URL has no {query_param}= parameter: paste the whole URL, like {example}.",
            code="missing_token",
        )


def _guarded_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs):
    """socket.create_connection that only connects to the public addresses it checked itself.

    TRICKY: checking the URL and then letting urllib resolve the name again leaves a window for DNS
    rebinding (public at check time, 127.0.0.1 at connect time). Connecting to the checked IP closes
    it; TLS still verifies the certificate against the host name, which http.client passes on.
    """
    if conf.allow_private_urls():
        return socket.create_connection(address, timeout, source_address, **kwargs)
    host, port = address
    last_error: OSError | None = None
    for info in public_addresses(host, port):
        try:
            return socket.create_connection(info[4][:2], timeout, source_address)
        except OSError as error:
            last_error = error
    raise last_error or OSError(f"no address for {host}")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=ssl.create_default_context())


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; following it could also lead past the guard."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


# No ProxyHandler from the environment: a proxy would hide the real peer from the guard.
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirects, _GuardedHTTPHandler, _GuardedHTTPSHandler
)


# --- The transport ------------------------------------------------------------------------------


def post_json(url: str, body: bytes, headers: dict | None = None, timeout: float | None = None) -> Response:
    """POST a JSON body. Returns the 2xx response; raises TransientError or PermanentError otherwise."""
    check_url(url)
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(headers or {}),
    }.items():
        request.add_header(name, value)
    where = redacted_url(url)
    try:
        with _opener.open(request, timeout=timeout or conf.http_timeout()) as reply:
            return Response(reply.status, reply.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as error:
        raise _http_error(error, where) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, DeliveryError):
            raise error.reason from None
        raise TransientError(f"could not connect to {where}: {_reason(error.reason)}") from None
    except DeliveryError:
        raise
    except (TimeoutError, OSError, ValueError) as error:  # ValueError: http.client on a bad reply
        raise TransientError(f"request to {where} failed: {_reason(error)}") from None


def _reason(reason) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def _http_error(error: urllib.error.HTTPError, where: str) -> DeliveryError:
    status = error.code
    try:
        text = error.read(MAX_RESPONSE_BYTES).decode(errors="replace").strip()[:200]
    except OSError:
        text = ""
    text = f"HTTP {status} from {where}" + (f": {text}" if text else "")
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(text, status=status, retry_after=_retry_after(error.headers))
    if 300 <= status < 400:
        return PermanentError(text + " (redirects are not followed: use the final URL)", status=status)
    return PermanentError(text, status=status)


def _retry_after(headers) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for webhooks and ignored)."""
    value = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def check_errcode(
    response: Response, *, service: str, transient: frozenset[int], hints: dict[int, str]
) -> None:
    """WeCom and DingTalk answer HTTP 200 with {"errcode", "errmsg"}: a non-zero code is an error."""
    reply = response.json()
    if reply is None or "errcode" not in reply:
        raise TransientError(f"{service} answered HTTP {response.status} without an errcode")
    code = reply.get("errcode")
    if code == 0:
        return
    errmsg = str(reply.get("errmsg", ""))[:200]
    text = f"{service} error {code}: {errmsg}" + (f" ({hints[code]})" if code in hints else "")
    error_class = TransientError if code in transient else PermanentError
    raise error_class(text, status=response.status)
