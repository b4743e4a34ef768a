"""`onex-otel collect` as a real process: kill -9 mid-run then restart; SIGTERM drain."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from onex_otel import conventions as c
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.collector.conftest import query, wait_for
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

TOPIC = c.EventType.AGENT_ACTION.value


def start_collector(
    broker: Broker, db: Database, group: str, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "DATABASE_URL": db.url,
        "KAFKA_GROUP_ID": group,
        "ONEX_COLLECTOR_PORT": str(free_port()),
        "ONEX_DLQ_TOPIC": "onex.dlq.test",
        **env,
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "onex_otel.cli", "collect"],
            env=environ,
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


def produce_all(broker: Broker, envelopes: list[OnexEnvelopeV1]) -> dict[int, int]:
    """Produce; return the highest offset per partition of TOPIC."""
    producer = Producer(broker.producer_config(**{"linger.ms": 20}))
    last: dict[int, int] = {}

    def delivered(err: object, msg: object) -> None:
        assert err is None, err
        if msg.topic() == TOPIC:  # type: ignore[attr-defined]
            p, o = msg.partition(), msg.offset()  # type: ignore[attr-defined]
            last[p] = max(last.get(p, -1), o)

    for env in envelopes:
        producer.produce(
            env.event_type.value, env.to_json(), key=str(env.correlation_id).encode(), on_delivery=delivered
        )
        producer.poll(0)
    assert producer.flush(60) == 0
    return last


def workload(corr: uuid.UUID, actions: int, executions: int) -> list[OnexEnvelopeV1]:
    envs = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr, agent_name="agent-k", action_type="tool_call", action_name=f"a{i}"
            )
        )
        for i in range(actions)
    ]
    for i in range(executions):
        ex = uuid.uuid4()
        envs.insert(
            i * 7,
            OnexEnvelopeV1.create(
                ExecutionStartedPayload(correlation_id=corr, execution_id=ex, agent_name="agent-k")
            ),
        )
        envs.insert(
            i * 7 + 3,
            OnexEnvelopeV1.create(
                ExecutionCompletedPayload(correlation_id=corr, execution_id=ex, agent_name="agent-k")
            ),
        )
    return envs


def test_kill_9_mid_run_then_restart_loses_and_duplicates_nothing(
    broker: Broker,
    topics: list[str],
    migrated: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    corr = uuid.uuid4()
    group = f"kill9-{corr.hex[:8]}"
    total, executions = 4000, 40
    produce_all(broker, workload(corr, total, executions))

    def landed() -> int:
        return int(
            query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,))[0][0]
        )

    log = tmp_path / "collector.log"
    first = start_collector(broker, migrated, group, log, BATCH_SIZE="10")
    procs.append(first)
    wait_for(lambda: landed() >= 200, timeout=60, interval=0.02, what="the first rows")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = landed()
    assert at_kill < total, "the collector finished before the kill; the test proved nothing"

    second = start_collector(broker, migrated, group, log, BATCH_SIZE="10")
    procs.append(second)
    wait_for(lambda: landed() == total, timeout=90, what=f"all {total} rows after restart")
    wait_for(
        lambda: (
            query(
                migrated,
                "SELECT count(*) FROM agent_execution_logs WHERE correlation_id = %s AND status = 'success'",
                (corr,),
            )[0][0]
            == executions
        ),
        timeout=30,
        what="every execution completed",
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, log.read_text()[-2000:]
    assert query(
        migrated,
        "SELECT count(*), count(DISTINCT action_name) FROM agent_actions WHERE correlation_id = %s",
        (corr,),
    ) == [(total, total)]
    assert query(
        migrated, "SELECT count(*) FROM agent_execution_events WHERE correlation_id = %s", (corr,)
    ) == [(2 * executions,)]


def test_sigterm_finishes_the_batch_in_hand_commits_and_exits_0(
    broker: Broker,
    topics: list[str],
    migrated: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    corr = uuid.uuid4()
    group = f"sigterm-{corr.hex[:8]}"
    log = tmp_path / "collector.log"
    # A batch that only a drain can end: huge size, one-minute timeout, never written early.
    proc = start_collector(
        broker,
        migrated,
        group,
        log,
        BATCH_SIZE="1000000",
        BATCH_TIMEOUT_MS="60000",
        ONEX_COLLECTOR_EAGER_BATCHES="false",
    )
    procs.append(proc)
    last = produce_all(broker, workload(corr, 30, 0))

    def committed() -> int:
        consumer = Consumer(broker.consumer_config(group))
        try:
            (tp,) = consumer.committed([TopicPartition(TOPIC, 0)], timeout=10)
            return int(tp.offset)
        finally:
            consumer.close()

    port = wait_for(lambda: _http_port(log), timeout=30, what="collector up")
    wait_for(lambda: _metrics(port)["messages_pending"] >= 30, timeout=30, what="the messages read and held")
    assert query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)) == [(0,)]
    started = datetime.now(UTC)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(40)
    assert code == 0, log.read_text()[-2000:]
    assert (datetime.now(UTC) - started).total_seconds() < 40
    assert query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)) == [(30,)]
    assert committed() >= last[0] + 1


def _http_port(log: Path) -> int | None:
    match = re.search(rb"/metrics on http://127\.0\.0\.1:(\d+)", log.read_bytes())
    return int(match.group(1)) if match else None


def _metrics(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
    return body
