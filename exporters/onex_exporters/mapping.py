"""Pure mapping from finished spans and execution lifecycle moments to OnexEnvelopeV1 events.

No I/O happens here. The mapping follows the span contract of the instrumentation core and the
table of DESIGN.md:

====================================  =====================================================
span / moment                         events (event type)
====================================  =====================================================
``invoke_agent`` span starts          execution started + agent_action decision
                                      ``agent_execution_started``
progress report                       execution progress
``invoke_agent`` span ends, ok        execution completed + agent_action success
                                      ``agent_execution_completed``
``invoke_agent`` span ends, failed    execution failed (status failed | cancelled) +
                                      agent_action error ``agent_execution_failed``
``execute_tool`` span                 agent_action tool_call
timed decision span                   agent_action decision
span event decision/error/success     agent_action decision/error/success
span event routing decision etc.      routing decision / router performance /
                                      transformation / detection failure
====================================  =====================================================

Spans of agent frameworks (GenAI semantic conventions, OpenInference, OpenLLMetry) go through
:func:`onex_exporters.normalize.normalize` first, which gives them this contract's shape; without
the ``onex.*`` attributes the correlation id is the trace id.

Two entry points per shape:

- :func:`span_to_records` / :func:`started_records` / :func:`progress_records` return
  :class:`EventRecord` values: the envelope as a plain JSON-ready ``dict`` built without pydantic
  validation (the exporter's hot path). The tests check that every such dict validates against
  :class:`~onex_otel.envelope.OnexEnvelopeV1` and serializes identically.
- :func:`span_to_envelopes` and :func:`started_envelopes` return validated
  :class:`~onex_otel.envelope.OnexEnvelopeV1` models.

Event ids are UUID v7 derived deterministically from the span (trace id, span id, what the event
is) and the event time, so mapping the same span twice yields the same event ids: a consumer can
deduplicate by ``event_id`` whatever retries happen on the way. The started event's id is the
``onex.started_event_id`` attribute when the core set one. ``causation_id`` links: the started
decision action, progress, completed/failed and every action or router event of an execution to
its started event; the completion's success/error action to the completed/failed event.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from opentelemetry.trace import StatusCode

from onex_exporters.normalize import SpanView, normalize, span_role
from onex_otel.conventions import (
    ACTION_EXECUTION_COMPLETED,
    ACTION_EXECUTION_FAILED,
    ACTION_EXECUTION_STARTED,
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
    CORRELATION_ID_NAMESPACE,
    DEFAULT_SOURCE,
    DEFAULT_TENANT_ID,
    ENVELOPE_NAMESPACE,
    ERROR_TYPE,
    EVENT_DECISION,
    EVENT_DETECTION_FAILURE,
    EVENT_ERROR,
    EVENT_PROGRESS,
    EVENT_ROUTER_METRICS,
    EVENT_ROUTING_DECISION,
    EVENT_SUCCESS,
    EVENT_TRANSFORMATION,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    ONEX_ACTION_NAME,
    ONEX_ACTION_TYPE,
    ONEX_AGENT_NAME,
    ONEX_CONTEXT,
    ONEX_CORRELATION_ID,
    ONEX_CORRELATION_ID_ORIGINAL,
    ONEX_DEBUG_MODE,
    ONEX_ERROR_MESSAGE,
    ONEX_ERROR_TYPE,
    ONEX_EVENT_ID_SEED,
    ONEX_EXECUTION_ID,
    ONEX_EXECUTION_STATUS,
    ONEX_METRICS,
    ONEX_OUTPUT_SUMMARY,
    ONEX_PARTIAL_RESULTS,
    ONEX_PROJECT_NAME,
    ONEX_PROJECT_PATH,
    ONEX_QUALITY_SCORE,
    ONEX_SESSION_ID,
    ONEX_SPAN_ROLE,
    ONEX_STARTED_EVENT_ID,
    ONEX_USER_REQUEST,
    ONEX_WORKING_DIRECTORY,
    OP_DECISION,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
    ORIGINAL_SIZE_SUFFIX,
    SCHEMA_REFS,
    SEVERITY_ERROR,
    UNKNOWN_AGENT,
    ActionType,
    EventType,
    ExecutionStatus,
)
from onex_otel.dialects import (
    CC_PREFIX,
    CC_TRACES_SCOPES,
    OI_SPAN_KIND,
    ROLE_EXECUTION,
    TRACELOOP_SPAN_KIND,
)
from onex_otel.envelope import OnexEnvelopeV1
from onex_otel.ids import uuid7_text
from onex_otel.timestamps import rfc3339_ns as rfc3339_ns
from onex_otel.timestamps import unix_ns

__all__ = [
    "EventRecord",
    "MappingError",
    "MappingOptions",
    "derive_event_id",
    "is_execution_span",
    "maps_to_nothing",
    "progress_records",
    "seeded_event_id",
    "span_to_envelopes",
    "span_to_records",
    "started_envelopes",
    "started_records",
    "to_envelopes",
]


class MappingError(ValueError):
    """A span carries a value that no valid event can hold (e.g. a confidence of 1.7)."""


@dataclass(frozen=True)
class MappingOptions:
    """Envelope fields that come from configuration rather than from the span."""

    tenant_id: str = DEFAULT_TENANT_ID
    source: str = DEFAULT_SOURCE


DEFAULT_OPTIONS = MappingOptions()


class EventRecord(NamedTuple):
    """One event ready to serialize: the envelope as a JSON-ready dict plus its Kafka metadata."""

    event_type: EventType
    envelope: dict[str, Any]
    traceparent: str
    tracestate: str | None

    @property
    def event_id(self) -> str:
        """The envelope's event id."""
        return str(self.envelope["event_id"])

    @property
    def correlation_id(self) -> str:
        """The envelope's correlation id: the Kafka message key (seed 003 partition policy)."""
        return str(self.envelope["correlation_id"])

    def to_json(self) -> bytes:
        """The envelope as compact UTF-8 JSON (the Kafka message value)."""
        return dumps(self.envelope)


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_orjson: Any
try:  # orjson (in the ``kafka`` extra) is several times faster; the stdlib is the fallback
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    _orjson = None


