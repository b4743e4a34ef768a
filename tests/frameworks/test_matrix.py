"""Framework x scenario through the real exporter into the real broker, then into PostgreSQL.

Frameworks (real packages, fake models, nothing on the network): pydantic-ai with its own
instrumentation; LangChain with OpenInference and with OpenLLMetry; the OpenAI Agents SDK with
OpenInference. Scenarios: a plain run; the tool also ``@traced_tool_call``; the run inside an onex
``agent_execution()``; a failing tool; capture off. Every run's tool has a secret argument
(``api_key``) that must never reach Kafka.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import onex_otel
from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from onex_exporters.lifecycle import OnexLifecycleProcessor
from onex_exporters.mapping import EventRecord
from onex_otel import _payload
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1
from tests.exporters.helpers import RecordingExporter, decode, settings_for, topics
from tests.frameworks.runners import (
    ANSWER,
    ARGS,
    CALL_ID,
    DIALECTS,
    RUNNERS,
    USER_REQUEST,
    ToolFailed,
)
from tests.services.kafka import Broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

SECRET = ARGS["api_key"]
REDACTED_ARGS = {"city": "Paris", "api_key": "[REDACTED]"}
SCENARIOS = ("plain", "decorated", "inside_execution", "failing_tool", "capture_off")


class Run:
    """The events one scenario published, as records and as envelopes read back from Kafka."""

    def __init__(self, records: Sequence[EventRecord]) -> None:
        self.records = list(records)
        self.envelopes: list[OnexEnvelopeV1] = []

    def of(self, event_type: EventType, **payload: Any) -> list[Any]:  # payload: any model
        return [
            e
            for e in self.envelopes
            if e.event_type == event_type and all(getattr(e.payload, k) == v for k, v in payload.items())
        ]

    def one(self, event_type: EventType, **payload: Any) -> Any:
        found = self.of(event_type, **payload)
        assert len(found) == 1, (event_type, payload, [e.payload for e in self.of(event_type)])
        return found[0]

    def tool_calls(self) -> list[Any]:
        return self.of(EventType.AGENT_ACTION, action_type="tool_call")


def _scenario(name: str, runner: Callable[..., Any], provider: TracerProvider) -> None:
    if name == "plain":
        assert runner(provider) == ANSWER
    elif name == "decorated":
        assert runner(provider, decorated=True) == ANSWER
    elif name == "inside_execution":
        with onex_otel.agent_execution("outer_agent", user_request="plan a trip"):
            assert runner(provider, decorated=True) == ANSWER
    elif name == "failing_tool":
        with pytest.raises(Exception) as raised:
            runner(provider, fail=True)
        text = f"{raised.value!r} {raised.value.__cause__!r}"
        assert isinstance(raised.value, ToolFailed) or "no weather for Paris" in text
    elif name == "capture_off":
        _payload.set_policy(_payload.Policy(capture=False))
        try:
            assert runner(provider, decorated=True) == ANSWER
            provider.force_flush()
        finally:
            _payload.set_policy(None)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_framework_matrix(
    dialect: str, broker: Broker, database: Database, tmp_path: Path, clean_tracing: None
) -> None:
    settings = settings_for(broker.bootstrap, str(tmp_path / "spool"))
    provider = TracerProvider()
    onex_otel.configure(tracer_provider=provider)  # the core: id generator + run tracker
    exporter = RecordingExporter(settings, attach_lifecycle=False)
    provider.add_span_processor(OnexLifecycleProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    runs: dict[str, Run] = {}
    try:
        for name in SCENARIOS:
            mark = len(exporter.published)
            _scenario(name, RUNNERS[dialect], provider)
            assert provider.force_flush(30_000)
            runs[name] = Run(exporter.published[mark:])
    finally:
        provider.shutdown()

    # every event reached Kafka exactly once, and no message carries the secret
    published = exporter.published
    messages = broker.consume(topics(settings), len(published), timeout=90)
    assert all(SECRET.encode() not in m.value() for m in messages)
    by_id = {str(env.event_id): env for _, env in decode(messages)}
    assert sorted(by_id) == sorted(r.event_id for r in published)
    for run in runs.values():
        run.envelopes = [by_id[r.event_id] for r in run.records]

    for name, run in runs.items():
        check = CHECKS[name]
        check(run)
    # one execution id per invocation
    ids = [
        run.one(EventType.EXECUTION_STARTED, agent_name="weather_agent").payload.execution_id
        for run in runs.values()
    ]
    assert len(set(ids)) == len(SCENARIOS)
    check_tables(runs, broker, database, settings.topic_prefix)


def check_tables(runs: dict[str, Run], broker: Broker, database: Database, prefix: str) -> None:
    """The collector writes the legacy tables: the right rows, and the secret nowhere."""
    migrate(database.url)
    Collector(
        CollectorOptions(
            bootstrap_servers=broker.bootstrap,
            conninfo=database.url,
            group_id=f"fw-{uuid.uuid4().hex[:8]}",
            topic_types=default_topic_types(prefix),
            dlq_topic=prefix + "dlq",
            batch_timeout_ms=200,
            start="beginning",
            stop_when_idle_s=3.0,
        )
    ).run()
    cid = {name: str(run.envelopes[0].correlation_id) for name, run in runs.items()}
    with psycopg.connect(database.url) as conn:
        executions = conn.execute(
            "SELECT correlation_id::text, agent_name, user_prompt, status, row_to_json(l)::text "
            "FROM agent_execution_logs l WHERE correlation_id::text = ANY(%s)",
            (list(cid.values()),),
        ).fetchall()
        actions = conn.execute(
            "SELECT correlation_id::text, agent_name, action_type, action_name, action_details "
            "FROM agent_actions WHERE correlation_id::text = ANY(%s)",
            (list(cid.values()),),
        ).fetchall()
    assert not [r for r in executions if SECRET in r[4]]
    assert not [r for r in actions if SECRET in str(r[4])]
    rows = {(r[0], r[1]): r for r in executions}
    assert rows[(cid["plain"], "weather_agent")][2:4] == (USER_REQUEST, "success")
    assert rows[(cid["failing_tool"], "weather_agent")][3] == "failed"
    assert rows[(cid["capture_off"], "weather_agent")][2] is None
    assert {r[1] for r in executions if r[0] == cid["inside_execution"]} == {"outer_agent", "weather_agent"}
    for name in runs:
        calls = [r for r in actions if r[0] == cid[name] and r[2] == "tool_call"]
        assert len(calls) == 1, (name, calls)
        assert calls[0][1:4] == ("weather_agent", "tool_call", "get_weather")
    (plain_call,) = [r for r in actions if r[0] == cid["plain"] and r[2] == "tool_call"]
    assert plain_call[4]["parameters"] == REDACTED_ARGS


def _framework_execution(run: Run, *, failed: bool = False, captured: bool = True) -> tuple[Any, Any]:
    """The weather agent's started and completed/failed events; checks identity and content."""
    started = run.one(EventType.EXECUTION_STARTED, agent_name="weather_agent")
    ended_type = EventType.EXECUTION_FAILED if failed else EventType.EXECUTION_COMPLETED
    ended = run.one(ended_type, agent_name="weather_agent")
    assert ended.payload.execution_id == started.payload.execution_id
    assert ended.causation_id == started.event_id
    assert ended.correlation_id == started.correlation_id
    if captured:
        assert started.payload.user_request == USER_REQUEST
        if not failed:
            assert ended.payload.output_summary == ANSWER
    else:
        assert started.payload.user_request is None
        assert getattr(ended.payload, "output_summary", None) is None
    # the started decision and the completion's action, once each
    run.one(EventType.AGENT_ACTION, action_name="agent_execution_started", agent_name="weather_agent")
    end_action = "agent_execution_failed" if failed else "agent_execution_completed"
    run.one(EventType.AGENT_ACTION, action_name=end_action, agent_name="weather_agent")
    # real time: the started event was published before the tool call's action
    kinds = [(r.event_type, r.envelope["payload"].get("action_type")) for r in run.records]
    assert kinds.index((EventType.EXECUTION_STARTED, None)) < kinds.index(
        (EventType.AGENT_ACTION, "tool_call")
    )
    return started, ended


