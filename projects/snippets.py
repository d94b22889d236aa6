"""Copy-paste snippets that point each supported SDK at Beacon, shown after an API key is created.

Every snippet uses the WRITE key: the browser one must (it ships to every visitor), and the server
SDKs only send events, which a write key may do. The secret key is never put in a snippet; the
parameter is kept so that a later query-API example can use it.

The option each SDK uses to change its host, and where it carries the key, come from the captured
requests in WIRE.md and were checked against the real packages (segment-analytics-python 2.4.0,
@segment/analytics-node 3.1.0, rudder-sdk-python 2.1.9, posthog 7.91.1, posthog-node 5.70.0,
altertable 0.2.0):

- Segment python: ``analytics.host``; Basic auth + ``writeKey`` in the body; POST /v1/batch.
- Segment node: ``new Analytics({writeKey, host})``; same wire format.
- RudderStack python: ``rudder_analytics.dataPlaneUrl``; Basic auth; POST /v1/batch (gzip).
- PostHog python / node: ``host``; ``api_key`` in the body; POST /batch/.
- Altertable python: ``server_url=``; ``X-API-Key``; POST /track with an ``environment`` field.

Only Altertable (and our own API and browser SDK) carry an ``environment``; the Segment, RudderStack
and PostHog formats have no such field, and the key alone routes their events to its environment.

Values are inserted verbatim into code, so they are validated first: a key or environment is a
plain token and the host a bare http(s) URL, which cannot close a string or a shell quote.
"""

import re
from dataclasses import dataclass
from string import Template

_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
# scheme, host name / IPv4 / [IPv6], optional port, optional path prefix (no query, quotes or spaces).
_HOST = re.compile(r"https?://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~\-/]*)?")


@dataclass(frozen=True)
class Snippet:
    slug: str
    title: str
    language: str  # "html", "shell", "javascript", "python"
    code: str
    note: str = ""


def _validated(*, host: str, write_key: str, secret_key: str | None, environment: str) -> str:
    if not isinstance(write_key, str) or not _TOKEN.fullmatch(write_key):
        raise ValueError("write_key must be letters, digits, '_' and '-' only")
    if not isinstance(environment, str) or not _TOKEN.fullmatch(environment):
        raise ValueError("environment must be letters, digits, '_' and '-' only")
    if secret_key is not None and secret_key == write_key:
        raise ValueError("write_key is the secret key: snippets only ever show the write key")
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ValueError("host must start with http:// or https://")
    host = host.rstrip("/")
    if not _HOST.fullmatch(host):
        raise ValueError("host must be a plain http(s) base URL, like https://beacon.example.com")
    return host


# Templates use string.Template's $names, so the braces of JS, JSON and Python dicts stay literal.
_BROWSER = """\
<script src="$host/sdk/beacon.min.js" defer></script>
<script>
  document.addEventListener("DOMContentLoaded", function () {
    beacon.init("$write_key", { host: "$host", environment: "$environment" });
    beacon.track("Signed Up", { plan: "pro" });
    // once the user is known: beacon.identify("user_123", { email: "jane@example.com" });
  });
</script>
"""

_CURL = """\
curl -X POST '$host/track' \\
  -H 'X-API-Key: $write_key' \\
  -H 'Content-Type: application/json' \\
  -d '{"environment": "$environment", "event": "Signed Up", "properties": {"plan": "pro"}, "distinct_id": "user_123"}'
"""

_CURL_BATCH = """\
curl -X POST '$host/v1/batch' \\
  -u '$write_key:' \\
  -H 'Content-Type: application/json' \\
  -d '{"batch": [{"type": "track", "event": "Signed Up", "userId": "user_123", "properties": {"plan": "pro"}},
                {"type": "identify", "userId": "user_123", "traits": {"email": "jane@example.com"}}]}'
"""

_SEGMENT_PYTHON = """\
import segment.analytics as analytics

analytics.write_key = "$write_key"
analytics.host = "$host"

analytics.track("user_123", "Signed Up", {"plan": "pro"})
analytics.identify("user_123", {"email": "jane@example.com"})

analytics.flush()  # events are sent in the background; flush before a script exits
"""

_SEGMENT_NODE = """\
const { Analytics } = require("@segment/analytics-node");

const analytics = new Analytics({ writeKey: "$write_key", host: "$host" });

analytics.track({ userId: "user_123", event: "Signed Up", properties: { plan: "pro" } });
analytics.identify({ userId: "user_123", traits: { email: "jane@example.com" } });

// events are sent in the background; flush before the process exits
analytics.closeAndFlush();
"""

