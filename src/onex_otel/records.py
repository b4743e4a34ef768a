"""Light builders of event envelopes as plain dictionaries, for short-lived processes.

The CLI hooks (``onex-otel log-action`` and friends) run once per shell hook; importing pydantic and
the OpenTelemetry SDK would cost most of their time budget. These builders validate the seeds'
constraints (the SQL CHECKs) with plain Python and produce exactly the JSON that
:class:`onex_otel.envelope.OnexEnvelopeV1` produces (a test checks every builder against the models),
so a consumer cannot tell the two apart.

Only the standard library and :mod:`onex_otel.conventions` / :mod:`onex_otel.ids` /
:mod:`onex_otel.config` are imported (and :mod:`onex_otel._payload` for a value to shrink).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

from onex_otel.config import ALWAYS_FITS_CHARS
from onex_otel.conventions import (
    DEFAULT_SOURCE,
    DEFAULT_TENANT_ID,
    ENVELOPE_NAMESPACE,
    SCHEMA_REFS,
    TRUNCATION_MARKER,
    ActionType,
    EventType,
)
from onex_otel.errors import OnexError
from onex_otel.ids import correlation_uuid, uuid7
from onex_otel.ids import is_uuid as is_uuid  # moved to onex_otel.ids; the old name still works
from onex_otel.limits import NON_NEGATIVE_MIN, ROUTING_DURATION_MS_LIMIT, SCORE_MAX, SCORE_MIN
from onex_otel.timestamps import rfc3339_ns

__all__ = [
    "RecordError",
    "agent_action",
    "check_confidence",
    "check_non_negative",
    "check_routing_duration",
    "envelope",
    "parse_json_object",
    "router_performance",
    "routing_decision",
    "transformation",
]


class RecordError(OnexError, ValueError):
    """A record field has a value the legacy tables would reject."""


def _now() -> str:
    return rfc3339_ns(time.time_ns())


def check_confidence(name: str, value: float | None, *, required: bool = True) -> float | None:
    """A confidence score in 0..1 (``NUMERIC(5,4) CHECK (x >= 0 AND x <= 1)``)."""
    if value is None:
        if required:
            raise RecordError(f"{name} is required (a number from {SCORE_MIN} to {SCORE_MAX})")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise RecordError(f"{name} must be a number from {SCORE_MIN} to {SCORE_MAX}, got {value!r}")
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise RecordError(f"{name} must be between {SCORE_MIN} and {SCORE_MAX}, got {value}")
    return float(value)


def check_non_negative(name: str, value: int | None, *, required: bool = True) -> int | None:
    """A non-negative integer (durations, counts: ``CHECK (x >= 0)``)."""
    if value is None:
        if required:
            raise RecordError(f"{name} is required (a whole number >= 0)")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{name} must be a whole number >= 0, got {value!r}")
    if value < NON_NEGATIVE_MIN:
        raise RecordError(f"{name} must be >= {NON_NEGATIVE_MIN}, got {value}")
    return value


def check_routing_duration(value: int) -> int:
    """``router_performance_metrics.routing_duration_ms``: ``CHECK (x >= 0 AND x < 1000)``."""
    checked = check_non_negative("routing_duration_ms", value)
    assert checked is not None
    if checked >= ROUTING_DURATION_MS_LIMIT:
        raise RecordError(f"routing_duration_ms must be below {ROUTING_DURATION_MS_LIMIT}, got {checked}")
    return checked


def check_text(name: str, value: str | None) -> str:
    """A required, non-empty text field (``TEXT NOT NULL``)."""
    if value is None or not str(value).strip():
        raise RecordError(f"{name} is required and must not be empty")
    return str(value)


def parse_json_object(name: str, text: str | None) -> dict[str, Any]:
    """Parse a JSON object given on a command line; a clear error for anything else."""
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise RecordError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def parse_json_array(name: str, text: str | None) -> list[Any]:
    """Parse a JSON array given on a command line; a clear error for anything else."""
    if text is None or text == "":
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, list):
        raise RecordError(f"{name} must be a JSON array, got {type(value).__name__}")
    return value


def _bounded_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` within ``ONEX_MAX_PAYLOAD_BYTES`` as captured payloads are (not redacted).

    A larger object is shrunk to a still-valid object with ``...[truncated]`` markers, and
    ``details_original_size`` records its encoded size.
    """
    if not details:
        return details
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) <= ALWAYS_FITS_CHARS:
        return details
    from onex_otel import _payload

    fitted, original = _payload.fit(text, json.loads(text), _payload.policy().max_bytes)
    if original is None:
        return details
    shrunk = json.loads(fitted)
    out = shrunk if isinstance(shrunk, dict) else {TRUNCATION_MARKER: shrunk}
    out["details_original_size"] = original
    return out


