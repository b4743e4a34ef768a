"""Framework runs seen whole: executions, nesting, enclosing agent, duplicate tool spans.

:class:`FrameworkRuns` runs inside :class:`onex_otel._processor.ExecutionAttributesProcessor`
(first in line, so every other processor and exporter sees what it stamps). It follows the spans
of framework instrumentations (:data:`onex_otel.dialects.FRAMEWORK_SCOPE_PREFIXES`) and the spans
started under them, and decides what a run's spans are, stamping ``onex.*`` attributes:

- **Executions.** An agent span (GenAI ``invoke_agent``, OpenInference ``AGENT``, OpenLLMetry
  ``agent``) is an execution with its own execution id (the framework's run id when it is a UUID),
  agent name and started event id; its correlation id is the trace id. Inside an onex
  ``agent_execution()`` it is a nested execution, never a copy of the outer one. A chain or
  workflow (OpenInference ``CHAIN``, OpenLLMetry ``workflow``, which marks every root runnable
  ``invoke_agent``) is an execution only when it is the framework's top-level run (no parent span
  of the same instrumentation) and a tool is called inside it with no agent span in between.
- **Real-time start.** The started event is published (through
  :func:`onex_otel.execution_listeners.notify_started`) as soon as the execution is known *and* its user
  request is, at the latest at its first tool call, or at its end.
- **Tool calls.** A tool span is stamped with its enclosing execution (agent name, execution id,
  started event id). A tool span whose parent is a tool span of the same invocation (a
  ``@traced_tool_call`` function that a framework also traces) is folded into the parent: it is
  marked ``merged`` and its arguments, result and call id travel to the parent, which reports the
  one ``tool_call`` action. A tool span without the model's call id gets it from the model call
  that requested the tool (same execution, same tool name, first unused id).

Spans end before their parents, and some instrumentations set every attribute at the end
(OpenInference's LangChain tracer), so decisions made at a span's end are written onto the
finished span's attributes before any exporter sees it (:func:`_amend`).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context

from onex_otel import _payload, execution_listeners
from onex_otel import dialects as d
from onex_otel._extract import agent_name_from_span_name, first_user_text_of, output_text, unwrap
from onex_otel.conventions import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_TYPE,
    ONEX_AGENT_NAME,
    ONEX_CORRELATION_ID,
    ONEX_EXECUTION_ID,
    ONEX_OUTPUT_SUMMARY,
    ONEX_SPAN_ROLE,
    ONEX_STARTED_EVENT_ID,
    ONEX_TOOL_ARGUMENTS,
    ONEX_TOOL_CALL_ID,
    ONEX_TOOL_RESULT,
    ONEX_USER_REQUEST,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
    ORIGINAL_SIZE_SUFFIX,
)
from onex_otel.ids import canonical_uuid, uuid7

__all__ = ["FrameworkRuns"]

_MAX_NODES = 100_000
_OUTPUT_MESSAGES_PREFIX = "llm.output_messages."


class _Frame:
    """One framework execution: what its spans are stamped with."""

    __slots__ = ("calls", "output", "published", "request", "span", "stamp")

    def __init__(self, span: Any, stamp: dict[str, str]) -> None:
        self.span = span
        self.stamp = stamp
        self.published = False
        self.request: str | None = None
        self.output: str | None = None  # the last model call's text output
        self.calls: dict[str, deque[str]] = {}


class _Node:
    """One open span being followed."""

    __slots__ = ("early", "frame", "framework", "inner", "name", "owner", "parent", "role", "scope", "span")

    def __init__(self, span: Any, parent: _Node | None, scope: str, framework: bool) -> None:
        self.span = span
        self.parent = parent
        self.scope = scope
        self.framework = framework
        self.name: str = span.name or ""
        self.frame: _Frame | None = parent.frame if parent is not None else None
        self.owner = False
        self.role: str | None = None
        self.inner: dict[str, Any] | None = None
        # a top-level chain's model calls, kept in case a tool call makes it an execution
        self.early: _Frame | None = None

    @property
    def top_level(self) -> bool:
        return self.parent is None or self.parent.scope != self.scope


def _attrs(span: Any) -> Mapping[str, Any]:
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(raw, dict):
        return raw
    return span.attributes or {}


def _amend(span: Any, values: Mapping[str, Any]) -> None:
    """Add ``values`` to a span's attributes, also after it ended.

    An ended SDK span refuses ``set_attribute``; its attribute dict is the one every processor and
    exporter after this one reads, so decisions taken at ``on_end`` are written there.
    """
    if span.is_recording() if hasattr(span, "is_recording") else False:
        span.set_attributes(dict(values))
        return
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(raw, dict):
        raw.update(values)


def _role(attrs: Mapping[str, Any], node: _Node) -> str | None:
    if node.framework:
        return d.role_of(attrs, node.scope, top_level=node.top_level)
    op = attrs.get(GEN_AI_OPERATION_NAME)
    if op == OP_EXECUTE_TOOL:
        return d.TOOL
    if op == OP_INVOKE_AGENT:
        return d.AGENT
    return None


def _in_tool_run(parent_context: Context | None) -> bool:
    """Whether the parent is a LangChain tool run made current by onex-otel's callback handler."""
    from opentelemetry.trace import get_current_span

    from onex_otel._langchain_context import is_tool_run_span

    return is_tool_run_span(get_current_span(parent_context))


