"""Resolve a date range into UTC instants and buckets, in the project's time zone.

Buckets start on wall-clock boundaries of the project's zone (days at local midnight, weeks on
Monday), exactly as ``EventStore.time_bucket`` computes them in SQL. A named range (``7d``) starts
at the bucket holding ``now - 7 days`` and ends at the end of the bucket holding now, so every
bucket is whole and rollups and raw events cover the same instants.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from analytics.insights.definitions import (
    INTERVALS,
    MAX_BUCKETS,
    MAX_RANGE_DAYS,
    RANGES,
    DateRange,
    QueryError,
    _parse_moment,
)

_MONDAY = datetime(2000, 1, 3)  # the origin of week buckets, as in SQL


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    timezone: str
    interval: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> "Window":
        """The period just before, as long as this one (for comparisons)."""
        if self.interval == "week" or self.interval == "day":
            # Shift in wall-clock days so a DST change does not misalign the buckets.
            zone = ZoneInfo(self.timezone)
            local_start = self.start.astimezone(zone).replace(tzinfo=None)
            local_end = self.end.astimezone(zone).replace(tzinfo=None)
            days = round((local_end - local_start) / timedelta(days=1))
            start = _aware(local_start - timedelta(days=days), zone)
            return Window(start=start, end=self.start, timezone=self.timezone, interval=self.interval)
        return Window(
            start=self.start - self.duration, end=self.start, timezone=self.timezone, interval=self.interval
        )

    def buckets(self) -> list[datetime]:
        """Every bucket start (UTC) from start to end, stepping in wall-clock time."""
        zone = ZoneInfo(self.timezone)
        step = INTERVALS[self.interval]
        local = self.start.astimezone(zone).replace(tzinfo=None)
        result = []
        while True:
            moment = _aware(local, zone)
            if moment >= self.end:
                return result
            if not result or moment > result[-1]:
                result.append(moment)
            local += step


def _aware(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def floor_local(moment: datetime, interval: str, zone: ZoneInfo) -> datetime:
    """The wall-clock start (naive, in ``zone``) of the bucket holding ``moment``."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    if interval == "15min":
        return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        return day - timedelta(days=(day - _MONDAY).days % 7)
    return day


def resolve(date_range: DateRange, *, interval: str, timezone: str, now: datetime) -> Window:
    try:
        return _resolve(date_range, interval=interval, timezone=timezone, now=now)
    except OverflowError:  # 9999-12-31 plus a day, or year 1 in a zone east of UTC
        raise QueryError("date_range", "A date between the years 1900 and 9000.") from None


def _resolve(date_range: DateRange, *, interval: str, timezone: str, now: datetime) -> Window:
    zone = ZoneInfo(timezone)
    step = INTERVALS[interval]
    if date_range.range:
        start_local = floor_local(now - RANGES[date_range.range], interval, zone)
        end_local = floor_local(now, interval, zone) + step
    else:
        start_local = floor_local(_as_aware(date_range.date_from, zone, end=False), interval, zone)
        end_moment = _as_aware(date_range.date_to, zone, end=True) if date_range.date_to else now
        if end_moment <= _aware(start_local, zone):
            raise QueryError("date_range.date_to", "The range ends before it starts.")
        end_local = floor_local(end_moment - timedelta(microseconds=1), interval, zone) + step
    window = Window(
        start=_aware(start_local, zone), end=_aware(end_local, zone), timezone=timezone, interval=interval
    )
    if window.duration > timedelta(days=MAX_RANGE_DAYS):
        raise QueryError("date_range", f"At most {MAX_RANGE_DAYS} days.")
    if window.duration / step > MAX_BUCKETS:
        raise QueryError(
            "interval",
            f"Too many buckets (at most {MAX_BUCKETS}): choose a longer interval or a shorter range.",
        )
    return window


def _as_aware(value: str, zone: ZoneInfo, *, end: bool) -> datetime:
    moment = _parse_moment(value)
    if moment is None:  # pragma: no cover - parse_date_range checked it
        raise QueryError("date_range", "A date or an ISO 8601 datetime.")
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    is_date_only = len(value) == 10
    if is_date_only and end:
        moment += timedelta(days=1)  # date_to is an inclusive day
    return _aware(moment, zone)


def whole_hour_offsets(window: Window) -> bool:
    """Whether the zone's offset is whole hours across the window (hourly rollups can be rebucketed)."""
    zone = ZoneInfo(window.timezone)
    moments = (window.start, window.start + window.duration / 2, window.end)
    return all(moment.astimezone(zone).utcoffset() % timedelta(hours=1) == timedelta(0) for moment in moments)


def utc_aligned(window: Window) -> bool:
    """Whether local days are UTC days across the window (daily rollups can be used)."""
    zone = ZoneInfo(window.timezone)
    moments = (window.start, window.start + window.duration / 2, window.end)
    return all(moment.astimezone(zone).utcoffset() == timedelta(0) for moment in moments)
