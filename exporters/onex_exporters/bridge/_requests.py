"""OTLP export requests, without I/O: decoding, checking, splitting, and the answers' bodies.

Used by :mod:`onex_exporters.bridge.receiver` (OTLP/gRPC) and :mod:`onex_exporters.bridge._http`
(OTLP/HTTP).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from onex_exporters.bridge import DecodeError
from onex_exporters.bridge.otlp import parse_request
from onex_otel.config import Settings
from onex_otel.conventions import CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF
from onex_otel.errors import OnexError

#: Seconds a client is asked to wait before retrying a request refused under back-pressure.
RETRY_AFTER_S: Final = 2
#: Bytes a span or log record costs in a message beyond its own size (tags, lengths).
_ITEM_OVERHEAD: Final = 16


# -- the two signals ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Signal:
    """What differs between traces and logs."""

    name: str  # "traces" | "logs"
    items: str  # "spans" | "log_records" (as counted in partial_success and in the metrics)
    request: type[Message]
    response: type[Message]
    path: tuple[str, str, str]  # resource container, scope container, item field
    rejected_field: str  # of the partial success
    topic: str
    service: str  # the gRPC service's full name

    def valid_ids(self, item: Any) -> bool:
        """Whether an item's ids are well-formed (trace and span ids: 16 and 8 bytes, not 0)."""
        trace_id, span_id = item.trace_id, item.span_id
        if self.name == "traces":
            parent = item.parent_span_id
            return (
                len(trace_id) == 16
                and any(trace_id)
                and len(span_id) == 8
                and any(span_id)
                and len(parent) in (0, 8)
            )
        return len(trace_id) in (0, 16) and len(span_id) in (0, 8)


def signals_for(settings: Settings) -> dict[str, Signal]:
    """Traces and logs, written to the topics of ``settings``."""
    return {
        "traces": Signal(
            "traces",
            "spans",
            trace_service_pb2.ExportTraceServiceRequest,
            trace_service_pb2.ExportTraceServiceResponse,
            ("resource_spans", "scope_spans", "spans"),
            "rejected_spans",
            settings.bridge_spans_topic,
            trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name,
        ),
        "logs": Signal(
            "logs",
            "log_records",
            logs_service_pb2.ExportLogsServiceRequest,
            logs_service_pb2.ExportLogsServiceResponse,
            ("resource_logs", "scope_logs", "log_records"),
            "rejected_log_records",
            settings.bridge_logs_topic,
            logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
        ),
    }


class BadRequest(OnexError):
    """The body does not decode as an export request (400 / INVALID_ARGUMENT)."""


class TooLarge(OnexError):
    """The body is larger than allowed (413 / RESOURCE_EXHAUSTED)."""


def decode_request(signal: Signal, body: bytes, encoding: str) -> Message:
    """The export request of ``signal`` in ``body`` (``otlp_proto`` or ``otlp_json``).

    Decoded by :func:`onex_exporters.bridge.otlp.parse_request`; :class:`BadRequest` if it is
    none. Items whose ids have the wrong size are kept: they are rejected one by one (partial
    success).
    """
    try:
        return parse_request(signal.request, body, encoding, check_id_sizes=False)
    except DecodeError as exc:
        raise BadRequest(f"{exc.reason} (an {signal.request.DESCRIPTOR.name} was expected)") from None


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Inflate a gzip or deflate body, refusing more than ``limit`` bytes."""
    for wbits in (31,) if encoding == "gzip" else (15, -15):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            error = exc
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge(f"the decompressed body is larger than {limit} bytes")
        if not inflater.eof:
            raise BadRequest(f"truncated {encoding} body")
        return out
    raise BadRequest(f"not a valid {encoding} body: {error}")


# -- one request: check, split, hand to Kafka, wait until safe ---------------------------------
@dataclass
class Result:
    """What to answer."""

    status: str  # "ok" | "bad" | "busy" | "unavailable"
    rejected: int = 0
    message: str = ""


def split_request(
    signal: Signal, request: Any, max_bytes: int
) -> tuple[list[tuple[Message, int]], dict[str, int]]:
    """The valid items of ``request`` in requests of at most ``max_bytes`` each.

    Returns the requests with their item counts, and the rejected items by reason.
    """
    res_field, scope_field, item_field = signal.path
    chunks: list[tuple[Message, int]] = []
    rejected = {"ids": 0, "size": 0}
    current: Any = None
    size = count = 0
    src_res: Any = None
    src_scope: Any = None
    out_res: Any = None
    out_scope: Any = None
    for res in getattr(request, res_field):
        res_cost = res.resource.ByteSize() + len(res.schema_url) + _ITEM_OVERHEAD
        for scope in getattr(res, scope_field):
            scope_cost = scope.scope.ByteSize() + len(scope.schema_url) + _ITEM_OVERHEAD
            for item in getattr(scope, item_field):
                if not signal.valid_ids(item):
                    rejected["ids"] += 1
                    continue
                cost = item.ByteSize() + _ITEM_OVERHEAD
                if cost + res_cost + scope_cost > max_bytes:
                    rejected["size"] += 1
                    continue
                extra = cost + (0 if src_res is res else res_cost) + (0 if src_scope is scope else scope_cost)
                if current is None or size + extra > max_bytes:
                    if current is not None:
                        chunks.append((current, count))
                    current = signal.request()
                    size = count = 0
                    src_res = src_scope = None
                if src_res is not res:
                    out_res = getattr(current, res_field).add()
                    out_res.resource.CopyFrom(res.resource)
                    out_res.schema_url = res.schema_url
                    src_res, src_scope = res, None
                    size += res_cost
                if src_scope is not scope:
                    out_scope = getattr(out_res, scope_field).add()
                    out_scope.scope.CopyFrom(scope.scope)
                    out_scope.schema_url = scope.schema_url
                    src_scope = scope
                    size += scope_cost
                getattr(out_scope, item_field).append(item)
                size += cost
                count += 1
    if current is not None:
        chunks.append((current, count))
    return chunks, rejected


def count_items(signal: Signal, request: Any) -> tuple[int, bool]:
    """How many items ``request`` holds, and whether all of them have well-formed ids."""
    res_field, scope_field, item_field = signal.path
    total, valid = 0, True
    for res in getattr(request, res_field):
        for scope in getattr(res, scope_field):
            items = getattr(scope, item_field)
            total += len(items)
            if valid and not all(signal.valid_ids(i) for i in items):
                valid = False
    return total, valid


def response_for(signal: Signal, result: Result) -> Message:
    response = signal.response()
    if result.rejected or result.message:
        partial = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, signal.rejected_field, result.rejected)
        partial.error_message = result.message
    return response


def retry_info() -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(retry_delay=Duration(seconds=RETRY_AFTER_S))


def status_message(
    code: int, message: str, *, bad_request: bool = False, retry: bool = False
) -> status_pb2.Status:
    status = status_pb2.Status(code=code, message=message)
    if bad_request:
        detail = AnyProto()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="body", description=message)
                ]
            )
        )
        status.details.append(detail)
    if retry:
        detail = AnyProto()
        detail.Pack(retry_info())
        status.details.append(detail)
    return status


def encode(message: Message, media: str | None) -> tuple[bytes, str]:
    """A response body in the request's encoding (protobuf when it is unknown)."""
    if media == CONTENT_TYPE_JSON:
        return json_format.MessageToJson(message, indent=None).encode(), CONTENT_TYPE_JSON
    return message.SerializeToString(), CONTENT_TYPE_PROTOBUF
