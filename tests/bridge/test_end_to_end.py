"""One agent nobody here wrote, all the way to the legacy tables, through real processes.

The Node.js agent on the official OpenTelemetry JavaScript SDK (tests/bridge/node_agent) exports
its GenAI spans over OTLP/HTTP (OTLP/JSON) to ``onex-otel bridge --otlp-http`` running as its
own process; its receiver writes the request to the OTLP topic of a real broker, its bridge
consumes it, maps the spans and publishes onex events; the collector writes them to PostgreSQL.
Checked: the rows the legacy tables get for the run (one execution, its started/completed
decision and success actions, one tool_call action with the tool's name and call id).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from tests.bridge.helpers import bridge_settings
from tests.bridge.test_process import metrics, procs, start_bridge  # noqa: F401 - a fixture
from tests.bridge.test_receiver import run_node_agent
from tests.collector.conftest import query, running, wait_for
from tests.exporters.helpers import topics
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database


def test_node_agent_to_receiver_to_bridge_to_collector_to_rows(
    broker: Broker,
    database: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],  # noqa: F811 - the fixture
) -> None:
    migrate(database.url)
    settings = bridge_settings(broker, tmp_path / "spool")
    broker.create_topics(settings.bridge_spans_topic, settings.bridge_dlq_topic, *topics(settings))
    trace_id = uuid.uuid4().hex
    correlation_id = str(uuid.UUID(trace_id))
    log = tmp_path / "bridge.log"
    port, otlp_http = free_port(), free_port()
    bridge = start_bridge(settings, log, port, "--otlp-http", f"127.0.0.1:{otlp_http}")
    procs.append(bridge)

    def bridge_log() -> str:
        return log.read_text(errors="replace")[-3000:]

    wait_for(
        lambda: bridge.poll() is not None or metrics(port),
        timeout=60,
        what="the bridge's /metrics (it serves once it is running)",
    )
    assert bridge.poll() is None, f"the bridge exited:\n{bridge_log()}"

    collector = Collector(
        CollectorOptions(
            bootstrap_servers=broker.bootstrap,
            conninfo=database.url,
            group_id=f"collector-{settings.bridge_group_id}",
            topic_types=default_topic_types(settings.topic_prefix),
            dlq_topic=f"{settings.bridge_dlq_topic}.c",
            batch_timeout_ms=100,
        )
    )
    with running(collector):
        run_node_agent(
            {"OTLP_TRACES_URL": f"http://127.0.0.1:{otlp_http}/v1/traces", "AGENT_TRACE_ID": trace_id}
        )

        def execution() -> list[tuple[Any, ...]]:
            if bridge.poll() is not None:
                raise AssertionError(f"the bridge exited:\n{bridge_log()}")
            rows = query(
                database,
                (
                    "SELECT agent_name, status, started_at, completed_at, duration_ms,"
                    " execution_id FROM agent_execution_logs WHERE correlation_id = %s"
                ),
                (correlation_id,),
            )
            actions = query(
                database, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (correlation_id,)
            )
            done = rows and rows[0][1] != "in_progress" and actions[0][0] >= 3
            return rows if done else []

        [(agent, status, started, completed, duration_ms, _)] = wait_for(
            execution,
            timeout=90,
            interval=0.2,
            what=f"the Node.js agent's execution {correlation_id} as rows (bridge log: {log})",
        )
        actions = query(
            database,
            (
                "SELECT action_type, action_name, action_details, agent_name FROM agent_actions"
                " WHERE correlation_id = %s ORDER BY created_at, action_type"
            ),
            (correlation_id,),
        )
        progress = (metrics(port) or {}).get("messages_consumed")
    bridge.terminate()
    assert bridge.wait(40) == 0, bridge_log()

    assert (agent, status) == ("research-agent", "success")
    assert started <= completed and duration_ms is not None and duration_ms >= 0
    by_type: dict[str, list[tuple[Any, ...]]] = {}
    for action in actions:
        by_type.setdefault(action[0], []).append(action)
    assert sorted(by_type) == ["decision", "success", "tool_call"], actions
    [tool] = by_type["tool_call"]
    assert tool[1] == "web_search"
    assert tool[2]["tool_call_id"] == "call_0001"
    # The tool span carries no agent name and nothing stamps one on it outside onex-otel's own
    # span processor; the bridge maps each span on its own (its parent may come in another
    # request), so the action's agent is the mapping's placeholder.
    assert tool[3] == "unknown"
    assert [a[1] for a in by_type["decision"]] == ["agent_execution_started"]
    assert [a[1] for a in by_type["success"]] == ["agent_execution_completed"]
    assert progress, "the bridge's /metrics counted no consumed message"
