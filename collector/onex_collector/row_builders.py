"""Payload -> table row, per event type: pure functions, no I/O.

Every row carries its event id as primary key, so writing the same event twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, Final

from onex_collector.tables import Decoded, Fields, Row, UuidValue
from onex_otel import conventions as c
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1, rfc3339
from onex_otel.ids import correlation_uuid

__all__ = ["rows_for_envelope", "rows_for_payload", "rows_for_typed"]

#: ``Row`` and ``Decoded`` made from one tuple of their fields in C: a named tuple's own
#: ``__new__`` is a Python function, a frame per call (two per message).
_row: Final = partial(tuple.__new__, Row)
_decoded: Final = partial(tuple.__new__, Decoded)

#: A row's values, in :data:`~onex_collector.tables.TABLE_COLUMNS` order.
Values = tuple[Any, ...]
#: Builds a row's values from (event id, payload fields, correlation id, original correlation id).
Builder = Callable[[UuidValue, Fields, UuidValue, str | None], Values]


def rows_for_payload(
    event_id: uuid.UUID,
    event_type: EventType,
    payload: Fields,
    correlation_id: uuid.UUID,
    original: str | None,
    *,
    legacy: bool,
) -> Decoded:
    """The rows of one event; ``payload`` holds its payload model's fields (validated)."""
    table, values = _BUILDERS[event_type]
    row = _row((table, values(event_id, payload, correlation_id, original)))
    decoded: Decoded = _decoded((event_id, event_type, correlation_id, (row,), legacy))
    return decoded


def rows_for_typed(env: Mapping[str, Any]) -> Decoded:
    """The rows of an envelope validated as a dict by the fast path (``validate_typed``).

    The same as :func:`rows_for_payload` of its fields; the builder is found by the event
    type's text (hashing an enum member calls Python code).
    """
    event_type, table, values = _BY_TYPE_TEXT[env["event_type"]]
    eid, corr = env["event_id"], env["correlation_id"]
    row = _row((table, values(eid, env["payload"], corr, None)))
    decoded: Decoded = _decoded((eid, event_type, corr, (row,), False))
    return decoded


def rows_for_envelope(envelope: OnexEnvelopeV1) -> Decoded:
    """The rows of one validated envelope."""
    payload = envelope.payload
    return rows_for_payload(
        envelope.event_id, payload.event_type, dict(payload), envelope.correlation_id, None, legacy=False
    )


def _context(context: Mapping[str, Any], corr: UuidValue, original: str | None) -> dict[str, Any]:
    out = dict(context)
    out["correlation_id"] = str(corr)
    if original is not None:
        out["correlation_id_original"] = original
    return out


