"""The exporter's Kafka settings: topic of each event type, producer configuration, final errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from onex_otel.config import Settings
from onex_otel.conventions import EventType

__all__ = ["LibrdkafkaLogger", "permanent", "producer_config", "purged", "topics_from_settings"]

_log = logging.getLogger("onex_exporters.kafka")

_TOPIC_SETTINGS: Mapping[EventType, str] = {
    EventType.EXECUTION_STARTED: "topic_execution_started",
    EventType.EXECUTION_PROGRESS: "topic_execution_progress",
    EventType.EXECUTION_COMPLETED: "topic_execution_completed",
    EventType.EXECUTION_FAILED: "topic_execution_failed",
    EventType.AGENT_ACTION: "topic_agent_actions",
    EventType.ROUTING_DECISION: "topic_routing_decision",
    EventType.ROUTER_PERFORMANCE: "topic_router_performance",
    EventType.TRANSFORMATION: "topic_transformation",
    EventType.DETECTION_FAILURE: "topic_detection_failure",
}

#: Producers abandoned in a forked child: their librdkafka threads did not survive the fork,


def permanent(err: Any) -> bool:
    """Whether a Kafka error refuses this message for good (re-sending cannot help)."""
    from confluent_kafka import KafkaError

    codes = {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError._INVALID_ARG,
    }
    try:
        return bool(err.code() in codes and not err.fatal())
    except Exception:
        return False


def purged(err: Any) -> bool:
    """Whether a delivery failure is a purge of the exporter's own (not a Kafka error)."""
    from confluent_kafka import KafkaError

    try:
        return bool(err.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT))
    except Exception:
        return False


def topics_from_settings(settings: Settings) -> dict[EventType, str]:
    """The topic of each event type: its ``ONEX_TOPIC_*`` setting, else prefix + event type."""
    out = {}
    for event_type, attr in _TOPIC_SETTINGS.items():
        explicit = getattr(settings, attr, None)
        out[event_type] = explicit or f"{settings.topic_prefix}{event_type.value}"
    return out


def producer_config(settings: Settings) -> dict[str, Any]:
    """The confluent-kafka producer configuration derived from ``settings``."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers or "",
        "client.id": "onex-otel",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.kafka_compression,
        "linger.ms": 5,
        "message.timeout.ms": settings.kafka_delivery_timeout_ms,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 128 * 1024,
        "reconnect.backoff.max.ms": 2000,
        # only failures come back as callbacks: successes are counted by difference, which
        # keeps the per-message cost off the Python side
        "delivery.report.only.error": True,
    }


class LibrdkafkaLogger:
    """librdkafka's log lines, routed to Python logging at DEBUG.

    Errors reach the user through the exporter's own once-a-minute warnings.
    """

    def log(self, level: int, msg: str, *args: Any) -> None:
        _log.debug("librdkafka: " + msg, *args)
