"""Every legacy call returns True/False and never raises, whatever its arguments."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from onex_otel import (
    ActionLogger,
    AgentExecutionLogger,
    AgentExecutionPublisher,
    log_action,
    log_agent_execution,
    publish_action_event,
    publish_decision,
    publish_error,
    publish_execution_completed,
    publish_execution_failed,
    publish_execution_started,
    publish_success,
    publish_tool_call,
)
from onex_otel._internal import contained, internal_error_counts
from onex_otel.legacy import _registry
from tests.core.conftest import Spans


class Hostile:
    """Every dunder a library might call raises."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Any:
        raise RuntimeError("iter")


class HostileMapping(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("items")

    def keys(self) -> Any:
        raise RuntimeError("keys")


cyclic: dict[str, Any] = {}
cyclic["self"] = cyclic

HOSTILE: list[Any] = [
    None,
    "",
    " ",
    "x" * 100_000,
    -1,
    math.nan,
    math.inf,
    True,
    3.5,
    b"\xff\x00",
    Hostile(),
    HostileMapping(a=1),
    cyclic,
    [cyclic],
    {"password": "p", 1: object()},
    "\udcff",
    object(),
]

PUBLISHER = AgentExecutionPublisher()
CALLS: dict[str, Callable[..., Awaitable[object]]] = {
    "publish_action_event": publish_action_event,
    "publish_tool_call": publish_tool_call,
    "publish_decision": publish_decision,
    "publish_error": publish_error,
    "publish_success": publish_success,
    "log_action": log_action,
    "publish_execution_started": publish_execution_started,
    "publish_execution_completed": publish_execution_completed,
    "publish_execution_failed": publish_execution_failed,
    "publisher.publish_execution_started": PUBLISHER.publish_execution_started,
    "publisher.publish_execution_progress": PUBLISHER.publish_execution_progress,
    "publisher.publish_execution_completed": PUBLISHER.publish_execution_completed,
    "publisher.publish_execution_failed": PUBLISHER.publish_execution_failed,
}
GOOD: dict[str, object] = {
    "agent_name": "agent-a",
    "action_type": "decision",
    "action_name": "x",
    "tool_name": "Read",
    "decision_name": "d",
    "error_type": "E",
    "error_message": "m",
    "success_name": "s",
    "user_request": "r",
    "correlation_id": "ad12146a-b7d0-4a47-86bf-7ec298ce2c81",
    "current_step": "step",
}


def _cases() -> list[tuple[str, str, int]]:
    cases = []
    for call_name, call in CALLS.items():
        for param in inspect.signature(call).parameters.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            for index in range(len(HOSTILE)):
                cases.append((call_name, param.name, index))
    return cases


def _args(call: Callable[..., object], hostile_param: str, value: object) -> dict[str, object]:
    args: dict[str, object] = {}
    for param in inspect.signature(call).parameters.values():
        if param.name == hostile_param:
            args[param.name] = value
        elif param.default is inspect.Parameter.empty and param.kind not in (
            param.VAR_KEYWORD,
            param.VAR_POSITIONAL,
        ):
            args[param.name] = GOOD.get(param.name, "x")
    return args


@pytest.mark.parametrize(("call_name", "param", "index"), _cases())
async def test_hostile_argument_never_raises(legacy: Spans, call_name: str, param: str, index: int) -> None:
    call = CALLS[call_name]
    await PUBLISHER.start()
    with contained():
        result = await call(**_args(call, param, HOSTILE[index]))
        _registry.close_all()
    assert result is True or result is False


async def test_invalid_arguments_are_counted_and_return_false(legacy: Spans) -> None:
    before = internal_error_counts().get("legacy.publish_decision.invalid", 0)
    assert await publish_decision(agent_name=42, decision_name="d") is False  # type: ignore[arg-type]
    assert await publish_decision("a", "", duration_ms=-1) is False
    after = internal_error_counts().get("legacy.publish_decision.invalid", 0)
    assert after == before + 2
    assert legacy.finished() == []


async def test_unknown_keyword_is_reported_and_ignored(legacy: Spans) -> None:
    before = internal_error_counts().get("legacy.publish_decision.unknown_argument", 0)
    assert await publish_decision("a", "d", colour="blue") is True
    assert internal_error_counts()["legacy.publish_decision.unknown_argument"] == before + 1
    assert [s.name for s in legacy.finished()] == ["onex.decision"]


@pytest.mark.parametrize("index", range(len(HOSTILE)))
async def test_hostile_logger_construction_never_raises(legacy: Spans, index: int) -> None:
    value = HOSTILE[index]
    with contained():
        log = ActionLogger(value, value, value, value, value, value)
        results = [
            await log.log_tool_call(value, value, value, value, value, value),
            await log.log_decision(value, value, value, value),
            await log.log_error(value, value, value, value, value),
            await log.log_success(value, value, value),
            await log.log_raw_action(value, value, value, value),
        ]
        async with log.tool_call(value, value) as action:
            action.set_result(value)
        with log.tool_call(value, value):
            pass
        execution = AgentExecutionLogger(value, value, value, value, value, value, value)
        execution_id = await execution.start()
        results += [
            await execution.progress(value, value, value),
            await execution.complete(value, value, value, value, value),
        ]
        started = await log_agent_execution(value, value, value, value, value, value)
        results.append(await started.complete())
        _registry.close_all()
    assert all(r is True or r is False for r in results)
    assert isinstance(execution_id, str) and execution_id


async def test_no_tracing_returns_false(legacy: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    from onex_otel.legacy import _support

    monkeypatch.setattr(_support, "ensure_tracer", lambda *a: None)
    for module in ("_action_recording", "_action_logger", "_execution_publisher", "_execution_logger"):
        monkeypatch.setattr(f"onex_otel.legacy.{module}.ensure_tracer", lambda *a: None)
    assert await publish_decision("a", "d") is False
    assert await publish_tool_call("a", "t") is False
    assert await publish_execution_started("a", "r", "c") is False
    logger = await log_agent_execution("a", "p")
    assert await logger.progress("s", 1) is False
    assert legacy.finished() == []


def test_an_exception_inside_the_tool_block_is_not_swallowed(legacy: Spans) -> None:
    with contained(), pytest.raises(ZeroDivisionError), ActionLogger("a").tool_call("t"):
        1 / 0  # noqa: B018
