"""Fixtures of the collector tests: a migrated database, topics, a producer, a running collector."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
import pytest

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.migrate import migrate
from onex_collector.rows import default_topic_types
from onex_otel.envelope import OnexEnvelopeV1
from tests.services.kafka import Broker
from tests.services.postgres import Database

T = TypeVar("T")

ALL_TOPICS = sorted(default_topic_types())


@pytest.fixture(scope="session")
def migrated(database: Database) -> Database:
    """The session database with every migration applied."""
    migrate(database.url)
    return database


@pytest.fixture(scope="session")
def topics(broker: Broker) -> list[str]:
    """Every topic the collector reads, created on the session broker."""
    broker.create_topics(*ALL_TOPICS)
    return ALL_TOPICS


def wait_for(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy (bounded in time)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or probe}: last={last!r}")


def query(db: Database, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def produce(
    broker: Broker,
    items: Sequence[tuple[str, bytes | None] | OnexEnvelopeV1],
    *,
    headers: list[tuple[str, str | bytes | None]] | None = None,
    key: bytes | None = None,
) -> None:
    """Produce envelopes (to their event type's topic) or raw (topic, value) pairs; flush."""
    from confluent_kafka import Producer

    producer = Producer(broker.producer_config(**{"linger.ms": 5}))
    errors: list[Any] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    value: bytes | None
    k: bytes | None
    for item in items:
        if isinstance(item, OnexEnvelopeV1):
            topic, value = item.event_type.value, item.to_json()
            k = key or str(item.correlation_id).encode()
        else:
            topic, value = item
            k = key
        producer.produce(topic, value=value, key=k, headers=headers or [], on_delivery=delivered)
    assert producer.flush(30) == 0
    assert not errors, errors


def options(broker: Broker, db: Database, **extra: Any) -> CollectorOptions:
    """Collector options for a test: own group, short batches, fast retries."""
    base: dict[str, Any] = {
        "bootstrap_servers": broker.bootstrap,
        "conninfo": db.url,
        "group_id": f"collector-test-{uuid.uuid4().hex[:8]}",
        "batch_timeout_ms": 200,
        "retry_initial_s": 0.05,
        "retry_max_s": 0.5,
        "shutdown_timeout_s": 10.0,
        "dlq_topic": "onex.dlq.test",
    }
    base.update(extra)
    return CollectorOptions(**base)


@contextlib.contextmanager
def running(collector: Collector) -> Iterator[Collector]:
    """Run ``collector`` in a thread for the duration of the block, then drain it."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            collector.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="collector-under-test", daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        collector.request_stop()
        thread.join(30)
        assert not thread.is_alive(), "collector did not stop"
    if errors:
        raise errors[0]
