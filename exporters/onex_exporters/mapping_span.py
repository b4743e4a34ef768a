"""What a span is (its facts, read once; whether it maps to anything) and the records built of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Status, StatusCode, TraceState

from onex_exporters.mapping import EventRecord, MappingOptions
from onex_exporters.mapping_ids import _tag_cache, _tag_hash, seeded_event_id
from onex_exporters.mapping_values import (
    _VALUES,
    AGENT_ACTION,
    _bool,
    _number,
    _text,
)
from onex_exporters.normalize import SDK_SPANS as _SDK_SPANS
from onex_exporters.normalize import SpanView, span_role
from onex_otel.conventions import (
    CORRELATION_ID_NAMESPACE,
    ENVELOPE_NAMESPACE,
    EVENT_DECISION,
    EVENT_DETECTION_FAILURE,
    EVENT_ERROR,
    EVENT_PROGRESS,
    EVENT_ROUTER_METRICS,
    EVENT_ROUTING_DECISION,
    EVENT_SUCCESS,
    EVENT_TRANSFORMATION,
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    ONEX_ACTION_TYPE,
    ONEX_AGENT_NAME,
    ONEX_CORRELATION_ID,
    ONEX_DEBUG_MODE,
    ONEX_EVENT_ID_SEED,
    ONEX_EXECUTION_ID,
    ONEX_PROJECT_NAME,
    ONEX_PROJECT_PATH,
    ONEX_SPAN_ROLE,
    ONEX_STARTED_EVENT_ID,
    ONEX_WORKING_DIRECTORY,
    OP_INVOKE_AGENT,
    SCHEMA_REFS,
    UNKNOWN_AGENT,
    ActionType,
    EventType,
)
from onex_otel.dialects import (
    CC_PREFIX,
    CC_TRACES_SCOPES,
    OI_SPAN_KIND,
    ROLE_EXECUTION,
    TRACELOOP_SPAN_KIND,
)
from onex_otel.ids import UUID7_RAND_BITS, UUID7_VERSION_BITS, canonical_uuid, uuid7_low_text, uuid_text
from onex_otel.timestamps import rfc3339_ns

# ----------------------------------------------------------------------------------------------
# what a span is
# ----------------------------------------------------------------------------------------------
#: the traceparent's last field of each value of the trace flags
_FLAGS_TEXT = {flags: f"-{flags:02x}" for flags in range(256)}
#: bound once: an enum class's attribute is a Python call on 3.11
_STATUS_ERROR = StatusCode.ERROR


class _SpanFacts:
    """The facts of one span that every event of it needs, read once."""

    __slots__ = (
        "agent_name",
        "attrs",
        "base_bits",
        "correlation_id",
        "end",
        "error",
        "events",
        "execution",
        "execution_id",
        "id_seed",
        "name",
        "span",
        "span_id",
        "start",
        "started_event_id",
        "status",
        "trace_id",
        "traceparent",
        "tracestate",
    )

    def __init__(self, span: Any) -> None:
        self.span = span
        if type(span) in _SDK_SPANS:  # the SDK's properties are Python calls: read the fields
            attrs: Mapping[str, Any] = span._attributes
            attrs = attrs._dict if type(attrs) is BoundedAttributes else _plain(span)
            ctx = span._context
            name = span._name
            self.start: int | None = span._start_time
            self.end: int | None = span._end_time
            status = span._status
            events = span._events
            if type(events) is BoundedList:
                events = events._dq  # type: ignore[attr-defined]  # no copy, no lock
        else:
            attrs = _plain(span)
            ctx = span.context
            name = span.name
            self.start = span.start_time
            self.end = span.end_time
            status = span.status
            events = span.events or ()
        self.attrs = attrs
        self.name: str = name or ""
        self.status = status
        if type(status) is Status:  # its property is a Python call: read the field
            self.error = status._status_code is _STATUS_ERROR
        else:
            self.error = status is not None and status.status_code == _STATUS_ERROR
        self.events: Sequence[Any] = events
        self.execution: bool | None = None  # whether it is an execution: read when asked
        self.execution_id: str | None = None  # its execution id: made when asked
        # a SpanContext is a tuple: indexed, not read through its properties
        trace_id: int = ctx[0]
        span_id: int = ctx[1]
        trace_flags = ctx[3]
        state = ctx[4]
        self.trace_id: int = trace_id
        self.span_id: int = span_id
        # the random bits of this span's event ids: from its (random) trace and span ids, as the
        # low 80 bits of a v7 id (a tag's hash XORed in makes an event's)
        self.base_bits = ((trace_id ^ (span_id << 16)) & UUID7_RAND_BITS) | UUID7_VERSION_BITS
        get = attrs.get
        self.correlation_id = canonical_uuid(get(ONEX_CORRELATION_ID)) or _trace_uuid(trace_id)
        agent = get(ONEX_AGENT_NAME) or get(GEN_AI_AGENT_NAME)
        if not agent and get(GEN_AI_OPERATION_NAME) == OP_INVOKE_AGENT:
            prefix = OP_INVOKE_AGENT + " "
            agent = self.name[len(prefix) :] if self.name.startswith(prefix) else None
        self.agent_name: str = str(agent) if agent else UNKNOWN_AGENT
        started = get(ONEX_STARTED_EVENT_ID)
        self.started_event_id = None if started is None else canonical_uuid(started)
        seed = get(ONEX_EVENT_ID_SEED)
        self.id_seed: str | None = str(seed) if seed else None
        global _last_trace
        try:  # the ids' bytes in hex: several times cheaper than formatting the integers
            last_trace_id, trace_text = _last_trace
            if trace_id != last_trace_id:
                trace_text = f"00-{trace_id.to_bytes(16, 'big').hex()}-"
                _last_trace = (trace_id, trace_text)
            self.traceparent = f"{trace_text}{span_id.to_bytes(8, 'big').hex()}{_FLAGS_TEXT[trace_flags]}"
        except (OverflowError, KeyError, AttributeError):  # not W3C's sizes: written as they are
            self.traceparent = f"00-{trace_id:032x}-{span_id:016x}-{int(trace_flags):02x}"
        if type(state) is TraceState:  # its truth is a Python call (``__len__``): read the field
            self.tracestate = state.to_header() if state._dict else None
        else:
            self.tracestate = state.to_header() if state else None

    def event_id(self, ts_ns: int, *what: object) -> str:
        if self.id_seed is not None:
            return seeded_event_id(self.id_seed, *what)
        tag = _tag_cache.get(what)  # the usual case, a tag seen before: no call
        return uuid7_low_text(ts_ns, self.base_bits ^ (_tag_hash(what) if tag is None else tag))


#: (a trace id, the start of the traceparent of its spans): a batch's spans come trace by trace
_last_trace: tuple[int, str] = (0, f"00-{0:032x}-")
#: (a trace id, the canonical text of its UUID), for the spans without a correlation id attribute
_last_trace_uuid: tuple[int, str] = (0, uuid_text(0))


def _trace_uuid(trace_id: int) -> str:
    """:func:`~onex_otel.ids.uuid_text` of ``trace_id``, kept for the next span of the trace."""
    global _last_trace_uuid
    last, text = _last_trace_uuid
    if trace_id != last:
        text = uuid_text(trace_id)
        _last_trace_uuid = (trace_id, text)
    return text


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


def _is_execution(facts: _SpanFacts) -> bool:
    """:func:`is_execution_span` of the facts' span, decided once."""
    if facts.execution is None:
        facts.execution = is_execution_span(facts.span)
    return facts.execution


