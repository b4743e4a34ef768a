"""Poison messages to the dead-letter topic; a database outage through a TCP proxy; HTTP."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from onex_collector.consumer import Collector
from onex_collector.http import MetricsServer
from onex_collector.metrics import CollectorMetrics
from onex_collector.writer import Writer
from onex_otel import conventions as c
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1, RoutingDecisionPayload
from tests.collector.conftest import options, produce, query, running, wait_for
from tests.collector.test_writer_start import table_locked
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database
from tests.services.proxy import TcpProxy

pytestmark = pytest.mark.integration


def action(corr: uuid.UUID, name: str, agent: str = "agent-x") -> OnexEnvelopeV1:
    return OnexEnvelopeV1.create(
        AgentActionPayload(correlation_id=corr, agent_name=agent, action_type="tool_call", action_name=name)
    )


def test_poison_messages_go_to_the_dlq_and_the_rest_flows(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr = uuid.uuid4()
    dlq = f"onex.dlq.test-{corr.hex[:8]}"
    broker.create_topics(dlq)
    topic = c.EventType.AGENT_ACTION.value
    invalid = json.loads(
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=corr,
                selected_agent="x",
                confidence_score=0.5,
                routing_strategy="s",
                routing_time_ms=1,
            )
        ).to_json()
    )
    invalid["payload"]["confidence_score"] = 7
    # Valid for the models, rejected by PostgreSQL: duration_ms overflows an INTEGER column.
    rejected = OnexEnvelopeV1.create(
        AgentActionPayload(
            correlation_id=corr,
            agent_name="agent-x",
            action_type="tool_call",
            action_name="rejected-by-db",
            duration_ms=2**40,
        )
    )
    goods = [action(corr, f"good-{i}") for i in range(4)]
    produce(broker, [goods[0]])
    produce(broker, [(topic, b"{not json")], headers=[("x-origin", b"test")], key=b"k1")
    produce(broker, [goods[1], (topic, json.dumps(invalid).encode())])  # type: ignore[list-item]
    produce(broker, [rejected, goods[2], goods[3]])
    with running(Collector(options(broker, migrated, dlq_topic=dlq, batch_size=50))) as col:
        wait_for(
            lambda: (
                query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,))[0][0]
                == 4
            ),
            what="good rows",
        )
        wait_for(lambda: col.metrics.snapshot()["dlq_messages"] >= 3, what="3 dead letters")
        dead = broker.consume([dlq], 3, timeout=30)
    assert sorted(
        r[0]
        for r in query(migrated, "SELECT action_name FROM agent_actions WHERE correlation_id = %s", (corr,))
    ) == ["good-0", "good-1", "good-2", "good-3"]
    by_stage: dict[str, Any] = {}
    for msg in dead:
        headers = dict(msg.headers())
        by_stage[headers[c.DLQ_HEADER_STAGE].decode()] = (msg, headers)
    assert set(by_stage) == {"decode", "validate", "database"}
    msg, headers = by_stage["decode"]
    assert msg.value() == b"{not json" and msg.key() == b"k1"
    assert headers["x-origin"] == b"test"  # original headers kept
    assert headers[c.DLQ_HEADER_TOPIC] == topic.encode()
    assert headers[c.DLQ_HEADER_ERROR_CLASS] == b"NotJson"
    assert int(headers[c.DLQ_HEADER_OFFSET]) >= 0 and headers[c.DLQ_HEADER_PARTITION] == b"0"
    assert b"not JSON" in headers[c.DLQ_HEADER_ERROR_MESSAGE]
    msg, headers = by_stage["validate"]
    assert headers[c.DLQ_HEADER_ERROR_CLASS] == b"InvalidEvent"
    assert json.loads(msg.value()) == invalid
    msg, headers = by_stage["database"]
    assert msg.value() == rejected.to_json()
    assert headers[c.DLQ_HEADER_ERROR_CLASS] == b"NumericValueOutOfRange"
    assert b"out of range" in headers[c.DLQ_HEADER_ERROR_MESSAGE]
    snap = col.metrics.snapshot()
    # the collector's own group reads the shared topics from the start: earlier tests' messages
    # not yet in the tables count as inserted too
    assert snap["messages_failed"] == 3 and snap["messages_inserted"] >= 4


def test_database_outage_pauses_retries_and_resumes(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr = uuid.uuid4()
    dlq = f"onex.dlq.test-{corr.hex[:8]}"
    broker.create_topics(dlq)
    with TcpProxy(migrated.host, migrated.port) as proxy:
        url = migrated.url.replace(f"port={migrated.port}", f"port={proxy.port}")
        assert url != migrated.url
        metrics = CollectorMetrics()
        col = Collector(options(broker, migrated, conninfo=url, dlq_topic=dlq), metrics=metrics)
        with running(col), MetricsServer(metrics, port=0) as server:
            produce(broker, [action(corr, "before")])
            wait_for(
                lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
                what="first row",
            )
            proxy.cut()
            produce(broker, [action(corr, f"during-{i}") for i in range(20)])
            wait_for(lambda: metrics.snapshot()["database_retries"] >= 3, what="retries")
            code, health = get(server.port, "/health")
            assert code == 503 and health["status"] == "degraded"
            assert "database" in health["reasons"]
            assert query(
                migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)
            ) == [(1,)]
            proxy.restore()
            wait_for(
                lambda: (
                    query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,))[
                        0
                    ][0]
                    == 21
                ),
                what="every row after the outage",
            )
            wait_for(lambda: get(server.port, "/health")[0] == 200, what="healthy again")
        dead_count = metrics.snapshot()["dlq_messages"]  # earlier tests' poison messages only
    # An outage is not a poison message: nothing of this test went to the DLQ (poison messages
    # that earlier tests left on the shared topics may be there; they carry other ids).
    dead = broker.consume([dlq], dead_count + 1, timeout=5)
    assert len(dead) == dead_count
    assert not [m for m in dead if str(corr).encode() in (m.value() or b"")]


def test_a_batch_stuck_behind_a_lock_is_cancelled_retried_and_written(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr = uuid.uuid4()
    metrics = CollectorMetrics()
    # (Without the statement timeout only the lock timeout, a minute, would end the wait.)
    conninfo = make_conninfo(migrated.url, options="-c lock_timeout=60000")
    col = Collector(options(broker, migrated, conninfo=conninfo, statement_timeout_ms=300), metrics=metrics)
    with running(col):
        with table_locked(migrated, "agent_actions"):
            produce(broker, [action(corr, "behind-a-lock")])
            wait_for(
                lambda: metrics.snapshot()["database_retries"] >= 2,
                timeout=20,
                what="the stuck batch cancelled and retried",
            )
            assert not metrics.database_ok
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
            what="the row once the lock is gone",
        )
        wait_for(lambda: metrics.database_ok, what="the database counted as back")
    assert query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)) == [(1,)]


def get(port: int, path: str, accept: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read().decode()
            code = response.status
            ctype = response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        body, code, ctype = exc.read().decode(), exc.code, exc.headers["Content-Type"]
    return code, json.loads(body) if ctype.startswith("application/json") else body


def test_health_and_metrics_endpoints(broker: Broker, topics: list[str], migrated: Database) -> None:
    corr = uuid.uuid4()
    metrics = CollectorMetrics()
    with MetricsServer(metrics, port=0) as server:
        assert get(server.port, "/health") == (200, {"status": "healthy", "consumer": "stopped"})
        with running(Collector(options(broker, migrated), metrics=metrics)):
            produce(broker, [action(corr, f"m{i}") for i in range(7)])
            wait_for(lambda: metrics.snapshot()["messages_inserted"] >= 7, what="7 messages")
            code, health = get(server.port, "/health")
            assert (code, health) == (200, {"status": "healthy", "consumer": "running"})
            code, body = get(server.port, "/metrics")
        assert code == 200
        assert set(body) >= {
            "uptime_seconds",
            "messages_consumed",
            "messages_inserted",
            "messages_failed",
            "batches_processed",
            "avg_batch_processing_ms",
            "messages_per_second",
            "last_commit_time",
            "consumer_lag",
            "dlq_messages",
        }
        # (the topics are shared: earlier tests' poison messages are consumed again here)
        assert body["messages_consumed"] >= 7 and body["messages_inserted"] >= 7
        assert body["messages_failed"] == body["dlq_messages"]
        assert body["batches_processed"] >= 1 and body["last_commit_time"].endswith("Z")
        code, text = get(server.port, "/metrics?format=prometheus")
        assert code == 200
        assert f"onex_collector_messages_inserted_total {float(body['messages_inserted'])}" in text
        assert "# TYPE onex_collector_uptime_seconds gauge" in text
        code, text2 = get(server.port, "/metrics", accept="text/plain")
        assert "onex_collector_batches_processed_total" in text2
        assert get(server.port, "/nope")[0] == 404
        metrics.set_kafka(False, "_ALL_BROKERS_DOWN: no broker")
        code, health = get(server.port, "/health")
        assert code == 503 and health["reasons"] == {"kafka": "_ALL_BROKERS_DOWN: no broker"}


def test_kafka_outage_degrades_health_then_recovers(own_broker: Broker, migrated: Database) -> None:
    from tests.collector.conftest import ALL_TOPICS

    own_broker.create_topics(*ALL_TOPICS, "onex.dlq.test")
    corr = uuid.uuid4()
    metrics = CollectorMetrics()
    col = Collector(options(own_broker, migrated), metrics=metrics)
    with running(col), MetricsServer(metrics, port=0) as server:
        produce(own_broker, [action(corr, "before")])
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
            what="first row",
        )
        own_broker.stop()
        wait_for(lambda: get(server.port, "/health")[0] == 503, timeout=60, what="degraded")
        assert "kafka" in get(server.port, "/health")[1]["reasons"]
        own_broker.start()  # memory-only broker: it comes back empty
        own_broker.create_topics(*ALL_TOPICS, "onex.dlq.test")
        wait_for(lambda: get(server.port, "/health")[0] == 200, timeout=60, what="healthy again")
        produce(own_broker, [action(corr, "after")])
        wait_for(
            lambda: query(
                migrated,
                "SELECT 1 FROM agent_actions WHERE correlation_id = %s AND action_name = 'after'",
                (corr,),
            ),
            timeout=60,
            what="rows flow again",
        )


def test_offsets_do_not_move_past_a_poison_message_the_dlq_did_not_confirm(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr = uuid.uuid4()
    group = f"dlq-down-{corr.hex[:8]}"
    good_dlq = f"onex.dlq.test-{corr.hex[:8]}"
    broker.create_topics(good_dlq)
    marker = f"poison-{corr.hex}".encode()
    # First the group catches up with the topic (earlier tests' poison goes to another DLQ).
    first = Collector(options(broker, migrated, group_id=group))  # its own DLQ topic
    with running(first):
        produce(broker, [action(corr, "warm-up")])
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
            what="warm-up row",
        )
    produce(broker, [(c.EventType.AGENT_ACTION.value, marker)])
    produce(broker, [action(corr, "after-poison")])
    # Its dead-letter producer talks to a port where no broker listens.
    broken = Collector(
        options(
            broker,
            migrated,
            group_id=group,
            dlq_topic=good_dlq,
            shutdown_timeout_s=1.0,
            producer_config={"bootstrap.servers": f"127.0.0.1:{free_port()}", "message.timeout.ms": 1000},
        )
    )
    with running(broken):
        wait_for(lambda: "dead-letter topic" in (broken.metrics.kafka_reason or ""), what="the DLQ failure")
        assert broken.metrics.snapshot()["dlq_messages"] == 0
    # Not confirmed on the DLQ, so not committed: a healthy collector of the same group sees it.
    healthy = Collector(options(broker, migrated, group_id=group, dlq_topic=good_dlq))
    with running(healthy):
        wait_for(lambda: healthy.metrics.snapshot()["dlq_messages"] >= 1, what="dead letter")
    dead = broker.consume([good_dlq], 1, timeout=30)
    assert [m.value() for m in dead] == [marker]
    assert query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)) == [(2,)]


class HeldWriter(Writer):
    """A writer whose first batch waits for a signal (the batches after it go ahead)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.held = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    def write(self, events: Any) -> Any:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.held.set()
            self.release.wait(30)
        return super().write(events)


