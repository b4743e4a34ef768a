"""The events a span's events map to (decision, error, success, routing, router, progress...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes

from onex_exporters.mapping import MappingError
from onex_exporters.mapping_execution import _progress
from onex_exporters.mapping_span import (
    _MAPPED_EVENTS,
    _Builder,
    _is_execution,
    _started_id,
)
from onex_exporters.mapping_values import (
    DECISION,
    DETECTION_FAILURE,
    ERROR,
    ROUTER_PERFORMANCE,
    ROUTING_DECISION,
    SUCCESS,
    TRANSFORMATION,
    _array,
    _bool,
    _loads,
    _number,
    _object,
    _required,
    _text,
)
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
    ATTR_DETECTION_CONFIDENCE,
    ATTR_DETECTION_CONTEXT,
    ATTR_DETECTION_FAILURE_REASON,
    ATTR_DETECTION_STRATEGY,
    ATTR_DETECTION_USER_REQUEST,
    ATTR_ERROR_CONTEXT,
    ATTR_ERROR_MESSAGE,
    ATTR_ERROR_TYPE,
    ATTR_EVENT_DURATION_MS,
    ATTR_METADATA,
    ATTR_NAME,
    ATTR_PERCENT,
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
    ATTR_STAGE,
    ATTR_TARGET_AGENT,
    ATTR_TRANSFORMATION_CONFIDENCE,
    ATTR_TRANSFORMATION_DURATION_MS,
    ATTR_TRANSFORMATION_REASON,
    ATTR_TRANSFORMATION_SUCCESS,
    ATTR_TRIGGER_MATCH_STRATEGY,
    EVENT_DECISION,
    EVENT_DETECTION_FAILURE,
    EVENT_ERROR,
    EVENT_PROGRESS,
    EVENT_ROUTER_METRICS,
    EVENT_ROUTING_DECISION,
    EVENT_SUCCESS,
    EVENT_TRANSFORMATION,
    SEVERITY_ERROR,
)
from onex_otel.limits import ROUTING_DURATION_MS_LIMIT, SCORE_MAX, SCORE_MIN
from onex_otel.timestamps import rfc3339_ns


# ----------------------------------------------------------------------------------------------
# span events
# ----------------------------------------------------------------------------------------------
def _span_event(b: _Builder, index: int, event: Any, include_progress: bool) -> None:
    facts = b.facts
    name = event.name
    if name not in _MAPPED_EVENTS:  # any other span event (an exception...) maps to nothing
        return
    a: Mapping[str, Any] = event.attributes or {}
    if type(a) is BoundedAttributes:  # the SDK's read-only mapping is slow to query
        a = a._dict
    ts = event.timestamp or facts.end or 0
    if name == EVENT_PROGRESS:
        if include_progress and _is_execution(facts):
            _progress(b, a.get(ATTR_STAGE), a.get(ATTR_PERCENT), a.get(ATTR_METADATA), ts)
        return
    eid = facts.event_id(ts, "event", index)
    cause = facts.started_event_id
    if facts.started_event_id is None and _is_execution(facts):
        cause = _started_id(facts)
    duration = a.get(ATTR_EVENT_DURATION_MS)
    if name == EVENT_DECISION:
        details = {
            "decision_context": _loads(a.get(ATTR_DECISION_CONTEXT)),
            "decision_result": _loads(a.get(ATTR_DECISION_RESULT)),
        }
        b.action(
            eid,
            ts,
            cause,
            DECISION,
            _required(a.get(ATTR_NAME), "decision name"),
            details,
            duration,
        )
    elif name == EVENT_ERROR:
        error_type = _required(a.get(ATTR_ERROR_TYPE), "error type")
        details = {
            "error_type": error_type,
            "error_message": _text(a.get(ATTR_ERROR_MESSAGE)),
            "error_context": _object(a.get(ATTR_ERROR_CONTEXT)),
            "severity": _text(a.get(ATTR_SEVERITY)) or SEVERITY_ERROR,
        }
        b.action(eid, ts, cause, ERROR, error_type, details, duration)
    elif name == EVENT_SUCCESS:
        b.action(
            eid,
            ts,
            cause,
            SUCCESS,
            _required(a.get(ATTR_NAME), "success name"),
            _object(a.get(ATTR_DETAILS)),
            duration,
        )
    elif name == EVENT_ROUTING_DECISION:
        payload = {
            "selected_agent": _required(a.get(ATTR_SELECTED_AGENT), "selected_agent"),
            "confidence_score": _number(
                a.get(ATTR_CONFIDENCE_SCORE), "confidence_score", lo=SCORE_MIN, hi=SCORE_MAX
            ),
            "routing_strategy": _required(a.get(ATTR_ROUTING_STRATEGY), "routing_strategy"),
            "routing_time_ms": _number(a.get(ATTR_ROUTING_TIME_MS), "routing_time_ms", lo=0, integer=True),
            "user_request": _text(a.get(ATTR_ROUTING_USER_REQUEST)),
            "alternatives": _array(a.get(ATTR_ALTERNATIVES)),
            "reasoning": _text(a.get(ATTR_REASONING)),
            "context": _object(a.get(ATTR_ROUTING_CONTEXT)),
            "timestamp": rfc3339_ns(ts),
        }
        if payload["confidence_score"] is None or payload["routing_time_ms"] is None:
            raise MappingError("routing decision needs confidence_score and routing_time_ms")
        b.add(ROUTING_DECISION, eid, ts, cause, payload)
    elif name == EVENT_ROUTER_METRICS:
        payload = {
            "query_text": _required(a.get(ATTR_QUERY_TEXT), "query_text"),
            "routing_duration_ms": _number(
                a.get(ATTR_ROUTING_DURATION_MS),
                "routing_duration_ms",
                lo=0,
                hi=ROUTING_DURATION_MS_LIMIT,
                hi_open=True,
                integer=True,
            ),
            "cache_hit": _bool(a.get(ATTR_CACHE_HIT), False),
            "trigger_match_strategy": _text(a.get(ATTR_TRIGGER_MATCH_STRATEGY)),
            "confidence_components": _object(a.get(ATTR_CONFIDENCE_COMPONENTS)),
            "candidates_evaluated": _number(
                a.get(ATTR_CANDIDATES_EVALUATED), "candidates_evaluated", lo=0, integer=True
            ),
            "timestamp": rfc3339_ns(ts),
        }
        if payload["routing_duration_ms"] is None or payload["candidates_evaluated"] is None:
            raise MappingError("router metrics need routing_duration_ms and candidates_evaluated")
        b.add(ROUTER_PERFORMANCE, eid, ts, cause, payload)
    elif name == EVENT_TRANSFORMATION:
        payload = {
            "source_agent": _required(a.get(ATTR_SOURCE_AGENT), "source_agent"),
            "target_agent": _required(a.get(ATTR_TARGET_AGENT), "target_agent"),
            "transformation_reason": _text(a.get(ATTR_TRANSFORMATION_REASON)),
            "confidence_score": _number(
                a.get(ATTR_TRANSFORMATION_CONFIDENCE), "confidence_score", lo=SCORE_MIN, hi=SCORE_MAX
            ),
            "transformation_duration_ms": _number(
                a.get(ATTR_TRANSFORMATION_DURATION_MS), "transformation_duration_ms", lo=0, integer=True
            )
            or 0,
            "success": _bool(a.get(ATTR_TRANSFORMATION_SUCCESS), True),
            "timestamp": rfc3339_ns(ts),
        }
        b.add(TRANSFORMATION, eid, ts, cause, payload)
    elif name == EVENT_DETECTION_FAILURE:
        candidates = _array(a.get(ATTR_DETECTION_CANDIDATES))
        payload = {
            "user_request": _required(a.get(ATTR_DETECTION_USER_REQUEST), "user_request"),
            "failure_reason": _required(a.get(ATTR_DETECTION_FAILURE_REASON), "failure_reason"),
            "detection_strategy": _text(a.get(ATTR_DETECTION_STRATEGY)),
            "candidates_evaluated": len(candidates),
            "candidates": candidates,
            "best_confidence": _number(
                a.get(ATTR_DETECTION_CONFIDENCE), "best_confidence", lo=SCORE_MIN, hi=SCORE_MAX
            ),
            "detection_duration_ms": None,
            "context": _object(a.get(ATTR_DETECTION_CONTEXT)),
            "timestamp": rfc3339_ns(ts),
        }
        b.add(DETECTION_FAILURE, eid, ts, cause, payload)
