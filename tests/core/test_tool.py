"""Tool calls and timed decisions: the four decorator branches, methods, tool_call()."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace

from onex_otel import agent_execution, tool_call, traced_decision, traced_tool_call
from tests.core.conftest import Spans, shape

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"


def tool_attrs(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "<any>",
        **extra,
    }


def test_sync_tool_whole_shape_inside_execution(spans: Spans) -> None:
    @traced_tool_call
    def read_file(file_path: str, limit: int = 10) -> dict[str, int]:
        return {"line_count": limit}

    with agent_execution("agent-a", correlation_id=CID, session_id="s") as run:
        assert read_file("/tmp/x.py", limit=3) == {"line_count": 3}
    span = spans.by_name("execute_tool read_file")
    root = spans.by_name("invoke_agent agent-a")
    assert span.parent is not None and span.parent.span_id == root.context.span_id
    assert span.context.trace_id == uuid.UUID(CID).int
    call_id = (span.attributes or {})["gen_ai.tool.call.id"]
    assert uuid.UUID(str(call_id)).version == 4
    assert shape(span, ("gen_ai.tool.call.id",)) == {
        "name": "execute_tool read_file",
        "kind": "INTERNAL",
        "attributes": tool_attrs(
            "read_file",
            **{
                "gen_ai.tool.call.arguments": '{"file_path":"/tmp/x.py","limit":3}',
                "gen_ai.tool.call.result": '{"line_count":3}',
                "onex.correlation_id": CID,
                "onex.agent_name": "agent-a",
                "onex.execution_id": run.execution_id,
                "onex.started_event_id": run.started_event_id,
                "onex.session_id": "s",
            },
        ),
        "events": [],
        "status": "UNSET",
    }


def test_tool_outside_execution_is_a_plain_span(spans: Spans) -> None:
    @traced_tool_call(name="Read", capture_result=False)
    def read() -> str:
        return "text"

    assert read() == "text"
    assert shape(spans.by_name("execute_tool Read"), ("gen_ai.tool.call.id",)) == {
        "name": "execute_tool Read",
        "kind": "INTERNAL",
        "attributes": tool_attrs("Read", **{"gen_ai.tool.call.arguments": "{}"}),
        "events": [],
        "status": "UNSET",
    }


def test_signature_wrapped_and_name_kept() -> None:
    def original(a: int, *rest: str, key: bool = False, **more: Any) -> int:
        """Doc."""
        return a

    wrapped = traced_tool_call(original)
    assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]
    assert inspect.signature(wrapped) == inspect.signature(original)
    assert (wrapped.__name__, wrapped.__doc__) == ("original", "Doc.")


def test_varargs_kwargs_redact_exclude(spans: Spans) -> None:
    @traced_tool_call(redact=["query"], exclude=["conn"])
    def search(conn: object, query: str, *terms: str, api_token: str = "", **opts: Any) -> int:
        return len(terms)

    assert search(object(), "select", "a", "b", api_token="t0k", depth=2) == 2
    attrs = spans.by_name("execute_tool search").attributes or {}
    assert attrs["gen_ai.tool.call.arguments"] == (
        '{"query":"[REDACTED]","terms":["a","b"],"api_token":"[REDACTED]","depth":2}'
    )


def test_exception_passes_through_unchanged(spans: Spans) -> None:
    error = FileNotFoundError("missing.py")

    @traced_tool_call
    def read() -> None:
        raise error

    with pytest.raises(FileNotFoundError) as caught:
        read()
    assert caught.value is error
    got = shape(spans.by_name("execute_tool read"), ("gen_ai.tool.call.id",))
    assert got["status"] == "ERROR"
    assert got["attributes"] == tool_attrs(
        "read", **{"gen_ai.tool.call.arguments": "{}", "error.type": "FileNotFoundError"}
    )
    assert got["events"] == [
        (
            "exception",
            {
                "exception.type": "FileNotFoundError",
                "exception.message": "missing.py",
                "exception.stacktrace": "<any>",
                "exception.escaped": "True",
            },
        )
    ]


async def test_async_tool(spans: Spans) -> None:
    @traced_tool_call
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        assert trace.get_current_span().name == "execute_tool fetch"  # type: ignore[attr-defined]
        return url.upper()

    async with agent_execution("a"):
        assert await fetch("x") == "X"
    attrs = spans.by_name("execute_tool fetch").attributes or {}
    assert (attrs["gen_ai.tool.call.arguments"], attrs["gen_ai.tool.call.result"]) == ('{"url":"x"}', '"X"')
    assert inspect.iscoroutinefunction(fetch)


def test_generator_span_covers_iteration_and_context_only_inside_steps(spans: Spans) -> None:
    inside: list[str] = []

    @traced_tool_call
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            inside.append(trace.get_current_span().name)  # type: ignore[attr-defined]
            yield i
        return None

    tracer = spans.provider.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        between = []
        for value in numbers(3):
            between.append((value, trace.get_current_span() is caller))
    assert inside == ["execute_tool numbers"] * 3
    assert between == [(0, True), (1, True), (2, True)]
    span = spans.by_name("execute_tool numbers")
    assert span.parent is not None and span.parent.span_id == caller.get_span_context().span_id
    assert span.status.status_code.name == "UNSET"
    assert inspect.isgeneratorfunction(numbers)


def test_generator_send_throw_and_return_value(spans: Spans) -> None:
    @traced_tool_call
    def echo() -> Generator[str, Any, str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"
        return "done"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    assert gen.throw(KeyError("k")) == "handled"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    attrs = spans.by_name("execute_tool echo").attributes or {}
    assert attrs["gen_ai.tool.call.result"] == '"done"'


def test_generator_early_close_and_break_end_span_without_detach_noise(
    spans: Spans, caplog: pytest.LogCaptureFixture
) -> None:
    cleaned: list[str] = []

    @traced_tool_call
    def stream() -> Generator[int, None, None]:
        try:
            yield 1
            yield 2
        finally:
            cleaned.append(trace.get_current_span().name)  # type: ignore[attr-defined]

    caplog.set_level(logging.DEBUG)
    gen = stream()
    next(gen)
    gen.close()
    for _ in stream():
        break
    gc.collect()
    gen3 = stream()
    next(gen3)
    del gen3
    gc.collect()
    assert cleaned == ["execute_tool stream"] * 3
    assert len([s for s in spans.finished() if s.name == "execute_tool stream"]) == 3
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]


def test_generator_failure_marks_error(spans: Spans) -> None:
    @traced_tool_call
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        list(broken())
    assert spans.by_name("execute_tool broken").status.status_code.name == "ERROR"


def test_generator_steps_in_different_threads_contexts(spans: Spans) -> None:
    import contextvars
    import threading

    @traced_tool_call
    def gen() -> Iterator[int]:
        yield 1
        yield 2

    it = gen()
    assert next(it) == 1
    errors: list[BaseException] = []

    def step() -> None:
        try:
            assert next(it) == 2
            with pytest.raises(StopIteration):
                next(it)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=contextvars.copy_context().run, args=(step,))
    t.start()
    t.join(10)
    assert errors == []
    assert len([s for s in spans.finished() if s.name == "execute_tool gen"]) == 1


async def test_async_generator_and_aclose(spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    inside: list[str] = []

    @traced_tool_call
    async def ticks(n: int) -> AsyncGenerator[int, None]:
        for i in range(n):
            await asyncio.sleep(0)
            inside.append(trace.get_current_span().name)  # type: ignore[attr-defined]
            yield i

    caplog.set_level(logging.DEBUG)
    assert [i async for i in ticks(3)] == [0, 1, 2]
    assert inside == ["execute_tool ticks"] * 3
    agen = ticks(10)
    assert await agen.__anext__() == 0
    assert trace.get_current_span() is trace.INVALID_SPAN
    await agen.aclose()
    async for _ in ticks(5):
        break
    assert len([s for s in spans.finished() if s.name == "execute_tool ticks"]) >= 2
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]
    assert inspect.isasyncgenfunction(ticks)


async def test_async_generator_failure(spans: Spans) -> None:
    @traced_tool_call
    async def bad() -> AsyncIterator[int]:
        yield 1
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        async for _ in bad():
            pass
    assert spans.by_name("execute_tool bad").status.status_code.name == "ERROR"


class Toolbox:
    factor = 3

    @traced_tool_call
    def scale(self, x: int) -> int:
        return x * self.factor

    @traced_tool_call
    @classmethod
    def make(cls, n: int) -> int:
        return n * cls.factor

    @classmethod
    @traced_tool_call
    def make_inner(cls, n: int) -> int:
        return n + cls.factor

    @traced_tool_call
    @staticmethod
    def pure(a: int, b: int) -> int:
        return a - b

    @staticmethod
    @traced_tool_call
    def pure_inner(a: int) -> int:
        return -a


def test_methods(spans: Spans) -> None:
    box = Toolbox()
    assert box.scale(2) == 6
    assert Toolbox.make(2) == 6
    assert box.make(1) == 3
    assert Toolbox.make_inner(1) == 4
    assert Toolbox.pure(5, 3) == 2
    assert box.pure_inner(4) == -4
    args = {s.name: (s.attributes or {})["gen_ai.tool.call.arguments"] for s in spans.finished()}
    assert args == {
        "execute_tool scale": '{"x":2}',
        "execute_tool make": '{"n":1}',
        "execute_tool make_inner": '{"n":1}',
        "execute_tool pure": '{"a":5,"b":3}',
        "execute_tool pure_inner": '{"a":4}',
    }


def test_tool_call_context_manager(spans: Spans) -> None:
    with agent_execution("a"), tool_call("Read", {"file_path": "/x.py", "password": "p"}) as action:
        action.set_result({"line_count": 100})
    assert shape(
        spans.by_name("execute_tool Read"),
        ("gen_ai.tool.call.id", "onex.execution_id", "onex.started_event_id", "onex.correlation_id"),
    ) == {
        "name": "execute_tool Read",
        "kind": "INTERNAL",
        "attributes": tool_attrs(
            "Read",
            **{
                "gen_ai.tool.call.arguments": '{"file_path":"/x.py","password":"[REDACTED]"}',
                "gen_ai.tool.call.result": '{"line_count":100}',
                "onex.correlation_id": "<any>",
                "onex.agent_name": "a",
                "onex.execution_id": "<any>",
                "onex.started_event_id": "<any>",
            },
        ),
        "events": [],
        "status": "UNSET",
    }


async def test_tool_call_async_context_manager_failure(spans: Spans) -> None:
    error = TimeoutError("slow")
    with pytest.raises(TimeoutError) as caught:
        async with tool_call("Fetch") as action:
            await asyncio.sleep(0)
            raise error
    assert caught.value is error
    assert action.span is trace.INVALID_SPAN  # the invocation is gone after the block
    span = spans.by_name("execute_tool Fetch")
    assert span.status.status_code.name == "ERROR"
    assert "gen_ai.tool.call.arguments" not in (span.attributes or {})
    assert "gen_ai.tool.call.result" not in (span.attributes or {})


def test_traced_decision_span(spans: Spans) -> None:
    @traced_decision(name="select_agent")
    def select(candidates: list[str]) -> dict[str, str]:
        return {"selected": candidates[0]}

    assert select(["agent-a", "agent-b"]) == {"selected": "agent-a"}
    assert shape(spans.by_name("decision select_agent")) == {
        "name": "decision select_agent",
        "kind": "INTERNAL",
        "attributes": {
            "gen_ai.operation.name": "onex.decision",
            "onex.action_type": "decision",
            "onex.action_name": "select_agent",
            "onex.decision.context": '{"candidates":["agent-a","agent-b"]}',
            "onex.decision.result": '{"selected":"agent-a"}',
        },
        "events": [],
        "status": "UNSET",
    }


def test_capture_off_records_no_arguments_or_results(spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    import onex_otel

    monkeypatch.setenv("ONEX_CAPTURE_CONTENT", "false")
    onex_otel.configure()

    @traced_tool_call
    def tool(secret_plan: str) -> str:
        return secret_plan

    assert tool("world domination") == "world domination"
    with tool_call("T", {"a": 1}) as t:
        t.set_result(2)
    for span in spans.finished():
        keys = set(span.attributes or {})
        assert not {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} & keys


def test_truncated_argument_records_original_size(spans: Spans) -> None:
    import onex_otel

    onex_otel.configure(max_payload_bytes=128)

    @traced_tool_call
    def big(text: str) -> None:
        return None

    big("x" * 1000)
    attrs = spans.by_name("execute_tool big").attributes or {}
    import json

    text = str(attrs["gen_ai.tool.call.arguments"])
    assert len(text.encode()) <= 128
    assert json.loads(text)["text"].endswith("...[truncated]")
    assert attrs["gen_ai.tool.call.arguments.original_size"] == len('{"text":""}') + 1000


def test_results_are_redacted_too(spans: Spans) -> None:
    @traced_tool_call
    def login(user: str) -> dict[str, str]:
        return {"user": user, "session_token": "abc"}

    @traced_tool_call
    def nested() -> dict[str, object]:
        return {"auth": {"Authorization": "Bearer x"}}

    login("u")
    nested()
    results = {s.name: (s.attributes or {})["gen_ai.tool.call.result"] for s in spans.finished()}
    assert results == {
        "execute_tool login": '{"user":"u","session_token":"[REDACTED]"}',
        "execute_tool nested": '{"auth":{"Authorization":"[REDACTED]"}}',
    }


def test_scalar_results_encode_as_json(spans: Spans) -> None:
    import json

    values: list[object] = [1, -2.5, True, None, 'quote " and \\ and \u00e9', float("inf"), 10**30]

    @traced_tool_call
    def give(i: int) -> object:
        return values[i]

    for i in range(len(values)):
        give(i)
    got = [json.loads(str((s.attributes or {})["gen_ai.tool.call.result"])) for s in spans.finished()]
    assert got == [1, -2.5, True, None, 'quote " and \\ and \u00e9', "inf", 10**30]


def test_call_ids_are_distinct_uuid4() -> None:
    from onex_otel._tool import new_call_id

    ids = [new_call_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(str(u) == i for u, i in zip(parsed, ids, strict=True))


def test_flat_positional_arguments_recorded_exactly(spans: Spans) -> None:
    @traced_tool_call
    def lookup(a: int, b: str, c: None, d: bool, api_token: str = "t") -> int:
        return a

    class Repo:
        @traced_tool_call
        def get(self, key: str, n: int) -> int:
            return n

    assert lookup(1, 'x"\u00e9\n', None, True) == 1
    assert lookup(2, "y", None, False, "hunter2") == 2
    assert Repo().get("k", 3) == 3
    got = [(s.attributes or {})["gen_ai.tool.call.arguments"] for s in spans.finished()]
    assert got == [
        '{"a":1,"b":"x\\"\u00e9\\n","c":null,"d":true}',
        '{"a":2,"b":"y","c":null,"d":false,"api_token":"[REDACTED]"}',
        '{"key":"k","n":3}',
    ]


_FLAT = st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none())


@given(
    names=st.lists(
        st.sampled_from(["a", "b", "password", "q\u00e9", "c", "api_token"]), unique=True, max_size=5
    ),
    values=st.lists(st.one_of(_FLAT, st.floats(), st.lists(_FLAT, max_size=2)), max_size=6),
    max_bytes=st.sampled_from([64, 100, 8192]),
    skip_first=st.booleans(),
)
def test_quick_argument_json_is_the_general_paths_text(
    names: list[str], values: list[Any], max_bytes: int, skip_first: bool
) -> None:
    from onex_otel import _payload
    from onex_otel._tool import ActionSpec, _json_text
    from onex_otel.conventions import ActionType

    namespace: dict[str, Any] = {}
    exec(f"def f({', '.join(names)}): pass", namespace)  # parameters named as drawn
    spec = ActionSpec("t", action_type=ActionType.TOOL_CALL, func=namespace["f"], skip_first=skip_first)
    pol = _payload.Policy(True, max_bytes, ("password", "token"))
    args = tuple(values)
    quick = spec.arguments_json(args, pol)
    text, original = _json_text(spec.arguments(args, {}, pol), pol, True)
    assert quick is None or (quick == text and original is None)
    recorded = args[spec.skip :]
    if (
        all(type(v) in (str, int, bool, type(None)) for v in recorded)
        and len(recorded) <= len(spec.named)
        and not any(pol.is_secret(n) for n in spec.named)
        and len(text) * 4 <= max_bytes
    ):
        assert quick == text  # the quick way is taken whenever it applies


@pytest.mark.parametrize("limits", [{}, {"max_span_attributes": 3}, {"max_span_attribute_length": 3}])
def test_result_attribute_is_put_as_set_attribute_would(limits: dict[str, int]) -> None:
    """The hot path's direct insert gives what ``set_attribute`` gives, limits included."""
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider

    from onex_otel._invocation import put_attribute

    tracer = TracerProvider(span_limits=SpanLimits(**limits)).get_tracer("t")  # type: ignore[arg-type]
    fast = tracer.start_span("fast", attributes={"x": "1"})
    slow = tracer.start_span("slow", attributes={"x": "1"})
    for key, value in (("k", "long value"), ("n", 12), ("x", "again"), ("m", "more")):
        put_attribute(fast, key, value)
        slow.set_attribute(key, value)
    fast.end()
    slow.end()
    put_attribute(fast, "late", "v")  # an ended span takes nothing
    slow.set_attribute("late", "v")
    assert list((fast.attributes or {}).items()) == list((slow.attributes or {}).items())  # type: ignore[attr-defined]
    assert fast.dropped_attributes == slow.dropped_attributes  # type: ignore[attr-defined]
