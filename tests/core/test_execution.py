"""Agent executions: span shape, correlation id = trace id, context propagation, outcomes."""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import threading
import uuid
from typing import Any

import pytest
from opentelemetry import trace

from onex_otel import (
    _payload,
    agent_execution,
    current_correlation_id,
    current_execution,
    traced_agent_execution,
)
from onex_otel.conventions import CORRELATION_ID_NAMESPACE
from onex_otel.lifecycle import ProgressReport, add_listener, remove_listener
from tests.core.conftest import Spans, hexid, shape

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"
VOLATILE = ("gen_ai.agent.id", "onex.execution_id", "onex.started_event_id")


def test_execution_span_whole_shape(spans: Spans) -> None:
    with agent_execution(
        "agent-researcher",
        user_request="Research Python async patterns",
        correlation_id=CID,
        session_id="session-1",
        context={"domain": "research", "api_key": "sk-123"},
        project_path="/srv/project",
        project_name="project",
    ) as run:
        run.progress("routing_analysis", 25, {"max_recommendations": 3})
        run.complete(quality_score=0.92, output_summary="Found 5 patterns", metrics={"files": 10})
    span = spans.by_name("invoke_agent agent-researcher")
    assert span.parent is None
    assert hexid(span.context.trace_id) == uuid.UUID(CID).hex
    assert run.correlation_id == CID
    attrs = span.attributes or {}
    assert attrs["gen_ai.agent.id"] == attrs["onex.execution_id"] == run.execution_id
    assert uuid.UUID(str(attrs["onex.started_event_id"])).version == 7
    assert shape(span, VOLATILE) == {
        "name": "invoke_agent agent-researcher",
        "kind": "INTERNAL",
        "attributes": {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "agent-researcher",
            "gen_ai.agent.id": "<any>",
            "gen_ai.conversation.id": "session-1",
            "onex.correlation_id": CID,
            "onex.agent_name": "agent-researcher",
            "onex.execution_id": "<any>",
            "onex.started_event_id": "<any>",
            "onex.session_id": "session-1",
            "onex.user_request": "Research Python async patterns",
            "onex.context": '{"domain":"research","api_key":"[REDACTED]"}',
            "onex.project_path": "/srv/project",
            "onex.project_name": "project",
            "onex.working_directory": os.getcwd(),
            "onex.quality_score": 0.92,
            "onex.output_summary": "Found 5 patterns",
            "onex.metrics": '{"files":10}',
            "onex.execution.status": "success",
        },
        "events": [
            (
                "onex.execution.progress",
                {
                    "onex.stage": "routing_analysis",
                    "onex.percent": 25.0,
                    "onex.metadata": '{"max_recommendations":3}',
                },
            ),
        ],
        "status": "UNSET",
    }


def test_no_correlation_id_makes_a_new_uuid(spans: Spans) -> None:
    with agent_execution("a") as run:
        pass
    span = spans.by_name("invoke_agent a")
    assert hexid(span.context.trace_id) == uuid.UUID(run.correlation_id).hex
    assert "onex.correlation_id.original" not in (span.attributes or {})


@pytest.mark.parametrize("legacy", ["abc-123-def-456", "x", "00000000-0000-0000-0000-000000000000"])
def test_legacy_correlation_id_maps_to_uuid5(spans: Spans, legacy: str) -> None:
    with agent_execution("a", correlation_id=legacy) as run:
        pass
    expected = uuid.uuid5(CORRELATION_ID_NAMESPACE, legacy)
    span = spans.by_name("invoke_agent a")
    assert run.correlation_id == str(expected)
    assert hexid(span.context.trace_id) == expected.hex
    assert (span.attributes or {})["onex.correlation_id.original"] == legacy


def test_uuid_object_accepted(spans: Spans) -> None:
    with agent_execution("a", correlation_id=uuid.UUID(CID)) as run:
        pass
    assert run.correlation_id == CID
    assert hexid(spans.by_name("invoke_agent a").context.trace_id) == uuid.UUID(CID).hex


