"""Span events: decisions, errors, successes and the polymorphic router's records (seed 004).

Each function validates its input the way the legacy tables' CHECK constraints do and raises a
``ValueError`` naming the function, the field and the bad value, before anything is recorded. The
event goes on the current span; when no recording span is current, a short span named after the
event carries it (for the router records, a given correlation id becomes that span's trace id, so
router events recorded before the execution starts share its trace).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace as _trace_api

from onex_otel import _context, _payload
from onex_otel._internal import internal_error
from onex_otel._metrics import instruments
from onex_otel.conventions import (
    ATTR_ALTERNATIVES,
    ATTR_CACHE_HIT,
    ATTR_CANDIDATES_EVALUATED,
    ATTR_CONFIDENCE_COMPONENTS,
    ATTR_CONFIDENCE_SCORE,
    ATTR_DECISION_CONTEXT,
    ATTR_DECISION_RESULT,
    ATTR_DETAILS,
    ATTR_DETECTION_CANDIDATES,
    ATTR_DETECTION_CANDIDATES_EVALUATED,
    ATTR_DETECTION_CONFIDENCE,
    ATTR_DETECTION_CONTEXT,
    ATTR_DETECTION_DURATION_MS,
    ATTR_DETECTION_FAILURE_REASON,
    ATTR_DETECTION_STRATEGY,
    ATTR_DETECTION_USER_REQUEST,
    ATTR_ERROR_CONTEXT,
    ATTR_ERROR_MESSAGE,
    ATTR_ERROR_TYPE,
    ATTR_EVENT_DURATION_MS,
    ATTR_NAME,
    ATTR_QUERY_TEXT,
    ATTR_REASONING,
    ATTR_ROUTING_CONTEXT,
    ATTR_ROUTING_DURATION_MS,
    ATTR_ROUTING_STRATEGY,
    ATTR_ROUTING_TIME_MS,
    ATTR_ROUTING_USER_REQUEST,
    ATTR_SELECTED_AGENT,
    ATTR_SEVERITY,
    ATTR_SOURCE_AGENT,
    ATTR_TARGET_AGENT,
    ATTR_TRANSFORMATION_CONFIDENCE,
    ATTR_TRANSFORMATION_DURATION_MS,
    ATTR_TRANSFORMATION_REASON,
    ATTR_TRANSFORMATION_SUCCESS,
    ATTR_TRIGGER_MATCH_STRATEGY,
    EVENT_DECISION,
    EVENT_DETECTION_FAILURE,
    EVENT_ERROR,
    EVENT_ROUTER_METRICS,
    EVENT_ROUTING_DECISION,
    EVENT_SUCCESS,
    EVENT_TRANSFORMATION,
    NOT_CAPTURED_MARKER,
    ONEX_CORRELATION_ID,
    ONEX_CORRELATION_ID_ORIGINAL,
    ORIGINAL_SIZE_SUFFIX,
    ActionType,
)
from onex_otel.ids import correlation_uuid
from onex_otel.limits import NON_NEGATIVE_MIN, ROUTING_DURATION_MS_LIMIT, SCORE_MAX, SCORE_MIN

__all__ = [
    "SEVERITIES",
    "detection_failure",
    "record_decision",
    "record_error",
    "record_success",
    "router_metrics",
    "routing_decision",
    "transformation",
]

#: Accepted ``severity`` values of :func:`record_error`.
SEVERITIES = ("debug", "info", "warning", "error", "critical")


# ------------------------------------------------------------------------------------------------
# Validation (mirrors the seeds' CHECK constraints)
# ------------------------------------------------------------------------------------------------
def _text(fn: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{fn}: {field} must be a non-empty string, got {value!r}")
    return value


def _opt_text(fn: str, field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{fn}: {field} must be a string or None, got {value!r}")
    return value


def _number(fn: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{fn}: {field} must be a finite number, got {value!r}")
    return float(value)


def _confidence(fn: str, field: str, value: object) -> float:
    number = _number(fn, field, value)
    if not SCORE_MIN <= number <= SCORE_MAX:
        raise ValueError(f"{fn}: {field} must be between {SCORE_MIN:g} and {SCORE_MAX:g}, got {value!r}")
    return number


def _millis(fn: str, field: str, value: object, below: int | None = None) -> int:
    """A non-negative whole number of milliseconds (floats are rounded)."""
    millis = round(_number(fn, field, value))
    if millis < NON_NEGATIVE_MIN:
        raise ValueError(f"{fn}: {field} must be >= {NON_NEGATIVE_MIN}, got {value!r}")
    if below is not None and millis >= below:
        raise ValueError(f"{fn}: {field} must be below {below}, got {value!r}")
    return millis


def _count(fn: str, field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{fn}: {field} must be a non-negative integer, got {value!r}")
    return int(value)


def _flag(fn: str, field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{fn}: {field} must be True or False, got {value!r}")
    return value


def _array(fn: str, field: str, value: object) -> Sequence[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, set, frozenset)):
        raise ValueError(f"{fn}: {field} must be a list, got {type(value).__name__}")
    return list(value)


def _object(fn: str, field: str, value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{fn}: {field} must be a JSON object, got {type(value).__name__}")
    return value


def _json(attrs: dict[str, Any], key: str, value: Any) -> None:
    text, original = _payload.encode(value)
    attrs[key] = text
    if original is not None:
        attrs[key + ORIGINAL_SIZE_SUFFIX] = original


def _content(attrs: dict[str, Any], key: str, value: str | None, required: bool = False) -> None:
    """User content (requests, queries): recorded only while capture is on."""
    if value is None:
        return
    pol = _payload.policy()
    if not pol.capture:
        if required:
            attrs[key] = NOT_CAPTURED_MARKER
        return
    text, original = _payload.truncate_text(value, pol.max_bytes)
    attrs[key] = text
    if original is not None:
        attrs[key + ORIGINAL_SIZE_SUFFIX] = original


# ------------------------------------------------------------------------------------------------
# Emission
# ------------------------------------------------------------------------------------------------
def _emit(name: str, attrs: dict[str, Any], correlation_id: str | uuid.UUID | None = None) -> None:
    try:
        span = _trace_api.get_current_span()
        if span.is_recording():
            span.add_event(name, attrs)
            return
        tracer = _context.tracer()
        if tracer is None:
            return
        span_attrs: dict[str, Any] = {}
        pending = 0
        if correlation_id is not None and not span.get_span_context().is_valid:
            cid, original = correlation_uuid(correlation_id)
            pending = cid.int
            span_attrs[ONEX_CORRELATION_ID] = str(cid)
            if original is not None:
                span_attrs[ONEX_CORRELATION_ID_ORIGINAL] = original
        token = _context.set_pending(pending)
        try:
            short = tracer.start_span(name, attributes=span_attrs)
        finally:
            _context.reset_pending(token)
        short.add_event(name, attrs)
        short.end()
    except Exception:
        internal_error("event.emit")


def _agent() -> str | None:
    execution = _context.current_execution()
    return None if execution is None else execution.agent_name


def record_decision(
    name: str,
    context: Any = None,
    result: Any = None,
    duration_ms: float | None = None,
) -> None:
    """Record a decision (``agent_actions`` action_type ``decision``) on the current span."""
    fn = "record_decision"
    _text(fn, "name", name)
    millis = None if duration_ms is None else _millis(fn, "duration_ms", duration_ms)
    try:
        attrs: dict[str, Any] = {ATTR_NAME: name}
        _json(attrs, ATTR_DECISION_CONTEXT, {} if context is None else context)
        _json(attrs, ATTR_DECISION_RESULT, {} if result is None else result)
        if millis is not None:
            attrs[ATTR_EVENT_DURATION_MS] = millis
        metrics = instruments()
        if metrics is not None:
            metrics.action(_agent(), ActionType.DECISION, None, millis)
    except Exception:
        internal_error("event.decision")
        return
    _emit(EVENT_DECISION, attrs)


def record_error(
    error_type: str,
    error_message: str,
    context: Any = None,
    severity: str = "error",
) -> None:
    """Record an error (``agent_actions`` action_type ``error``) on the current span."""
    fn = "record_error"
    _text(fn, "error_type", error_type)
    if not isinstance(error_message, str):
        raise ValueError(f"{fn}: error_message must be a string, got {error_message!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"{fn}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    try:
        attrs: dict[str, Any] = {
            ATTR_ERROR_TYPE: error_type,
            ATTR_ERROR_MESSAGE: error_message,
            ATTR_SEVERITY: severity,
        }
        _json(attrs, ATTR_ERROR_CONTEXT, {} if context is None else context)
        metrics = instruments()
        if metrics is not None:
            agent = _agent()
            metrics.action(agent, ActionType.ERROR, None, None)
            metrics.error(agent, error_type)
    except Exception:
        internal_error("event.error")
        return
    _emit(EVENT_ERROR, attrs)


def record_success(name: str, details: Any = None, duration_ms: float | None = None) -> None:
    """Record a success milestone (``agent_actions`` type ``success``) on the current span."""
    fn = "record_success"
    _text(fn, "name", name)
    millis = None if duration_ms is None else _millis(fn, "duration_ms", duration_ms)
    try:
        attrs: dict[str, Any] = {ATTR_NAME: name}
        _json(attrs, ATTR_DETAILS, {} if details is None else details)
        if millis is not None:
            attrs[ATTR_EVENT_DURATION_MS] = millis
        metrics = instruments()
        if metrics is not None:
            metrics.action(_agent(), ActionType.SUCCESS, None, millis)
    except Exception:
        internal_error("event.success")
        return
    _emit(EVENT_SUCCESS, attrs)


def routing_decision(
    selected_agent: str,
    confidence_score: float,
    routing_strategy: str,
    routing_time_ms: float,
    *,
    user_request: str | None = None,
    alternatives: Sequence[Any] | None = None,
    reasoning: str | None = None,
    context: Mapping[str, Any] | None = None,
    correlation_id: str | uuid.UUID | None = None,
) -> None:
    """Record the router's choice of agent (``agent_routing_decisions``, seed 004)."""
    fn = "routing_decision"
    attrs: dict[str, Any] = {
        ATTR_SELECTED_AGENT: _text(fn, "selected_agent", selected_agent),
        ATTR_CONFIDENCE_SCORE: _confidence(fn, "confidence_score", confidence_score),
        ATTR_ROUTING_STRATEGY: _text(fn, "routing_strategy", routing_strategy),
        ATTR_ROUTING_TIME_MS: _millis(fn, "routing_time_ms", routing_time_ms),
    }
    alts = _array(fn, "alternatives", alternatives)
    ctx = _object(fn, "context", context)
    request = _opt_text(fn, "user_request", user_request)
    reason = _opt_text(fn, "reasoning", reasoning)
    try:
        _json(attrs, ATTR_ALTERNATIVES, alts)
        _json(attrs, ATTR_ROUTING_CONTEXT, ctx)
        if reason is not None:
            attrs[ATTR_REASONING] = reason
        _content(attrs, ATTR_ROUTING_USER_REQUEST, request)
    except Exception:
        internal_error("event.routing_decision")
        return
    _emit(EVENT_ROUTING_DECISION, attrs, correlation_id)


