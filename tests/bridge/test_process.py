"""``onex-otel bridge`` as a real process: kill -9 mid-stream, restart, every row exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from onex_exporters.mapping import span_to_records
from onex_otel import conventions as c
from onex_otel.config import Settings
from tests.bridge.helpers import bridge_settings, produce_values
from tests.bridge.otlp_messages import proto_value
from tests.collector.conftest import query, running, wait_for
from tests.exporters.helpers import topics
from tests.exporters.spans import SpanFactory, run_full_execution
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database

#: (table, id column) of every table an event lands in, by event type
TABLES = {
    c.EventType.AGENT_ACTION: ("agent_actions", "id"),
    c.EventType.ROUTING_DECISION: ("agent_routing_decisions", "id"),
    c.EventType.ROUTER_PERFORMANCE: ("router_performance_metrics", "id"),
    c.EventType.TRANSFORMATION: ("agent_transformation_events", "id"),
    c.EventType.DETECTION_FAILURE: ("agent_detection_failures", "id"),
    c.EventType.EXECUTION_STARTED: ("agent_execution_events", "event_id"),
    c.EventType.EXECUTION_PROGRESS: ("agent_execution_events", "event_id"),
    c.EventType.EXECUTION_COMPLETED: ("agent_execution_events", "event_id"),
    c.EventType.EXECUTION_FAILED: ("agent_execution_events", "event_id"),
}


def start_bridge(settings: Settings, log: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """``onex-otel bridge [args]`` for the spans topic of ``settings``, configured by environment,
    its output appended to ``log``, ``/health`` and ``/metrics`` on ``port``."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "ONEX_TOPIC_PREFIX": settings.topic_prefix,
        "TENANT_ID": settings.tenant_id,
        "ONEX_SPOOL_DIR": settings.spool_dir or "",
        "ONEX_BRIDGE_SPANS_TOPIC": settings.bridge_spans_topic,
        "ONEX_BRIDGE_LOGS_TOPIC": "",
        "ONEX_BRIDGE_GROUP_ID": settings.bridge_group_id,
        "ONEX_BRIDGE_DLQ_TOPIC": settings.bridge_dlq_topic,
        "ONEX_BRIDGE_PORT": str(port),
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "onex_otel.cli", "bridge", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def metrics(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except OSError:
        return None


def test_kill_9_mid_stream_then_restart_every_row_exactly_once(
    broker: Broker,
    database: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    migrate(database.url)
    settings = bridge_settings(broker, tmp_path / "spool")
    broker.create_topics(settings.bridge_spans_topic, partitions=2)
    broker.create_topics(settings.bridge_dlq_topic, *topics(settings))
    factory = SpanFactory()
    messages, want = [], {}
    for i in range(240):
        run_full_execution(factory, fail=i % 5 == 4)
        spans = factory.finished()
        factory.memory.clear()
        messages.append(proto_value(spans))
        for span in spans:
            for record in span_to_records(span):
                want[record.event_id] = record.event_type
    # the Collector's Kafka exporter keeps writing while the bridge is killed and restarted
    stop_writing = threading.Event()

    def write() -> None:
        for start in range(0, len(messages), 2):
            produce_values(broker, settings.bridge_spans_topic, messages[start : start + 2])
            if stop_writing.wait(0.1):
                return

    writer = threading.Thread(target=write, daemon=True)
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
    log = tmp_path / "bridge.log"
    with running(collector):
        port = free_port()
        first = start_bridge(settings, log, port)
        procs.append(first)
        writer.start()
        try:
            consumed = wait_for(
                lambda: (metrics(port) or {}).get("messages_consumed", 0) >= 30 and metrics(port),
                timeout=60,
                interval=0.02,
                what="the first bridge at work",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert writer.is_alive(), "every message was written before the kill"
            assert consumed["messages_consumed"] < len(messages)
            port = free_port()
            second = start_bridge(settings, log, port)
            procs.append(second)
            writer.join(60)
            assert not writer.is_alive()
        finally:
            stop_writing.set()

        def rows() -> dict[str, int]:
            found: dict[str, int] = {}
            for table, column in set(TABLES.values()):
                for (eid,) in query(
                    database,
                    f"SELECT {column}::text FROM {table} WHERE {column} = ANY(%s::uuid[])",
                    (list(want),),
                ):
                    found[eid] = found.get(eid, 0) + 1
            return found

        wait_for(
            lambda: len(rows()) == len(want),
            timeout=120,
            interval=0.5,
            what=f"all {len(want)} events as rows",
        )
        assert (metrics(port) or {}).get("messages_consumed", 0) > 0  # the second one worked
        second.send_signal(signal.SIGTERM)
        assert second.wait(40) == 0, log.read_text()[-3000:]
        time.sleep(1)  # anything published twice after the restart has reached the collector
    found = rows()
    assert set(found) == set(want)
    assert all(n == 1 for n in found.values())
    for eid, event_type in want.items():  # each in the table of its kind
        table, column = TABLES[event_type]
        assert query(database, f"SELECT count(*) FROM {table} WHERE {column} = %s", (eid,)) == [(1,)], (
            eid,
            event_type,
        )
    assert re.search(rb"bridge: consumed \d+ message", log.read_bytes())
