"""Containment of internal failures, and the metric instruments."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import onex_otel
from onex_otel import _internal, _invocation, agent_execution, record_error, traced_tool_call
from tests.core.conftest import Spans


class Boom(Exception):
    pass


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise Boom("instrumentation bug")


def test_internal_error_reraised_under_pytest(spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_invocation, "new_call_id", _explode)

    @traced_tool_call
    def tool(a: int) -> int:
        return a

    with pytest.raises(Boom):
        tool(1)


def test_internal_error_contained_counted_logged_once(
    spans: Spans, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_invocation, "new_call_id", _explode)
    calls: list[int] = []

    @traced_tool_call
    def tool(a: int) -> int:
        calls.append(a)
        return a * 2

    monkeypatch.setattr(_internal, "_logged", set())
    before = _internal.internal_error_counts().get("action.start", 0)
    caplog.set_level(logging.WARNING, logger="onex_otel")
    with _internal.contained():
        assert tool(1) == 2
        assert tool(2) == 4
    assert calls == [1, 2]
    assert _internal.internal_error_counts()["action.start"] == before + 2
    logged = [r for r in caplog.records if "action.start" in r.getMessage()]
    assert len(logged) == 1  # once per kind
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_failure_at_stop_still_restores_context_and_returns(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _invocation._json_text  # type: ignore[attr-defined]

    def fail_on_result(value: Any, *rest: Any) -> Any:
        if value == "ok":
            raise Boom("result encoding bug")
        return real(value, *rest)

    monkeypatch.setattr(_invocation, "_json_text", fail_on_result)

    @traced_tool_call
    def tool() -> str:
        return "ok"

    with _internal.contained(), agent_execution("a"):
        outer = trace.get_current_span()
        assert tool() == "ok"
        assert trace.get_current_span() is outer
    assert [s.name for s in spans.finished()] == ["execute_tool tool", "invoke_agent a"]


def test_user_exception_passes_when_instrumentation_fails(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_invocation, "_instruments", _explode)
    error = KeyError("user")

    @traced_tool_call
    def tool() -> None:
        raise error

    with _internal.contained(), pytest.raises(KeyError) as caught:
        tool()
    assert caught.value is error


def _points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    data = reader.get_metrics_data()
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    if value is None:
                        value = (p.count, p.sum)  # type: ignore[union-attr]
                    out.setdefault(metric.name, []).append((dict(p.attributes or {}), value))
    return out


def test_metrics_actions_durations_errors(spans: Spans) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    onex_otel.configure(meter_provider=provider)

    @traced_tool_call(name="Read")
    def read(ok: bool) -> None:
        if not ok:
            raise FileNotFoundError("x")

    try:
        with agent_execution("agent-a"):
            read(True)
            read(True)
            with pytest.raises(FileNotFoundError):
                read(False)
            record_error("Timeout", "slow")
        points = _points(reader)
    finally:
        provider.shutdown()
    actions = {tuple(sorted(a.items())): v for a, v in points["onex.agent.actions"]}
    assert actions == {
        (("action_type", "tool_call"), ("agent_name", "agent-a"), ("tool_name", "Read")): 3,
        (("action_type", "error"), ("agent_name", "agent-a")): 1,
        (("action_type", "success"), ("agent_name", "agent-a")): 1,
    }
    errors = {tuple(sorted(a.items())): v for a, v in points["onex.agent.action.errors"]}
    assert errors == {
        (("agent_name", "agent-a"), ("error_type", "FileNotFoundError")): 1,
        (("agent_name", "agent-a"), ("error_type", "Timeout")): 1,
    }
    durations = {tuple(sorted(a.items())): v for a, v in points["onex.agent.action.duration"]}
    count, total = durations[(("action_type", "tool_call"), ("agent_name", "agent-a"), ("tool_name", "Read"))]
    assert count == 3 and total >= 0


def test_metrics_executions_by_status(spans: Spans) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    onex_otel.configure(meter_provider=provider)
    try:
        with agent_execution("agent-a"):
            pass
        with agent_execution("agent-a"):
            pass
        with pytest.raises(ValueError), agent_execution("agent-a"):
            raise ValueError("bad input")
        with agent_execution("agent-b") as run:
            run.fail("gave up")
        with pytest.raises(KeyboardInterrupt), agent_execution("agent-b"):
            raise KeyboardInterrupt
        points = _points(reader)
    finally:
        provider.shutdown()
    executions = {(a["agent_name"], a["status"]): v for a, v in points["onex.agent.executions"]}
    assert executions == {
        ("agent-a", "success"): 2,
        ("agent-a", "failed"): 1,
        ("agent-b", "failed"): 1,
        ("agent-b", "cancelled"): 1,
    }
