"""Event times: ISO 8601 or unix numbers, clock-skew correction, and a clamp on the far future."""

from datetime import UTC, datetime, timedelta

MILLISECONDS_ABOVE = 1e11  # 1e11 s is year 5138; 1e11 ms is 1973
FUTURE_LIMIT = timedelta(hours=24)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def parse_timestamp(value) -> datetime:
    """A timezone-aware datetime, or ValueError saying what was wrong."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > MILLISECONDS_ABOVE else value
        try:
            parsed = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is out of range for a unix time") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_timestamp(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time or a unix time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # no offset: read as UTC, as Segment does
    else:
        raise ValueError(f"a timestamp must be a string or a number, not {type(value).__name__}")
    if parsed < EARLIEST:
        raise ValueError(f"{value!r} is before 1990: is it in the right unit?")
    return parsed


def event_time(timestamp, *, sent_at, received_at: datetime) -> tuple[datetime, bool, float | None]:
    """(corrected time, clamped?, skew in seconds).

    Segment's and PostHog's rule: the device clock may be wrong, but the gap between an event's
    ``timestamp`` and the request's ``sentAt`` was measured on that same clock, so the event happened
    at ``received_at - (sent_at - timestamp)``. Without ``sent_at`` the timestamp is taken as is.
    """
    if timestamp is None:
        return received_at, False, None
    time = parse_timestamp(timestamp)
    skew = None
    if sent_at is not None:
        sent = parse_timestamp(sent_at)
        skew = (received_at - sent).total_seconds()
        time = received_at - (sent - time)
    if time - received_at > FUTURE_LIMIT:
        return received_at, True, skew
    return time, False, skew
