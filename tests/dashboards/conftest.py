"""The stack the dashboard tests read: agents -> Kafka -> `onex-otel collect` -> PostgreSQL.

One run for the whole package fills a migrated database of its own through the real path:

- an agent process (``agent_process.py``) runs agents through the public API with the real Kafka
  exporter, and prints its Prometheus metrics (OpenTelemetry's Prometheus exporter);
- events the exporter would publish for runs at chosen times (hours-old stuck run, durations
  and quality scores with known percentiles), built with the envelope models, are produced to the
  same topics;
- the collector runs as ``onex-otel collect`` (the real process, with its HTTP port) until every
  row is written; its ``/metrics?format=prometheus`` is scraped.

The broker is the fixture's own (not the session's): the collector also reads the legacy topics,
which other tests fill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from onex_otel.conventions import ActionType
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionFailedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.services.kafka import free_port, running_broker
from tests.services.postgres import Database, fresh_database

ROOT = Path(__file__).resolve().parents[2]

#: Durations (ms) and quality scores of agent-gamma's completed runs, 5 minutes apart.
GAMMA_DURATIONS = (1000, 2000, 3000, 4000)
GAMMA_QUALITY = (0.6, 0.7, 0.8, 0.9)
GAMMA_TOOL_MS = (100, 200, 300, 400)
GAMMA_FAILED_MS = 500
STUCK_AGE = timedelta(hours=3)


@dataclass
class Stack:
    """What the dashboard tests query."""

    db: Database
    now: datetime
    ids: dict[str, uuid.UUID]
    agent_metrics: str
    collector_metrics: str
    collector_json: dict[str, Any] = field(default_factory=dict)

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db.url, autocommit=True) as conn:
            return conn.execute(sql.encode()).fetchall()

    def columns(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with psycopg.connect(self.db.url, autocommit=True) as conn:
            cur = conn.execute(sql.encode())
            names = [d.name for d in cur.description or ()]
            return names, cur.fetchall()


def _wait(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: last={last!r}")


def _synthetic(now: datetime, ids: dict[str, uuid.UUID]) -> list[OnexEnvelopeV1]:
    """agent-gamma's runs, as the exporter publishes them, at chosen times."""
    out: list[OnexEnvelopeV1] = []
    base = now - timedelta(minutes=50)
    for i, (ms, quality, tool_ms) in enumerate(
        zip(GAMMA_DURATIONS, GAMMA_QUALITY, GAMMA_TOOL_MS, strict=True)
    ):
        cid, eid = uuid.uuid4(), uuid.uuid4()
        ids[f"gamma{i}"] = cid
        start = base + timedelta(minutes=5 * i)
        out += [
            OnexEnvelopeV1.create(
                ExecutionStartedPayload(
                    correlation_id=cid,
                    execution_id=eid,
                    agent_name="agent-gamma",
                    user_request=f"task {i}",
                    started_at=start,
                )
            ),
            OnexEnvelopeV1.create(
                AgentActionPayload(
                    correlation_id=cid,
                    agent_name="agent-gamma",
                    action_type=ActionType.TOOL_CALL,
                    action_name="write_file",
                    duration_ms=tool_ms,
                    action_details={"error": None},
                    timestamp=start + timedelta(milliseconds=10),
                )
            ),
            OnexEnvelopeV1.create(
                ExecutionCompletedPayload(
                    correlation_id=cid,
                    execution_id=eid,
                    agent_name="agent-gamma",
                    completed_at=start + timedelta(milliseconds=ms),
                    duration_ms=ms,
                    quality_score=quality,
                )
            ),
        ]
    cid, eid = uuid.uuid4(), uuid.uuid4()
    ids["gamma_failed"] = cid
    start = now - timedelta(minutes=20)
    out += [
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=cid, execution_id=eid, agent_name="agent-gamma", started_at=start
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionFailedPayload(
                correlation_id=cid,
                execution_id=eid,
                agent_name="agent-gamma",
                failed_at=start + timedelta(milliseconds=GAMMA_FAILED_MS),
                duration_ms=GAMMA_FAILED_MS,
                error_message="upstream timed out",
                error_type="TimeoutError",
            )
        ),
    ]
    cid, eid = uuid.uuid4(), uuid.uuid4()
    ids["gamma_stuck"] = cid
    ids["gamma_stuck_execution"] = eid
    start = now - STUCK_AGE
    out += [
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=cid,
                execution_id=eid,
                agent_name="agent-gamma",
                user_request="never ends",
                started_at=start,
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionProgressPayload(
                correlation_id=cid,
                execution_id=eid,
                agent_name="agent-gamma",
                stage="fetching",
                percent=10,
                reported_at=start + timedelta(minutes=1),
            )
        ),
    ]
    return out


