"""Poison messages to the dead-letter topic, with their original key, value and headers.

Each goes with ``onex.dlq.*`` headers naming the original topic, partition, offset, error class,
message and stage (:func:`onex_otel.deadletter.dead_letter_headers`).
"""

from __future__ import annotations

import logging
from typing import Any

from onex_otel.deadletter import Poison
from onex_otel.deadletter import send_dead_letters as send_and_confirm
from onex_otel.errors import OnexError

__all__ = ["DeadLetterUnavailable", "Poison", "send_dead_letters"]

log = logging.getLogger("onex_collector")

#: How long the broker has to confirm the dead letters of one batch.
_CONFIRM_S = 15.0


class DeadLetterUnavailable(OnexError):
    """The dead-letter topic could not confirm a message; the batch is retried, not committed."""


def send_dead_letters(producer: Any, dlq_topic: str, poison: list[Poison]) -> None:
    """Produce every poison message to ``dlq_topic`` and wait (bounded) for the broker's answer.

    Raises :class:`DeadLetterUnavailable` unless the broker confirmed every one of them.
    """
    problem = send_and_confirm(producer, dlq_topic, poison, _CONFIRM_S, log)
    if problem is not None:
        raise DeadLetterUnavailable(problem)
