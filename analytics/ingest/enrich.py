"""Server-side enrichment: user agent, library, page, app version, IP, time. Builds the stored record."""

import re
import uuid
from datetime import datetime, timedelta
from functools import lru_cache

import orjson
from ua_parser import parse as parse_user_agent

from analytics.ingest.incoming import Incoming
from analytics.ingest.timestamps import event_time
from analytics.storage.base import EventRecord

_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS", "iPadOS"}
_DESKTOP_OS = {"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD", "Debian"}
_PRODUCT_TOKEN = re.compile(r"^([A-Za-z][\w.-]*)/(\d[\w.+-]*)")


@lru_cache(maxsize=4096)
def describe_user_agent(user_agent: str) -> dict:
    """Browser, OS, device type and bot flag from ua-parser (uap-core's maintained rules).

    Cached: a project's traffic comes from a few thousand distinct user agents at most.
    """
    parsed = parse_user_agent(user_agent)
    described: dict = {}
    if parsed.user_agent is not None and parsed.user_agent.family != "Other":
        described["browser"] = parsed.user_agent.family
        if parsed.user_agent.major:
            described["browser_version"] = ".".join(
                part for part in (parsed.user_agent.major, parsed.user_agent.minor) if part
            )
    if parsed.os is not None and parsed.os.family != "Other":
        described["os"] = parsed.os.family
        if parsed.os.major:
            described["os_version"] = ".".join(part for part in (parsed.os.major, parsed.os.minor) if part)
    device = parsed.device
    is_bot = device is not None and device.family == "Spider"
    described["is_bot"] = is_bot
    device_type = None
    if is_bot:
        device_type = "bot"
    elif device is not None and (
        "iPad" in device.family or "Tablet" in (device.brand or "") or "Tablet" in device.family
    ):
        device_type = "tablet"
    elif described.get("os") in _MOBILE_OS:
        device_type = "mobile"
    elif described.get("os") in _DESKTOP_OS:
        device_type = "desktop"
    if device_type:
        described["device_type"] = device_type
    return described


def library_from_user_agent(user_agent: str) -> tuple[str, str] | None:
    """`analytics-python/2.4.0` -> ("analytics-python", "2.4.0"), for SDKs that only say who they are there."""
    if user_agent.startswith("Mozilla/"):
        return None
    match = _PRODUCT_TOKEN.match(user_agent)
    return (match.group(1), match.group(2)) if match else None


def server_message_id(incoming: Incoming, raw_message: dict, project_id: int) -> str:
    """An id for a message that came without one.

    With a client timestamp, a retry of the same message is byte-for-byte the same message, so the id
    is derived from its content and the retry is deduplicated. Without one, two identical messages
    may well be two real events (two clicks), so each gets a random id.
    """
    if incoming.timestamp is None:
        return f"bcn-{uuid.uuid4()}"
    digest = uuid.uuid5(
        uuid.NAMESPACE_URL, f"{project_id}:" + orjson.dumps(raw_message, option=orjson.OPT_SORT_KEYS).decode()
    )
    return f"bcn-{digest}"


def build_record(
    incoming: Incoming,
    *,
    raw_message: dict,
    project_id: int,
    environment_id: int,
    received_at: datetime,
    envelope_sent_at,
    header_user_agent: str | None,
    request_ip: str | None,
    keep_ip: bool,
) -> EventRecord:
    """The stored event. Raises ValueError for a timestamp that cannot be read."""
    sent_at = incoming.sent_at if incoming.sent_at is not None else envelope_sent_at
    if incoming.timestamp is None and incoming.offset_ms is not None:
        time, clamped, skew = received_at - timedelta(milliseconds=incoming.offset_ms), False, None
    else:
        time, clamped, skew = event_time(incoming.timestamp, sent_at=sent_at, received_at=received_at)
    context: dict = dict(incoming.extra_context)
    library_name, library_version = incoming.library_name, incoming.library_version
    user_agent = incoming.user_agent or header_user_agent
    if (
        library_name is None
        and header_user_agent
        and (from_header := library_from_user_agent(header_user_agent))
    ):
        library_name, library_version = from_header
    if library_name:
        context["library"] = {"name": library_name, "version": library_version}
    if user_agent:
        context["user_agent"] = user_agent[:1000]
        context.update(describe_user_agent(user_agent[:1000]))
    if incoming.page:
        context["page"] = incoming.page
    if incoming.app_version:
        context["app_version"] = incoming.app_version
    properties = incoming.properties
    if keep_ip:
        ip = incoming.ip or request_ip
        if ip:
            context["ip"] = ip
    elif "$ip" in properties:
        properties = {key: value for key, value in properties.items() if key != "$ip"}
    if skew is not None and abs(skew) >= 1:
        context["clock_skew_seconds"] = round(skew, 3)
    if clamped:
        context["timestamp_clamped"] = True
        context["original_timestamp"] = str(incoming.timestamp)
    return EventRecord(
        time=time,
        received_at=received_at,
        project_id=project_id,
        environment_id=environment_id,
        event=incoming.event,
        message_id=incoming.message_id or server_message_id(incoming, raw_message, project_id),
        distinct_id=incoming.distinct_id,
        anonymous_id=incoming.anonymous_id,
        device_id=incoming.device_id,
        session_id=incoming.session_id,
        properties=properties,
        context=context,
    )
