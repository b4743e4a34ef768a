"""Jaeger UI's JSON upload format from real spans (``onex-otel demo`` writes it).

Jaeger's "JSON File" upload (Search page) opens ``{"data": [{"traceID", "spans", "processes"}]}``
documents. :func:`from_otlp` reads the spans of OTLP ``ExportTraceServiceRequest`` messages (as an
OTLP receiver gets them) into :class:`SpanRecord` values, and :func:`to_jaeger` writes those as
one Jaeger trace per trace id: ids in hex, times in microseconds, parents as ``CHILD_OF``
references, attributes as typed tags, span events as logs, a failed span tagged ``error=true``
(as Jaeger's own OTLP receiver tags it), one process per resource.

``onex-otel trace --jaeger-json`` has no spans to read (only table rows) and writes a tree
reconstructed from the rows instead (:func:`onex_otel.timeline.to_jaeger`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SpanRecord", "from_otlp", "to_jaeger"]

#: OTLP span kinds (``Span.SpanKind``) as Jaeger's ``span.kind`` tag names them.
_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
#: OTLP ``Status.StatusCode.STATUS_CODE_ERROR``.
_STATUS_ERROR = 2


@dataclass
class SpanRecord:
    """One finished span, as much of it as Jaeger shows."""

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    name: str
    start_ns: int
    end_ns: int
    kind: int = 1
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    error: bool = False
    status_message: str = ""
    scope: str = ""
    resource: dict[str, Any] = field(default_factory=dict)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def _attrs(items: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def from_otlp(request: Any) -> list[SpanRecord]:
    """The spans of one OTLP ``ExportTraceServiceRequest`` (opentelemetry-proto message)."""
    out: list[SpanRecord] = []
    for rs in request.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    SpanRecord(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        name=s.name,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        kind=s.kind,
                        attributes=_attrs(s.attributes),
                        events=[(e.time_unix_nano, e.name, _attrs(e.attributes)) for e in s.events],
                        error=s.status.code == _STATUS_ERROR,
                        status_message=s.status.message,
                        scope=ss.scope.name,
                        resource=resource,
                    )
                )
    return out


def _tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": json.dumps(value, default=str)}


def to_jaeger(spans: Sequence[SpanRecord], trace_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Jaeger's upload document of ``spans``: one trace per trace id (only ``trace_ids``, if given)."""
    wanted = set(trace_ids) if trace_ids is not None else None
    traces: dict[str, list[SpanRecord]] = {}
    for span in spans:
        if wanted is None or span.trace_id in wanted:
            traces.setdefault(span.trace_id, []).append(span)
    data = []
    for trace_id, members in traces.items():
        processes: dict[str, dict[str, Any]] = {}
        process_ids: dict[str, str] = {}
        out = []
        for span in sorted(members, key=lambda s: s.start_ns):
            pid = _process(span.resource, processes, process_ids)
            tags = [_tag(k, v) for k, v in span.attributes.items()]
            tags.append(_tag("span.kind", _KINDS.get(span.kind, "internal")))
            if span.scope:
                tags.append(_tag("otel.scope.name", span.scope))
            if span.error:
                tags.append(_tag("error", True))
                tags.append(_tag("otel.status_code", "ERROR"))
                if span.status_message:
                    tags.append(_tag("otel.status_description", span.status_message))
            out.append(
                {
                    "traceID": trace_id,
                    "spanID": span.span_id,
                    "operationName": span.name,
                    "references": [
                        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": span.parent_span_id}
                    ]
                    if span.parent_span_id
                    else [],
                    "startTime": span.start_ns // 1000,
                    "duration": max(0, span.end_ns - span.start_ns) // 1000,
                    "tags": tags,
                    "logs": [
                        {
                            "timestamp": ts // 1000,
                            "fields": [_tag("event", name), *(_tag(k, v) for k, v in a.items())],
                        }
                        for ts, name, a in span.events
                    ],
                    "processID": pid,
                    "warnings": None,
                }
            )
        data.append({"traceID": trace_id, "spans": out, "processes": processes, "warnings": None})
    return {"data": data}


def _process(resource: Mapping[str, Any], processes: dict[str, dict[str, Any]], ids: dict[str, str]) -> str:
    key = json.dumps(resource, sort_keys=True, default=str)
    pid = ids.get(key)
    if pid is None:
        pid = ids[key] = f"p{len(ids) + 1}"
        processes[pid] = {
            "serviceName": str(resource.get("service.name") or "unknown_service"),
            "tags": [_tag(k, v) for k, v in resource.items() if k != "service.name"],
        }
    return pid
