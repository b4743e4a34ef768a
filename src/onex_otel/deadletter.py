"""The headers of a dead-lettered Kafka message, for every onex-otel consumer (collector, bridge).

A message that cannot be processed goes to a dead-letter topic with its original key, value and
headers, plus ``onex.dlq.*`` headers naming where it came from and why (names in
:mod:`onex_otel.conventions`).
"""

from __future__ import annotations

from collections.abc import Iterable

from onex_otel import conventions as c

__all__ = ["MAX_ERROR_MESSAGE_BYTES", "dead_letter_headers"]

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
