"""The headers of a dead-lettered Kafka message, for every onex-otel consumer (collector, bridge).

A message that cannot be processed goes to a dead-letter topic with its original key, value and
headers, plus ``onex.dlq.*`` headers naming where it came from and why (names in
:mod:`onex_otel.conventions`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from onex_otel import conventions as c

__all__ = ["MAX_ERROR_MESSAGE_BYTES", "Poison", "dead_letter_headers", "send_dead_letters"]

#: A poison message: (the Kafka message, error class, error message, stage).
Poison = tuple[Any, str, str, str]

#: Longest error message carried in a dead-letter header (UTF-8 bytes).
MAX_ERROR_MESSAGE_BYTES = 2000


def dead_letter_headers(
    original: Iterable[tuple[str, bytes]] | None,
    topic: str,
    partition: int,
    offset: int,
    error_class: str,
    message: str,
    stage: str,
) -> list[tuple[str, bytes]]:
    """The original headers followed by the ``onex.dlq.*`` ones."""
    headers = list(original or [])
    headers += [
        (c.DLQ_HEADER_TOPIC, topic.encode()),
        (c.DLQ_HEADER_PARTITION, str(partition).encode()),
        (c.DLQ_HEADER_OFFSET, str(offset).encode()),
        (c.DLQ_HEADER_ERROR_CLASS, error_class.encode()),
        (c.DLQ_HEADER_ERROR_MESSAGE, message.encode("utf-8", "replace")[:MAX_ERROR_MESSAGE_BYTES]),
        (c.DLQ_HEADER_STAGE, stage.encode()),
    ]
    return headers


def send_dead_letters(
    producer: Any, dlq_topic: str, poison: list[Poison], confirm_s: float, log: logging.Logger
) -> str | None:
    """Produce every poison message to ``dlq_topic`` and wait up to ``confirm_s`` for the broker.

    Each goes with its original key, value and headers plus :func:`dead_letter_headers`, and is
    logged on ``log``. Returns ``None`` once the broker confirmed every one, else the reason.
    """
    from confluent_kafka import KafkaException  # the services that dead-letter have it

    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err.str())

    for msg, error_class, message, stage in poison:
        headers = dead_letter_headers(
            msg.headers(), msg.topic(), msg.partition(), msg.offset(), error_class, message, stage
        )
        try:
            producer.produce(
                dlq_topic,
                key=msg.key(),
                value=msg.value(),
                headers=headers,
                on_delivery=delivered,
            )
        except (BufferError, KafkaException) as exc:
            failures.append(str(exc))
        log.warning(
            "dead-lettered %s[%d]@%d (%s at %s): %s",
            msg.topic(),
            msg.partition(),
            msg.offset(),
            error_class,
            stage,
            message,
        )
    remaining = producer.flush(confirm_s)
    if remaining or failures:
        reason = failures[0] if failures else f"{remaining} message(s) not confirmed"
        return f"dead-letter topic {dlq_topic}: {reason}"
    return None