def _current_role(node: _Node) -> str | None:
    """A followed span's role, read again while it is still unknown (attributes set late)."""
    if node.role is None:
        node.role = _role(_attrs(node.span), node)
    return node.role


def _tool_name(attrs: Mapping[str, Any], span_name: str) -> str:
    name = d.first(attrs, d.TOOL_NAME_KEYS)
    if name:
        return str(name)
    prefix = OP_EXECUTE_TOOL + " "
    return span_name[len(prefix) :] if span_name.startswith(prefix) else span_name


class FrameworkRuns:
    """Follows framework spans from start to end and stamps what each one is."""

    def __init__(self) -> None:
        """No span followed yet."""
        self._nodes: dict[int, _Node] = {}
        #: the open spans being followed, by span id (empty: nothing to do at span end)
        self.nodes = self._nodes
        self._lock = threading.Lock()
        self._framework_scopes: dict[str, bool] = {}
        #: (the last instrumentation scope object seen, whether it is a framework's): one
        #: attribute, so that threads always read a consistent pair
        self.last: tuple[Any, bool] = (None, False)

    def wants(self, span: Any) -> bool:
        """Whether ``span``'s start concerns the tracker (the processor inlines the common case).

        The span's instrumentation scope object is compared by identity with the last one seen
        (one tracer's spans in a row cost one comparison), then by name.
        """
        if self._nodes:
            return True
        scope = getattr(span, "_instrumentation_scope", None)
        last = self.last
        if scope is last[0]:
            return last[1]
        framework = self._is_framework(str(getattr(scope, "name", "") or ""))
        self.last = (scope, framework)
        return framework

    def _is_framework(self, scope: str) -> bool:
        known = self._framework_scopes.get(scope)
        if known is None:
            known = d.is_framework_scope(scope)
            if scope in d.CONTEXTLESS_SCOPES:
                from onex_otel._langchain_context import ensure_installed

                ensure_installed()
            if len(self._framework_scopes) < 1024:
                self._framework_scopes[scope] = known
        return known

    # -- span start -----------------------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Follow ``span`` if it is a framework's or starts under one; stamp what is known."""
        scope_obj = getattr(span, "instrumentation_scope", None)
        scope = str(getattr(scope_obj, "name", "") or "")
        framework = self._is_framework(scope)
        nodes = self._nodes
        if not framework and not nodes:
            return
        parent_ctx = span.parent
        pnode = nodes.get(parent_ctx.span_id) if parent_ctx is not None else None
        if not framework and pnode is None:
            return
        node = _Node(span, pnode, scope, framework)
        if (
            pnode is not None
            and pnode.role is None
            and pnode.scope in d.CONTEXTLESS_SCOPES
            and _in_tool_run(parent_context)
        ):
            pnode.role = d.TOOL  # known from the tool run that made it current, before its end
        with self._lock:
            nodes[span.context.span_id] = node
            if len(nodes) > _MAX_NODES:
                nodes.pop(next(iter(nodes)))
        attrs = _attrs(span)
        role = node.role = _role(attrs, node)
        if role == d.AGENT:
            if not framework:  # an onex execution inside a framework run: its own identity
                node.owner, node.frame = True, None
                return
            self._open_frame(node, attrs)
            return
        frame = node.frame
        if framework and role in (d.CHAIN, d.MODEL, d.OTHER):
            span.set_attribute(ONEX_SPAN_ROLE, d.ROLE_NONE)  # unless promoted later
        if role == d.TOOL:
            frame = self._frame_for_action(node)
            if frame is not None and not frame.published:
                self._publish(frame)
        if frame is not None:
            span.set_attributes(frame.stamp)

    def _open_frame(self, node: _Node, attrs: Mapping[str, Any]) -> _Frame:
        span = node.span
        run_id = d.first(attrs, d.RUN_ID_KEYS)
        execution_id = canonical_uuid(run_id) or str(uuid.uuid4())
        name = (
            d.first(attrs, d.AGENT_NAME_KEYS)
            or d.first(attrs, (d.TRACELOOP_ENTITY_NAME,))
            or agent_name_from_span_name(node.name)
        )
        stamp = {
            ONEX_CORRELATION_ID: str(uuid.UUID(int=span.context.trace_id)),
            ONEX_AGENT_NAME: str(name),
            ONEX_EXECUTION_ID: execution_id,
            ONEX_STARTED_EVENT_ID: str(uuid7()),
        }
        frame = _Frame(span, stamp)
        early = node.early
        if early is not None:
            frame.request, frame.output, frame.calls = early.request, early.output, early.calls
        node.frame = frame
        node.owner = True
        frame.request = first_user_text_of(attrs) or frame.request
        _amend(span, {**stamp, ONEX_SPAN_ROLE: d.ROLE_PENDING})
        if frame.request is not None:
            self._publish(frame)
        return frame

    def _publish(self, frame: _Frame) -> None:
        """Publish the started event of ``frame`` now (its span is still open)."""
        frame.published = True
        values: dict[str, Any] = {ONEX_SPAN_ROLE: d.ROLE_EXECUTION}
        text = _payload.foreign_text(frame.request)
        if text is not None:
            values[ONEX_USER_REQUEST] = text
        span = frame.span
        _amend(span, values)
        if span.is_recording():
            execution_listeners.notify_started(span)

    def _frame_for_action(self, node: _Node) -> _Frame | None:
        """The execution a tool call belongs to (a top-level framework chain becomes one)."""
        current = node.parent
        while current is not None:
            if current.owner:
                return current.frame
            if current.framework and current.top_level and _current_role(current) in (None, d.CHAIN):
                with self._lock:
                    if current.owner:
                        return current.frame
                    return self._open_frame(current, _attrs(current.span))
            current = current.parent
        return None

    # -- span end -------------------------------------------------------------------------------
    def on_end(self, span: Any) -> None:
        """Decide what a finished span is; write it onto the span before it is exported."""
        nodes = self._nodes
        if not nodes:
            return
        with self._lock:
            node = nodes.pop(span.context.span_id, None)
        if node is None:
            return
        attrs = _attrs(span)
        role = _role(attrs, node)
        if role == d.TOOL:
            self._tool_ended(node, span, attrs)
        elif role == d.MODEL:
            self._model_ended(node, attrs)
        if node.owner:
            self._execution_ended(node, span, attrs)
        elif role == d.AGENT and node.framework:
            self._open_frame(node, attrs)  # known only now (attributes set at the end)
            self._execution_ended(node, span, attrs)
        elif role != d.TOOL:
            enclosing = self._enclosing(node)
            values: dict[str, Any] = dict(enclosing.stamp) if enclosing is not None else {}
            if node.framework and role is not None:
                values[ONEX_SPAN_ROLE] = d.ROLE_NONE
            if values:
                _amend(span, values)

    def _execution_ended(self, node: _Node, span: Any, attrs: Mapping[str, Any]) -> None:
        frame = node.frame
        if frame is None:
            return
        if frame.request is None:
            frame.request = first_user_text_of(attrs)
        values: dict[str, Any] = {**frame.stamp, ONEX_SPAN_ROLE: d.ROLE_EXECUTION}
        if frame.output and d.first(attrs, d.OUTPUT_KEYS) is None:  # the agent span has none
            summary = _payload.foreign_text(frame.output, None, d.OUTPUT_SUMMARY_MAX_CHARS)
            if summary is not None:
                values[ONEX_OUTPUT_SUMMARY] = summary
        if not frame.published:
            text = _payload.foreign_text(frame.request)
            if text is not None:
                values[ONEX_USER_REQUEST] = text
            frame.published = True  # the lifecycle processor publishes started at end
        _amend(span, values)

    def _model_ended(self, node: _Node, attrs: Mapping[str, Any]) -> None:
        frame = self._enclosing(node)
        if frame is None:
            candidate = self._candidate(node)
            if candidate is None:
                return
            if candidate.early is None:
                candidate.early = _Frame(candidate.span, {})
            frame = candidate.early
        if not frame.published:
            frame.request = frame.request or first_user_text_of(attrs)
            if frame.request is not None and frame.stamp and frame.span.is_recording():
                self._publish(frame)
        output = output_text(
            d.first(attrs, (d.GEN_AI_OUTPUT_MESSAGES, d.OI_OUTPUT_VALUE))
        ) or _flattened_output(attrs)
        if output:
            frame.output = output
        for name, call_id in _requested_calls(attrs):
            frame.calls.setdefault(name, deque()).append(call_id)

    def _candidate(self, node: _Node) -> _Node | None:
        """The top-level framework chain a model call runs in (not yet an execution)."""
        current = node.parent
        while current is not None:
            if current.framework and current.top_level and _current_role(current) in (None, d.CHAIN):
                return current
            current = current.parent
        return None

    def _enclosing(self, node: _Node) -> _Frame | None:
        current: _Node | None = node.parent
        while current is not None:
            if current.owner:
                return current.frame
            current = current.parent
        return None

    def _tool_ended(self, node: _Node, span: Any, attrs: Mapping[str, Any]) -> None:
        name = _tool_name(attrs, node.name)
        parent = node.parent
        parent_role = _current_role(parent) if parent is not None else None
        if (
            parent is not None
            and parent.inner is None
            and (parent_role == d.TOOL or (parent.framework and parent_role is None and parent.name == name))
        ):
            parent.inner = _tool_facts(attrs)
            _amend(span, {ONEX_SPAN_ROLE: d.ROLE_MERGED})
            return
        frame = self._frame_for_action(node)
        values: dict[str, Any] = {ONEX_SPAN_ROLE: d.ROLE_TOOL_CALL}
        if frame is not None:
            if not frame.published and frame.span.is_recording():
                self._publish(frame)
            values.update(frame.stamp)
        own_call_id = _framework_call_id(attrs) if node.framework else None
        inner = node.inner
        if inner is not None:
            if GEN_AI_TOOL_TYPE not in attrs and GEN_AI_TOOL_TYPE in inner:
                values[GEN_AI_TOOL_TYPE] = inner[GEN_AI_TOOL_TYPE]
            for key in (ONEX_TOOL_ARGUMENTS, ONEX_TOOL_RESULT):
                if key in inner:
                    values[key] = inner[key]
                    if key + ORIGINAL_SIZE_SUFFIX in inner:
                        values[key + ORIGINAL_SIZE_SUFFIX] = inner[key + ORIGINAL_SIZE_SUFFIX]
        if own_call_id is None and frame is not None:
            pending = frame.calls.get(name)
            if pending:
                own_call_id = pending.popleft()
        if own_call_id is None and inner is not None:
            own_call_id = inner.get(ONEX_TOOL_CALL_ID)
        if own_call_id is not None and node.framework:
            values[ONEX_TOOL_CALL_ID] = own_call_id
        _amend(span, values)


