"""The collector's typed fast path decides exactly as OnexEnvelopeV1 does.

Valid envelopes of every event type are mutated (a field replaced by an odd JSON value, removed,
or an unknown key added) and decoded both ways: by the typed model of the fast path and by
OnexEnvelopeV1. Whatever the fast path accepts, OnexEnvelopeV1 accepts with the same rows; and
whatever OnexEnvelopeV1 accepts, the fast path accepts too (wherever the event type stands in the
object), so it is really used.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from onex_collector.fastpath import TIME_TEXT, UUID_TEXT, typed_envelope
from onex_collector.ingest import batch_document
from onex_collector.rows import Decoded, _rows, decode_message, rows_for_envelope
from onex_otel.conventions import EventType
from onex_otel.envelope import (
    AgentActionPayload,
    DetectionFailurePayload,
    ExecutionCompletedPayload,
    ExecutionFailedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
    as_utc,
)

T0 = datetime(2025, 11, 6, 10, 0, 0, 123456, tzinfo=UTC)
CORR = uuid.UUID("ad12146a-b7d0-4a47-86bf-7ec298ce2c81")
EXE = uuid.UUID("0199a8a4-6f00-7000-8000-000000000001")

BASES: list[dict[str, Any]] = [
    json.loads(OnexEnvelopeV1.create(p, timestamp=T0).to_json())
    for p in (
        ExecutionStartedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            user_request="u",
            session_id="s-1",
            started_at=T0,
            context={"k": 1},
            project_path="/p",
            terminal_id="t",
        ),
        ExecutionProgressPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            stage="x",
            percent=25.5,
            metadata={"m": [1]},
            reported_at=T0,
        ),
        ExecutionCompletedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            completed_at=T0,
            duration_ms=5,
            quality_score=0.5,
            metrics={"n": 1},
            output_summary="o",
        ),
        ExecutionFailedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            status="cancelled",
            failed_at=T0,
            duration_ms=1,
            error_message="e",
            error_type="E",
            partial_results=[1],
        ),
        AgentActionPayload(
            correlation_id=CORR,
            agent_name="a",
            action_type="tool_call",
            action_name="Read",
            action_details={"f": "/x"},
            duration_ms=3,
            timestamp=T0,
        ),
        RoutingDecisionPayload(
            correlation_id=CORR,
            selected_agent="s",
            confidence_score=0.9,
            routing_strategy="r",
            routing_time_ms=4,
            alternatives=["b"],
            context={"c": 1},
            timestamp=T0,
        ),
        RouterPerformancePayload(
            correlation_id=CORR,
            query_text="q",
            routing_duration_ms=999,
            candidates_evaluated=2,
            confidence_components={"t": 0.1},
            timestamp=T0,
        ),
        TransformationPayload(
            correlation_id=CORR,
            source_agent="s",
            target_agent="t",
            transformation_duration_ms=0,
            confidence_score=1,
            timestamp=T0,
        ),
        DetectionFailurePayload(
            correlation_id=CORR,
            user_request="u",
            failure_reason="f",
            candidates=["a"],
            best_confidence=0.0,
            timestamp=T0,
        ),
    )
]

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 999, 1000, 2**31, 0.0, 0.5, 1.0, 1.5, -0.0, 25.0, 1e300, 100.0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            " ",
            "x",
            "success",
            "failed",
            "cancelled",
            "in_progress",
            "tool_call",
            "decision",
            "true",
            "1",
            "25",
            "0.5",
            str(CORR),
            str(CORR).upper(),
            CORR.hex,
            "{" + str(CORR) + "}",
            "urn:uuid:" + str(CORR),
            str(CORR)[:-1],
            "ad12146a-b7d0-4a47-86bf-7ec298ce2c8g",
            "2025-11-06T10:00:00Z",
            "2025-11-06T10:00:00.1Z",
            "2025-11-06T10:00:00.1234567Z",
            "2025-11-06T10:00:00+05:30",
            "2025-11-06T10:00:00-00:00",
            "2025-11-06T10:00:00",
            "2025-11-06 10:00:00Z",
            "2025-11-06",
            "2025-13-06T10:00:00Z",
            "2025-11-06T24:00:00Z",
            "2025-11-06T23:59:60Z",
            "1762423200",
            "2025-11-06t10:00:00z",
            # The forms the fast path keeps as text, and their near misses:
            "2025-11-06T10:00:00.123456Z",
            "2025-11-06T10:00:00.000000Z",
            "2025-11-06T10:00:00.000001Z",
            "2024-02-29T10:00:00.123456Z",
            "2025-02-29T10:00:00.123456Z",
            "2025-11-31T10:00:00.123456Z",
            "2025-12-31T23:59:59.999999Z",
            "0999-11-06T10:00:00.123456Z",
            "2025-11-06T10:00:00.123456+00:00",
            "2025-11-06T10:00:00.123456z",
            "\u0662\u0660\u0662\u0665-11-06T10:00:00.123456Z",
            "ad12146a-b7d0-5a47-86bf-7ec298ce2c81",
            "ad12146a-b7d0-4a47-86bf-7ec298ce2c8\u0661",
            "ad12146a-b7d0-4a47-86bf-7ec298ce2c81\n",
            *[e.value for e in EventType],
        ]
    ),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    """A mutated envelope and the keys it lost (their defaults may be a clock or random id)."""
    env = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    removed: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["envelope", "payload"]))
        target = env if where == "envelope" or not isinstance(env.get("payload"), dict) else (env["payload"])
        keys = sorted(target)
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "add" or not keys:
            target[draw(st.sampled_from(["extra", "status", "percent", "event_type"]))] = draw(ODD_VALUES)
            continue
        key = draw(st.sampled_from(keys))
        if action == "remove":
            del target[key]
            removed.add(key)
        else:
            target[key] = draw(ODD_VALUES)
    # Compact (as OnexEnvelopeV1 writes it) or spaced: the fast path reads either.
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    return json.dumps(env, separators=separators).encode(), removed


def slow(value: bytes) -> Decoded | None:
    try:
        return rows_for_envelope(OnexEnvelopeV1.model_validate_json(value))
    except (ValidationError, ValueError, KeyError):
        return None


def fast(value: bytes) -> Decoded | None:
    typed = typed_envelope(value)
    if typed is None:
        return None
    return _rows(typed.event_id, typed.event_type, typed.payload, typed.correlation_id, None, legacy=False)


def stored(decoded: Decoded | None) -> Any:
    """What PostgreSQL gets of an event: its identity and the batch document of its rows."""
    if decoded is None:
        return None
    ids = (str(decoded.event_id), str(decoded.correlation_id), str(decoded.execution_id))
    return ids, decoded.event_type, decoded.legacy, batch_document([decoded])


def as_object(value: Any) -> Any:
    """A UUID or timestamp the fast path kept as its canonical text, as the object it stands for."""
    if isinstance(value, str) and re.fullmatch(UUID_TEXT, value):
        return uuid.UUID(value)
    if isinstance(value, str) and re.fullmatch(TIME_TEXT, value):
        return datetime.fromisoformat(value)
    return value


def comparable(decoded: Decoded, removed: set[str]) -> Any:
    """The decoded event with the values of removed clock/random defaults blanked out.

    Timestamps are compared as the database stores them: as instants, one without an offset
    being UTC (the fast path leaves them in their own offset; tests/collector/test_writer.py
    checks what reaches the tables). UUIDs and timestamps kept as canonical text are compared
    as the objects they stand for (:func:`stored` compares the documents where both are text).
    """
    now = datetime.now(UTC)
    random_id = as_object(decoded.event_id) if "event_id" in removed else None  # a uuid7 each way

    def blank(value: Any) -> Any:
        value = as_object(value)
        if isinstance(value, datetime):
            value = as_utc(value)
        if random_id is not None and value in (random_id, str(random_id)):
            return "<event id>"
        if isinstance(value, datetime) and abs(now - value) < timedelta(minutes=5):
            return "<now>"
        if isinstance(value, dict):
            return {k: blank(v) for k, v in value.items()}
        if isinstance(value, str) and value.startswith(str(now.year)):
            return "<now>" if value[:10] == now.date().isoformat() else value
        return value

    rows = [(r.table, tuple(blank(v) for v in r.values)) for r in decoded.rows]
    return blank(decoded.event_id), decoded.event_type, blank(decoded.correlation_id), rows


@pytest.mark.parametrize("base", BASES, ids=[b["event_type"] for b in BASES])
def test_the_fast_path_takes_every_valid_envelope(base: dict[str, Any]) -> None:
    value = json.dumps(base).encode()
    got = fast(value)
    assert got is not None
    assert stored(got) == stored(slow(value)) == stored(decode_message("t", value))
    # The ids and times stay the message's text (what the document carries; nothing converted).
    assert isinstance(got.event_id, str) and isinstance(got.correlation_id, str)
    assert all(
        isinstance(v, str) for v in got.rows[0].values if isinstance(as_object(v), uuid.UUID | datetime)
    )


def with_fields(base: dict[str, Any], **changes: Any) -> bytes:
    """``base`` with envelope fields (and payload fields, under ``payload``) replaced."""
    payload = {**base["payload"], **changes.pop("payload", {})}
    return json.dumps({**base, **changes, "payload": payload}).encode()


@pytest.mark.parametrize(
    ("changes", "objects"),
    [
        # An event id of version 5 is claimed by the writer, which knows it by its type.
        ({"event_id": "0199a8a4-6f00-5000-8000-000000000001"}, {"event_id"}),
        ({"event_id": "0199A8A4-6F00-7000-8000-000000000001"}, {"event_id"}),
        ({"correlation_id": "{" + str(CORR) + "}"}, {"correlation_id"}),
        ({"payload": {"execution_id": "urn:uuid:" + str(EXE)}}, {"execution_id"}),
        ({"payload": {"started_at": "2025-11-06T10:00:00.000000Z"}}, {"occurred_at"}),  # (no fraction)
        ({"payload": {"started_at": "2024-02-29T10:00:00.123456Z"}}, {"occurred_at"}),
        ({"payload": {"started_at": "2025-11-06T10:00:00.123456+00:00"}}, {"occurred_at"}),
        ({"payload": {"started_at": "2025-11-06T10:00:00Z"}}, {"occurred_at"}),
        ({"payload": {"started_at": "0999-11-06T10:00:00.123456Z"}}, {"occurred_at"}),
        ({"payload": {"started_at": "2025-11-06T10:00:00.123456Z"}}, set()),
    ],
)
def test_other_forms_of_ids_and_times_are_converted_as_before(
    changes: dict[str, Any], objects: set[str]
) -> None:
    value = with_fields(BASES[0], **changes)
    got = fast(value)
    assert got is not None
    assert stored(got) == stored(slow(value)) == stored(decode_message("t", value))
    row = got.rows[0].as_dict()
    columns = {"event_id", "execution_id", "correlation_id", "occurred_at"}
    assert {k for k in columns if not isinstance(row[k], str)} == objects


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
@example((json.dumps({**BASES[4], "event_type": BASES[5]["event_type"]}).encode(), set()))
@example(
    (b'{"payload": {"event_type": "router-performance-metrics"}, ' + json.dumps(BASES[4])[1:].encode(), set())
)
@example(
    (
        json.dumps(
            {**BASES[4], "payload": {**BASES[4]["payload"], "timestamp": "2025-11-06T10:00:00"}}
        ).encode(),
        set(),
    )
)
@example(
    (
        json.dumps(
            {**BASES[0], "payload": {**BASES[0]["payload"], "started_at": "2025-11-06T10:00:00+05:30"}}
        ).encode(),
        set(),
    )
)
def test_fast_and_general_paths_agree(case: tuple[bytes, set[str]]) -> None:
    value, removed = case
    got_fast, got_slow = fast(value), slow(value)
    event(f"fast {got_fast is not None}, general {got_slow is not None}")
    if got_fast is not None:
        assert got_slow is not None, "the fast path accepted what OnexEnvelopeV1 refuses"
        assert comparable(got_fast, removed) == comparable(got_slow, removed)
    if got_slow is not None:
        assert got_fast is not None, "OnexEnvelopeV1 accepted what the fast path refuses"


def test_unknown_or_unreadable_event_types_fall_back() -> None:
    base = dict(BASES[4])
    assert typed_envelope(json.dumps({**base, "event_type": "nope"}).encode()) is None
    assert typed_envelope(json.dumps({**base, "event_type": 7}).encode()) is None
    assert typed_envelope(b"not json") is None
    assert typed_envelope(b"[]") is None
    assert typed_envelope(json.dumps({k: v for k, v in base.items() if k != "event_type"}).encode()) is None


def test_the_event_type_is_read_wherever_it_stands() -> None:
    base = dict(BASES[4])
    last = {**{k: v for k, v in base.items() if k != "event_type"}, "event_type": base["event_type"]}
    value = json.dumps(last).encode()
    assert fast(value) is not None
    assert stored(fast(value)) == stored(slow(value)) == stored(decode_message("t", value))
