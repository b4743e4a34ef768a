"""OTLP log records -> onex events: Claude Code's log events, natively (no hooks).

:func:`records_from_logs` maps an ``ExportLogsServiceRequest`` (as the OTel Collector's Kafka
exporter or the bridge's receiver hands it over) to :class:`~onex_exporters.mapping.EventRecord`
values. It is pure: the same request always yields the same events with the same ids, and log
records of no known producer map to nothing. Known producer: Claude Code (scope
``com.anthropic.claude_code.events`` or ``service.name`` ``claude-code`` /
``claude-code-desktop``); the names are data in :mod:`onex_otel.dialects` (the ``CC_*`` block).

=========================  ======================================================================
Claude Code event          onex events (``agent_name`` ``claude-code``)
=========================  ======================================================================
``user_prompt``            the prompt's execution starts: execution started + decision action
                           ``agent_execution_started`` (``user_request`` = the prompt text when
                           Claude Code sent it, ``OTEL_LOG_USER_PROMPTS=1``, under the content
                           policy; ``session_id`` = ``session.id``)
``tool_result``            one ``tool_call`` action (tool name, ``tool_use_id`` as
                           ``tool_call_id``, duration, ``tool_input`` / ``tool_parameters`` as
                           parameters under the content policy, error); a failure also gives an
                           ``error`` action; an ``Agent`` / ``Task`` call also gives the subagent
                           run as a nested execution (started + completed / failed)
``tool_decision``          ``decision`` action ``tool_decision`` (accept / reject, its source)
``api_error``              ``error`` action ``api_error`` (status code, model, attempts)
``api_request``            progress ``model_request`` of the execution: tokens, cost, latency
                           land in ``agent_execution_logs.metadata.progress`` (percent 0)
``subagent_completed``     progress ``subagent_completed`` (total tokens, tool uses, duration)
anything else              nothing
=========================  ======================================================================

Identities and event ids follow :mod:`onex_exporters.claude_code`: the correlation id is the
records' trace id when present, else the prompt id; a tool use seen both as a
``claude_code.tool`` span and as a ``tool_result`` event yields one ``tool_call`` action (its id
is derived from ``tool_use_id``), a prompt seen as the interaction span and as ``user_prompt``
one started event.

Completion: log events carry no end of a prompt's work, and the mapping keeps no state across
messages, so from logs alone an execution stays ``in_progress``; when Claude Code's beta spans
are on, the ``claude_code.interaction`` span's end completes it (same execution id).

A record whose values cannot fit a valid event is skipped and counted as an internal error
(``bridge.logs.record``); the other records of the request are mapped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.trace import Status, StatusCode

from onex_exporters import claude_code as cc
from onex_exporters.mapping import (
    DEFAULT_OPTIONS,
    EventRecord,
    MappingError,
    MappingOptions,
    _Builder,
    _hash80,
    _SpanFacts,
    derive_event_id,
    rfc3339_ns,
    span_to_records,
    started_records,
)
from onex_otel import _payload
from onex_otel import dialects as d
from onex_otel._internal import internal_error
from onex_otel.conventions import (
    ONEX_AGENT_NAME,
    ONEX_CORRELATION_ID,
    SEVERITY_ERROR,
    ActionType,
    EventType,
)

__all__ = ["records_from_logs"]


def records_from_logs(
    request: ExportLogsServiceRequest, options: MappingOptions = DEFAULT_OPTIONS
) -> list[EventRecord]:
    """The onex events of the log records in ``request`` (see the module's table)."""
    out: list[EventRecord] = []
    pol = _payload.policy()
    for resource_logs in request.resource_logs:
        service = None
        for kv in resource_logs.resource.attributes:
            if kv.key == d.CC_RESOURCE_SERVICE_NAME:
                service = kv.value.string_value
        for scope_logs in resource_logs.scope_logs:
            if scope_logs.scope.name != d.CC_LOGS_SCOPE and service not in d.CC_SERVICE_NAMES:
                continue
            for record in scope_logs.log_records:
                try:
                    out.extend(_record(record, options, pol))
                except MappingError:
                    internal_error("bridge.logs.record")
    return out


# ------------------------------------------------------------------------------------------------
# OTLP values
# ------------------------------------------------------------------------------------------------
def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return json.dumps({kv.key: _value(kv.value) for kv in value.kvlist_value.values}, default=str)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _event_name(record: LogRecord, attrs: Mapping[str, Any]) -> str | None:
    name = cc.text(attrs.get(d.CC_EVENT_NAME))
    if name:
        return name
    body = record.body.string_value if record.body.WhichOneof("value") == "string_value" else ""
    if body.startswith(d.CC_PREFIX):
        return body[len(d.CC_PREFIX) :]
    return cc.text(record.event_name) if hasattr(record, "event_name") else None


def _time_ns(record: LogRecord, attrs: Mapping[str, Any]) -> int:
    if record.time_unix_nano:
        return int(record.time_unix_nano)
    stamp = cc.text(attrs.get(d.CC_EVENT_TIMESTAMP))
    if stamp:
        try:
            return int(datetime.fromisoformat(stamp).timestamp() * 1_000_000) * 1000
        except ValueError:
            pass
    return int(record.observed_time_unix_nano)


# ------------------------------------------------------------------------------------------------
# one record
# ------------------------------------------------------------------------------------------------
class _Facts:
    """What every event of one Claude Code record needs."""

    __slots__ = ("attrs", "correlation_id", "ctx", "name", "original", "session", "ts")

    def __init__(
        self, record: LogRecord, attrs: dict[str, Any], name: str, correlation: tuple[str, str | None]
    ) -> None:
        self.attrs = attrs
        self.name = name
        self.correlation_id, self.original = correlation
        self.session = cc.text(attrs.get(d.CC_SESSION_ID))
        self.ts = _time_ns(record, attrs)
        trace_id = int.from_bytes(record.trace_id, "big") if len(record.trace_id) == 16 else 0
        span_id = int.from_bytes(record.span_id, "big") if len(record.span_id) == 8 else 0
        if not trace_id:
            trace_id = int(self.correlation_id.replace("-", ""), 16)
            span_id = 0
        if not span_id:  # a stable span id for the traceparent header: from the record's identity
            span_id = (_hash80("|".join(map(str, self.key()))) & ((1 << 64) - 1)) or 1
        self.ctx = cc.span_context(trace_id, span_id, record.flags)

    def key(self) -> tuple[object, ...]:
        """What identifies the record (for the ids of events only this record reports)."""
        a = self.attrs
        return (
            "claude_code",
            self.name,
            self.session,
            a.get(d.CC_PROMPT_ID),
            a.get(d.CC_EVENT_SEQUENCE),
            self.ts,
            a.get(d.CC_TOOL_USE_ID),
            a.get(d.CC_REQUEST_ID),
        )

    def event_id(self) -> str:
        return derive_event_id(self.ts, *self.key())

    def builder(self, options: MappingOptions) -> _Builder:
        attrs = {ONEX_CORRELATION_ID: self.correlation_id, ONEX_AGENT_NAME: d.CC_AGENT_NAME}
        span = cc.Synthetic(f"claude-code.{self.name}", self.ctx, self.ts, self.ts, attrs)
        return _Builder(_SpanFacts(span), options)

    def started_id(self) -> str:
        return cc.started_event_id(cc.execution_seed(self.correlation_id))

    def execution_id(self) -> str:
        return cc.seed_uuid(cc.execution_seed(self.correlation_id))


def _record(record: LogRecord, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    attrs = {kv.key: _value(kv.value) for kv in record.attributes}
    name = _event_name(record, attrs)
    handler = _HANDLERS.get(name or "")
    if handler is None:
        return []
    trace_id = int.from_bytes(record.trace_id, "big") if len(record.trace_id) == 16 else 0
    correlation = cc.correlation(trace_id, attrs.get(d.CC_PROMPT_ID))
    if correlation is None:  # outside any prompt (e.g. a session title request): no execution
        return []
    return handler(_Facts(record, attrs, str(name), correlation), options, pol)


def _user_prompt(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    a = f.attrs
    context = {
        "prompt_id": cc.text(a.get(d.CC_PROMPT_ID)),
        "prompt_length": cc.number(a.get(d.CC_PROMPT_LENGTH)),
        "command_name": cc.text(a.get(d.CC_COMMAND_NAME)),
        "command_source": cc.text(a.get(d.CC_COMMAND_SOURCE)),
        "message_uuid": cc.text(a.get(d.CC_MESSAGE_UUID)),
        "event_sequence": cc.number(a.get(d.CC_EVENT_SEQUENCE)),
    }
    attrs = cc.execution_attrs(
        f.correlation_id,
        f.original,
        cc.execution_seed(f.correlation_id),
        d.CC_AGENT_NAME,
        f.session,
        cc.user_request(a.get(d.CC_PROMPT), pol),
        context,
    )
    return started_records(cc.Synthetic("claude-code.user_prompt", f.ctx, f.ts, f.ts, attrs), options)


def _arguments(a: Mapping[str, Any]) -> Any:
    for key in (d.CC_TOOL_INPUT, d.CC_TOOL_PARAMETERS):
        value = a.get(key)
        if value not in (None, ""):
            return cc.json_value(value)
    return None


def _tool_result(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    a = f.attrs
    tool = cc.text(a.get(d.CC_TOOL_NAME)) or "unknown"
    tool_use_id = cc.text(a.get(d.CC_TOOL_USE_ID))
    duration = cc.number(a.get(d.CC_DURATION_MS))
    start = max(0, f.ts - int(max(0, duration or 0) * 1_000_000))
    success = cc.flag(a.get(d.CC_SUCCESS))
    error_type = cc.text(a.get(d.CC_ERROR_TYPE))
    error = cc.text(a.get(d.CC_ERROR))
    failed = success is False
    if failed:
        error_type = error_type or "ToolError"
    attrs = cc.tool_attrs(
        f.correlation_id, tool, tool_use_id, _arguments(a), pol, error_type if failed else None
    )
    status = Status(StatusCode.ERROR, error or error_type) if failed else Status(StatusCode.UNSET)
    out = span_to_records(cc.Synthetic("claude-code.tool_result", f.ctx, start, f.ts, attrs, status), options)
    if tool_use_id is None:
        return out
    if failed:
        out += cc.tool_error_records(
            f.ctx, f.correlation_id, tool_use_id, error_type or "ToolError", error, f.ts, options
        )
    if tool in d.CC_SUBAGENT_TOOLS:
        params = cc.json_value(a.get(d.CC_TOOL_PARAMETERS))
        inputs = cc.json_value(a.get(d.CC_TOOL_INPUT))
        subagent_type = None
        for source in (params, inputs):
            if isinstance(source, dict) and source.get(d.CC_SUBAGENT_TYPE):
                subagent_type = str(source[d.CC_SUBAGENT_TYPE])
                break
        out += cc.subagent_records(
            f.ctx,
            f.correlation_id,
            tool_use_id,
            f.session,
            subagent_type,
            start,
            f.ts,
            success,
            error,
            options,
        )
    return out


def _tool_decision(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    a = f.attrs
    params = a.get(d.CC_TOOL_PARAMETERS)
    encoded = _payload.foreign_json(cc.json_value(params), pol)[0] if params not in (None, "") else None
    details = {
        "decision_context": {
            "tool_name": cc.text(a.get(d.CC_TOOL_NAME)),
            "tool_use_id": cc.text(a.get(d.CC_TOOL_USE_ID)),
            "tool_source": cc.text(a.get(d.CC_TOOL_SOURCE)),
            "tool_parameters": json.loads(encoded) if encoded is not None else None,
        },
        "decision_result": {
            "decision": cc.text(a.get(d.CC_DECISION)),
            "source": cc.text(a.get(d.CC_SOURCE)),
        },
    }
    b = f.builder(options)
    b.action(f.event_id(), f.ts, f.started_id(), ActionType.DECISION, d.CC_EVENT_TOOL_DECISION, details, None)
    return b.records


def _api_error(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    a = f.attrs
    duration = cc.number(a.get(d.CC_DURATION_MS))
    details = {
        "error_type": d.CC_EVENT_API_ERROR,
        "error_message": cc.text(a.get(d.CC_ERROR)),
        "error_context": {
            "status_code": cc.number(a.get(d.CC_STATUS_CODE)),
            "attempt": cc.number(a.get(d.CC_ATTEMPT)),
            "model": cc.text(a.get(d.CC_MODEL)),
            "request_id": cc.text(a.get(d.CC_REQUEST_ID)),
            "client_request_id": cc.text(a.get(d.CC_CLIENT_REQUEST_ID)),
            "query_source": cc.text(a.get(d.CC_QUERY_SOURCE)),
        },
        "severity": SEVERITY_ERROR,
    }
    b = f.builder(options)
    b.action(
        f.event_id(),
        f.ts,
        f.started_id(),
        ActionType.ERROR,
        d.CC_EVENT_API_ERROR,
        details,
        int(max(0, duration)) if duration is not None else None,
    )
    return b.records


def _progress(
    f: _Facts, options: MappingOptions, stage: str, number_keys: tuple[str, ...], text_keys: tuple[str, ...]
) -> list[EventRecord]:
    a = f.attrs
    metadata: dict[str, Any] = {}
    for key in number_keys:
        value = cc.number(a.get(key))
        if value is not None:
            metadata[key] = value
    for key in text_keys:
        value = a.get(key)
        if value not in (None, ""):
            metadata[key] = value if isinstance(value, bool | int | float) else str(value)
    payload = {
        "execution_id": f.execution_id(),
        "agent_name": d.CC_AGENT_NAME,
        "stage": stage,
        "percent": 0.0,
        "metadata": metadata,
        "reported_at": None,
    }
    payload["reported_at"] = rfc3339_ns(f.ts)
    b = f.builder(options)
    b.add(EventType.EXECUTION_PROGRESS, f.event_id(), f.ts, f.started_id(), payload)
    return b.records


def _api_request(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    return _progress(f, options, d.CC_STAGE_MODEL_REQUEST, d.CC_REQUEST_METRIC_KEYS, d.CC_REQUEST_TEXT_KEYS)


def _subagent_completed(f: _Facts, options: MappingOptions, pol: _payload.Policy) -> list[EventRecord]:
    return _progress(
        f, options, d.CC_STAGE_SUBAGENT_COMPLETED, d.CC_SUBAGENT_METRIC_KEYS, d.CC_SUBAGENT_TEXT_KEYS
    )


_HANDLERS = {
    d.CC_EVENT_USER_PROMPT: _user_prompt,
    d.CC_EVENT_TOOL_RESULT: _tool_result,
    d.CC_EVENT_TOOL_DECISION: _tool_decision,
    d.CC_EVENT_API_ERROR: _api_error,
    d.CC_EVENT_API_REQUEST: _api_request,
    d.CC_EVENT_SUBAGENT_COMPLETED: _subagent_completed,
}
