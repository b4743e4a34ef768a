r"""Legacy flat records (the JSON the old Kafka skills published, no envelope) -> rows.

Their event type comes from the topic, their event id is the record's own ``event_id`` / ``id``
when it is a UUID, otherwise the deterministic
``uuid5(LEGACY_EVENT_ID_NAMESPACE, "<event type>\n<canonical JSON>")``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from onex_collector.poison import InvalidEvent, short
from onex_collector.row_builders import rows_for_payload
from onex_collector.tables import Decoded
from onex_otel import conventions as c
from onex_otel.conventions import EventType, ExecutionStatus
from onex_otel.envelope import payload_model_for
from onex_otel.ids import correlation_uuid

__all__ = ["LEGACY_EXECUTION_TOPIC_KIND", "legacy_event_id", "legacy_rows"]

#: The legacy topic whose flat records are execution lifecycle events of any kind.
LEGACY_EXECUTION_TOPIC_KIND: Final = "execution-lifecycle"

_LIFECYCLE_TYPES: Final = frozenset(
    {
        EventType.EXECUTION_STARTED,
        EventType.EXECUTION_PROGRESS,
        EventType.EXECUTION_COMPLETED,
        EventType.EXECUTION_FAILED,
    }
)


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


def legacy_rows(kind: EventType | str, record: dict[str, Any]) -> Decoded:
    """The rows of a flat record read from a topic of ``kind``; :class:`InvalidEvent` if none."""
    event_type = _legacy_execution_type(record) if kind == LEGACY_EXECUTION_TOPIC_KIND else EventType(kind)
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
        raise InvalidEvent(f"invalid legacy {event_type.value} record: {short(exc)}") from None
    return rows_for_payload(event_id, event_type, dict(payload), corr, original, legacy=True)


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
