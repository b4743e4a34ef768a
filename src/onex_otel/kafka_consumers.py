"""The Kafka consumer settings every onex-otel consuming service shares, defined once.

The collector (:mod:`onex_collector.kafka_clients`) and the bridge
(:mod:`onex_exporters.bridge.service`) both read in a consumer group, store offsets by hand once
a batch is settled, and should neither hold events in the broker nor let a backlog grow the
process without bound. Each adds its own callbacks and client id to :func:`service_consumer_config`;
a user's ``consumer_config`` is applied last and overrides any of these.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = [
    "FETCH_QUEUE_BACKOFF_MS",
    "FETCH_WAIT_MAX_MS",
    "PREFETCH_KBYTES",
    "commit_stored_offsets",
    "service_consumer_config",
]

#: How long the broker may hold a fetch for more data. librdkafka's 500 ms default leaves events
#: waiting in a broker that holds fetches to the limit; 100 ms keeps publish-to-row latency low
#: at a negligible cost of idle fetches.
FETCH_WAIT_MAX_MS: Final = 100
#: The messages fetched ahead of the batches, at most (librdkafka's default, 64 MB, let a backlog
#: grow the process by that much); 16 MB is still many batches ahead.
PREFETCH_KBYTES: Final = 16 * 1024
#: With a backlog the prefetched messages reach that bound, and librdkafka (2.4+) then postpones
#: the next fetch by ``fetch.queue.backoff.ms``: by default 1000 ms, longer than a service takes
#: to drain them (16 MB is ~20k events, well under a second for the collector), so it waited for
#: Kafka at every batch after that.
FETCH_QUEUE_BACKOFF_MS: Final = 5


def service_consumer_config(bootstrap_servers: str, group_id: str, commit_interval_ms: int) -> dict[str, Any]:
    """The shared part of a consuming service's librdkafka configuration."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        # Offsets are stored by hand once a batch is settled (never by librdkafka when a message
        # is handed over); librdkafka commits only those, periodically.
        "enable.auto.commit": True,
        "auto.commit.interval.ms": commit_interval_ms,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "topic.metadata.refresh.interval.ms": 10000,
        "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        "queued.max.messages.kbytes": PREFETCH_KBYTES,
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
    }


def commit_stored_offsets(
    consumer: Any, kafka_ok: bool, log: logging.Logger, otherwise: str, *, stopping: bool = False
) -> None:
    """Commit the offsets ``consumer`` has stored, now, and wait for the broker's answer.

    Not while Kafka is known to be away (``kafka_ok`` false): librdkafka would hold the call
    until the group's session timed out, only to fail. The offsets then stay uncommitted, as
    after a failed commit; ``otherwise`` says what follows. ``stopping``: the service's last
    commit, whose skipping is a warning.
    """
    if not kafka_ok:
        if stopping:
            log.warning("stopping while Kafka is unavailable: offsets not committed (%s)", otherwise)
        else:
            log.debug("Kafka unavailable: offsets not committed now (%s)", otherwise)
        return
    from confluent_kafka import KafkaError, KafkaException

    try:
        consumer.commit(asynchronous=False)
    except KafkaException as exc:
        code = exc.args[0].code() if exc.args else None
        if code != KafkaError._NO_OFFSET:
            log.warning("final commit failed (%s): %s", otherwise, exc)
