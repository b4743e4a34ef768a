"""Kafka message values built exactly as the OpenTelemetry Collector's Kafka exporter writes them.

``otlp_proto``: the official OTLP encoder (``encode_spans`` / ``encode_logs``) then
``SerializeToString()``. ``otlp_json``: the protobuf JSON mapping with OTLP/JSON's rules (hex trace
and span ids instead of base64, lowerCamelCase names, enums as integers).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import Message  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def proto_value(spans: Sequence[ReadableSpan]) -> bytes:
    return bytes(encode_spans(spans).SerializeToString())


def logs_proto_value(records: Sequence[Any]) -> bytes:
    return bytes(encode_logs(records).SerializeToString())


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def otlp_json(message: Message) -> bytes:
    doc = json_format.MessageToDict(message, use_integers_for_enums=True)
    return json.dumps(_hex_ids(doc)).encode()


def json_value(spans: Sequence[ReadableSpan]) -> bytes:
    return otlp_json(encode_spans(spans))