def test_inside_existing_span_is_child_and_inherits_trace(spans: Spans) -> None:
    tracer = spans.provider.get_tracer("outer")
    with tracer.start_as_current_span("outer") as outer, agent_execution("a", correlation_id=CID) as run:
        inner_cid = current_correlation_id()
    span = spans.by_name("invoke_agent a")
    assert span.parent is not None and span.parent.span_id == outer.get_span_context().span_id
    assert span.context.trace_id == outer.get_span_context().trace_id
    assert inner_cid == run.correlation_id == str(uuid.UUID(int=span.context.trace_id))
    assert (span.attributes or {})["onex.correlation_id.original"] == CID


def test_nested_execution_shares_the_correlation_id(spans: Spans) -> None:
    with agent_execution("outer", correlation_id=CID) as outer, agent_execution("inner") as inner:
        assert current_execution() is inner
    assert inner.correlation_id == outer.correlation_id == CID
    inner_span = spans.by_name("invoke_agent inner")
    outer_span = spans.by_name("invoke_agent outer")
    assert inner_span.parent is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert (inner_span.attributes or {})["onex.agent_name"] == "inner"
    assert (inner_span.attributes or {})["onex.execution_id"] == inner.execution_id


def test_exception_marks_failed_and_reraises_same_object(spans: Spans) -> None:
    error = RuntimeError("boom")
    with pytest.raises(RuntimeError) as caught, agent_execution("a", correlation_id=CID):
        raise error
    assert caught.value is error
    span = spans.by_name("invoke_agent a")
    got = shape(span, VOLATILE)
    assert got["status"] == "ERROR"
    assert span.status.description == "RuntimeError: boom"
    assert {
        k: got["attributes"][k]
        for k in ("onex.execution.status", "onex.error_message", "onex.error_type", "error.type")
    } == {
        "onex.execution.status": "failed",
        "onex.error_message": "boom",
        "onex.error_type": "RuntimeError",
        "error.type": "RuntimeError",
    }
    assert got["events"] == [
        (
            "exception",
            {
                "exception.type": "RuntimeError",
                "exception.message": "boom",
                "exception.stacktrace": "<any>",
                "exception.escaped": "True",
            },
        )
    ]
    stack = str(span.events[0].attributes["exception.stacktrace"])  # type: ignore[index]
    assert "raise error" in stack


def test_explicit_fail_without_exception(spans: Spans) -> None:
    with agent_execution("a") as run:
        run.fail("no result", error_type="EmptyResult", partial_results={"files_processed": 3})
    attrs = spans.by_name("invoke_agent a").attributes or {}
    assert {k: v for k, v in attrs.items() if "error" in k or "partial" in k or "status" in k} == {
        "onex.error_message": "no result",
        "onex.error_type": "EmptyResult",
        "onex.partial_results": '{"files_processed":3}',
        "onex.execution.status": "failed",
        "error.type": "EmptyResult",
    }
    assert run.status == "failed"


def test_keyboard_interrupt_marks_cancelled(spans: Spans) -> None:
    with pytest.raises(KeyboardInterrupt), agent_execution("a"):
        raise KeyboardInterrupt
    attrs = spans.by_name("invoke_agent a").attributes or {}
    assert attrs["onex.execution.status"] == "cancelled"
    assert attrs["onex.error_message"] == "cancelled"


async def test_asyncio_cancel_marks_cancelled(spans: Spans) -> None:
    started = asyncio.Event()

    async def agent() -> None:
        async with agent_execution("slow"):
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(agent())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    attrs = spans.by_name("invoke_agent slow").attributes or {}
    assert attrs["onex.execution.status"] == "cancelled"
    assert attrs["error.type"] == "asyncio.exceptions.CancelledError"


@pytest.mark.parametrize("percent", [-0.1, 100.5, float("nan"), "50", True, None])
def test_progress_rejects_bad_percent_before_recording(spans: Spans, percent: Any) -> None:
    with agent_execution("a") as run, pytest.raises(ValueError, match="percent"):
        run.progress("stage", percent)
    assert spans.by_name("invoke_agent a").events == ()


