"""The lifecycle processor lets onex-otel start action spans bare: its on_start decides the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider

import onex_otel
from onex_exporters.lifecycle import OnexLifecycleProcessor
from onex_exporters.mapping_span import is_execution_span
from onex_otel import agent_execution, traced_decision, traced_tool_call
from onex_otel._context import tracer as onex_tracer
from onex_otel._span_start import ACTION_ATTRIBUTES_UNREAD, attributes_unread
from tests.core.conftest import _ENV, reset_tracing


class ExecutionFinder(SpanProcessor):
    """Decides at on_start, as the lifecycle processor does, whether a span is an execution."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, bool]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append((span.name, bool(span.attributes), is_execution_span(span)))


class DeclaredExecutionFinder(ExecutionFinder):
    """The same, declaring what the lifecycle processor declares."""


setattr(DeclaredExecutionFinder, ACTION_ATTRIBUTES_UNREAD, True)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    reset_tracing()


def _run(finder: ExecutionFinder) -> list[tuple[str, bool, bool]]:
    reset_tracing()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(finder)
    onex_otel.configure(tracer_provider=provider)

    @traced_tool_call
    def lookup(query: str) -> str:
        return query

    @traced_decision(name="route")
    def decide(option: str) -> str:
        return option

    lookup("a")
    decide("b")
    with agent_execution("agent-a", session_id="s"):
        lookup("c")
        decide("d")
    return finder.seen


def test_the_lifecycle_processor_declares_it() -> None:
    assert getattr(OnexLifecycleProcessor, ACTION_ATTRIBUTES_UNREAD) is True


def test_an_action_span_is_no_execution_with_or_without_its_attributes() -> None:
    general = _run(ExecutionFinder())
    assert not attributes_unread(onex_tracer())
    quick = _run(DeclaredExecutionFinder())
    assert attributes_unread(onex_tracer())
    quick_actions = [had for name, had, _ in quick if not name.startswith("invoke_agent")]
    assert len(quick_actions) == 4 and not any(quick_actions)  # started bare
    assert all(had for _, had, _ in general)  # started with their attributes
    assert [(n, e) for n, _, e in quick] == [(n, e) for n, _, e in general]
    assert [n for n, _, e in quick if e] == ["invoke_agent agent-a"]
