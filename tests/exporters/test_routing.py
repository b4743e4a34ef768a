"""The exporter's route state machine and the core helpers it shares with the collector."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from onex_exporters.routing import TRANSITIONS, Route, RouteState
from onex_otel.backoff import Backoff
from onex_otel.ids import (
    UUID7_RAND_BITS,
    uuid7,
    uuid7_low_bits,
    uuid7_low_text,
    uuid7_text,
    uuid7_value,
    uuid_text,
)
from onex_otel.timestamps import rfc3339, rfc3339_ns, unix_ns


def test_the_routes_go_round_one_way() -> None:
    state = RouteState()
    assert state.direct
    # a move from a state it is not in does nothing (e.g. a second failure while holding)
    assert not state.advance(Route.SPOOLING, Route.DIRECT)
    assert state.advance(Route.DIRECT, Route.HOLDING) and state.holding
    assert not state.advance(Route.DIRECT, Route.HOLDING) and state.holding
    assert state.advance(Route.HOLDING, Route.SPOOLING) and state.spooling
    assert state.advance(Route.SPOOLING, Route.DIRECT) and state.direct
    assert set(TRANSITIONS) == {
        (Route.DIRECT, Route.HOLDING),
        (Route.HOLDING, Route.SPOOLING),
        (Route.SPOOLING, Route.DIRECT),
    }


@pytest.mark.parametrize(
    "move", [(Route.DIRECT, Route.SPOOLING), (Route.HOLDING, Route.DIRECT), (Route.SPOOLING, Route.HOLDING)]
)
def test_a_move_outside_the_table_is_a_programming_error(move: tuple[Route, Route]) -> None:
    with pytest.raises(ValueError, match="no transition"):
        RouteState().advance(*move)


def test_backoff_failed_waits_then_is_ready_and_a_success_resets() -> None:
    now = [100.0]
    b = Backoff(initial=1.0, factor=2.0, cap=3.0, jitter=0.0, clock=lambda: now[0], rng=random.Random(1))
    assert b.ready()
    b.failed()
    assert not b.ready() and b.next_at == 101.0
    now[0] = 101.0
    assert b.ready()
    b.failed()
    b.failed()  # 2 s, then the cap
    assert b.next_at == 104.0 and b.failing_for() == 1.0
    b.succeeded()
    assert b.ready() and b.attempts == 0 and b.failing_for() == 0.0


def test_uuid7_text_has_the_one_layout_and_is_deterministic() -> None:
    ts = 1_764_000_000_123_456_789
    text = uuid7_text(ts, (0xABC << 64) | 0x1234)
    parsed = uuid.UUID(text)
    assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == ts // 1_000_000
    assert (parsed.int >> 64) & 0xFFF == 0xABC and parsed.int & 0xFFFF == 0x1234
    assert uuid7_text(ts, (0xABC << 64) | 0x1234) == text
    assert uuid7().version == 7


def test_uuid7_text_is_the_text_of_uuid7_value_for_any_time_and_bits() -> None:
    rng = random.Random(7)
    times = [0, -1, -5, 1, 999_999, 1_000_000, 2**48 * 1_000_000 + 3, 1_764_000_000_123_456_789]
    times += [rng.getrandbits(rng.choice((40, 64, 90))) for _ in range(300)]
    for ts in times:  # also the same millisecond twice in a row (its text is kept)
        for rand in (0, 2**80 - 1, rng.getrandbits(80), rng.getrandbits(200)):
            expected = str(uuid.UUID(int=uuid7_value(ts // 1_000_000, rand >> 64, rand)))
            assert uuid7_text(ts, rand) == expected
            assert uuid7_text(ts + 1, rand) == str(
                uuid.UUID(int=uuid7_value((ts + 1) // 1_000_000, rand >> 64, rand))
            )


def test_a_v7_ids_low_bits_xor_a_tag_are_the_low_bits_of_the_xor() -> None:
    """What the exporter's event ids rely on: one XOR of a span's bits and a tag's makes the id."""
    rng = random.Random(11)
    for _ in range(2000):
        ts = rng.getrandbits(rng.choice((40, 61, 64)))
        base, tag = rng.getrandbits(80), rng.getrandbits(rng.choice((80, 120)))
        low = uuid7_low_bits(base) ^ (tag & UUID7_RAND_BITS)
        assert uuid7_low_text(ts, low) == uuid7_text(ts, base ^ tag)
        assert uuid7_low_text(ts, low) == str(
            uuid.UUID(int=uuid7_value(ts // 1_000_000, (base ^ tag) >> 64, base ^ tag))
        )


def _reference_rfc3339_ns(ts_ns: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1000)).isoformat(
        timespec="microseconds"
    )[:-6] + "Z"


def test_rfc3339_ns_is_the_reference_text_for_any_time_in_any_order() -> None:
    """The cached second and the six-digit shortcut change nothing: microseconds below 100,000,
    second and minute boundaries, times before 1970, the same time twice, seconds alternating."""
    rng = random.Random(3)
    second = 1_764_000_000 * 1_000_000_000
    times = [0, -1, -999, -1000, -1001, 999, 1000, 999_999_999, 1_000_000_000, -1_000_000_000]
    times += [second + d for d in (0, 1, 999, 1000, 99_999_999, 100_000_000, 999_999_999, 1_000_000_000)]
    times += [second + rng.randrange(-3 * 10**9, 3 * 10**9) for _ in range(3000)]
    times += [rng.randrange(-(2**61), 2**62) for _ in range(3000)]
    for ts in times:
        assert rfc3339_ns(ts) == _reference_rfc3339_ns(ts), ts
        assert rfc3339_ns(ts) == _reference_rfc3339_ns(ts), ts  # the last time, kept


def test_uuid_text_is_str_of_uuid_and_refuses_what_uuid_refuses() -> None:
    rng = random.Random(11)
    for value in [0, 1, 2**128 - 1, *(rng.getrandbits(128) for _ in range(200))]:
        assert uuid_text(value) == str(uuid.UUID(int=value))
    for bad in (-1, 2**128):
        with pytest.raises(ValueError):
            uuid.UUID(int=bad)
        with pytest.raises(ValueError):
            uuid_text(bad)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5),  # naive: UTC
        datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_one_rfc3339_formatter_for_datetimes_and_nanoseconds(value: datetime) -> None:
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    expected = utc.isoformat(timespec="microseconds")[:-6] + "Z"
    assert rfc3339(value) == expected
    assert rfc3339_ns(unix_ns(value) + 999) == expected  # below a microsecond: cut
