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

Where each part lives: this module holds the mapping's types (:class:`EventRecord`,
:class:`MappingOptions`, :class:`MappingError`) and its JSON codec, and re-exports the entry points
of :mod:`~onex_exporters.mapping_records`; the events of each shape are built by
:mod:`~onex_exporters.mapping_execution`, :mod:`~onex_exporters.mapping_actions` and
:mod:`~onex_exporters.mapping_events` (span events) on the facts :mod:`~onex_exporters.mapping_span`
reads once per span; values and ids by :mod:`~onex_exporters.mapping_values` and
:mod:`~onex_exporters.mapping_ids`.

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

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from onex_otel.conventions import (
    DEFAULT_SOURCE,
    DEFAULT_TENANT_ID,
    EventType,
)
from onex_otel.errors import OnexError
from onex_otel.timestamps import rfc3339_ns as rfc3339_ns

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


class MappingError(OnexError, ValueError):
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
        try:  # :func:`dumps`, without its call
            return encode(self.envelope)
        except ENCODE_ERRORS as exc:
            raise unserializable(exc) from None


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_orjson: Any
try:  # orjson (in the ``kafka`` extra) is several times faster; the stdlib is the fallback
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    _orjson = None


_json_loads: Any = _orjson.loads if _orjson is not None else json.loads


def _stdlib_encode(value: Any) -> bytes:
    return _encoder.encode(value).encode()


#: Compact UTF-8 JSON of an envelope dict, raising one of :data:`ENCODE_ERRORS` if it cannot be
#: (for a loop over many events: :func:`dumps` is the same as a :class:`MappingError`).
encode: Callable[[Any], bytes] = _orjson.dumps if _orjson is not None else _stdlib_encode
#: What :data:`encode` raises for a value no JSON can hold.
ENCODE_ERRORS = (TypeError, ValueError)


def unserializable(exc: Exception) -> MappingError:
    """The :class:`MappingError` of an event :data:`encode` refused with ``exc``."""
    return MappingError(f"event is not JSON-serializable: {exc}")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of an envelope dict (:class:`MappingError` if it cannot be)."""
    try:
        return encode(value)
    except ENCODE_ERRORS as exc:
        raise unserializable(exc) from None


#: The entry points and helpers, defined in the ``mapping_*`` modules (which import this module's
#: types) and importable from here: resolved on first use.
_MOVED = {
    "span_to_records": "mapping_records",
    "started_records": "mapping_records",
    "ended_records": "mapping_records",
    "progress_records": "mapping_records",
    "to_envelopes": "mapping_records",
    "span_to_envelopes": "mapping_records",
    "started_envelopes": "mapping_records",
    "derive_event_id": "mapping_ids",
    "seeded_event_id": "mapping_ids",
    "_hash80": "mapping_ids",
    "is_execution_span": "mapping_span",
    "maps_to_nothing": "mapping_span",
    "_Builder": "mapping_span",
    "_SpanFacts": "mapping_span",
}

if TYPE_CHECKING:
    from onex_exporters.mapping_ids import _hash80 as _hash80
    from onex_exporters.mapping_ids import derive_event_id as derive_event_id
    from onex_exporters.mapping_ids import seeded_event_id as seeded_event_id
    from onex_exporters.mapping_records import ended_records as ended_records
    from onex_exporters.mapping_records import progress_records as progress_records
    from onex_exporters.mapping_records import span_to_envelopes as span_to_envelopes
    from onex_exporters.mapping_records import span_to_records as span_to_records
    from onex_exporters.mapping_records import started_envelopes as started_envelopes
    from onex_exporters.mapping_records import started_records as started_records
    from onex_exporters.mapping_records import to_envelopes as to_envelopes
    from onex_exporters.mapping_span import _Builder as _Builder
    from onex_exporters.mapping_span import _SpanFacts as _SpanFacts
    from onex_exporters.mapping_span import is_execution_span as is_execution_span
    from onex_exporters.mapping_span import maps_to_nothing as maps_to_nothing


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"onex_exporters.{module}"), name)
    globals()[name] = value  # the next lookup is a plain global
    return value