def test_progress_rejects_empty_stage(spans: Spans) -> None:
    with agent_execution("a") as run, pytest.raises(ValueError, match="stage"):
        run.progress("", 10)


@pytest.mark.parametrize("score", [-0.01, 1.01, float("inf"), "0.5"])
def test_complete_rejects_bad_quality_score(spans: Spans, score: Any) -> None:
    with agent_execution("a") as run, pytest.raises(ValueError, match="quality_score"):
        run.complete(quality_score=score, output_summary="not recorded")
    attrs = spans.by_name("invoke_agent a").attributes or {}
    assert "onex.quality_score" not in attrs and "onex.output_summary" not in attrs


def test_empty_agent_name_rejected() -> None:
    with pytest.raises(ValueError, match="agent_name"):
        agent_execution("")


def test_progress_notifies_lifecycle_listeners(spans: Spans) -> None:
    reports: list[ProgressReport] = []

    class Listener:
        def on_progress(self, report: ProgressReport) -> None:
            reports.append(report)

    listener: Any = Listener()  # on_progress only
    add_listener(listener)
    try:
        with agent_execution("a") as run:
            run.progress("half", 50, {"k": "v", "password": "p"})
    finally:
        remove_listener(listener)
    assert len(reports) == 1
    report = reports[0]
    assert (report.stage, report.percent, dict(report.metadata)) == (
        "half",
        50.0,
        {"k": "v", "password": "[REDACTED]"},
    )
    assert report.span.get_span_context().span_id == spans.by_name("invoke_agent a").context.span_id


def test_progress_metadata_is_bounded_before_it_is_recorded(spans: Spans) -> None:
    reports: list[ProgressReport] = []

    class Listener:
        def on_progress(self, report: ProgressReport) -> None:
            reports.append(report)

    listener: Any = Listener()  # on_progress only
    add_listener(listener)
    try:
        with agent_execution("a") as run:
            run.progress("big", 10, {"blob": "x" * 10_000_000, "n": 1})
    finally:
        remove_listener(listener)
    limit = _payload.policy().max_bytes
    (event,) = [e for e in spans.by_name("invoke_agent a").events if e.name == "onex.execution.progress"]
    text = str(event.attributes["onex.metadata"])  # type: ignore[index]
    assert len(text.encode()) <= limit
    assert json.loads(text)["n"] == 1
    assert int(event.attributes["onex.metadata.original_size"]) > 10_000_000  # type: ignore[index, arg-type]
    (report,) = reports
    assert len(json.dumps(dict(report.metadata))) <= limit


