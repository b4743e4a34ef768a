"""The whole pipeline as a user meets it.

The example agent runs unmodified in a subprocess under ``opentelemetry-instrument``, exporting
OTLP to a real in-test gRPC receiver and events to the real broker; its database query goes to the
real PostgreSQL. Then the collector writes the events into the legacy tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from onex_otel import conventions as c
from onex_otel.envelope import OnexEnvelopeV1
from tests.services.kafka import Broker
from tests.services.otlp import OtlpReceiver
from tests.services.postgres import Database

ROOT = Path(__file__).resolve().parents[2]


def test_example_agent_under_opentelemetry_instrument(
    broker: Broker, otlp_receiver: OtlpReceiver, database: Database, tmp_path: Path
) -> None:
    migrate(database.url)
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    cid = str(uuid.uuid4())
    instrument = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert instrument, "opentelemetry-instrument is installed with the instrument extra"
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("OTEL_", "KAFKA_", "POSTGRES_"))]:
        env.pop(key)
    env.update(
        OTEL_SERVICE_NAME="example-agent",
        OTEL_TRACES_EXPORTER="otlp,onex_kafka",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.endpoint,
        OTEL_EXPORTER_OTLP_INSECURE="true",
        OTEL_BSP_SCHEDULE_DELAY="200",
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        ONEX_TOPIC_PREFIX=prefix,
        ONEX_SPOOL_DIR=str(tmp_path / "spool"),
        DATABASE_URL=database.url,
    )
    proc = subprocess.run(
        [instrument, sys.executable, str(ROOT / "examples" / "agent.py"), cid],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == cid

    # --- the trace, as Jaeger would receive it -------------------------------------------------
    spans = otlp_receiver.wait_for(
        lambda s: (
            any(x.name.startswith("invoke_agent") for x in s)
            and any(x.scope.startswith("opentelemetry.instrumentation.psycopg") for x in s)
        )
    )
    run = [s for s in spans if s.trace_id == uuid.UUID(cid).hex]
    by_id = {s.span_id: s for s in run}
    names = Counter(s.name.split(" ")[0] for s in run)
    assert names["invoke_agent"] == 1 and names["execute_tool"] == 4  # read, 2x search, query
    root = next(s for s in run if s.name == "invoke_agent agent-performance")
    assert root.parent_span_id == ""  # a true root: trace id == correlation id
    for span in run:  # every span's parent is in the trace
        assert span.parent_span_id == "" or span.parent_span_id in by_id, span.name
        assert span.attributes.get(c.ONEX_CORRELATION_ID) == cid
    tool = next(s for s in run if s.name == "execute_tool query_database")
    db_spans = [s for s in run if s.scope.startswith("opentelemetry.instrumentation.psycopg")]
    assert db_spans and all(s.parent_span_id == tool.span_id for s in db_spans)
    assert db_spans[0].attributes[c.ONEX_AGENT_NAME] == "agent-performance"
    assert database.name not in tool.attributes[c.GEN_AI_TOOL_CALL_ARGUMENTS]  # redacted
    failed = next(s for s in run if s.name == "execute_tool flaky_search" and s.status_code == 2)
    assert failed.attributes[c.ERROR_TYPE] == "TimeoutError"

    # --- the events on Kafka ------------------------------------------------------------------
    topics = [prefix + et.value for et in c.EventType]
    expected = {
        c.EventType.EXECUTION_STARTED: 1,
        c.EventType.EXECUTION_PROGRESS: 2,
        c.EventType.EXECUTION_COMPLETED: 1,
        c.EventType.ROUTING_DECISION: 1,
        c.EventType.ROUTER_PERFORMANCE: 1,
        c.EventType.TRANSFORMATION: 1,
        # 4 tool calls + decision + error + dual-layer started/completed actions
        c.EventType.AGENT_ACTION: 8,
    }
    messages = broker.consume(topics, sum(expected.values()), timeout=60)
    envelopes = [OnexEnvelopeV1.model_validate_json(m.value()) for m in messages]
    assert Counter(e.event_type for e in envelopes) == expected
    assert {str(e.correlation_id) for e in envelopes} == {cid}

    # --- the collector writes the legacy tables -----------------------------------------------
    collector = Collector(
        CollectorOptions(
            bootstrap_servers=broker.bootstrap,
            conninfo=database.url,
            group_id=f"e2e-{uuid.uuid4().hex[:8]}",
            topic_types=default_topic_types(prefix),
            dlq_topic=prefix + "dlq",
            batch_timeout_ms=200,
            start="beginning",
            stop_when_idle_s=3.0,
        )
    )
    collector.run()
    import psycopg

    with psycopg.connect(database.url) as conn:
        actions = conn.execute(
            "SELECT action_type, action_name FROM agent_actions WHERE correlation_id = %s "
            "ORDER BY created_at",
            (cid,),
        ).fetchall()
        execution = conn.execute(
            "SELECT agent_name, status, quality_score, jsonb_array_length(metadata->'progress') "
            "FROM agent_execution_logs WHERE correlation_id = %s",
            (cid,),
        ).fetchall()
        routing = conn.execute(
            "SELECT selected_agent FROM agent_routing_decisions WHERE context->>'correlation_id' = %s", (cid,)
        ).fetchall()
    assert Counter(a[0] for a in actions) == {"tool_call": 4, "decision": 2, "error": 1, "success": 1}
    assert execution == [("agent-performance", "success", 0.9, 2)]
    assert routing == [("agent-performance",)]

    # --- and `onex-otel trace` rebuilds the run from the tables ---------------------------------
    def trace(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "onex_otel.cli", "trace", *argv, "--database-url", database.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    text = trace(cid)
    assert text.returncode == 0, text.stderr
    assert "execution      agent-performance" in text.stdout
    assert "tool_call query_database" in text.stdout and "FAILED" in text.stdout
    jaeger_file = tmp_path / "run.json"
    as_json = trace(cid, "--json", "--jaeger-json", str(jaeger_file))
    tree = json.loads(as_json.stdout)
    assert tree["name"] == cid and tree["status"] == "ok"
    assert [n["kind"] for n in tree["children"]][-1] == "execution"
    jaeger = json.loads(jaeger_file.read_text())
    assert jaeger["data"][0]["traceID"] == uuid.UUID(cid).hex  # the same id as the live trace
    unknown = trace(str(uuid.uuid4()))
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("onex-otel trace: no run with correlation id")