def transformation(
    source_agent: str,
    target_agent: str,
    *,
    duration_ms: float,
    reason: str | None = None,
    confidence_score: float | None = None,
    success: bool = True,
    correlation_id: str | uuid.UUID | None = None,
) -> None:
    """Record the polymorphic agent becoming another agent (``agent_transformation_events``)."""
    fn = "transformation"
    attrs: dict[str, Any] = {
        ATTR_SOURCE_AGENT: _text(fn, "source_agent", source_agent),
        ATTR_TARGET_AGENT: _text(fn, "target_agent", target_agent),
        ATTR_TRANSFORMATION_DURATION_MS: _millis(fn, "duration_ms", duration_ms),
        ATTR_TRANSFORMATION_SUCCESS: _flag(fn, "success", success),
    }
    if confidence_score is not None:
        attrs[ATTR_TRANSFORMATION_CONFIDENCE] = _confidence(fn, "confidence_score", confidence_score)
    if _opt_text(fn, "reason", reason) is not None:
        attrs[ATTR_TRANSFORMATION_REASON] = reason
    _emit(EVENT_TRANSFORMATION, attrs, correlation_id)


def router_metrics(
    query_text: str,
    routing_duration_ms: float,
    *,
    candidates_evaluated: int,
    cache_hit: bool = False,
    trigger_match_strategy: str | None = None,
    confidence_components: Mapping[str, Any] | None = None,
    correlation_id: str | uuid.UUID | None = None,
) -> None:
    """Record the router's performance (``router_performance_metrics``; duration 0..999 ms)."""
    fn = "router_metrics"
    query = _text(fn, "query_text", query_text)
    attrs: dict[str, Any] = {
        ATTR_ROUTING_DURATION_MS: _millis(
            fn, "routing_duration_ms", routing_duration_ms, below=ROUTING_DURATION_MS_LIMIT
        ),
        ATTR_CANDIDATES_EVALUATED: _count(fn, "candidates_evaluated", candidates_evaluated),
        ATTR_CACHE_HIT: _flag(fn, "cache_hit", cache_hit),
    }
    strategy = _opt_text(fn, "trigger_match_strategy", trigger_match_strategy)
    components = _object(fn, "confidence_components", confidence_components)
    try:
        if strategy is not None:
            attrs[ATTR_TRIGGER_MATCH_STRATEGY] = strategy
        _json(attrs, ATTR_CONFIDENCE_COMPONENTS, components)
        _content(attrs, ATTR_QUERY_TEXT, query, required=True)
    except Exception:
        internal_error("event.router_metrics")
        return
    _emit(EVENT_ROUTER_METRICS, attrs, correlation_id)