def _produce(bootstrap: str, prefix: str, envelopes: list[OnexEnvelopeV1]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    errors: list[Any] = []
    for env in envelopes:
        producer.produce(
            prefix + env.event_type.value,
            env.to_json(),
            key=str(env.correlation_id).encode(),
            on_delivery=lambda err, _m: errors.append(err) if err else None,
        )
    assert producer.flush(30) == 0, "synthetic events not delivered within 30 s"
    assert not errors, errors


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashboards")
    with running_broker(tmp) as broker, fresh_database("onex_dash") as db:
        migrate(db.url)
        prefix = f"dash{uuid.uuid4().hex[:8]}."
        broker.create_topics(*default_topic_types(prefix), prefix + "dlq")
        now = datetime.now(UTC).replace(microsecond=0)
        ids = {name: uuid.uuid4() for name in ("alpha", "beta", "detection", "in_flight")}

        agent = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.dashboards.agent_process",
                broker.bootstrap,
                prefix,
                str(tmp / "spool"),
                *(str(ids[k]) for k in ("alpha", "beta", "detection", "in_flight")),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            # not "under pytest" (PYTEST_*): its contained internal error must stay contained
            env={k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_", "PYTEST_"))},
        )
        assert agent.returncode == 0, agent.stderr
        _produce(broker.bootstrap, prefix, _synthetic(now, ids))

        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "POSTGRES_"))},
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "DATABASE_URL": db.url,
            "KAFKA_GROUP_ID": f"dash-{uuid.uuid4().hex[:8]}",
            "ONEX_TOPIC_PREFIX": prefix,
            "ONEX_DLQ_TOPIC": prefix + "dlq",
            "ONEX_COLLECTOR_HOST": "127.0.0.1",
            "ONEX_COLLECTOR_PORT": str(port),
            "BATCH_TIMEOUT_MS": "200",
        }
        with open(tmp / "collector.log", "wb") as log:
            collector = subprocess.Popen(
                [sys.executable, "-m", "onex_otel.cli", "collect"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}/metrics"
            with psycopg.connect(db.url, autocommit=True) as conn:

                def written() -> bool:
                    logs = conn.execute("SELECT count(*) FROM agent_execution_logs").fetchone()
                    fails = conn.execute("SELECT count(*) FROM agent_detection_failures").fetchone()
                    return logs == (9,) and fails == (1,)

                _wait(written, 90, "the collector to write every run")

            def probed() -> dict[str, Any] | None:
                try:
                    body = json.loads(_get(base))
                except OSError:
                    return None
                oldest = body.get("oldest_in_progress_seconds") or 0
                settled = body.get("consumer_lag") is not None and body["messages_pending"] == 0
                return body if oldest > STUCK_AGE.total_seconds() - 60 and settled else None

            snapshot = _wait(probed, 60, "the collector's in-progress probe")
            prometheus = _get(base + "?format=prometheus")
            yield Stack(db, now, ids, agent.stdout, prometheus, snapshot)
        finally:
            collector.send_signal(signal.SIGTERM)
            try:
                collector.wait(30)
            except subprocess.TimeoutExpired:
                collector.kill()
                collector.wait(10)