def _execution_id(facts: _SpanFacts) -> str:
    """The execution id of an execution span (its attribute, its run id, or derived), once."""
    found = facts.execution_id
    if found is None:
        attrs = facts.attrs
        found = facts.execution_id = (
            canonical_uuid(attrs.get(ONEX_EXECUTION_ID))
            or canonical_uuid(attrs.get(GEN_AI_AGENT_ID))
            or str(uuid.uuid5(CORRELATION_ID_NAMESPACE, f"{facts.trace_id:032x}{facts.span_id:016x}"))
        )
    return found


def _started_id(facts: _SpanFacts) -> str:
    """The started event id of an execution span (its own attribute, or derived)."""
    if facts.started_event_id:
        return facts.started_event_id
    return facts.event_id(facts.start or 0, "started")


#: builds an :class:`EventRecord` without the Python-level ``__new__`` of a named tuple
_new_record = tuple.__new__


#: the fields every agent_action of a span shares, for a span that sets none of them
_NO_ACTION_CONTEXT = (_bool(None, True), _text(None), _text(None), _text(None))


class _Builder:
    """Collects the records of one span."""

    __slots__ = ("action_context", "facts", "options", "records")

    def __init__(self, facts: _SpanFacts, options: MappingOptions) -> None:
        self.facts = facts
        self.options = options
        self.records: list[EventRecord] = []
        #: the fields every agent_action of this span shares, read at its first action
        self.action_context: tuple[bool, str | None, str | None, str | None] | None = None

    def add(
        self,
        event_type: EventType,
        event_id: str,
        ts_ns: int,
        causation_id: str | None,
        payload: dict[str, Any],
        correlation_id: str | None = None,
    ) -> str:
        facts = self.facts
        options = self.options
        cid = correlation_id or facts.correlation_id
        payload["correlation_id"] = cid
        envelope = {
            "event_type": _VALUES[event_type],
            "event_id": event_id,
            "timestamp": rfc3339_ns(ts_ns),
            "tenant_id": options.tenant_id,
            "namespace": ENVELOPE_NAMESPACE,
            "source": options.source,
            "correlation_id": cid,
            "causation_id": causation_id,
            "schema_ref": SCHEMA_REFS[event_type],
            "payload": payload,
        }
        self.records.append(
            _new_record(EventRecord, (event_type, envelope, facts.traceparent, facts.tracestate))
        )
        return event_id

    def action(
        self,
        event_id: str,
        ts_ns: int,
        causation_id: str | None,
        action_type: ActionType,
        action_name: str,
        details: dict[str, Any],
        duration_ms: int | None,
    ) -> str:
        context = self.action_context
        if context is None:
            get = self.facts.attrs.get
            debug = get(ONEX_DEBUG_MODE)
            path = get(ONEX_PROJECT_PATH)
            project = get(ONEX_PROJECT_NAME)
            directory = get(ONEX_WORKING_DIRECTORY)
            if debug is None and path is None and project is None and directory is None:
                context = _NO_ACTION_CONTEXT  # the usual case: none set
            else:
                context = (_bool(debug, True), _text(path), _text(project), _text(directory))
            self.action_context = context
        debug_mode, project_path, project_name, working_directory = context
        if duration_ms is not None and (type(duration_ms) is not int or duration_ms < 0):
            duration_ms = _number(duration_ms, "duration_ms", lo=0, integer=True)  # or raises
        payload = {
            "agent_name": self.facts.agent_name,
            "action_type": _VALUES[action_type],
            "action_name": action_name,
            "action_details": details,
            "debug_mode": debug_mode,
            "duration_ms": duration_ms,
            "project_path": project_path,
            "project_name": project_name,
            "working_directory": working_directory,
            "timestamp": rfc3339_ns(ts_ns),
            # in the literal (``add`` sets it again): an 11th key added later grows the dict
            "correlation_id": self.facts.correlation_id,
        }
        return self.add(AGENT_ACTION, event_id, ts_ns, causation_id, payload)


