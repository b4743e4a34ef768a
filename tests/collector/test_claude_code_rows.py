"""Claude Code's log events and beta spans -> real Kafka exporter -> broker -> collector -> rows.

The records come from the official SDK and OTLP encoder (tests/exporters/claude_code_records.py);
both signals of the same prompt are published, as when Claude Code sends logs and spans: the
tables hold one execution per prompt, one tool_call row per tool use, one nested execution per
subagent run. A tool use's span and log event carry one name-based event id but two times
(two clocks): it is still one row (migration 0010).
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from onex_collector.consumer import Collector
from onex_exporters.bridge.logs import records_from_logs
from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_exporters.mapping import EventRecord, span_to_records
from onex_otel import _payload
from onex_otel.config import load_settings
from tests.collector.conftest import options, query, running, wait_for
from tests.exporters import claude_code_records as cc
from tests.services.kafka import Broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration


def test_claude_code_prompt_lands_once_in_the_legacy_tables(
    broker: Broker,
    topics: list[str],
    migrated: Database,
    tmp_path: Path,
) -> None:
    _payload.set_policy(_payload.Policy(capture=True))
    try:
        trace_id = random.getrandbits(128) | 1
        cid = f"{trace_id:032x}"
        cid = f"{cid[:8]}-{cid[8:12]}-{cid[12:16]}-{cid[16:20]}-{cid[20:]}"
        bash_id, agent_id = f"toolu_b{trace_id:x}", f"toolu_a{trace_id:x}"

        spans = cc.ClaudeSpans()
        _, end = cc.interaction_with_tool(spans, bash_id, trace_id=trace_id)
        records: list[EventRecord] = []
        for span in spans.spans():
            records.extend(span_to_records(span))
        request = cc.logs_request(
            [
                cc.user_prompt(cc.T0 + 3 * cc.MS),
                (
                    "tool_decision",
                    cc.T0 + 90 * cc.MS,
                    {"tool_name": "Bash", "tool_use_id": bash_id, "decision": "accept", "source": "config"},
                ),
                cc.tool_result(
                    end + 2 * cc.MS, bash_id, tool_input=json.dumps({"command": "pytest", "api_key": "sk-1"})
                ),
                (
                    "api_request",
                    cc.T0 + 50 * cc.MS,
                    {
                        "model": "claude-sonnet-4",
                        "input_tokens": "1200",
                        "output_tokens": 340,
                        "cost_usd": "0.0123",
                        "duration_ms": "2300",
                    },
                ),
                cc.tool_result(
                    cc.T0 + 800 * cc.MS,
                    agent_id,
                    tool="Agent",
                    duration="300",
                    tool_parameters=json.dumps({"subagent_type": "Explore"}),
                ),
            ],
            trace_id=trace_id,
        )
        records.extend(records_from_logs(request))

        settings = load_settings(
            {}, kafka_bootstrap_servers=broker.bootstrap, spool_dir=str(tmp_path / "spool")
        )
        exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
        try:
            exporter.publish(records)
            assert exporter.force_flush(30_000)
        finally:
            exporter.shutdown()
        assert exporter.stats()["delivered"] == len(records)

        with running(Collector(options(broker, migrated))):
            rows = wait_for(
                lambda: (
                    query(
                        migrated,
                        (
                            "SELECT agent_name, status, user_prompt, session_id::text, metadata"
                            " FROM agent_execution_logs WHERE correlation_id = %s ORDER BY agent_name"
                        ),
                        (cid,),
                    )
                    if len(query(migrated, ("SELECT 1 FROM agent_actions WHERE correlation_id = %s"), (cid,)))
                    >= 7
                    else None
                ),
                what="claude code rows",
            )
            # docs/claude-code.md's query of a prompt's tokens and cost
            totals = query(
                migrated,
                (
                    "SELECT l.execution_id, sum((p->'metadata'->>'input_tokens')::int),"
                    " sum((p->'metadata'->>'output_tokens')::int),"
                    " sum((p->'metadata'->>'cost_usd')::numeric)"
                    " FROM agent_execution_logs l, jsonb_array_elements(l.metadata->'progress') p"
                    " WHERE l.agent_name = 'claude-code' AND p->>'stage' = 'model_request'"
                    " AND l.correlation_id = %s GROUP BY l.execution_id"
                ),
                (cid,),
            )
            actions = query(
                migrated,
                (
                    "SELECT action_type, action_name, action_details, duration_ms FROM agent_actions"
                    " WHERE correlation_id = %s ORDER BY action_type, action_name"
                ),
                (cid,),
            )
    finally:
        _payload.set_policy(None)

    assert len(rows) == 2  # the prompt and its subagent run
    by_agent = {r[0]: r for r in rows}
    main, nested = by_agent["claude-code"], by_agent["Explore"]
    assert main[:4] == ("claude-code", "success", "fix the failing test", cc.SESSION)
    [model] = main[4]["progress"]
    assert model["stage"] == "model_request"
    assert model["metadata"]["input_tokens"] == 1200
    assert model["metadata"]["cost_usd"] == 0.0123
    assert nested[:2] == ("Explore", "success")
    assert [t[1:] for t in totals] == [(1200, 340, Decimal("0.0123"))]

    tool_calls = [a for a in actions if a[0] == "tool_call"]
    assert [(a[1], a[2]["tool_call_id"]) for a in tool_calls] == [("Agent", agent_id), ("Bash", bash_id)]
    names = sorted((a[0], a[1]) for a in actions if a[0] != "tool_call")
    assert names == [
        ("decision", "agent_execution_started"),  # the prompt, once
        ("decision", "agent_execution_started"),  # the subagent run
        ("decision", "tool_decision"),
        ("success", "agent_execution_completed"),
        ("success", "agent_execution_completed"),
    ]
    assert "sk-1" not in json.dumps([a[2] for a in actions])
