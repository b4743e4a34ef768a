"""The consumer configuration the collector and the bridge share, and what each adds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from onex_collector.kafka_clients import consumer_config
from onex_collector.options import CollectorOptions
from onex_exporters.bridge.service import Bridge, BridgeOptions
from onex_otel.config import Settings
from onex_otel.kafka_consumers import service_consumer_config

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
