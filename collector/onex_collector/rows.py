r"""Kafka message -> table rows: the collector's mapping, by the names code imports it by.

Each step lives in a module of its own; the names are gathered here so that callers (and code
written before the split) import them from one place:

- :mod:`onex_collector.decode`: :func:`decode_message` (topic + value -> :class:`Decoded`);
- :mod:`onex_collector.tables`: the tables' columns, :class:`Row`, :class:`Decoded`;
- :mod:`onex_collector.row_builders`: a validated payload -> its row, per event type;
- :mod:`onex_collector.legacy_records`: legacy flat records (no envelope) -> rows;
- :mod:`onex_collector.poison`: :class:`PoisonMessage` and why a message can never be written.
"""

from __future__ import annotations

from onex_collector.decode import decode_message, default_topic_types, replace_nul
from onex_collector.legacy_records import LEGACY_EXECUTION_TOPIC_KIND, legacy_event_id
from onex_collector.poison import InvalidEvent, NotJson, PoisonMessage
from onex_collector.row_builders import rows_for_envelope, rows_for_payload
from onex_collector.tables import JSON_COLUMNS, TABLE_COLUMNS, Decoded, Fields, Row

#: The name :func:`rows_for_payload` had before the split (tests import it).
_rows = rows_for_payload

__all__ = [
    "JSON_COLUMNS",
    "LEGACY_EXECUTION_TOPIC_KIND",
    "TABLE_COLUMNS",
    "Decoded",
    "Fields",
    "InvalidEvent",
    "NotJson",
    "PoisonMessage",
    "Row",
    "decode_message",
    "default_topic_types",
    "legacy_event_id",
    "replace_nul",
    "rows_for_envelope",
    "rows_for_payload",
]
