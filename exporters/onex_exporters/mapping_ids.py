"""Event ids: deterministic UUID v7 from the span and what the event is, or name-based.

Event ids are UUID v7 (:func:`onex_otel.ids.uuid7_text`) whose time is the event time and whose
random bits are a hash of the span's trace and span ids and of what the event is, so mapping the
same span twice yields the same event ids.
"""

from __future__ import annotations

import hashlib
import uuid

from onex_otel.conventions import (
    CORRELATION_ID_NAMESPACE,
)
from onex_otel.ids import UUID7_RAND_BITS, uuid7_text


def _hash80(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=10).digest(), "big")


_tag_cache: dict[tuple[object, ...], int] = {}
_MASK80 = (1 << 80) - 1


def _tag_hash(what: tuple[object, ...]) -> int:
    """The hash of what an event is, as the bits a v7 id keeps (see ``_SpanFacts.event_id``)."""
    value = _tag_cache.get(what)
    if value is None:
        if len(_tag_cache) > 4096:
            _tag_cache.clear()
        value = _tag_cache[what] = _hash80("|".join(map(str, what))) & UUID7_RAND_BITS
    return value


def derive_event_id(ts_ns: int, *parts: object) -> str:
    """A UUID v7 whose time is ``ts_ns`` and whose random bits are a hash of ``parts``.

    Deterministic: the same span mapped twice yields the same event ids (idempotent delivery).
    """
    return uuid7_text(ts_ns, _hash80("|".join(map(str, parts))))


def seeded_event_id(seed: str, *what: object) -> str:
    """A name-based event id (uuid5 of ``seed`` and ``what``) for facts reported by two paths.

    Used for spans that carry ``onex.event_id.seed``: the same seed gives the same ids whatever
    clock each path saw (see :data:`~onex_otel.conventions.ONEX_EVENT_ID_SEED`).
    """
    return str(uuid.uuid5(CORRELATION_ID_NAMESPACE, "|".join((seed, *map(str, what)))))
