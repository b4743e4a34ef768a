"""One Kafka message (OnexEnvelopeV1 or legacy flat record) -> a :class:`Decoded` event.

No I/O here. :func:`decode_message` turns a message's topic and value into a :class:`Decoded`
event with its rows, or raises :class:`PoisonMessage` (``NotJson`` / ``InvalidEvent``) saying why
the message can never be written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from pydantic import ValidationError

from onex_collector.fastpath import validate_typed
from onex_collector.legacy_records import LEGACY_EXECUTION_TOPIC_KIND, legacy_rows
from onex_collector.poison import InvalidEvent, NotJson, short
from onex_collector.row_builders import rows_for_envelope, rows_for_typed
from onex_collector.tables import Decoded
from onex_otel import conventions as c
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1

__all__ = ["decode_message", "default_topic_types", "replace_nul"]

_ENVELOPE_KEYS: Final = frozenset({"event_type", "payload", "schema_ref"})


def default_topic_types(prefix: str = "") -> dict[str, EventType | str]:
    """Topic -> event type of legacy flat records read from it (every topic the collector reads).

    The event topics of DESIGN.md (with ``prefix``) plus the legacy names ``agent-actions``,
    ``agent-routing-decisions`` and ``agent-execution-logs`` (whose records are lifecycle events
    of any kind: :data:`LEGACY_EXECUTION_TOPIC_KIND`).
    """
    topics: dict[str, EventType | str] = {
        f"{prefix}{topic}": event_type for event_type, topic in c.DEFAULT_TOPICS.items()
    }
    topics[c.LEGACY_TOPIC_AGENT_ACTIONS] = EventType.AGENT_ACTION
    topics[c.LEGACY_TOPIC_ROUTING_DECISIONS] = EventType.ROUTING_DECISION
    topics[c.LEGACY_TOPIC_EXECUTION_LOGS] = LEGACY_EXECUTION_TOPIC_KIND
    return topics


#: A JSON-escaped NUL character (``\u0000``) not itself preceded by an escaping backslash.
_ESCAPED_NUL: Final = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def replace_nul(value: bytes) -> bytes:
    """Replace JSON-escaped NUL characters with U+FFFD.

    PostgreSQL ``text`` and ``jsonb`` cannot hold NUL, so an otherwise valid event carrying one
    (an agent's tool output, say) would be rejected by the database; it is stored with U+FFFD in
    its place instead. Raw NUL bytes cannot occur in valid JSON, so only the escaped form matters.
    """
    if b"\\u0000" not in value:
        return value
    return _ESCAPED_NUL.sub(rb"\1\\ufffd", value)


def decode_message(
    topic: str, value: bytes | None, topic_types: Mapping[str, EventType | str] | None = None
) -> Decoded:
    """Decode one message value read from ``topic``; raise :class:`PoisonMessage` if impossible."""
    if value is None:
        raise NotJson("the message has no value (a tombstone)")
    if b"\\" in value and b"\\u0000" in value:  # (most messages have no backslash: memchr)
        value = replace_nul(value)
    # Fast path: an envelope's event type's model validates it in one pass (see
    # onex_collector.fastpath); otherwise OnexEnvelopeV1 decides and words the error.
    env = validate_typed(value)
    if env is not None:
        return rows_for_typed(env)
    if b'"schema_ref"' in value:
        try:
            return rows_for_envelope(OnexEnvelopeV1.model_validate_json(value))
        except (ValidationError, ValueError, KeyError):
            pass  # fall through: report it as not JSON / invalid below
    try:
        obj = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotJson(f"the message value is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise NotJson(f"the message value is JSON {type(obj).__name__}, not an object")
    if obj.keys() >= _ENVELOPE_KEYS:
        try:
            envelope = OnexEnvelopeV1.model_validate(obj)
        except (ValidationError, ValueError, KeyError) as exc:
            raise InvalidEvent(f"invalid OnexEnvelopeV1: {short(exc)}") from None
        return rows_for_envelope(envelope)
    kinds = topic_types if topic_types is not None else default_topic_types()
    kind = kinds.get(topic)
    if kind is None:
        raise InvalidEvent(f"a flat record on topic {topic!r}, which carries no legacy records")
    return legacy_rows(kind, obj)
