"""OTLP export requests as the Collector's Kafka exporter writes them -> SDK spans.

:func:`parse_request` is the one decoder of OTLP bodies (protobuf and OTLP/JSON), for the
bridge's Kafka messages and for the receiver's OTLP/gRPC and OTLP/HTTP requests.

The Kafka exporter writes one export request per message (``ExportTraceServiceRequest`` on
``otlp_spans``, ``ExportLogsServiceRequest`` on ``otlp_logs``; newer Collectors split traces into
one request per span, which changes nothing here). The message key is empty unless the exporter
partitions by trace id, and its headers carry only what the Collector was told to add: the bridge
reads the value alone.

Encodings (the exporter's ``encoding``):

- ``otlp_proto`` (default): the serialized protobuf request;
- ``otlp_json``: OTLP/JSON, i.e. the protobuf JSON mapping with the OTLP exceptions: trace and
  span ids are hex strings (not base64), field names lowerCamelCase (snake_case accepted too),
  enums as integers, 64-bit integers as strings or numbers, unknown fields ignored.

:func:`spans_from_request` turns the spans into :class:`~opentelemetry.sdk.trace.ReadableSpan`
objects, which the exporter's mapping reads exactly as it reads spans made in-process. Attribute
values: strings, booleans, integers and doubles as such; arrays as tuples; key-value lists as
JSON text; bytes as base64 text. Trace flags: the sampled bit is always set (only sampled spans
are exported; some encoders, Python's among them, leave the flags at 0).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import (  # type: ignore[import-untyped]
    DecodeError as _ProtobufDecodeError,
)
from google.protobuf.message import Message  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from onex_exporters.bridge import DecodeError
from onex_exporters.mapping_span import MARKER_KEYS, may_map_parts
from onex_otel.conventions import ENCODING_OTLP_JSON, ENCODING_OTLP_PROTO

__all__ = [
    "any_value",
    "attributes",
    "decode_logs",
    "decode_traces",
    "parse_request",
    "spans_from_request",
]

#: OTLP ``Span.SpanKind`` (0 unspecified, 1 internal, 2 server, ...) -> SDK kind
_KINDS = (
    SpanKind.INTERNAL,
    SpanKind.INTERNAL,
    SpanKind.SERVER,
    SpanKind.CLIENT,
    SpanKind.PRODUCER,
    SpanKind.CONSUMER,
)
_STATUS = (StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR)
_FLAGS_MASK = 0xFF  # W3C trace flags in the low byte of Span.flags
_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_UNSET = Status(StatusCode.UNSET)
#: W3C trace flags (low byte of Span.flags) -> the span's TraceFlags, sampled bit set
_SAMPLED_FLAGS = tuple(TraceFlags(f | TraceFlags.SAMPLED) for f in range(_FLAGS_MASK + 1))
_M = TypeVar("_M", bound=Message)

_json_loads: Any
try:
    import orjson

    _json_loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the installed extras
    _json_loads = json.loads


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
def decode_traces(value: bytes, encoding: str) -> ExportTraceServiceRequest:
    """The trace export request in a Kafka message value (:class:`DecodeError` if it is none)."""
    request = parse_request(ExportTraceServiceRequest, value, encoding)
    if value and not request.resource_spans:
        raise DecodeError(f"not an OTLP trace export request ({encoding}): no resource spans")
    return request


def decode_logs(value: bytes, encoding: str) -> ExportLogsServiceRequest:
    """The logs export request in a Kafka message value (:class:`DecodeError` if it is none)."""
    request = parse_request(ExportLogsServiceRequest, value, encoding)
    if value and not request.resource_logs:
        raise DecodeError(f"not an OTLP logs export request ({encoding}): no resource logs")
    return request


def parse_request(cls: type[_M], value: bytes, encoding: str, *, check_id_sizes: bool = True) -> _M:
    """An OTLP export request of type ``cls`` (traces or logs) from its ``encoding``.

    The one decoder of OTLP bodies, for the bridge (a Kafka message's value) and the receiver
    (an OTLP/gRPC or OTLP/HTTP body). Raises :class:`DecodeError` with the reason. With
    ``check_id_sizes`` false, a hex id of the wrong size is kept as its bytes (the receiver
    rejects such items one by one, in a partial success); a text that is not hex is an error
    either way.
    """
    if value is None:
        raise DecodeError("the message has no value")
    request = cls()
    if encoding == ENCODING_OTLP_PROTO:
        try:
            request.ParseFromString(value)
        except (_ProtobufDecodeError, ValueError, TypeError) as exc:
            raise DecodeError(f"not an OTLP protobuf message: {exc}") from None
    elif encoding == ENCODING_OTLP_JSON:
        try:
            doc = _json_loads(value)
        except (ValueError, TypeError) as exc:
            raise DecodeError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise DecodeError("OTLP/JSON must be an object")
        _HEX_IDS[cls](doc, check_id_sizes)
        try:
            json_format.ParseDict(doc, request, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            raise DecodeError(f"not OTLP/JSON: {exc}") from None
    else:
        raise DecodeError(f"unknown encoding {encoding!r}")
    return request


def _items(parent: Any, *names: str) -> list[Any]:
    """``parent[name]`` as a list of objects for the first name present (camel or snake case)."""
    if not isinstance(parent, dict):
        raise DecodeError("OTLP/JSON: an object was expected")
    for name in names:
        found = parent.get(name)
        if found is not None:
            if not isinstance(found, list):
                raise DecodeError(f"OTLP/JSON: {name} must be a list")
            return found
    return []


def _hex_to_base64(obj: dict[str, Any], size: int, check: bool, *names: str) -> None:
    """Rewrite a hex id (OTLP/JSON) as the base64 the protobuf JSON parser expects.

    ``check``: refuse one that is not ``size`` bytes.
    """
    for name in names:
        text = obj.get(name)
        if text is None:
            continue
        if not isinstance(text, str):
            raise DecodeError(f"OTLP/JSON: {name} must be a hex string")
        if text:
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise DecodeError(f"OTLP/JSON: {name} is not hex: {text[:40]!r}") from None
            if check and len(raw) != size:
                raise DecodeError(f"OTLP/JSON: {name} must be {size} bytes, not {len(raw)}")
            obj[name] = base64.b64encode(raw).decode()


def _hex_ids_of_traces(doc: dict[str, Any], check: bool) -> None:
    for rs in _items(doc, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans"):
                if not isinstance(span, dict):
                    raise DecodeError("OTLP/JSON: a span must be an object")
                _hex_to_base64(span, 16, check, "traceId", "trace_id")
                _hex_to_base64(span, 8, check, "spanId", "span_id", "parentSpanId", "parent_span_id")
                for link in _items(span, "links"):
                    if not isinstance(link, dict):
                        raise DecodeError("OTLP/JSON: a link must be an object")
                    _hex_to_base64(link, 16, check, "traceId", "trace_id")
                    _hex_to_base64(link, 8, check, "spanId", "span_id")


def _hex_ids_of_logs(doc: dict[str, Any], check: bool) -> None:
    for rl in _items(doc, "resourceLogs", "resource_logs"):
        for sl in _items(rl, "scopeLogs", "scope_logs"):
            for record in _items(sl, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    raise DecodeError("OTLP/JSON: a log record must be an object")
                _hex_to_base64(record, 16, check, "traceId", "trace_id")
                _hex_to_base64(record, 8, check, "spanId", "span_id")


#: The hex ids' rewriting of each request type.
_HEX_IDS: dict[type[Message], Callable[[dict[str, Any], bool], None]] = {
    ExportTraceServiceRequest: _hex_ids_of_traces,
    ExportLogsServiceRequest: _hex_ids_of_logs,
}


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------
def _jsonable(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [_jsonable(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _jsonable(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _array_item(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind in ("array_value", "kvlist_value"):
        return _json_text(_jsonable(value))
    return _jsonable(value)


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as an attribute value (``None`` when empty); see the module doc."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_array_item(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return _json_text(_jsonable(value))
    return _jsonable(value)


class _Attributes(dict[str, Any]):
    """A span's attribute dict, read without a copy by the mapping and the normalizer.

    They read an SDK span's ``_attributes._dict`` (its ``BoundedAttributes``) as a plain dict to
    avoid copying a read-only view; this dict is its own ``_dict``.
    """

    __slots__ = ()

    @property
    def _dict(self) -> dict[str, Any]:
        return self


_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key-value pairs as an attribute dict (empty values left out)."""
    out = _Attributes()
    for kv in pairs:
        value = kv.value
        text = value.string_value  # most values are strings: one read instead of two
        if text:
            out[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        if kind in _SCALARS:
            out[kv.key] = getattr(value, kind)
        elif kind is not None:
            converted = any_value(value)
            if converted is not None:
                out[kv.key] = converted
    return out


# ----------------------------------------------------------------------------------------------
# spans
# ----------------------------------------------------------------------------------------------
def _id(raw: bytes, size: int, what: str, name: str) -> int:
    if len(raw) != size:
        raise DecodeError(f"span {name!r}: {what} must be {size} bytes, not {len(raw)}")
    value = int.from_bytes(raw, "big")
    if not value:
        raise DecodeError(f"span {name!r}: {what} is zero")
    return value


def _trace_state(text: str) -> TraceState | None:
    if not text:
        return None
    return TraceState.from_header([text])


def spans_from_request(
    request: ExportTraceServiceRequest, *, mappable_only: bool = False
) -> list[ReadableSpan]:
    """The request's spans as SDK :class:`ReadableSpan` objects (resource and scope kept).

    ``mappable_only`` leaves out, before building them, the spans that certainly map to no
    event (:func:`~onex_exporters.mapping_span.may_map_parts` of the OTLP span: a database or
    HTTP span costs a look at its attribute keys, name, scope and event names, no decoding).

    Raises :class:`DecodeError` for a span built whose ids are missing or malformed.
    """
    out: list[ReadableSpan] = []
    for rs in request.resource_spans:
        resource = _resource(rs)
        for ss in rs.scope_spans:
            scope = _scope(ss)
            name = scope.name
            for span in ss.spans:
                if not mappable_only or _may_map(span, name):
                    out.append(_span(span, resource, scope))
    return out


def _may_map(span: Any, scope: str) -> bool:
    for kv in span.attributes:  # the usual case: a marker among the first keys, no more read
        if kv.key in MARKER_KEYS:
            return True
    return may_map_parts((), span.name, scope, [event.name for event in span.events])


#: Resources and scopes already built, by their serialized form: one producer sends the same
#: ones in every message (bounded; cleared when full).
_RESOURCES: dict[bytes, Resource] = {}
_SCOPES: dict[bytes, InstrumentationScope] = {}
_CACHE_MAX = 1024


def _resource(rs: Any) -> Resource:
    key = rs.resource.SerializeToString() + b"|" + rs.schema_url.encode()
    found = _RESOURCES.get(key)
    if found is None:
        if len(_RESOURCES) >= _CACHE_MAX:
            _RESOURCES.clear()
        found = _RESOURCES[key] = Resource(attributes(rs.resource.attributes), rs.schema_url or None)
    return found


def _scope(ss: Any) -> InstrumentationScope:
    key = ss.scope.SerializeToString() + b"|" + ss.schema_url.encode()
    found = _SCOPES.get(key)
    if found is None:
        if len(_SCOPES) >= _CACHE_MAX:
            _SCOPES.clear()
        sc = ss.scope
        found = _SCOPES[key] = InstrumentationScope(
            sc.name, sc.version or None, ss.schema_url or None, attributes(sc.attributes) or None
        )
    return found


def _span(span: Any, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    name = span.name
    trace_id = _id(span.trace_id, 16, "trace id", name)
    flags = span.flags
    trace_flags = _SAMPLED_FLAGS[flags & _FLAGS_MASK]
    state = span.trace_state
    context = SpanContext(
        trace_id,
        _id(span.span_id, 8, "span id", name),
        False,
        trace_flags,
        _trace_state(state) if state else None,
    )
    parent = None
    parent_id = span.parent_span_id
    if parent_id:
        parent = SpanContext(
            trace_id, _id(parent_id, 8, "parent span id", name), bool(flags & _IS_REMOTE), trace_flags
        )
    status = _UNSET
    if span.HasField("status"):
        otlp_status = span.status
        code = otlp_status.code
        if code:
            status_code = _STATUS[code] if 0 <= code < len(_STATUS) else StatusCode.UNSET
            status = Status(
                status_code, otlp_status.message or None if status_code is StatusCode.ERROR else None
            )
    kind = span.kind
    # most spans have neither events nor links: no list built for them
    events = span.events
    links = span.links
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes(span.attributes),
        events=[Event(e.name, attributes(e.attributes), e.time_unix_nano) for e in events] if events else (),
        links=[_link(link) for link in links] if links else (),
        kind=_KINDS[kind] if 0 <= kind < len(_KINDS) else SpanKind.INTERNAL,
        status=status,
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def _link(link: Any) -> Link:
    flags = link.flags
    context = SpanContext(
        int.from_bytes(link.trace_id, "big"),
        int.from_bytes(link.span_id, "big"),
        bool(flags & _IS_REMOTE),
        TraceFlags(flags & _FLAGS_MASK),
        _trace_state(link.trace_state),
    )
    return Link(context, attributes(link.attributes))
