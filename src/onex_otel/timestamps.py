"""The one RFC 3339 timestamp formatter: ``2026-01-02T03:04:05.678901Z`` (UTC, microseconds).

Used by the envelope model's JSON, the exporter's mapping, the legacy records and the collector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["as_utc", "rfc3339", "rfc3339_ns", "unix_ns"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: (the Unix time in ns of a whole second, its text up to the decimal point)
_second_cache: tuple[int, str] = (0, "1970-01-01T00:00:00.")
_last_ts: tuple[int, str] = (-1, "")


def rfc3339_ns(ts_ns: int) -> str:
    """Format a Unix time in nanoseconds as RFC 3339 UTC with microseconds and ``Z``.

    The text of the second is cached, and so is the last time formatted (an event's envelope
    and payload share their time).
    """
    global _second_cache, _last_ts
    last_ns, last_text = _last_ts
    if last_ns == ts_ns:
        return last_text
    second_ns, base = _second_cache
    us = (ts_ns - second_ns) // 1000  # in the cached second: no division of the whole time
    if not 0 <= us < 1_000_000:
        seconds = ts_ns // 1_000_000_000
        second_ns = seconds * 1_000_000_000
        base = (_EPOCH + timedelta(seconds=seconds)).isoformat()[:19] + "."
        _second_cache = (second_ns, base)
        us = (ts_ns - second_ns) // 1000
    # nine times in ten six digits: no format spec (the padding costs twice the rest)
    text = f"{base}{us}Z" if us >= 100_000 else f"{base}{us:06d}Z"
    _last_ts = (ts_ns, text)
    return text


def as_utc(value: datetime) -> datetime:
    """``value`` as timezone-aware UTC; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def unix_ns(value: datetime) -> int:
    """Unix time in nanoseconds of ``value`` (naive: UTC), exact to the microsecond."""
    return (as_utc(value) - _EPOCH) // _MICROSECOND * 1000  # a float would lose microseconds


def rfc3339(value: datetime) -> str:
    """Format a datetime as RFC 3339 UTC with a ``Z`` suffix (microsecond precision)."""
    return rfc3339_ns(unix_ns(value))