def test_offsets_wait_for_an_earlier_batch_still_being_written(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    """With two batches in flight the later one may commit to PostgreSQL first; the group's
    offset still moves only once every batch before it has committed."""
    corr = uuid.uuid4()
    topic = f"in-order-{corr.hex[:8]}"  # a topic of its own: offsets start at 0
    group = f"in-order-{corr.hex[:8]}"
    broker.create_topics(topic)

    decisions = [
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=corr,
                selected_agent=f"agent-{i}",
                confidence_score=0.5,
                routing_strategy="s",
                routing_time_ms=i,
            )
        )
        for i in range(10)
    ]
    produce(broker, [(topic, d.to_json()) for d in decisions])
    writer = HeldWriter(migrated.url)
    collector = Collector(
        options(
            broker,
            migrated,
            group_id=group,
            batch_size=5,
            db_writers=2,
            topic_types={topic: c.EventType.ROUTING_DECISION},
        ),
        writer=writer,
    )
    count = "SELECT count(*) FROM agent_routing_decisions WHERE correlation_id = %s"
    with running(collector):
        assert writer.held.wait(30)
        # The second batch (the last five decisions) is written while the first is held ...
        wait_for(lambda: query(migrated, count, (corr,)) == [(5,)], what="the second batch")
        assert query(
            migrated,
            "SELECT min(routing_time_ms) FROM agent_routing_decisions WHERE correlation_id = %s",
            (corr,),
        ) == [(5,)]
        # ... but the group's offset has not moved past the first batch.
        assert committed(broker, group, topic) < 0
        writer.release.set()
        wait_for(lambda: query(migrated, count, (corr,)) == [(10,)], what="both batches")
        wait_for(lambda: committed(broker, group, topic) == 10, what="the offset past both batches")


