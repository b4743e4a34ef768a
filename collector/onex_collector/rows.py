r"""Pure mapping: one Kafka message (OnexEnvelopeV1 or legacy flat record) -> table rows.

No I/O here. :func:`decode_message` turns a message's topic and value into a :class:`Decoded`
event with its rows, or raises :class:`PoisonMessage` (``NotJson`` / ``InvalidEvent``) saying why
the message can never be written. Every row carries its event id as primary key, so writing the
same event twice changes nothing.

Legacy flat records (the JSON the old Kafka skills published, no envelope) are recognised by the
absence of the envelope fields; their event type comes from the topic, their event id is the
record's own ``event_id`` / ``id`` when it is a UUID, otherwise the deterministic
``uuid5(LEGACY_EVENT_ID_NAMESPACE, "<event type>\\n<canonical JSON>")``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, NamedTuple

from pydantic import ValidationError

from onex_collector.fastpath import validate_typed
from onex_otel import conventions as c
from onex_otel.conventions import EventType, ExecutionStatus
from onex_otel.envelope import (
    OnexEnvelopeV1,
    payload_model_for,
    rfc3339,
)
from onex_otel.errors import OnexError
from onex_otel.ids import correlation_uuid

__all__ = [
    "JSON_COLUMNS",
    "LEGACY_EXECUTION_TOPIC_KIND",
    "TABLE_COLUMNS",
    "Decoded",
    "InvalidEvent",
    "NotJson",
    "PoisonMessage",
    "Row",
    "decode_message",
    "default_topic_types",
    "legacy_event_id",
    "rows_for_envelope",
]

#: Columns the collector writes, per table, in row order (the first is the primary key).
TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    c.TABLE_AGENT_ACTIONS: (
        "id", "correlation_id", "agent_name", "action_type", "action_name", "action_details",
        "debug_mode", "duration_ms", "project_path", "project_name", "working_directory",
        "created_at",
    ),
    c.TABLE_ROUTING_DECISIONS: (
        "id", "correlation_id", "user_request", "selected_agent", "confidence_score",
        "alternatives", "reasoning", "routing_strategy", "context", "routing_time_ms",
        "created_at",
    ),
    c.TABLE_TRANSFORMATION_EVENTS: (
        "id", "correlation_id", "source_agent", "target_agent", "transformation_reason",
        "confidence_score", "transformation_duration_ms", "success", "created_at",
    ),
    c.TABLE_ROUTER_PERFORMANCE: (
        "id", "correlation_id", "query_text", "routing_duration_ms", "cache_hit",
        "trigger_match_strategy", "confidence_components", "candidates_evaluated", "created_at",
    ),
    c.TABLE_DETECTION_FAILURES: (
        "id", "correlation_id", "user_request", "failure_reason", "detection_strategy",
        "candidates_evaluated", "candidates", "best_confidence", "detection_duration_ms",
        "context", "created_at",
    ),
    c.TABLE_EXECUTION_EVENTS: (
        "event_id", "execution_id", "correlation_id", "kind", "agent_name", "occurred_at", "body",
    ),
}

#: An event's payload as the row builders read it: the payload model's fields, validated.
Fields = Mapping[str, Any]

#: JSONB columns per table (values are Python dicts/lists in a :class:`Row`).
JSON_COLUMNS: Final[dict[str, frozenset[str]]] = {
    c.TABLE_AGENT_ACTIONS: frozenset({"action_details"}),
    c.TABLE_ROUTING_DECISIONS: frozenset({"alternatives", "context"}),
    c.TABLE_TRANSFORMATION_EVENTS: frozenset(),
    c.TABLE_ROUTER_PERFORMANCE: frozenset({"confidence_components"}),
    c.TABLE_DETECTION_FAILURES: frozenset({"candidates", "context"}),
    c.TABLE_EXECUTION_EVENTS: frozenset({"body"}),
}

#: The legacy topic whose flat records are execution lifecycle events of any kind.
LEGACY_EXECUTION_TOPIC_KIND: Final = "execution-lifecycle"

_LIFECYCLE_TYPES: Final = frozenset({
    EventType.EXECUTION_STARTED,
    EventType.EXECUTION_PROGRESS,
    EventType.EXECUTION_COMPLETED,
    EventType.EXECUTION_FAILED,
})
_ENVELOPE_KEYS: Final = frozenset({"event_type", "payload", "schema_ref"})


class PoisonMessage(OnexError):
    """A message that can never be written (it goes to the dead-letter topic)."""

    stage: str = c.DLQ_STAGE_VALIDATE


class NotJson(PoisonMessage):
    """The message value is not a JSON object."""

    stage = c.DLQ_STAGE_DECODE


class InvalidEvent(PoisonMessage):
    """The JSON is neither a valid OnexEnvelopeV1 nor a valid legacy record for its topic."""

    stage = c.DLQ_STAGE_VALIDATE


class Row(NamedTuple):
    """One row of ``table``; ``values`` follow :data:`TABLE_COLUMNS` [table].

    (Named tuples: built for every message, they cost a fraction of a frozen dataclass.)
    """

    table: str
    values: tuple[Any, ...]

    def as_dict(self) -> dict[str, Any]:
        """The row as ``{column: value}``."""
        return dict(zip(TABLE_COLUMNS[self.table], self.values, strict=True))


class Decoded(NamedTuple):
    """A decoded event: its identity and the rows it writes."""

    event_id: uuid.UUID
    event_type: EventType
    correlation_id: uuid.UUID
    rows: tuple[Row, ...]
    legacy: bool = False

    @property
    def execution_id(self) -> uuid.UUID | None:
        """The execution whose log row this event changes (lifecycle events only)."""
        for row in self.rows:
            if row.table == c.TABLE_EXECUTION_EVENTS:
                value: uuid.UUID = row.values[1]
                return value
        return None


def default_topic_types(prefix: str = "") -> dict[str, EventType | str]:
    """Topic -> event type of legacy flat records read from it (every topic the collector reads).

    The event topics of DESIGN.md (with ``prefix``) plus the legacy names ``agent-actions``,
    ``agent-routing-decisions`` and ``agent-execution-logs`` (whose records are lifecycle events
    of any kind: :data:`LEGACY_EXECUTION_TOPIC_KIND`).
    """
    topics: dict[str, EventType | str] = {
        f"{prefix}{topic}": event_type for event_type, topic in c.DEFAULT_TOPICS.items()
    }
    topics[c.LEGACY_TOPIC_AGENT_ACTIONS] = EventType.AGENT_ACTION
    topics[c.LEGACY_TOPIC_ROUTING_DECISIONS] = EventType.ROUTING_DECISION
    topics[c.LEGACY_TOPIC_EXECUTION_LOGS] = LEGACY_EXECUTION_TOPIC_KIND
    return topics


#: A JSON-escaped NUL character (``\u0000``) not itself preceded by an escaping backslash.
_ESCAPED_NUL: Final = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def replace_nul(value: bytes) -> bytes:
    """Replace JSON-escaped NUL characters with U+FFFD.

    PostgreSQL ``text`` and ``jsonb`` cannot hold NUL, so an otherwise valid event carrying one
    (an agent's tool output, say) would be rejected by the database; it is stored with U+FFFD in
    its place instead. Raw NUL bytes cannot occur in valid JSON, so only the escaped form matters.
    """
    if b"\\u0000" not in value:
        return value
    return _ESCAPED_NUL.sub(rb"\1\\ufffd", value)


def decode_message(
    topic: str, value: bytes | None, topic_types: Mapping[str, EventType | str] | None = None
) -> Decoded:
    """Decode one message value read from ``topic``; raise :class:`PoisonMessage` if impossible."""
    if value is None:
        raise NotJson("the message has no value (a tombstone)")
    if b"\\" in value and b"\\u0000" in value:  # (most messages have no backslash: memchr)
        value = replace_nul(value)
    # Fast path: an envelope's event type's model validates it in one pass (see
    # onex_collector.fastpath); otherwise OnexEnvelopeV1 decides and words the error.
    typed = validate_typed(value)
    if typed is not None:
        event_type, env = typed
        return _rows(env["event_id"], event_type, env["payload"], env["correlation_id"], None,
                     legacy=False)
    if b'"schema_ref"' in value:
        try:
            return rows_for_envelope(OnexEnvelopeV1.model_validate_json(value))
        except (ValidationError, ValueError, KeyError):
            pass  # fall through: report it as not JSON / invalid below
    try:
        obj = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotJson(f"the message value is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise NotJson(f"the message value is JSON {type(obj).__name__}, not an object")
    if obj.keys() >= _ENVELOPE_KEYS:
        try:
            envelope = OnexEnvelopeV1.model_validate(obj)
        except (ValidationError, ValueError, KeyError) as exc:
            raise InvalidEvent(f"invalid OnexEnvelopeV1: {_short(exc)}") from None
        return rows_for_envelope(envelope)
    kinds = topic_types if topic_types is not None else default_topic_types()
    kind = kinds.get(topic)
    if kind is None:
        raise InvalidEvent(f"a flat record on topic {topic!r}, which carries no legacy records")
    return _legacy(kind, obj)


def rows_for_envelope(envelope: OnexEnvelopeV1) -> Decoded:
    """The rows of one validated envelope."""
    payload = envelope.payload
    return _rows(envelope.event_id, payload.event_type, dict(payload), envelope.correlation_id,
                 None, legacy=False)


def legacy_event_id(event_type: EventType, record: Mapping[str, Any]) -> uuid.UUID:
    """The event id of a legacy record: its own UUID ``event_id``/``id``, else a content uuid5."""
    for key in ("event_id", "id"):
        raw = record.get(key)
        if isinstance(raw, str):
            try:
                return uuid.UUID(raw)
            except ValueError:
                pass
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return uuid.uuid5(c.LEGACY_EVENT_ID_NAMESPACE, f"{event_type.value}\n{canonical}")


# ----------------------------------------------------------------------------------------------
# legacy flat records
# ----------------------------------------------------------------------------------------------
_STATUS_ALIASES: Final[dict[str, str]] = {
    "success": ExecutionStatus.SUCCESS,
    "succeeded": ExecutionStatus.SUCCESS,
    "completed": ExecutionStatus.SUCCESS,
    "complete": ExecutionStatus.SUCCESS,
    "ok": ExecutionStatus.SUCCESS,
    "failed": ExecutionStatus.FAILED,
    "failure": ExecutionStatus.FAILED,
    "error": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "canceled": ExecutionStatus.CANCELLED,
    "in_progress": ExecutionStatus.IN_PROGRESS,
    "running": ExecutionStatus.IN_PROGRESS,
    "started": ExecutionStatus.IN_PROGRESS,
}
_KIND_TYPES: Final[dict[str, EventType]] = {
    "started": EventType.EXECUTION_STARTED,
    "start": EventType.EXECUTION_STARTED,
    "progress": EventType.EXECUTION_PROGRESS,
    "completed": EventType.EXECUTION_COMPLETED,
    "complete": EventType.EXECUTION_COMPLETED,
    "failed": EventType.EXECUTION_FAILED,
    "fail": EventType.EXECUTION_FAILED,
}


def _legacy_execution_type(record: Mapping[str, Any]) -> EventType:
    """The lifecycle event a flat ``agent-execution-logs`` record is (see README)."""
    for key in ("kind", "event", "event_kind", "lifecycle"):
        raw = record.get(key)
        if isinstance(raw, str) and raw.strip().lower() in _KIND_TYPES:
            return _KIND_TYPES[raw.strip().lower()]
    if "stage" in record:
        return EventType.EXECUTION_PROGRESS
    status = _normalise_status(record.get("status"))
    if status == ExecutionStatus.SUCCESS:
        return EventType.EXECUTION_COMPLETED
    if status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
        return EventType.EXECUTION_FAILED
    return EventType.EXECUTION_STARTED


def _normalise_status(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    key = raw.strip().lower()
    if key.startswith("enumoperationstatus."):
        key = key.split(".", 1)[1]
    if key not in _STATUS_ALIASES:
        raise InvalidEvent(f"unknown execution status {raw!r}")
    return _STATUS_ALIASES[key]


def _legacy(kind: EventType | str, record: dict[str, Any]) -> Decoded:
    event_type = (
        _legacy_execution_type(record) if kind == LEGACY_EXECUTION_TOPIC_KIND else EventType(kind)
    )
    event_id = legacy_event_id(event_type, record)
    fields = dict(record)
    for key in ("event_id", "id", "kind", "event", "event_kind", "lifecycle"):
        fields.pop(key, None)
    raw_corr = fields.get("correlation_id")
    if raw_corr is None or (isinstance(raw_corr, str) and not raw_corr.strip()):
        raise InvalidEvent("the legacy record has no correlation_id")
    corr, original = correlation_uuid(str(raw_corr))
    fields["correlation_id"] = corr
    if event_type in _LIFECYCLE_TYPES:
        _legacy_lifecycle_fields(event_type, fields)
    try:
        payload = payload_model_for(event_type).model_validate(fields)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid legacy {event_type.value} record: {_short(exc)}") from None
    return _rows(event_id, event_type, dict(payload), corr, original, legacy=True)


def _legacy_lifecycle_fields(event_type: EventType, fields: dict[str, Any]) -> None:
    """Map the AgentExecutionLogger's field names onto the lifecycle payloads."""
    if "user_prompt" in fields and "user_request" not in fields:
        fields["user_request"] = fields.pop("user_prompt")
    if "status" in fields:
        status = _normalise_status(fields.pop("status"))
        if event_type == EventType.EXECUTION_FAILED and status is not None:
            fields["status"] = status
    if event_type == EventType.EXECUTION_COMPLETED and "metadata" in fields:
        fields.setdefault("metrics", fields.pop("metadata"))
    if event_type == EventType.EXECUTION_FAILED and "metadata" in fields:
        fields.setdefault("partial_results", fields.pop("metadata"))
    if event_type == EventType.EXECUTION_FAILED and fields.get("error_message") is None:
        fields["error_message"] = ""
    timestamp = fields.pop("timestamp", None)
    if timestamp is not None:
        key = {
            EventType.EXECUTION_STARTED: "started_at",
            EventType.EXECUTION_PROGRESS: "reported_at",
            EventType.EXECUTION_COMPLETED: "completed_at",
            EventType.EXECUTION_FAILED: "failed_at",
        }[event_type]
        fields.setdefault(key, timestamp)


# ----------------------------------------------------------------------------------------------
# payload -> rows
# ----------------------------------------------------------------------------------------------
def _rows(
    event_id: uuid.UUID,
    event_type: EventType,
    payload: Fields,
    correlation_id: uuid.UUID,
    original: str | None,
    *,
    legacy: bool,
) -> Decoded:
    """The rows of one event; ``payload`` holds its payload model's fields (validated)."""
    row = _BUILDERS[event_type](event_id, payload, correlation_id, original)
    return Decoded(event_id, event_type, correlation_id, (row,), legacy)


def _with_original(details: Mapping[str, Any], original: str | None) -> dict[str, Any]:
    out = dict(details)
    if original is not None:
        out["correlation_id_original"] = original
    return out


def _context(context: Mapping[str, Any], corr: uuid.UUID, original: str | None) -> dict[str, Any]:
    out = dict(context)
    out["correlation_id"] = str(corr)
    if original is not None:
        out["correlation_id_original"] = original
    return out


def _action(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    return Row(c.TABLE_AGENT_ACTIONS, (
        eid, corr, p["agent_name"], p["action_type"].value, p["action_name"],
        _with_original(p["action_details"], orig), p["debug_mode"], p["duration_ms"],
        p["project_path"], p["project_name"], p["working_directory"], p["timestamp"],
    ))


def _routing(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    return Row(c.TABLE_ROUTING_DECISIONS, (
        eid, corr, p["user_request"], p["selected_agent"], p["confidence_score"],
        list(p["alternatives"]), p["reasoning"], p["routing_strategy"],
        _context(p["context"], corr, orig), p["routing_time_ms"], p["timestamp"],
    ))


def _transformation(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    return Row(c.TABLE_TRANSFORMATION_EVENTS, (
        eid, corr, p["source_agent"], p["target_agent"], p["transformation_reason"],
        p["confidence_score"], p["transformation_duration_ms"], p["success"], p["timestamp"],
    ))


def _performance(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    return Row(c.TABLE_ROUTER_PERFORMANCE, (
        eid, corr, p["query_text"], p["routing_duration_ms"], p["cache_hit"],
        p["trigger_match_strategy"], dict(p["confidence_components"]), p["candidates_evaluated"],
        p["timestamp"],
    ))


def _detection(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    return Row(c.TABLE_DETECTION_FAILURES, (
        eid, corr, p["user_request"], p["failure_reason"], p["detection_strategy"],
        p["candidates_evaluated"], list(p["candidates"]), p["best_confidence"],
        p["detection_duration_ms"], _context(p["context"], corr, orig), p["timestamp"],
    ))


def _session(session_id: str | None, meta: dict[str, Any]) -> str | None:
    if session_id is None or not str(session_id).strip():
        return None
    value, original = correlation_uuid(session_id)
    if original is not None:
        meta["session_id_original"] = original
    return str(value)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _execution_row(
    eid: uuid.UUID, execution_id: uuid.UUID, corr: uuid.UUID, kind: str, agent: str,
    occurred_at: datetime, body: dict[str, Any],
) -> Row:
    return Row(c.TABLE_EXECUTION_EVENTS, (eid, execution_id, corr, kind, agent, occurred_at, body))


def _started(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    meta: dict[str, Any] = {}
    if p["context"]:
        meta["context"] = dict(p["context"])
    session = _session(p["session_id"], meta)
    meta.update(_drop_none({
        "working_directory": p["working_directory"],
        "correlation_id_original": orig or p["correlation_id_original"],
        "started_event_id": str(eid),
    }))
    body = _drop_none({
        "session_id": session,
        "user_request": p["user_request"],
        "project_path": p["project_path"],
        "project_name": p["project_name"],
        "claude_session_id": p["claude_session_id"],
        "terminal_id": p["terminal_id"],
    })
    body["meta"] = meta
    return _execution_row(eid, p["execution_id"], corr, c.EXECUTION_KIND_STARTED, p["agent_name"],
                          p["started_at"], body)


def _progress(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    body = {
        "event_id": str(eid),
        "stage": p["stage"],
        "percent": p["percent"],
        "metadata": dict(p["metadata"]),
        "reported_at": rfc3339(p["reported_at"]),
    }
    return _execution_row(eid, p["execution_id"], corr, c.EXECUTION_KIND_PROGRESS, p["agent_name"],
                          p["reported_at"], body)


def _completed(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    meta: dict[str, Any] = {}
    session = _session(p["session_id"], meta)
    if p["metrics"]:
        meta["metrics"] = dict(p["metrics"])
    if p["output_summary"] is not None:
        meta["output_summary"] = p["output_summary"]
    body = _drop_none({
        "status": ExecutionStatus(p["status"]).value,
        "session_id": session,
        "duration_ms": p["duration_ms"],
        "quality_score": p["quality_score"],
    })
    body["meta"] = meta
    return _execution_row(eid, p["execution_id"], corr, c.EXECUTION_KIND_COMPLETED, p["agent_name"],
                          p["completed_at"], body)


def _failed(eid: uuid.UUID, p: Fields, corr: uuid.UUID, orig: str | None) -> Row:
    meta: dict[str, Any] = {}
    session = _session(p["session_id"], meta)
    meta.update(_drop_none({
        "error_stack_trace": p["error_stack_trace"],
        "partial_results": p["partial_results"],
    }))
    body = _drop_none({
        "status": ExecutionStatus(p["status"]).value,
        "session_id": session,
        "duration_ms": p["duration_ms"],
        "error_message": p["error_message"],
        "error_type": p["error_type"],
    })
    body["meta"] = meta
    return _execution_row(eid, p["execution_id"], corr, c.EXECUTION_KIND_FAILED, p["agent_name"],
                          p["failed_at"], body)


_BUILDERS: Final[dict[EventType, Any]] = {
    EventType.AGENT_ACTION: _action,
    EventType.ROUTING_DECISION: _routing,
    EventType.TRANSFORMATION: _transformation,
    EventType.ROUTER_PERFORMANCE: _performance,
    EventType.DETECTION_FAILURE: _detection,
    EventType.EXECUTION_STARTED: _started,
    EventType.EXECUTION_PROGRESS: _progress,
    EventType.EXECUTION_COMPLETED: _completed,
    EventType.EXECUTION_FAILED: _failed,
}
assert set(_BUILDERS) == set(EventType), "every event type needs a row builder"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
