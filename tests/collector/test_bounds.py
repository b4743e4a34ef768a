"""The collector's waits are bounded and its health is true while Kafka is away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from onex_collector.consumer import Collector, KafkaUnavailable
from onex_collector.metrics import CollectorMetrics
from onex_otel.conventions import ActionType, EventType
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1
from tests.collector.conftest import ALL_TOPICS, options, produce, query, running, wait_for
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def action(corr: uuid.UUID, name: str) -> OnexEnvelopeV1:
    return OnexEnvelopeV1.create(
        AgentActionPayload(
            correlation_id=corr, agent_name="bounds", action_type=ActionType.SUCCESS, action_name=name
        )
    )


def test_health_is_degraded_until_a_broker_answers(broker: Broker, migrated: Database) -> None:
    seen: list[str] = []
    opts = options(broker, migrated, bootstrap_servers=f"127.0.0.1:{free_port()}")
    collector = Collector(
        opts,
        metrics=CollectorMetrics(),
        progress_every_s=0.2,
        progress=lambda m: seen.append(m.health()["status"]),
    )
    with running(collector):
        wait_for(lambda: len(seen) >= 3, timeout=30, what="progress reports")
        health = collector.metrics.health()
    assert health["status"] == "degraded" and "kafka" in health["reasons"]
    # before: the first report said "healthy" although no broker had ever answered
    assert set(seen) == {"degraded"}


def test_a_one_shot_run_gives_up_when_kafka_stays_away(
    own_broker: Broker, migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    own_broker.create_topics(*ALL_TOPICS, "onex.dlq.test")
    corr = uuid.uuid4()
    produce(own_broker, [action(corr, "before")])
    # idle stop far away: only the give-up can end this run
    collector = Collector(
        options(own_broker, migrated, start="beginning", stop_when_idle_s=600.0, connect_timeout_s=3.0)
    )
    errors: list[BaseException] = []

    def target() -> None:
        try:
            collector.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
            timeout=60,
            what="the row",
        )
        own_broker.stop()
        thread.join(90)  # before: the run waited for ever
        assert not thread.is_alive()
    finally:
        collector.request_stop()
        thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], KafkaUnavailable), errors
    assert f"no Kafka broker answered at {own_broker.bootstrap} for 3s" in str(errors[0])
    # it did not wait on a commit the absent broker could not take (the offsets stay uncommitted)
    assert "stopping while Kafka is unavailable" in caplog.text


CTRL_C = """
import sys
from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.metrics import CollectorMetrics
metrics = CollectorMetrics()
def progress(m):
    if m.running:
        print("running", flush=True)
opts = CollectorOptions(bootstrap_servers=sys.argv[1], conninfo=sys.argv[2],
                        group_id="ctrl-c-" + sys.argv[3], batch_timeout_ms=200,
                        connect_timeout_s=1.0)
try:
    Collector(opts, metrics=metrics, progress=progress, progress_every_s=0.2).run()
except KeyboardInterrupt:
    print("stopped cleanly", flush=True)
"""


@pytest.mark.parametrize("kafka", ["up", "unreachable"])
def test_ctrl_c_stops_the_consumer_loop_cleanly(
    kafka: str, broker: Broker, topics: list[str], migrated: Database, tmp_path: Path
) -> None:
    """No traceback: with Kafka unreachable, librdkafka calls back into Python ~30 times a
    second, and a KeyboardInterrupt raised in such a callback used to surface from consume() as
    "SystemError: ... returned NULL without setting an exception"."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bootstrap = broker.bootstrap if kafka == "up" else f"127.0.0.1:{free_port()}"
    with open(tmp_path / "stderr", "w+") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n" + CTRL_C,
                bootstrap,
                migrated.url,
                uuid.uuid4().hex[:8],
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "running"
            time.sleep(1.5)  # inside consume(), mostly
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        stderr.seek(0)
        err = stderr.read()
    assert "returned NULL" not in err and "Traceback" not in err, err[-3000:]
    assert "stopped cleanly" in out
    assert proc.returncode == 0


def test_health_stays_degraded_while_the_broker_is_down(own_broker: Broker, migrated: Database) -> None:
    own_broker.create_topics(*ALL_TOPICS, "onex.dlq.test")
    corr = uuid.uuid4()
    seen: list[str] = []
    collector = Collector(
        options(own_broker, migrated),
        progress_every_s=0.2,
        progress=lambda m: seen.append(m.health()["status"]),
    )
    with running(collector):
        produce(own_broker, [action(corr, "before")])
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
            timeout=60,
            what="the row",
        )
        own_broker.stop()
        wait_for(lambda: collector.metrics.health()["status"] == "degraded", timeout=60, what="degraded")
        del seen[:]
        time.sleep(6.0)  # several lag probes and commit intervals while the broker is away
        assert seen and set(seen) == {"degraded"}


def test_a_one_shot_run_gives_up_when_the_database_stays_away(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    from onex_collector.writer import DatabaseUnavailable
    from tests.services.proxy import TcpProxy

    corr = uuid.uuid4()
    topic = f"bounds-db-{corr.hex[:8]}"  # of its own: the shared topics stay as other tests expect
    broker.create_topics(topic)
    item: list[tuple[str, bytes | None]] = [(topic, action(corr, "while-down").to_json())]
    produce(broker, item)
    with TcpProxy(migrated.host, migrated.port) as proxy:
        proxy.cut()
        url = migrated.url.replace(f"port={migrated.port}", f"port={proxy.port}")
        collector = Collector(
            options(
                broker,
                migrated,
                conninfo=url,
                start="beginning",
                topic_types={topic: EventType.AGENT_ACTION},
                stop_when_idle_s=600.0,
                connect_timeout_s=2.0,
            )
        )
        errors: list[BaseException] = []

        def target() -> None:
            try:
                collector.run()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            thread.join(90)  # before: the run retried for ever
            assert not thread.is_alive()
        finally:
            collector.request_stop()
            thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], DatabaseUnavailable), errors
    assert str(errors[0]).startswith("cannot connect to PostgreSQL")