_json_loads: Any = _orjson.loads if _orjson is not None else json.loads


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of an envelope dict (:class:`MappingError` if it cannot be)."""
    try:
        if _orjson is not None:
            return bytes(_orjson.dumps(value))
        return _encoder.encode(value).encode()
    except (TypeError, ValueError) as exc:
        raise MappingError(f"event is not JSON-serializable: {exc}") from None


# ----------------------------------------------------------------------------------------------
# small pure helpers
# ----------------------------------------------------------------------------------------------
#: Plain string values of the enumerations (an enum's ``.value`` is slow on the hot path).
_VALUES: dict[Any, str] = {m: str(m.value) for e in (EventType, ActionType) for m in e}


def _hash80(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=10).digest(), "big")


_tag_cache: dict[tuple[object, ...], int] = {}
_MASK80 = (1 << 80) - 1


def _tag_hash(what: tuple[object, ...]) -> int:
    value = _tag_cache.get(what)
    if value is None:
        if len(_tag_cache) > 4096:
            _tag_cache.clear()
        value = _tag_cache[what] = _hash80("|".join(map(str, what)))
    return value


def derive_event_id(ts_ns: int, *parts: object) -> str:
    """A UUID v7 whose time is ``ts_ns`` and whose random bits are a hash of ``parts``.

    Deterministic: the same span mapped twice yields the same event ids (idempotent delivery).
    """
    return uuid7_text(ts_ns, _hash80("|".join(map(str, parts))))


def seeded_event_id(seed: str, *what: object) -> str:
    """A name-based event id (uuid5 of ``seed`` and ``what``) for facts reported by two paths.

    Used for spans that carry ``onex.event_id.seed``: the same seed gives the same ids whatever
    clock each path saw (see :data:`~onex_otel.conventions.ONEX_EVENT_ID_SEED`).
    """
    return str(uuid.uuid5(CORRELATION_ID_NAMESPACE, "|".join((seed, *map(str, what)))))


_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and _UUID_RE.fullmatch(value):  # canonical already: fast path
        return value
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _loads(value: Any) -> Any:
    """Decode a JSON-encoded attribute; a value that is not JSON is kept as it is."""
    if isinstance(value, str):
        try:
            return _json_loads(value)
        except ValueError:
            return value
    if isinstance(value, tuple):
        return list(value)
    return value


def _object(value: Any) -> dict[str, Any]:
    """A JSON attribute that must be an object; anything else is wrapped as ``{"value": x}``."""
    if value is None:
        return {}
    decoded = _loads(value)
    if isinstance(decoded, dict):
        return decoded
    return {"value": decoded}


def _array(value: Any) -> list[Any]:
    if value is None:
        return []
    decoded = _loads(value)
    if isinstance(decoded, list):
        return decoded
    return [decoded]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith('"'):
            decoded = _loads(value)
            if isinstance(decoded, str):
                return decoded
        return value
    return str(value)


def _number(value: Any, what: str, *, lo: float | None = None, hi: float | None = None,
            hi_open: bool = False, integer: bool = False) -> Any:
    if value is None:
        return None
    try:
        number: float | int = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise MappingError(f"{what}={value!r} is not a number") from None
    if number != number:  # NaN
        raise MappingError(f"{what} is NaN")
    if lo is not None and number < lo:
        raise MappingError(f"{what}={number} is below {lo}")
    if hi is not None and (number >= hi if hi_open else number > hi):
        raise MappingError(f"{what}={number} is above the allowed maximum {hi}")
    return number


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _required(value: Any, what: str) -> str:
    text = _text(value)
    if not text:
        raise MappingError(f"{what} is missing")
    return text


def _ms(start_ns: int | None, end_ns: int | None) -> int | None:
    if start_ns is None or end_ns is None:
        return None
    return max(0, (end_ns - start_ns) // 1_000_000)


# ----------------------------------------------------------------------------------------------
# what a span is
# ----------------------------------------------------------------------------------------------
class _SpanFacts:
    """The facts of one span that every event of it needs, read once."""

    __slots__ = (
        "agent_name",
        "attrs",
        "base_hash",
        "correlation_id",
        "id_seed",
        "span",
        "span_id",
        "started_event_id",
        "trace_id",
        "traceparent",
        "tracestate",
    )

    def __init__(self, span: Any) -> None:
        self.span = span
        attrs: Mapping[str, Any] = _plain(span)
        self.attrs = attrs
        ctx = span.context
        self.trace_id: int = ctx.trace_id
        self.span_id: int = ctx.span_id
        # the random bits of this span's event ids: from its (random) trace and span ids
        self.base_hash = (self.trace_id & _MASK80) ^ (self.span_id << 16)
        self.correlation_id = _uuid_or_none(attrs.get(ONEX_CORRELATION_ID)) or str(
            uuid.UUID(int=self.trace_id)
        )
        agent = attrs.get(ONEX_AGENT_NAME) or attrs.get(GEN_AI_AGENT_NAME)
        if not agent and attrs.get(GEN_AI_OPERATION_NAME) == OP_INVOKE_AGENT:
            prefix = OP_INVOKE_AGENT + " "
            name = span.name or ""
            agent = name[len(prefix):] if name.startswith(prefix) else None
        self.agent_name: str = str(agent) if agent else UNKNOWN_AGENT
        self.started_event_id = _uuid_or_none(attrs.get(ONEX_STARTED_EVENT_ID))
        seed = attrs.get(ONEX_EVENT_ID_SEED)
        self.id_seed: str | None = str(seed) if seed else None
        self.traceparent = f"00-{self.trace_id:032x}-{self.span_id:016x}-{int(ctx.trace_flags):02x}"
        state = ctx.trace_state
        self.tracestate = state.to_header() if state else None

    def event_id(self, ts_ns: int, *what: object) -> str:
        if self.id_seed is not None:
            return seeded_event_id(self.id_seed, *what)
        return uuid7_text(ts_ns, self.base_hash ^ _tag_hash(what))


def _plain(span: Any) -> Mapping[str, Any]:
    """The span's attributes as a plain dict (the SDK's read-only view is slow to query)."""
    if type(span) is SpanView:
        return span.attributes
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(raw, dict):
        return raw
    return dict(span.attributes or {})


def is_execution_span(span: Any) -> bool:
    """Whether ``span`` is an agent execution, whoever made it.

    onex-otel's ``invoke_agent`` spans; a framework's agent span as the span processor stamped it
    (``onex.span.role``) or, without that stamp, as its dialect says (see
    :mod:`onex_exporters.normalize`).
    """
    return span_role(span) == ROLE_EXECUTION


def _execution_id(facts: _SpanFacts) -> str:
    attrs = facts.attrs
    found = _uuid_or_none(attrs.get(ONEX_EXECUTION_ID)) or _uuid_or_none(attrs.get(GEN_AI_AGENT_ID))
    if found:
        return found
    return str(uuid.uuid5(CORRELATION_ID_NAMESPACE, f"{facts.trace_id:032x}{facts.span_id:016x}"))


def _started_id(facts: _SpanFacts) -> str:
    """The started event id of an execution span (its own attribute, or derived)."""
    if facts.started_event_id:
        return facts.started_event_id
    return facts.event_id(facts.span.start_time or 0, "started")


class _Builder:
    """Collects the records of one span."""

    __slots__ = ("facts", "options", "records")

    def __init__(self, facts: _SpanFacts, options: MappingOptions) -> None:
        self.facts = facts
        self.options = options
        self.records: list[EventRecord] = []

    def add(self, event_type: EventType, event_id: str, ts_ns: int, causation_id: str | None,
            payload: dict[str, Any], correlation_id: str | None = None) -> str:
        cid = correlation_id or self.facts.correlation_id
        payload["correlation_id"] = cid
        envelope = {
            "event_type": _VALUES[event_type],
            "event_id": event_id,
            "timestamp": rfc3339_ns(ts_ns),
            "tenant_id": self.options.tenant_id,
            "namespace": ENVELOPE_NAMESPACE,
            "source": self.options.source,
            "correlation_id": cid,
            "causation_id": causation_id,
            "schema_ref": SCHEMA_REFS[event_type],
            "payload": payload,
        }
        self.records.append(
            EventRecord(event_type, envelope, self.facts.traceparent, self.facts.tracestate)
        )
        return event_id

    def action(self, event_id: str, ts_ns: int, causation_id: str | None, action_type: ActionType,
               action_name: str, details: dict[str, Any], duration_ms: int | None) -> str:
        attrs = self.facts.attrs
        payload = {
            "agent_name": self.facts.agent_name,
            "action_type": _VALUES[action_type],
            "action_name": action_name,
            "action_details": details,
            "debug_mode": _bool(attrs.get(ONEX_DEBUG_MODE), True),
            "duration_ms": _number(duration_ms, "duration_ms", lo=0, integer=True),
            "project_path": _text(attrs.get(ONEX_PROJECT_PATH)),
            "project_name": _text(attrs.get(ONEX_PROJECT_NAME)),
            "working_directory": _text(attrs.get(ONEX_WORKING_DIRECTORY)),
            "timestamp": rfc3339_ns(ts_ns),
        }
        return self.add(EventType.AGENT_ACTION, event_id, ts_ns, causation_id, payload)


# ----------------------------------------------------------------------------------------------
# execution lifecycle
# ----------------------------------------------------------------------------------------------
def _started(b: _Builder) -> None:
    facts = b.facts
    attrs = facts.attrs
    start = facts.span.start_time or 0
    started_id = _started_id(facts)
    session_id = _text(attrs.get(ONEX_SESSION_ID) or attrs.get(GEN_AI_CONVERSATION_ID))
    user_request = _text(attrs.get(ONEX_USER_REQUEST))
    context = _object(attrs.get(ONEX_CONTEXT))
    execution_id = _execution_id(facts)
    payload = {
        "execution_id": execution_id,
        "agent_name": facts.agent_name,
        "user_request": user_request,
        "session_id": session_id,
        "started_at": rfc3339_ns(start),
        "context": context,
        "project_path": _text(attrs.get(ONEX_PROJECT_PATH)),
        "project_name": _text(attrs.get(ONEX_PROJECT_NAME)),
        "working_directory": _text(attrs.get(ONEX_WORKING_DIRECTORY)),
        "claude_session_id": None,
        "terminal_id": None,
        "correlation_id_original": _text(attrs.get(ONEX_CORRELATION_ID_ORIGINAL)),
    }
    b.add(EventType.EXECUTION_STARTED, started_id, start, None, payload)
    details = {
        "decision_context": {"user_request": user_request, "session_id": session_id,
                             "context": context},
        "decision_result": {"agent_name": facts.agent_name,
                            "correlation_id": facts.correlation_id,
                            "execution_id": execution_id},
    }
    b.action(facts.event_id(start, "started.action"), start, started_id, ActionType.DECISION,
             ACTION_EXECUTION_STARTED, details, None)


def _events(span: Any) -> Sequence[Any]:
    """The span's events (the SDK's ``events`` property copies them on every read)."""
    raw = getattr(span, "_events", None)
    if raw is not None and type(span) is not SpanView:
        return raw  # type: ignore[no-any-return]
    return span.events or ()


def _exception_event(span: Any) -> Mapping[str, Any]:
    for event in _events(span):
        if event.name == "exception":
            return event.attributes or {}
    return {}


def _ended(b: _Builder) -> None:
    facts = b.facts
    span = facts.span
    attrs = facts.attrs
    start = span.start_time or 0
    end = span.end_time or start
    started_id = _started_id(facts)
    duration = _ms(start, end)
    execution_id = _execution_id(facts)
    session_id = _text(attrs.get(ONEX_SESSION_ID) or attrs.get(GEN_AI_CONVERSATION_ID))
    status = attrs.get(ONEX_EXECUTION_STATUS)
    if status not in (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
        status = ExecutionStatus.FAILED if _is_error(span) else ExecutionStatus.SUCCESS
    end_id = facts.event_id(end, "ended")
    if status == ExecutionStatus.SUCCESS:
        quality = _number(attrs.get(ONEX_QUALITY_SCORE), "quality_score", lo=0.0, hi=1.0)
        summary = _text(attrs.get(ONEX_OUTPUT_SUMMARY))
        metrics = _object(attrs.get(ONEX_METRICS))
        payload = {
            "execution_id": execution_id,
            "agent_name": facts.agent_name,
            "session_id": session_id,
            "status": ExecutionStatus.SUCCESS.value,
            "completed_at": rfc3339_ns(end),
            "duration_ms": duration,
            "quality_score": quality,
            "output_summary": summary,
            "metrics": metrics,
        }
        b.add(EventType.EXECUTION_COMPLETED, end_id, end, started_id, payload)
        details = {"execution_duration_ms": duration, "quality_score": quality,
                   "output_summary": summary, "metrics": metrics}
        b.action(facts.event_id(end, "ended.action"), end, end_id, ActionType.SUCCESS,
                 ACTION_EXECUTION_COMPLETED, details, duration)
        return
    exc = _exception_event(span)
    error_type = _text(attrs.get(ONEX_ERROR_TYPE) or attrs.get(ERROR_TYPE)
                       or exc.get(EXCEPTION_TYPE))
    error_message = _text(attrs.get(ONEX_ERROR_MESSAGE) or exc.get(EXCEPTION_MESSAGE)
                          or span.status.description) or ""
    stack = _text(exc.get(EXCEPTION_STACKTRACE))
    partial = _loads(attrs.get(ONEX_PARTIAL_RESULTS))
    payload = {
        "execution_id": execution_id,
        "agent_name": facts.agent_name,
        "session_id": session_id,
        "status": str(status),
        "failed_at": rfc3339_ns(end),
        "duration_ms": duration,
        "error_message": error_message,
        "error_type": error_type,
        "error_stack_trace": stack,
        "partial_results": partial,
    }
    b.add(EventType.EXECUTION_FAILED, end_id, end, started_id, payload)
    details = {
        "error_type": error_type or "UnknownError",
        "error_message": error_message,
        "error_context": {"status": str(status), "error_stack_trace": stack,
                          "partial_results": partial, "execution_duration_ms": duration},
        "severity": SEVERITY_ERROR,
    }
    b.action(facts.event_id(end, "ended.action"), end, end_id, ActionType.ERROR,
             ACTION_EXECUTION_FAILED, details, duration)


def _is_error(span: Any) -> bool:
    return bool(span.status is not None and span.status.status_code == StatusCode.ERROR)


def _progress_payload(facts: _SpanFacts, stage: Any, percent: Any, metadata: Any,
                      ts_ns: int) -> dict[str, Any]:
    return {
        "execution_id": _execution_id(facts),
        "agent_name": facts.agent_name,
        "stage": _required(stage, "progress stage"),
        "percent": _number(percent, "progress percent", lo=0, hi=100),
        "metadata": _object(metadata),
        "reported_at": rfc3339_ns(ts_ns),
    }


# ----------------------------------------------------------------------------------------------
# actions
# ----------------------------------------------------------------------------------------------
def _with_sizes(details: dict[str, Any], attrs: Mapping[str, Any],
                pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    for key, field in pairs:
        size = attrs.get(key + ORIGINAL_SIZE_SUFFIX)
        if size is not None:
            details[field + "_original_size"] = size
    return details


def _tool_call(b: _Builder) -> None:
    facts = b.facts
    span = facts.span
    attrs = facts.attrs
    start = span.start_time or 0
    end = span.end_time or start
    tool = attrs.get(ONEX_ACTION_NAME) or attrs.get(GEN_AI_TOOL_NAME)
    if not tool:
        name = span.name or ""
        prefix = OP_EXECUTE_TOOL + " "
        tool = name[len(prefix):] if name.startswith(prefix) else name
    details: dict[str, Any] = {
        "tool_call_id": _text(attrs.get(GEN_AI_TOOL_CALL_ID)),
        "tool_type": _text(attrs.get(GEN_AI_TOOL_TYPE)),
        "parameters": _loads(attrs.get(GEN_AI_TOOL_CALL_ARGUMENTS)),
        "result": _loads(attrs.get(GEN_AI_TOOL_CALL_RESULT)),
        "success": not _is_error(span),
        "error": None,
    }
    if not details["success"]:
        exc = _exception_event(span)
        details["error"] = {
            "type": _text(attrs.get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
            "message": _text(exc.get(EXCEPTION_MESSAGE) or span.status.description),
        }
    _with_sizes(details, attrs, ((GEN_AI_TOOL_CALL_ARGUMENTS, "parameters"),
                                 (GEN_AI_TOOL_CALL_RESULT, "result")))
    b.action(facts.event_id(end, "action"), end, facts.started_event_id, ActionType.TOOL_CALL,
             _required(tool, "tool name"), details, _ms(start, end))


def _decision_span(b: _Builder) -> None:
    facts = b.facts
    span = facts.span
    attrs = facts.attrs
    start = span.start_time or 0
    end = span.end_time or start
    details: dict[str, Any] = {
        "decision_context": _loads(attrs.get(ATTR_DECISION_CONTEXT)),
        "decision_result": _loads(attrs.get(ATTR_DECISION_RESULT)),
    }
    if _is_error(span):
        exc = _exception_event(span)
        details["error"] = {"type": _text(attrs.get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
                            "message": _text(exc.get(EXCEPTION_MESSAGE))}
    _with_sizes(details, attrs, ((ATTR_DECISION_CONTEXT, "decision_context"),
                                 (ATTR_DECISION_RESULT, "decision_result")))
    name = attrs.get(ONEX_ACTION_NAME) or (span.name or "").removeprefix("decision ")
    b.action(facts.event_id(end, "action"), end, facts.started_event_id, ActionType.DECISION,
             _required(name, "decision name"), details, _ms(start, end))


# ----------------------------------------------------------------------------------------------
# span events
# ----------------------------------------------------------------------------------------------
def _span_event(b: _Builder, index: int, event: Any, include_progress: bool) -> None:
    facts = b.facts
    name = event.name
    a: Mapping[str, Any] = event.attributes or {}
    ts = event.timestamp or facts.span.end_time or 0
    eid = facts.event_id(ts, "event", index)
    cause = facts.started_event_id
    if facts.started_event_id is None and is_execution_span(facts.span):
        cause = _started_id(facts)
    duration = a.get(ATTR_EVENT_DURATION_MS)
    if name == EVENT_DECISION:
        details = {"decision_context": _loads(a.get(ATTR_DECISION_CONTEXT)),
                   "decision_result": _loads(a.get(ATTR_DECISION_RESULT))}
        b.action(eid, ts, cause, ActionType.DECISION, _required(a.get(ATTR_NAME), "decision name"),
                 details, duration)
    elif name == EVENT_ERROR:
        error_type = _required(a.get(ATTR_ERROR_TYPE), "error type")
        details = {"error_type": error_type,
                   "error_message": _text(a.get(ATTR_ERROR_MESSAGE)),
                   "error_context": _object(a.get(ATTR_ERROR_CONTEXT)),
                   "severity": _text(a.get(ATTR_SEVERITY)) or SEVERITY_ERROR}
        b.action(eid, ts, cause, ActionType.ERROR, error_type, details, duration)
    elif name == EVENT_SUCCESS:
        b.action(eid, ts, cause, ActionType.SUCCESS, _required(a.get(ATTR_NAME), "success name"),
                 _object(a.get(ATTR_DETAILS)), duration)
    elif name == EVENT_ROUTING_DECISION:
        payload = {
            "selected_agent": _required(a.get(ATTR_SELECTED_AGENT), "selected_agent"),
            "confidence_score": _number(a.get(ATTR_CONFIDENCE_SCORE), "confidence_score",
                                        lo=0.0, hi=1.0),
            "routing_strategy": _required(a.get(ATTR_ROUTING_STRATEGY), "routing_strategy"),
            "routing_time_ms": _number(a.get(ATTR_ROUTING_TIME_MS), "routing_time_ms", lo=0,
                                       integer=True),
            "user_request": _text(a.get(ATTR_ROUTING_USER_REQUEST)),
            "alternatives": _array(a.get(ATTR_ALTERNATIVES)),
            "reasoning": _text(a.get(ATTR_REASONING)),
            "context": _object(a.get(ATTR_ROUTING_CONTEXT)),
            "timestamp": rfc3339_ns(ts),
        }
        if payload["confidence_score"] is None or payload["routing_time_ms"] is None:
            raise MappingError("routing decision needs confidence_score and routing_time_ms")
        b.add(EventType.ROUTING_DECISION, eid, ts, cause, payload)
    elif name == EVENT_ROUTER_METRICS:
        payload = {
            "query_text": _required(a.get(ATTR_QUERY_TEXT), "query_text"),
            "routing_duration_ms": _number(a.get(ATTR_ROUTING_DURATION_MS),
                                           "routing_duration_ms", lo=0, hi=1000, hi_open=True,
                                           integer=True),
            "cache_hit": _bool(a.get(ATTR_CACHE_HIT), False),
            "trigger_match_strategy": _text(a.get(ATTR_TRIGGER_MATCH_STRATEGY)),
            "confidence_components": _object(a.get(ATTR_CONFIDENCE_COMPONENTS)),
            "candidates_evaluated": _number(a.get(ATTR_CANDIDATES_EVALUATED),
                                            "candidates_evaluated", lo=0, integer=True),
            "timestamp": rfc3339_ns(ts),
        }
        if payload["routing_duration_ms"] is None or payload["candidates_evaluated"] is None:
            raise MappingError("router metrics need routing_duration_ms and candidates_evaluated")
        b.add(EventType.ROUTER_PERFORMANCE, eid, ts, cause, payload)
    elif name == EVENT_TRANSFORMATION:
        payload = {
            "source_agent": _required(a.get(ATTR_SOURCE_AGENT), "source_agent"),
            "target_agent": _required(a.get(ATTR_TARGET_AGENT), "target_agent"),
            "transformation_reason": _text(a.get(ATTR_TRANSFORMATION_REASON)),
            "confidence_score": _number(a.get(ATTR_TRANSFORMATION_CONFIDENCE),
                                        "confidence_score", lo=0.0, hi=1.0),
            "transformation_duration_ms": _number(a.get(ATTR_TRANSFORMATION_DURATION_MS),
                                                  "transformation_duration_ms", lo=0,
                                                  integer=True) or 0,
            "success": _bool(a.get(ATTR_TRANSFORMATION_SUCCESS), True),
            "timestamp": rfc3339_ns(ts),
        }
        b.add(EventType.TRANSFORMATION, eid, ts, cause, payload)
    elif name == EVENT_DETECTION_FAILURE:
        candidates = _array(a.get(ATTR_DETECTION_CANDIDATES))
        payload = {
            "user_request": _required(a.get(ATTR_DETECTION_USER_REQUEST), "user_request"),
            "failure_reason": _required(a.get(ATTR_DETECTION_FAILURE_REASON), "failure_reason"),
            "detection_strategy": _text(a.get(ATTR_DETECTION_STRATEGY)),
            "candidates_evaluated": len(candidates),
            "candidates": candidates,
            "best_confidence": _number(a.get(ATTR_DETECTION_CONFIDENCE), "best_confidence",
                                       lo=0.0, hi=1.0),
            "detection_duration_ms": None,
            "context": _object(a.get(ATTR_DETECTION_CONTEXT)),
            "timestamp": rfc3339_ns(ts),
        }
        b.add(EventType.DETECTION_FAILURE, eid, ts, cause, payload)
    elif name == EVENT_PROGRESS and include_progress and is_execution_span(facts.span):
        stage, percent = a.get(ATTR_STAGE), a.get(ATTR_PERCENT)
        payload = _progress_payload(facts, stage, percent, a.get(ATTR_METADATA), ts)
        # the id progress_records gives the real-time report of the same call
        b.add(EventType.EXECUTION_PROGRESS, facts.event_id(ts, "progress", stage, percent), ts,
              _started_id(facts), payload)


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------
#: Attribute keys any span that maps to something carries (onex's contract, a stamp of the span
#: processor, a dialect's kind): a span with none of them, no mapped span event and no Claude
#: Code name or scope maps to nothing.
_MAPPED_KEYS = frozenset({GEN_AI_OPERATION_NAME, ONEX_SPAN_ROLE, ONEX_ACTION_TYPE,
                          TRACELOOP_SPAN_KIND, OI_SPAN_KIND})
_MAPPED_EVENTS = frozenset({EVENT_DECISION, EVENT_ERROR, EVENT_SUCCESS, EVENT_ROUTING_DECISION,
                            EVENT_ROUTER_METRICS, EVENT_TRANSFORMATION, EVENT_DETECTION_FAILURE,
                            EVENT_PROGRESS})


def maps_to_nothing(span: Any) -> bool:
    """Whether ``span`` certainly maps to no event (a database or HTTP client span...).

    Decided before any mapping work, from the attribute keys, the span events' names, the span's
    name and its instrumentation scope: the exporter's cost of such a span is this check alone.
    """
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if not _MAPPED_KEYS.isdisjoint(raw if isinstance(raw, dict) else span.attributes or ()):
        return False
    name = span.name
    if name and name.startswith(CC_PREFIX):
        return False
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None and scope.name in CC_TRACES_SCOPES:
        return False
    events = _events(span)
    if not events:
        return True
    for event in events:  # noqa: SIM110 - a plain loop: no generator per span
        if event.name in _MAPPED_EVENTS:
            return False
    return True


def span_to_records(span: Any, options: MappingOptions = DEFAULT_OPTIONS, *,
                    include_lifecycle: bool = True) -> list[EventRecord]:
    """Map a finished span to its events (JSON-ready dicts), in a stable order.

    ``include_lifecycle=False`` leaves out what the lifecycle processor already published in
    real time (an execution span's started, progress, completed/failed and their actions), and
    keeps everything else (actions and router events recorded on the execution span).

    Raises :class:`MappingError` when a value cannot fit a valid event.
    """
    if maps_to_nothing(span):
        return []
    facts = _SpanFacts(normalize(span))
    b = _Builder(facts, options)
    op = facts.attrs.get(GEN_AI_OPERATION_NAME)
    if op == OP_INVOKE_AGENT:
        if include_lifecycle:
            _started(b)
    elif op == OP_EXECUTE_TOOL:
        _tool_call(b)
    elif op == OP_DECISION or facts.attrs.get(ONEX_ACTION_TYPE) == ActionType.DECISION:
        _decision_span(b)
    for index, event in enumerate(_events(facts.span)):
        _span_event(b, index, event, include_lifecycle)
    if op == OP_INVOKE_AGENT and include_lifecycle:
        _ended(b)
    if (facts.span.name or "").startswith(CC_PREFIX):  # Claude Code: subagent runs, tool errors
        from onex_exporters.claude_code import span_extras

        b.records.extend(span_extras(facts.span, options))
    return b.records


def started_records(span: Any, options: MappingOptions = DEFAULT_OPTIONS) -> list[EventRecord]:
    """The events of an execution's start: started + agent_action decision (seed 000 dual layer).

    ``span`` is the ``invoke_agent`` span as a span processor's ``on_start`` sees it.
    """
    b = _Builder(_SpanFacts(normalize(span)), options)
    _started(b)
    return b.records


def ended_records(span: Any, options: MappingOptions = DEFAULT_OPTIONS) -> list[EventRecord]:
    """The events of an execution's end: completed or failed + agent_action success or error."""
    b = _Builder(_SpanFacts(normalize(span)), options)
    _ended(b)
    return b.records


def progress_records(span: Any, stage: str, percent: float, metadata: Mapping[str, Any] | None,
                     timestamp: datetime, options: MappingOptions = DEFAULT_OPTIONS
                     ) -> list[EventRecord]:
    """The progress event of a ``progress(stage, percent, metadata)`` call on an execution."""
    facts = _SpanFacts(normalize(span))
    b = _Builder(facts, options)
    ts = unix_ns(timestamp)
    payload = _progress_payload(facts, stage, percent, dict(metadata or {}), ts)
    b.add(EventType.EXECUTION_PROGRESS, facts.event_id(ts, "progress", stage, percent), ts,
          _started_id(facts), payload)
    return b.records


def to_envelopes(records: Sequence[EventRecord]) -> list[OnexEnvelopeV1]:
    """Validate records into :class:`OnexEnvelopeV1` models (raises pydantic's ValidationError)."""
    return [OnexEnvelopeV1.model_validate(r.envelope) for r in records]


def span_to_envelopes(span: Any, options: MappingOptions = DEFAULT_OPTIONS, *,
                      include_lifecycle: bool = True) -> list[OnexEnvelopeV1]:
    """Map a finished span to validated envelopes (see :func:`span_to_records`)."""
    return to_envelopes(span_to_records(span, options, include_lifecycle=include_lifecycle))


def started_envelopes(span: Any, options: MappingOptions = DEFAULT_OPTIONS
                      ) -> list[OnexEnvelopeV1]:
    """Validated envelopes of an execution's start (see :func:`started_records`)."""
    return to_envelopes(started_records(span, options))