def test_user_request_not_recorded_when_capture_off(spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    import onex_otel

    monkeypatch.setenv("ONEX_CAPTURE_CONTENT", "false")
    onex_otel.configure()
    with agent_execution("a", user_request="secret plans"):
        pass
    assert "onex.user_request" not in (spans.by_name("invoke_agent a").attributes or {})


def test_other_instrumentations_spans_carry_execution_attributes(spans: Spans) -> None:
    other = spans.provider.get_tracer("psycopg-like")
    with (
        agent_execution("a", correlation_id=CID, session_id="s") as run,
        other.start_as_current_span("SELECT"),
    ):
        pass
    with other.start_as_current_span("after"):
        pass
    inside = spans.by_name("SELECT")
    assert hexid(inside.context.trace_id) == uuid.UUID(CID).hex
    assert dict(inside.attributes or {}) == {
        "onex.correlation_id": CID,
        "onex.agent_name": "a",
        "onex.execution_id": run.execution_id,
        "onex.started_event_id": run.started_event_id,
        "onex.session_id": "s",
    }
    assert dict(spans.by_name("after").attributes or {}) == {}


def test_correlation_id_is_none_outside_and_restored_after(spans: Spans) -> None:
    assert current_correlation_id() is None
    with agent_execution("a", correlation_id=CID):
        assert current_correlation_id() == CID
    assert current_correlation_id() is None
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_correlation_id_follows_await_and_tasks(spans: Spans) -> None:
    async def child() -> str | None:
        await asyncio.sleep(0)
        return current_correlation_id()

    async with agent_execution("a", correlation_id=CID):
        await asyncio.sleep(0)
        assert current_correlation_id() == CID
        assert await asyncio.create_task(child()) == CID
    assert current_correlation_id() is None


def test_correlation_id_in_copy_context_threads(spans: Spans) -> None:
    seen: list[str | None] = []
    with agent_execution("a", correlation_id=CID):
        ctx = contextvars.copy_context()
        record = lambda: seen.append(current_correlation_id())  # noqa: E731
        worker = threading.Thread(target=ctx.run, args=(record,))
        plain = threading.Thread(target=lambda: seen.append(current_correlation_id()))
        worker.start()
        worker.join(10)
        plain.start()
        plain.join(10)
    assert seen == [CID, None]


def test_concurrent_threads_never_see_each_others_ids(spans: Spans) -> None:
    results: dict[int, list[tuple[str, str | None]]] = {}
    barrier = threading.Barrier(4, timeout=10)

    def agent(i: int) -> None:
        mine = []
        with agent_execution(f"agent-{i}") as run:
            barrier.wait()
            for _ in range(50):
                mine.append((run.correlation_id, current_correlation_id()))
        results[i] = mine

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 4
    for mine in results.values():
        assert all(own == seen for own, seen in mine)
    assert len({mine[0][0] for mine in results.values()}) == 4
    for i in range(4):
        span = spans.by_name(f"invoke_agent agent-{i}")
        assert span.parent is None
        assert str(uuid.UUID(int=span.context.trace_id)) == results[i][0][0]


async def test_concurrent_tasks_never_see_each_others_ids(spans: Spans) -> None:
    async def agent(i: int) -> tuple[str, list[str | None]]:
        seen = []
        async with agent_execution(f"agent-{i}") as run:
            for _ in range(20):
                await asyncio.sleep(0)
                seen.append(current_correlation_id())
        return run.correlation_id, seen

    outcomes = await asyncio.gather(*(agent(i) for i in range(5)))
    for own, seen in outcomes:
        assert set(seen) == {own}
    assert len({own for own, _ in outcomes}) == 5


def test_decorator_sync_with_argument_mapping(spans: Spans) -> None:
    @traced_agent_execution(
        agent_name="agent-x", user_request_arg="request", correlation_id_arg="cid", session_id_arg="session"
    )
    def run(request: str, cid: str, session: str | None = None) -> str | None:
        return current_correlation_id()

    assert run.__name__ == "run" and run.__wrapped__ is not None  # type: ignore[attr-defined]
    assert run("do it", CID, session="s1") == CID
    attrs = spans.by_name("invoke_agent agent-x").attributes or {}
    assert (attrs["onex.user_request"], attrs["onex.correlation_id"], attrs["onex.session_id"]) == (
        "do it",
        CID,
        "s1",
    )


def test_decorator_bare_uses_function_name(spans: Spans) -> None:
    @traced_agent_execution
    def my_agent() -> int:
        return 7

    assert my_agent() == 7
    assert spans.by_name("invoke_agent my_agent").attributes["onex.execution.status"] == "success"  # type: ignore[index]


async def test_decorator_async_failure(spans: Spans) -> None:
    error = ValueError("bad")

    @traced_agent_execution(agent_name="async-agent")
    async def run() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(ValueError) as caught:
        await run()
    assert caught.value is error
    attrs = spans.by_name("invoke_agent async-agent").attributes or {}
    assert attrs["onex.execution.status"] == "failed"


def test_decorator_rejects_unknown_parameter_name() -> None:
    with pytest.raises(TypeError, match="no parameter"):

        @traced_agent_execution(user_request_arg="nope")
        def run(request: str) -> None:
            pass


def test_entering_twice_is_an_error(spans: Spans) -> None:
    execution = agent_execution("a")
    with execution:
        pass
    with pytest.raises(RuntimeError, match="once"):
        execution.__enter__()


def test_decorator_refuses_generators() -> None:
    with pytest.raises(TypeError, match="generator"):

        @traced_agent_execution
        def gen() -> Any:
            yield 1