_RUDDERSTACK_PYTHON = """\
import rudderstack.analytics as rudder_analytics

rudder_analytics.write_key = "$write_key"
rudder_analytics.dataPlaneUrl = "$host"

rudder_analytics.track("user_123", "Signed Up", {"plan": "pro"})
rudder_analytics.identify("user_123", {"email": "jane@example.com"})

rudder_analytics.flush()  # events are sent in the background; flush before a script exits
"""

_POSTHOG_PYTHON = """\
from posthog import Posthog

posthog = Posthog("$write_key", host="$host")

posthog.capture("Signed Up", distinct_id="user_123", properties={"plan": "pro"})
posthog.set(distinct_id="user_123", properties={"email": "jane@example.com"})

posthog.shutdown()  # events are sent in the background; flush before a script exits
"""

_POSTHOG_NODE = """\
const { PostHog } = require("posthog-node");

const posthog = new PostHog("$write_key", { host: "$host" });

posthog.capture({ distinctId: "user_123", event: "Signed Up", properties: { plan: "pro" } });
posthog.identify({ distinctId: "user_123", properties: { email: "jane@example.com" } });

// events are sent in the background; flush before the process exits
posthog.shutdown();
"""

_ALTERTABLE_PYTHON = """\
from altertable import Altertable

client = Altertable("$write_key", server_url="$host", environment="$environment")

client.track("Signed Up", "user_123", {"properties": {"plan": "pro"}})
client.identify("user_123", {"traits": {"email": "jane@example.com"}})
"""


def build_snippets(*, host: str, write_key: str, secret_key: str | None, environment: str) -> list[Snippet]:
    """The snippets for one key, in the order a project page shows them. Raises ValueError on bad input."""
    host = _validated(host=host, write_key=write_key, secret_key=secret_key, environment=environment)
    values = {"host": host, "write_key": write_key, "environment": environment}

    def code(template: str) -> str:
        return Template(template).substitute(values)

    bound = f"the key is bound to {environment} (this format has no environment field)"
    return [
        Snippet(
            slug="browser",
            title="Browser (beacon.js)",
            language="html",
            code=code(_BROWSER),
            note=f"Paste into your pages' HTML. Uses the public write key of {environment}; never put a secret key in a web page.",
        ),
        Snippet(
            slug="curl",
            title="curl (Beacon API)",
            language="shell",
            code=code(_CURL),
            note=f"POST {host}/track with the key in X-API-Key; environment must be {environment}, the key's own.",
        ),
        Snippet(
            slug="curl-batch",
            title="curl (Segment-compatible batch)",
            language="shell",
            code=code(_CURL_BATCH),
            note=f"POST {host}/v1/batch with the key as the Basic auth user; {bound}.",
        ),
        Snippet(
            slug="segment-python",
            title="Segment Python (segment-analytics-python)",
            language="python",
            code=code(_SEGMENT_PYTHON),
            note=f"pip install segment-analytics-python · sends POST {host}/v1/batch · {bound}.",
        ),
        Snippet(
            slug="segment-node",
            title="Segment Node.js (@segment/analytics-node)",
            language="javascript",
            code=code(_SEGMENT_NODE),
            note=f"npm install @segment/analytics-node · sends POST {host}/v1/batch · {bound}.",
        ),
        Snippet(
            slug="rudderstack-python",
            title="RudderStack Python (rudder-sdk-python)",
            language="python",
            code=code(_RUDDERSTACK_PYTHON),
            note=f"pip install rudder-sdk-python · sends POST {host}/v1/batch · {bound}.",
        ),
        Snippet(
            slug="posthog-python",
            title="PostHog Python (posthog)",
            language="python",
            code=code(_POSTHOG_PYTHON),
            note=f"pip install posthog · sends POST {host}/batch/ · {bound}.",
        ),
        Snippet(
            slug="posthog-node",
            title="PostHog Node.js (posthog-node)",
            language="javascript",
            code=code(_POSTHOG_NODE),
            note=f"npm install posthog-node · sends POST {host}/batch/ · {bound}.",
        ),
        Snippet(
            slug="altertable-python",
            title="Altertable Python (altertable)",
            language="python",
            code=code(_ALTERTABLE_PYTHON),
            note=f"pip install altertable · sends POST {host}/track with X-API-Key · environment must be {environment}, the key's own.",
        ),
    ]