def committed(broker: Broker, group: str, topic: str) -> int:
    """The group's committed offset of partition 0 of ``topic`` (negative: none yet)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


@pytest.mark.parametrize("interval_ms", [60_000, 200])
def test_stored_offsets_are_committed_every_interval_and_when_draining(
    broker: Broker, topics: list[str], migrated: Database, interval_ms: int
) -> None:
    """Offsets are not committed batch by batch: librdkafka commits the stored ones every
    ``commit_interval_ms``, and draining commits them at once."""
    corr = uuid.uuid4()
    topic = f"commit-every-{corr.hex[:8]}"
    group = f"commit-every-{corr.hex[:8]}"
    broker.create_topics(topic)
    produce(broker, [(topic, action(corr, f"a-{i}").to_json()) for i in range(10)])
    collector = Collector(
        options(
            broker,
            migrated,
            group_id=group,
            batch_size=5,
            commit_interval_ms=interval_ms,
            topic_types={topic: c.EventType.AGENT_ACTION},
        )
    )
    count = "SELECT count(*) FROM agent_actions WHERE correlation_id = %s"
    with running(collector):
        wait_for(lambda: collector.metrics.snapshot()["batches_processed"] == 2, what="both batches")
        assert query(migrated, count, (corr,)) == [(10,)]
        if interval_ms > 10_000:
            assert committed(broker, group, topic) < 0  # stored, the interval not yet over
        else:
            wait_for(lambda: committed(broker, group, topic) == 10, what="the periodic commit while running")
    assert committed(broker, group, topic) == 10


def test_an_unmigrated_database_is_reported_then_used_once_migrated(
    broker: Broker, topics: list[str]
) -> None:
    """Collecting into a database without the schema: health says to migrate, nothing is lost,
    and the collector carries on by itself once `db migrate` ran."""
    from onex_collector.migrate import migrate
    from tests.services.postgres import fresh_database

    corr = uuid.uuid4()
    topic = f"unmigrated-{corr.hex[:8]}"
    broker.create_topics(topic)
    with fresh_database("onex_unmigrated") as db:
        produce(broker, [(topic, action(corr, "before-migrate").to_json())])
        collector = Collector(options(broker, db, topic_types={topic: c.EventType.AGENT_ACTION}))
        with running(collector):
            wait_for(
                lambda: "onex-otel db migrate" in (collector.metrics.database_reason or ""),
                what="the migrate hint",
            )
            assert collector.metrics.health()["status"] == "degraded"
            assert collector.metrics.snapshot()["dlq_messages"] == 0
            migrate(db.url)
            wait_for(
                lambda: query(db, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (corr,)),
                what="the row after migrating",
            )
            wait_for(lambda: collector.metrics.health()["status"] == "healthy", what="healthy")
