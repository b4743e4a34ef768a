"""The consumer configuration the collector and the bridge share, and what each adds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from onex_collector.kafka_clients import consumer_config
from onex_collector.options import CollectorOptions
from onex_exporters.bridge.service import Bridge, BridgeOptions
from onex_otel.config import Settings
from onex_otel.kafka_consumers import commit_stored_offsets, service_consumer_config

SHARED = service_consumer_config("127.0.0.1:9092", "g", 1000)


def collector_config(**extra: Any) -> dict[str, Any]:
    options = CollectorOptions(bootstrap_servers="127.0.0.1:9092", conninfo="", group_id="g", **extra)
    return consumer_config(options, error_cb=lambda _err: None, on_commit=lambda _err, _parts: None)


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    bridge = Bridge(
        BridgeOptions(
            bootstrap_servers="127.0.0.1:9092", group_id="g", consumer_config={"fetch.wait.max.ms": 7}
        ),
        Settings(kafka_bootstrap_servers="127.0.0.1:9092"),
    )
    try:
        yield bridge
    finally:
        bridge.exporter.shutdown()


def test_a_full_prefetch_queue_postpones_the_next_fetch_less_than_a_batch_waits() -> None:
    # With a backlog, the prefetched messages fill queued.max.messages.kbytes; librdkafka's
    # default postponement of the next fetch (1000 ms) outlasts the time the collector takes to
    # drain them, and it then waited for Kafka on every batch.
    assert SHARED["queued.max.messages.kbytes"] > 0
    assert 0 < SHARED["fetch.queue.backoff.ms"] <= CollectorOptions.batch_timeout_ms
    assert SHARED["enable.auto.offset.store"] is False  # offsets stored only once settled


def test_the_collector_and_the_bridge_start_from_the_shared_settings(bridge: Bridge) -> None:
    collector = collector_config()
    assert {k: collector[k] for k in SHARED} == SHARED
    own = bridge._consumer_config()
    assert {k: own[k] for k in SHARED if k != "fetch.wait.max.ms"} == {
        k: v for k, v in SHARED.items() if k != "fetch.wait.max.ms"
    }
    assert own["client.id"] == "onex-otel-bridge"


def test_a_users_consumer_config_overrides_the_defaults(bridge: Bridge) -> None:
    assert (
        collector_config(consumer_config={"fetch.queue.backoff.ms": 1000})["fetch.queue.backoff.ms"] == 1000
    )
    assert bridge._consumer_config()["fetch.wait.max.ms"] == 7


class Committing:
    """Records the commits asked of it; raises ``error`` from each, when given."""

    def __init__(self, error: int | None = None) -> None:
        self.calls: list[bool] = []
        self.error = error

    def commit(self, *, asynchronous: bool = True) -> None:
        self.calls.append(asynchronous)
        if self.error is not None:
            raise KafkaException(KafkaError(self.error))


LOG = logging.getLogger("test.commit")


@pytest.mark.parametrize("stopping", [False, True])
def test_no_commit_is_waited_on_while_kafka_is_away(stopping: bool, caplog: pytest.LogCaptureFixture) -> None:
    consumer = Committing()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        commit_stored_offsets(consumer, False, LOG, "it follows", stopping=stopping)
    assert consumer.calls == []
    (record,) = caplog.records
    assert record.levelno == (logging.WARNING if stopping else logging.DEBUG)
    assert "offsets not committed" in record.getMessage() and "it follows" in record.getMessage()


def test_a_commit_waits_for_the_broker_and_only_a_real_failure_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fine, nothing, failing = (
        Committing(),
        Committing(KafkaError._NO_OFFSET),
        Committing(KafkaError._WAIT_COORD),
    )
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        for consumer in (fine, nothing, failing):
            commit_stored_offsets(consumer, True, LOG, "it follows", stopping=True)
    assert fine.calls == nothing.calls == failing.calls == [False]  # synchronous
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "final commit failed (it follows)" in record.getMessage()