def _exception_event(facts: _SpanFacts) -> Mapping[str, Any]:
    for event in facts.events:
        if event.name == "exception":
            return event.attributes or {}
    return {}


#: Attribute keys any span that maps to something carries (onex's contract, a stamp of the span
#: processor, a dialect's kind): a span with none of them, no mapped span event and no Claude
#: Code name or scope maps to nothing.
MARKER_KEYS = frozenset(
    {GEN_AI_OPERATION_NAME, ONEX_SPAN_ROLE, ONEX_ACTION_TYPE, TRACELOOP_SPAN_KIND, OI_SPAN_KIND}
)
#: The span event names that map to events.
_MAPPED_EVENTS = frozenset(
    {
        EVENT_DECISION,
        EVENT_ERROR,
        EVENT_SUCCESS,
        EVENT_ROUTING_DECISION,
        EVENT_ROUTER_METRICS,
        EVENT_TRANSFORMATION,
        EVENT_DETECTION_FAILURE,
        EVENT_PROGRESS,
    }
)


def maps_to_nothing(span: Any) -> bool:
    """Whether ``span`` certainly maps to no event (a database or HTTP client span...)."""
    return not may_map(span)


def spans_to_map(spans: Iterable[Any]) -> list[Any]:
    """The spans of ``spans`` that may map to events, in order; the others certainly map to none.

    Decided before any mapping work (see :func:`may_map`), so that a span of another
    instrumentation (a database query, an HTTP call) costs the exporter this check alone.
    """
    return list(filter(may_map, spans))


def may_map(span: Any) -> bool:
    """Whether ``span`` may map to events; ``False``: it certainly maps to none.

    From the attribute keys, the span's name, its instrumentation scope and its events' names,
    each read only when the checks before it found nothing.
    """
    if type(span) in _SDK_SPANS:  # the SDK's properties are Python calls: read the fields
        attrs = span._attributes
        if type(attrs) is BoundedAttributes:
            attrs = attrs._dict
        if attrs and not MARKER_KEYS.isdisjoint(attrs):
            return True
        name = span._name
        if name and name.startswith(CC_PREFIX):
            return True
        scope = span._instrumentation_scope
        if scope is not None and scope._name in CC_TRACES_SCOPES:
            return True
        events = span._events
        if type(events) is BoundedList:
            events = events._dq  # type: ignore[attr-defined]  # no copy, no lock
        if events:
            for event in events:  # an SDK event's name is a property: its field is read
                if (event._name if type(event) is Event else event.name) in _MAPPED_EVENTS:
                    return True
        return False
    else:
        try:
            attrs = _plain(span)
            name = span.name
            scope = getattr(getattr(span, "instrumentation_scope", None), "name", None)
            events = span.events
        except Exception:  # not a span: the mapping says why (and the exporter counts it)
            return True
        return may_map_parts(attrs or (), name or "", scope, (event.name for event in events or ()))


def may_map_parts(keys: Iterable[str], name: str, scope: str | None, event_names: Iterable[str]) -> bool:
    """:func:`may_map` of a span known by its parts, before it is built (the bridge's OTLP spans).

    ``keys`` are its attribute keys, ``scope`` its instrumentation scope's name, ``event_names``
    its events' names; each iterable is read only as far as the answer needs (a marker key is
    usually among the first).
    """
    return (
        not MARKER_KEYS.isdisjoint(keys)
        or name.startswith(CC_PREFIX)
        or scope in CC_TRACES_SCOPES
        or not _MAPPED_EVENTS.isdisjoint(event_names)
    )