def _tool_call(run: Run, started: OnexEnvelopeV1, *, failed: bool = False, captured: bool = True) -> Any:
    (call,) = run.tool_calls()  # exactly one, whichever instrumentations saw it
    payload = call.payload
    assert payload.action_name == "get_weather"
    assert payload.agent_name == "weather_agent"
    assert call.causation_id == started.event_id
    assert call.correlation_id == started.correlation_id
    assert payload.duration_ms is not None
    details = payload.action_details
    assert details["tool_call_id"] == CALL_ID
    if captured:
        assert details["parameters"] == REDACTED_ARGS
        assert details["result"] == (None if failed else "sunny in Paris")
    else:
        assert details["parameters"] is None and details["result"] is None
    if failed:
        assert details["error"] and "no weather for Paris" in str(details["error"]["message"])
    else:
        assert details["error"] is None
    return call


def check_plain(run: Run) -> None:
    started, _ = _framework_execution(run)
    _tool_call(run, started)
    assert len(run.of(EventType.EXECUTION_STARTED)) == 1
    assert {e.correlation_id for e in run.envelopes} == {started.correlation_id}


def check_decorated(run: Run) -> None:
    check_plain(run)
    (call,) = run.tool_calls()
    assert call.payload.action_details["tool_type"] == "function"  # known to the inner span


def check_inside_execution(run: Run) -> None:
    started, _ = _framework_execution(run)
    outer = run.one(EventType.EXECUTION_STARTED, agent_name="outer_agent")
    run.one(EventType.EXECUTION_COMPLETED, agent_name="outer_agent")
    assert outer.payload.user_request == "plan a trip"
    assert outer.payload.execution_id != started.payload.execution_id
    assert outer.correlation_id == started.correlation_id
    assert len(run.of(EventType.EXECUTION_STARTED)) == 2
    assert len(run.of(EventType.EXECUTION_COMPLETED)) == 2
    counts = collections.Counter(e.payload.action_name for e in run.of(EventType.AGENT_ACTION))
    assert counts["agent_execution_started"] == 2 and counts["agent_execution_completed"] == 2
    _tool_call(run, started)
    assert {e.correlation_id for e in run.envelopes} == {outer.correlation_id}


def check_failing_tool(run: Run) -> None:
    started, _ = _framework_execution(run, failed=True)
    _tool_call(run, started, failed=True)


def check_capture_off(run: Run) -> None:
    started, _ = _framework_execution(run, captured=False)
    _tool_call(run, started, captured=False)


CHECKS: dict[str, Callable[[Run], None]] = {
    "plain": check_plain,
    "decorated": check_decorated,
    "inside_execution": check_inside_execution,
    "failing_tool": check_failing_tool,
    "capture_off": check_capture_off,
}
