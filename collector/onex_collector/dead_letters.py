"""Poison messages to the dead-letter topic, with their original key, value and headers.

Each goes with ``onex.dlq.*`` headers naming the original topic, partition, offset, error class,
message and stage (:func:`onex_otel.deadletter.dead_letter_headers`).
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from onex_otel.deadletter import dead_letter_headers
from onex_otel.errors import OnexError

__all__ = ["DeadLetterUnavailable", "Poison", "send_dead_letters"]

log = logging.getLogger("onex_collector")

#: A poison message: (the Kafka message, error class, error message, stage).
Poison = tuple[Any, str, str, str]


class DeadLetterUnavailable(OnexError):
    """The dead-letter topic could not confirm a message; the batch is retried, not committed."""


def send_dead_letters(producer: Any, dlq_topic: str, poison: list[Poison]) -> None:
    """Produce every poison message to ``dlq_topic`` and wait (bounded) for the broker's answer.

    Raises :class:`DeadLetterUnavailable` unless the broker confirmed every one of them.
    """
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
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
    remaining = producer.flush(15)
    if remaining or failures:
        reason = failures[0] if failures else f"{remaining} message(s) not confirmed"
        raise DeadLetterUnavailable(f"dead-letter topic {dlq_topic}: {reason}")