def detection_failure(
    user_request: str,
    failure_reason: str,
    *,
    candidates: Sequence[Any] | None = None,
    best_confidence: float | None = None,
    detection_strategy: str | None = None,
    candidates_evaluated: int = 0,
    detection_duration_ms: float | None = None,
    context: Mapping[str, Any] | None = None,
    correlation_id: str | uuid.UUID | None = None,
) -> None:
    """Record that the router found no agent for a request (``agent_detection_failures``)."""
    fn = "detection_failure"
    request = _text(fn, "user_request", user_request)
    attrs: dict[str, Any] = {
        ATTR_DETECTION_FAILURE_REASON: _text(fn, "failure_reason", failure_reason),
        ATTR_DETECTION_CANDIDATES_EVALUATED: _count(fn, "candidates_evaluated", candidates_evaluated),
    }
    if best_confidence is not None:
        attrs[ATTR_DETECTION_CONFIDENCE] = _confidence(fn, "best_confidence", best_confidence)
    if detection_duration_ms is not None:
        attrs[ATTR_DETECTION_DURATION_MS] = _millis(fn, "detection_duration_ms", detection_duration_ms)
    strategy = _opt_text(fn, "detection_strategy", detection_strategy)
    cands = _array(fn, "candidates", candidates)
    ctx = _object(fn, "context", context)
    try:
        if strategy is not None:
            attrs[ATTR_DETECTION_STRATEGY] = strategy
        _json(attrs, ATTR_DETECTION_CANDIDATES, cands)
        _json(attrs, ATTR_DETECTION_CONTEXT, ctx)
        _content(attrs, ATTR_DETECTION_USER_REQUEST, request, required=True)
    except Exception:
        internal_error("event.detection_failure")
        return
    _emit(EVENT_DETECTION_FAILURE, attrs, correlation_id)
