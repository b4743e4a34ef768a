"""The mapping's entry points: a span (or an execution's start, end, progress) -> its events.

Each shape's events are built by its own module: :mod:`~onex_exporters.mapping_execution`,
:mod:`~onex_exporters.mapping_actions`, :mod:`~onex_exporters.mapping_events` (span events), on
the facts :mod:`~onex_exporters.mapping_span` reads once per span. Everything here is importable
from :mod:`onex_exporters.mapping` (see its table of what maps to what).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from onex_exporters.mapping import DEFAULT_OPTIONS, EventRecord, MappingOptions
from onex_exporters.mapping_actions import _decision_span, _tool_call
from onex_exporters.mapping_events import _span_event
from onex_exporters.mapping_execution import _ended, _progress, _started
from onex_exporters.mapping_span import (
    _Builder,
    _SpanFacts,
    may_map,
)
from onex_exporters.mapping_values import DECISION
from onex_exporters.normalize import normalize
from onex_otel.conventions import (
    GEN_AI_OPERATION_NAME,
    ONEX_ACTION_TYPE,
    OP_DECISION,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
)
from onex_otel.dialects import CC_PREFIX
from onex_otel.envelope import OnexEnvelopeV1
from onex_otel.timestamps import unix_ns

__all__ = [
    "ended_records",
    "progress_records",
    "span_to_envelopes",
    "span_to_records",
    "started_envelopes",
    "started_records",
    "to_envelopes",
]


def span_to_records(
    span: Any, options: MappingOptions = DEFAULT_OPTIONS, *, include_lifecycle: bool = True
) -> list[EventRecord]:
    """Map a finished span to its events (JSON-ready dicts), in a stable order.

    ``include_lifecycle=False`` leaves out what the lifecycle processor already published in
    real time (an execution span's started, progress, completed/failed and their actions), and
    keeps everything else (actions and router events recorded on the execution span).

    Raises :class:`MappingError` when a value cannot fit a valid event.
    """
    if not may_map(span):
        return []
    return map_span(span, options, include_lifecycle)


def map_span(span: Any, options: MappingOptions, include_lifecycle: bool) -> list[EventRecord]:
    """:func:`span_to_records` of a span :func:`~onex_exporters.mapping_span.spans_to_map` kept."""
    facts = _SpanFacts(normalize(span))
    b = _Builder(facts, options)
    op = facts.attrs.get(GEN_AI_OPERATION_NAME)
    if op == OP_INVOKE_AGENT:
        if include_lifecycle:
            _started(b)
    elif op == OP_EXECUTE_TOOL:
        _tool_call(b)
    elif op == OP_DECISION or facts.attrs.get(ONEX_ACTION_TYPE) == DECISION:
        _decision_span(b)
    for index, event in enumerate(facts.events):
        _span_event(b, index, event, include_lifecycle)
    if op == OP_INVOKE_AGENT and include_lifecycle:
        _ended(b)
    if facts.name.startswith(CC_PREFIX):  # Claude Code: subagent runs, tool errors
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


def progress_records(
    span: Any,
    stage: str,
    percent: float,
    metadata: Mapping[str, Any] | None,
    timestamp: datetime,
    options: MappingOptions = DEFAULT_OPTIONS,
) -> list[EventRecord]:
    """The progress event of a ``progress(stage, percent, metadata)`` call on an execution."""
    b = _Builder(_SpanFacts(normalize(span)), options)
    _progress(b, stage, percent, dict(metadata or {}), unix_ns(timestamp))
    return b.records


def to_envelopes(records: Sequence[EventRecord]) -> list[OnexEnvelopeV1]:
    """Validate records into :class:`OnexEnvelopeV1` models (raises pydantic's ValidationError)."""
    return [OnexEnvelopeV1.model_validate(r.envelope) for r in records]


def span_to_envelopes(
    span: Any, options: MappingOptions = DEFAULT_OPTIONS, *, include_lifecycle: bool = True
) -> list[OnexEnvelopeV1]:
    """Map a finished span to validated envelopes (see :func:`span_to_records`)."""
    return to_envelopes(span_to_records(span, options, include_lifecycle=include_lifecycle))


def started_envelopes(span: Any, options: MappingOptions = DEFAULT_OPTIONS) -> list[OnexEnvelopeV1]:
    """Validated envelopes of an execution's start (see :func:`started_records`)."""
    return to_envelopes(started_records(span, options))
