"""The collector's consumer configuration."""

from __future__ import annotations

from typing import Any

from onex_collector.kafka_clients import consumer_config
from onex_collector.options import CollectorOptions


def _config(**extra: Any) -> dict[str, Any]:
    options = CollectorOptions(bootstrap_servers="127.0.0.1:9092", conninfo="", **extra)
    return consumer_config(options, error_cb=lambda _err: None, on_commit=lambda _err, _parts: None)


def test_a_full_prefetch_queue_postpones_the_next_fetch_less_than_a_batch_waits() -> None:
    # With a backlog, the prefetched messages fill queued.max.messages.kbytes; librdkafka's
    # default postponement of the next fetch (1000 ms) outlasts the time the collector takes to
    # drain them, and it then waits for Kafka on every batch.
    conf = _config()
    assert conf["queued.max.messages.kbytes"] > 0
    assert 0 < conf["fetch.queue.backoff.ms"] <= CollectorOptions.batch_timeout_ms


def test_the_options_consumer_config_overrides_the_defaults() -> None:
    assert _config(consumer_config={"fetch.queue.backoff.ms": 1000})["fetch.queue.backoff.ms"] == 1000
