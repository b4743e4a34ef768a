"""An action's span started bare with its attributes put right after, and when that is allowed.

The quick start (:mod:`onex_otel._span_start`) must give the very span the general start gives,
and must not be taken when a sampler or a span processor could read the attributes at the start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

import onex_otel
from onex_otel import agent_execution, tool_call, traced_decision, traced_tool_call
from onex_otel._context import tracer as onex_tracer
from onex_otel._processor import ExecutionAttributesProcessor
from onex_otel._span_start import attributes_unread
from tests.core.conftest import reset_tracing

#: Attributes whose values differ from run to run.
VOLATILE = frozenset({"gen_ai.tool.call.id", "gen_ai.agent.id", "onex.execution_id", "onex.started_event_id"})
CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"


class AttributeReader(SpanProcessor):
    """A processor that reads the attributes a span starts with."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append((span.name, dict(span.attributes or {})))


class AttributeSampler(Sampler):
    """A sampler that records the attributes it is asked about and samples everything."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "AttributeSampler"


def _setup(
    *extra: SpanProcessor, sampler: Sampler | None = None, limits: SpanLimits | None = None
) -> tuple[TracerProvider, InMemorySpanExporter]:
    reset_tracing()
    provider = TracerProvider(sampler=sampler, span_limits=limits, shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for processor in extra:
        provider.add_span_processor(processor)
    onex_otel.configure(tracer_provider=provider)
    return provider, exporter


@pytest.fixture(autouse=True)
def _fresh(clean_env: None) -> Iterator[None]:
    yield
    reset_tracing()


def _unread() -> bool:
    return attributes_unread(onex_tracer())


def _calls() -> None:
    """One of each action start: decorated tool call (args cut to a size), decision, block."""

    @traced_tool_call
    def lookup(query: str, limit: int = 3) -> dict[str, int]:
        return {"hits": limit}

    @traced_decision(name="route")
    def decide(options: list[str]) -> str:
        return options[0]

    lookup("x" * 100_000)
    lookup("q", limit=5)
    decide(["a", "b"])
    with tool_call("Bash", {"command": "ls"}) as call:
        call.set_result("ok")
    with agent_execution("agent-a", correlation_id=CID, session_id="s"):
        lookup("inside")
        decide(["c"])


def _recorded(exporter: InMemorySpanExporter) -> list[tuple[str, list[tuple[str, Any]], int]]:
    """Each finished span's name, attributes in order (volatile values masked), dropped count."""
    spans: Sequence[ReadableSpan] = exporter.get_finished_spans()
    return [
        (
            s.name,
            [(k, "<id>" if k in VOLATILE else v) for k, v in (s.attributes or {}).items()],
            s.dropped_attributes,
        )
        for s in spans
    ]


@pytest.mark.parametrize(
    "limits", [None, SpanLimits(max_span_attributes=4), SpanLimits(max_span_attribute_length=20)]
)
def test_the_quick_start_gives_the_general_starts_span(limits: SpanLimits | None) -> None:
    _, exporter = _setup(limits=limits)
    assert _unread()
    _calls()
    first = _recorded(exporter)
    reader = AttributeReader()
    _, exporter = _setup(reader, limits=limits)
    assert not _unread()
    _calls()
    assert _recorded(exporter) == first
    if limits is not None:  # the reader saw attributes since dropped
        return
    # the reader saw at the start what an action's span carried (its result is put at the end)
    actions = ("execute_tool ", "decision ")
    ended = [
        (name, {k: v for k, v in attrs if not k.endswith(".result")})
        for name, attrs, _ in first
        if name.startswith(actions)
    ]
    started = [
        (name, {k: ("<id>" if k in VOLATILE else v) for k, v in seen.items()})
        for name, seen in reader.seen
        if name.startswith(actions)
    ]
    assert started == ended


def test_a_sampler_that_may_read_attributes_is_given_them() -> None:
    sampler = AttributeSampler()
    _setup(sampler=ParentBased(root=sampler))
    assert not _unread()
    traced_tool_call(name="Read")(lambda: 1)()
    assert sampler.seen[-1]["gen_ai.tool.name"] == "Read"


@pytest.mark.parametrize("sampler", [ALWAYS_ON, TraceIdRatioBased(0.5), ParentBased(TraceIdRatioBased(1.0))])
def test_the_sdks_samplers_need_no_attributes(sampler: Sampler) -> None:
    _setup(sampler=sampler)
    assert _unread()


def test_a_processor_added_later_is_seen() -> None:
    provider, _ = _setup()
    assert _unread()
    reader = AttributeReader()
    provider.add_span_processor(reader)
    assert not _unread()
    traced_tool_call(name="Read")(lambda: 1)()
    assert reader.seen[-1][1]["gen_ai.tool.name"] == "Read"


def test_a_followed_framework_run_takes_the_general_start() -> None:
    provider, _ = _setup()
    onex = [
        p
        for p in provider._active_span_processor._span_processors
        if isinstance(p, ExecutionAttributesProcessor)
    ]
    assert len(onex) == 1
    runs = onex[0].runs
    runs.nodes[1] = cast(Any, object())  # a framework run being followed: its on_start reads attributes
    try:
        assert not _unread()
    finally:
        runs.nodes.clear()
    assert _unread()


def test_a_dropped_span_takes_nothing() -> None:
    _, exporter = _setup(sampler=ParentBased(TraceIdRatioBased(0.0)))
    assert _unread()
    assert traced_tool_call(name="Read")(lambda: 1)() == 1
    assert exporter.get_finished_spans() == ()
    assert not trace.get_current_span().is_recording()