def _framework_call_id(attrs: Mapping[str, Any]) -> str | None:
    """The model's call id as a framework's tool span records it (any dialect, any wrapper)."""
    found = d.first(attrs, d.TOOL_CALL_ID_KEYS)
    if found is not None:
        return str(found)
    for key in d.TOOL_ARGUMENTS_KEYS + d.TOOL_RESULT_KEYS:
        if key in attrs:
            _, call_id = unwrap(attrs[key])
            if call_id:
                return call_id
    return None


def _tool_facts(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What an inner tool span (onex's own, usually) knew: arguments, result, call id."""
    out: dict[str, Any] = {}
    for src, dst in (
        (GEN_AI_TOOL_CALL_ARGUMENTS, ONEX_TOOL_ARGUMENTS),
        (GEN_AI_TOOL_CALL_RESULT, ONEX_TOOL_RESULT),
    ):
        if src in attrs:
            out[dst] = attrs[src]
            size = attrs.get(src + ORIGINAL_SIZE_SUFFIX)
            if size is not None:
                out[dst + ORIGINAL_SIZE_SUFFIX] = size
    call_id = attrs.get(GEN_AI_TOOL_CALL_ID)
    if call_id is not None:
        out[ONEX_TOOL_CALL_ID] = str(call_id)
    tool_type = attrs.get(GEN_AI_TOOL_TYPE)
    if tool_type is not None:
        out[GEN_AI_TOOL_TYPE] = tool_type
    return out


def _requested_calls(attrs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(tool name, call id) of every tool call a model call's output asks for."""
    out: list[tuple[str, str]] = []
    raw = attrs.get(d.GEN_AI_OUTPUT_MESSAGES)
    if raw is not None:
        messages, _ = unwrap(raw)
        if isinstance(messages, list):
            for message in messages:
                parts = message.get("parts") if isinstance(message, Mapping) else None
                for part in parts if isinstance(parts, list) else ():
                    if (
                        isinstance(part, Mapping)
                        and part.get("type") == "tool_call"
                        and part.get("id")
                        and part.get("name")
                    ):
                        out.append((str(part["name"]), str(part["id"])))
    prefix = _OUTPUT_MESSAGES_PREFIX
    for key, value in attrs.items():
        if key.startswith(prefix) and key.endswith(".tool_call.id"):
            name = attrs.get(key[: -len(".id")] + ".function.name")
            if name is not None:
                out.append((str(name), str(value)))
    return out


def _flattened_output(attrs: Mapping[str, Any]) -> str | None:
    """The text of OpenInference's flattened ``llm.output_messages.<i>.message.content``."""
    texts = [
        str(v)
        for k, v in attrs.items()
        if k.startswith(_OUTPUT_MESSAGES_PREFIX) and k.endswith(d.OI_MESSAGE_CONTENT_SUFFIX)
    ]
    return texts[-1] if texts else None
