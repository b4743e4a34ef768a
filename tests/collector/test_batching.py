"""How the collector cuts batches: at once when idle (eager), fuller under a backlog, held when not eager."""

from __future__ import annotations

import uuid

import pytest

from onex_collector.consumer import Collector, CollectorOptions
from onex_otel.conventions import EventType
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1
from tests.collector.conftest import options, produce, query, running, wait_for
from tests.services.kafka import Broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

#: A batch timeout no test waits out: a row that lands came from an early write.
NEVER_MS = 600_000


class Topic:
    """An action topic of the test's own (no other test's messages in its backlog)."""

    def __init__(self, broker: Broker, db: Database) -> None:
        self.broker, self.db = broker, db
        self.name = f"batching{uuid.uuid4().hex[:8]}.{EventType.AGENT_ACTION.value}"
        broker.create_topics(self.name)

    def options(self, **extra: object) -> CollectorOptions:
        return options(self.broker, self.db, topic_types={self.name: EventType.AGENT_ACTION}, **extra)

    def produce(self, corr: uuid.UUID, n: int) -> None:
        envs = [
            OnexEnvelopeV1.create(
                AgentActionPayload(
                    correlation_id=corr, agent_name="a", action_type="tool_call", action_name=f"t{i}"
                )
            )
            for i in range(n)
        ]
        produce(self.broker, [(self.name, e.to_json()) for e in envs])


def rows(db: Database, corr: uuid.UUID) -> int:
    return int(query(db, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,))[0][0])


def transactions(db: Database, corr: uuid.UUID) -> int:
    """How many transactions wrote the rows of ``corr`` (one per batch)."""
    return int(
        query(db, "SELECT count(DISTINCT xmin::text) FROM agent_actions WHERE correlation_id = %s", (corr,))[
            0
        ][0]
    )


def test_an_idle_collector_writes_a_partial_batch_without_waiting_for_the_timeout(
    broker: Broker, migrated: Database
) -> None:
    corr, topic = uuid.uuid4(), Topic(broker, migrated)
    with running(Collector(topic.options(batch_timeout_ms=NEVER_MS))):
        topic.produce(corr, 3)
        wait_for(lambda: rows(migrated, corr) == 3, timeout=30, what="rows written before the batch timeout")


def test_not_eager_holds_a_partial_batch_for_the_timeout(broker: Broker, migrated: Database) -> None:
    corr, topic = uuid.uuid4(), Topic(broker, migrated)
    collector = Collector(topic.options(batch_timeout_ms=NEVER_MS, eager_batches=False))
    with running(collector):
        topic.produce(corr, 3)
        wait_for(
            lambda: collector.metrics.snapshot()["messages_pending"] >= 3, timeout=30, what="the batch held"
        )
        assert rows(migrated, corr) == 0
    assert rows(migrated, corr) == 3  # the stop's drain wrote it


def test_a_backlog_is_written_in_full_batches(broker: Broker, migrated: Database) -> None:
    corr, n, size, topic = uuid.uuid4(), 600, 100, Topic(broker, migrated)
    topic.produce(corr, n)
    with running(Collector(topic.options(batch_size=size))):
        wait_for(lambda: rows(migrated, corr) == n, timeout=60, what="the backlog written")
    # Eager writes only take what is waiting when the writer is idle: while one batch is written
    # the next fills up, so a backlog needs about n / size transactions (not one per message).
    assert transactions(migrated, corr) <= n // size + 3
