"""The collector's Kafka clients: their configuration, librdkafka's log, the dead-letter topic, lag."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from onex_collector.options import CollectorOptions
from onex_otel.errors import OnexError
from onex_otel.kafka_consumers import service_consumer_config

__all__ = [
    "KafkaUnavailable",
    "LibrdkafkaLog",
    "consumer_config",
    "consumer_lag",
    "ensure_dlq_topic",
    "producer_config",
]

log = logging.getLogger("onex_collector")


class KafkaUnavailable(OnexError):
    """A one-shot run gave up: no Kafka broker answered for ``connect_timeout_s``."""


class LibrdkafkaLog:
    """librdkafka's own log lines, to Python logging at DEBUG instead of raw stderr.

    While a broker is away it logs a connect failure every few ms; errors reach the log through
    ``error_cb`` instead (the collector logs each kind at most every 30 s).
    """

    def log(self, _level: int, msg: str, *args: Any) -> None:
        """Log one librdkafka line at DEBUG."""
        log.debug("librdkafka: " + msg, *args)


def consumer_config(
    options: CollectorOptions,
    *,
    error_cb: Callable[[KafkaError], None],
    on_commit: Callable[[KafkaError | None, list[TopicPartition]], None],
) -> dict[str, Any]:
    """The consumer's configuration (``options.consumer_config`` last: it overrides)."""
    conf = service_consumer_config(options.bootstrap_servers, options.group_id, options.commit_interval_ms)
    conf |= {
        "enable.partition.eof": options.stop_when_idle_s is not None,
        "error_cb": error_cb,
        "on_commit": on_commit,
        "logger": LibrdkafkaLog(),
    }
    conf.update(options.consumer_config)
    return conf


def producer_config(options: CollectorOptions, *, error_cb: Callable[[KafkaError], None]) -> dict[str, Any]:
    """The dead-letter producer's configuration (``options.producer_config`` overrides)."""
    conf: dict[str, Any] = {
        "bootstrap.servers": options.bootstrap_servers,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 10000,
        "error_cb": error_cb,
        "logger": LibrdkafkaLog(),
    }
    conf.update(options.producer_config)
    return conf


def consumer_lag(consumer: Any) -> int | None:
    """Messages behind the end of the assigned partitions (None: nothing assigned)."""
    assignment = consumer.assignment()
    if not assignment:
        return None
    positions = consumer.position(assignment)
    lag = 0
    for tp in positions:
        _lo, hi = consumer.get_watermark_offsets(tp, cached=True)
        if hi is None or hi < 0:
            continue
        pos = tp.offset if tp.offset >= 0 else 0
        lag += max(0, hi - pos)
    return lag


def ensure_dlq_topic(options: CollectorOptions) -> None:
    """Create the dead-letter topic if it is missing (best effort)."""
    try:
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        conf: dict[str, Any] = {
            "bootstrap.servers": options.bootstrap_servers,
            "logger": LibrdkafkaLog(),
        }
        admin = AdminClient(conf)
        meta = admin.list_topics(timeout=5)
        if options.dlq_topic in meta.topics:
            return
        futures = admin.create_topics([NewTopic(options.dlq_topic, 1, 1)])
        for fut in futures.values():
            fut.result(10)
    except Exception as exc:
        log.info("dead-letter topic %s not created: %s", options.dlq_topic, exc)
