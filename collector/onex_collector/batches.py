"""A batch of Kafka messages: decoded on the loop's thread, then in flight until committed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Span

from onex_collector.dead_letters import Poison
from onex_collector.decode import decode_message
from onex_collector.poison import PoisonMessage
from onex_collector.tables import Decoded
from onex_collector.write_outcomes import PendingWrite
from onex_otel.conventions import EventType

__all__ = ["DecodedBatch", "Inflight", "decode_batch"]


@dataclass
class DecodedBatch:
    """The messages of a batch, decoded: events, poison messages, highest offsets."""

    events: list[Decoded]  # in consumption order
    sources: list[Any]  # the message of each event (two lists: no pair built per message)
    poison: list[Poison]
    offsets: dict[tuple[str, int], int]  # (topic, partition): the batch's highest offset there


def decode_batch(messages: Sequence[Any], topic_types: Mapping[str, EventType | str]) -> DecodedBatch:
    """Decode ``messages``; a message that can never be written is poison (not an error)."""
    events: list[Decoded] = []
    sources: list[Any] = []
    poison: list[Poison] = []
    offsets: dict[tuple[str, int], int] = {}
    for msg in messages:
        topic = msg.topic()
        try:
            events.append(decode_message(topic, msg.value(), topic_types))
            sources.append(msg)
        except PoisonMessage as exc:
            poison.append((msg, type(exc).__name__, str(exc), exc.stage))
        key, offset = (topic, msg.partition()), msg.offset()
        if offsets.get(key, -1) < offset:
            offsets[key] = offset
    return DecodedBatch(events, sources, poison, offsets)


@dataclass
class Inflight:
    """A batch handed to the writer, not yet committed."""

    messages: list[Any]
    offsets: dict[tuple[str, int], int]  # (topic, partition): the batch's highest offset there
    events: list[Decoded]  # in consumption order
    sources: list[Any]  # the message of each event
    poison: list[Poison]
    pending: PendingWrite
    span: Span
    ctx: Context
    started: float