def _action(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    return (
        eid,
        corr,
        p["agent_name"],
        str(p["action_type"]),  # (the enum's text: str() is C code, ``.value`` Python)
        p["action_name"],
        # The payload's own dict (a fresh one from the fast path's validator): copied only to add.
        p["action_details"] if orig is None else {**p["action_details"], "correlation_id_original": orig},
        p["debug_mode"],
        p["duration_ms"],
        p["project_path"],
        p["project_name"],
        p["working_directory"],
        p["timestamp"],
    )


def _routing(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    return (
        eid,
        corr,
        p["user_request"],
        p["selected_agent"],
        p["confidence_score"],
        list(p["alternatives"]),
        p["reasoning"],
        p["routing_strategy"],
        _context(p["context"], corr, orig),
        p["routing_time_ms"],
        p["timestamp"],
    )


def _transformation(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    return (
        eid,
        corr,
        p["source_agent"],
        p["target_agent"],
        p["transformation_reason"],
        p["confidence_score"],
        p["transformation_duration_ms"],
        p["success"],
        p["timestamp"],
    )


def _performance(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    return (
        eid,
        corr,
        p["query_text"],
        p["routing_duration_ms"],
        p["cache_hit"],
        p["trigger_match_strategy"],
        dict(p["confidence_components"]),
        p["candidates_evaluated"],
        p["timestamp"],
    )


def _detection(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    return (
        eid,
        corr,
        p["user_request"],
        p["failure_reason"],
        p["detection_strategy"],
        p["candidates_evaluated"],
        list(p["candidates"]),
        p["best_confidence"],
        p["detection_duration_ms"],
        _context(p["context"], corr, orig),
        p["timestamp"],
    )


def _text(at: datetime | str) -> str:
    """A timestamp as RFC 3339 UTC text (the fast path's text is that already)."""
    return at if isinstance(at, str) else rfc3339(at)


def _session(session_id: str | None, meta: dict[str, Any]) -> str | None:
    if session_id is None or not str(session_id).strip():
        return None
    value, original = correlation_uuid(session_id)
    if original is not None:
        meta["session_id_original"] = original
    return str(value)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _started(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    meta: dict[str, Any] = {}
    if p["context"]:
        meta["context"] = dict(p["context"])
    session = _session(p["session_id"], meta)
    meta.update(
        _drop_none(
            {
                "working_directory": p["working_directory"],
                "correlation_id_original": orig or p["correlation_id_original"],
                "started_event_id": str(eid),
            }
        )
    )
    body = _drop_none(
        {
            "session_id": session,
            "user_request": p["user_request"],
            "project_path": p["project_path"],
            "project_name": p["project_name"],
            "claude_session_id": p["claude_session_id"],
            "terminal_id": p["terminal_id"],
        }
    )
    body["meta"] = meta
    return (eid, p["execution_id"], corr, c.EXECUTION_KIND_STARTED, p["agent_name"], p["started_at"], body)


def _progress(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    body = {
        "event_id": str(eid),
        "stage": p["stage"],
        "percent": p["percent"],
        "metadata": dict(p["metadata"]),
        "reported_at": _text(p["reported_at"]),
    }
    return (eid, p["execution_id"], corr, c.EXECUTION_KIND_PROGRESS, p["agent_name"], p["reported_at"], body)


def _completed(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    meta: dict[str, Any] = {}
    session = _session(p["session_id"], meta)
    if p["metrics"]:
        meta["metrics"] = dict(p["metrics"])
    if p["output_summary"] is not None:
        meta["output_summary"] = p["output_summary"]
    body = _drop_none(
        {
            "status": str(p["status"]),  # (a validated ExecutionStatus: its text)
            "session_id": session,
            "duration_ms": p["duration_ms"],
            "quality_score": p["quality_score"],
        }
    )
    body["meta"] = meta
    return (
        eid,
        p["execution_id"],
        corr,
        c.EXECUTION_KIND_COMPLETED,
        p["agent_name"],
        p["completed_at"],
        body,
    )


def _failed(eid: UuidValue, p: Fields, corr: UuidValue, orig: str | None) -> Values:
    meta: dict[str, Any] = {}
    session = _session(p["session_id"], meta)
    meta.update(
        _drop_none(
            {
                "error_stack_trace": p["error_stack_trace"],
                "partial_results": p["partial_results"],
            }
        )
    )
    body = _drop_none(
        {
            "status": str(p["status"]),  # (a validated ExecutionStatus: its text)
            "session_id": session,
            "duration_ms": p["duration_ms"],
            "error_message": p["error_message"],
            "error_type": p["error_type"],
        }
    )
    body["meta"] = meta
    return (eid, p["execution_id"], corr, c.EXECUTION_KIND_FAILED, p["agent_name"], p["failed_at"], body)


_BUILDERS: Final[dict[EventType, tuple[str, Builder]]] = {
    EventType.AGENT_ACTION: (c.TABLE_AGENT_ACTIONS, _action),
    EventType.ROUTING_DECISION: (c.TABLE_ROUTING_DECISIONS, _routing),
    EventType.TRANSFORMATION: (c.TABLE_TRANSFORMATION_EVENTS, _transformation),
    EventType.ROUTER_PERFORMANCE: (c.TABLE_ROUTER_PERFORMANCE, _performance),
    EventType.DETECTION_FAILURE: (c.TABLE_DETECTION_FAILURES, _detection),
    EventType.EXECUTION_STARTED: (c.TABLE_EXECUTION_EVENTS, _started),
    EventType.EXECUTION_PROGRESS: (c.TABLE_EXECUTION_EVENTS, _progress),
    EventType.EXECUTION_COMPLETED: (c.TABLE_EXECUTION_EVENTS, _completed),
    EventType.EXECUTION_FAILED: (c.TABLE_EXECUTION_EVENTS, _failed),
}
assert set(_BUILDERS) == set(EventType), "every event type needs a row builder"
_BY_TYPE_TEXT: Final[dict[str, tuple[EventType, str, Builder]]] = {
    t.value: (t, table, build) for t, (table, build) in _BUILDERS.items()
}