def _correlation(value: str | None, context: dict[str, Any]) -> str:
    cid, original = correlation_uuid(value)
    if original is not None:
        context.setdefault("correlation_id_original", original)
    return str(cid)


def envelope(
    event_type: EventType,
    payload: Mapping[str, Any],
    *,
    causation_id: str | None = None,
    tenant_id: str = DEFAULT_TENANT_ID,
    source: str = DEFAULT_SOURCE,
) -> dict[str, Any]:
    """Wrap a payload dict (which carries ``correlation_id``) in an OnexEnvelopeV1 dict."""
    return {
        "event_type": event_type.value,
        "event_id": str(uuid7()),
        "timestamp": _now(),
        "tenant_id": tenant_id,
        "namespace": ENVELOPE_NAMESPACE,
        "source": source,
        "correlation_id": payload["correlation_id"],
        "causation_id": causation_id,
        "schema_ref": SCHEMA_REFS[event_type],
        "payload": dict(payload),
    }


def agent_action(
    *,
    agent_name: str,
    action_type: str,
    action_name: str,
    action_details: dict[str, Any] | None = None,
    correlation_id: str | None = None,
    duration_ms: int | None = None,
    debug_mode: bool = True,
    project_path: str | None = None,
    project_name: str | None = None,
    working_directory: str | None = None,
) -> dict[str, Any]:
    """An ``agent_actions`` payload (seed 001/004)."""
    allowed = [t.value for t in ActionType]
    if action_type not in allowed:
        raise RecordError(f"action type must be one of {', '.join(allowed)}; got {action_type!r}")
    details = _bounded_details(dict(action_details or {}))
    return {
        "correlation_id": _correlation(correlation_id, details),
        "agent_name": check_text("agent", agent_name),
        "action_type": action_type,
        "action_name": check_text("action name", action_name),
        "action_details": details,
        "debug_mode": debug_mode,
        "duration_ms": check_non_negative("duration_ms", duration_ms, required=False),
        "project_path": project_path,
        "project_name": project_name,
        "working_directory": working_directory,
        "timestamp": _now(),
    }


def routing_decision(
    *,
    selected_agent: str,
    confidence_score: float,
    routing_strategy: str,
    routing_time_ms: int,
    user_request: str | None = None,
    alternatives: list[Any] | None = None,
    reasoning: str | None = None,
    context: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """An ``agent_routing_decisions`` payload (seed 004)."""
    ctx = dict(context or {})
    return {
        "correlation_id": _correlation(correlation_id, ctx),
        "selected_agent": check_text("agent", selected_agent),
        "confidence_score": check_confidence("confidence", confidence_score),
        "routing_strategy": check_text("strategy", routing_strategy),
        "routing_time_ms": check_non_negative("latency_ms", routing_time_ms),
        "user_request": user_request,
        "alternatives": list(alternatives or []),
        "reasoning": reasoning,
        "context": ctx,
        "timestamp": _now(),
    }


def transformation(
    *,
    source_agent: str,
    target_agent: str,
    transformation_duration_ms: int,
    success: bool = True,
    transformation_reason: str | None = None,
    confidence_score: float | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """An ``agent_transformation_events`` payload (seed 004)."""
    extra: dict[str, Any] = {}
    payload = {
        "correlation_id": _correlation(correlation_id, extra),
        "source_agent": check_text("from agent", source_agent),
        "target_agent": check_text("to agent", target_agent),
        "transformation_reason": transformation_reason,
        "confidence_score": check_confidence("confidence", confidence_score, required=False),
        "transformation_duration_ms": check_non_negative("duration_ms", transformation_duration_ms),
        "success": bool(success),
        "timestamp": _now(),
    }
    payload.update(extra)
    return payload


def router_performance(
    *,
    query_text: str,
    routing_duration_ms: int,
    candidates_evaluated: int,
    cache_hit: bool = False,
    trigger_match_strategy: str | None = None,
    confidence_components: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A ``router_performance_metrics`` payload (seed 004)."""
    extra: dict[str, Any] = {}
    payload = {
        "correlation_id": _correlation(correlation_id, extra),
        "query_text": check_text("query", query_text),
        "routing_duration_ms": check_routing_duration(routing_duration_ms),
        "cache_hit": bool(cache_hit),
        "trigger_match_strategy": trigger_match_strategy,
        "confidence_components": dict(confidence_components or {}),
        "candidates_evaluated": check_non_negative("candidates", candidates_evaluated),
        "timestamp": _now(),
    }
    payload.update(extra)
    return payload
