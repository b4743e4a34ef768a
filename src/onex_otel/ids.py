"""Identifiers: correlation ids (= trace ids) and time-ordered event ids (UUID v7).

A correlation id is a UUID and the trace id of every span of its execution is that UUID's
128-bit value, so ``format(trace_id, "032x") == correlation_id.hex``. Correlation ids that are not
UUIDs (legacy strings such as ``"abc-123-def-456"``) map deterministically to
``uuid5(CORRELATION_ID_NAMESPACE, text)``; the original text is kept on the span as
``onex.correlation_id.original``, cut to ``ONEX_MAX_PAYLOAD_BYTES`` like any captured text (the
UUID is made from the whole text).
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

from onex_otel.conventions import CORRELATION_ID_NAMESPACE

__all__ = [
    "UUID7_RAND_BITS",
    "UUID7_VERSION_BITS",
    "canonical_uuid",
    "correlation_uuid",
    "is_uuid",
    "new_correlation_id",
    "trace_id_to_uuid",
    "uuid7",
    "uuid7_low_bits",
    "uuid7_low_text",
    "uuid7_text",
    "uuid7_value",
    "uuid_text",
]


def correlation_uuid(value: str | uuid.UUID | None) -> tuple[uuid.UUID, str | None]:
    """Map a correlation id to its UUID; never raises.

    Returns ``(uuid, original)`` where ``original`` is the caller's text when it was not a UUID
    (and so was mapped with uuid5 under :data:`~onex_otel.conventions.CORRELATION_ID_NAMESPACE`),
    else ``None``; a text over ``ONEX_MAX_PAYLOAD_BYTES`` is kept cut, with the truncation marker
    (the UUID is made from the whole text). ``None`` or an empty string yields a new random UUID.
    The nil UUID is not a valid trace id, so it is mapped like a legacy string.
    """
    if value is None:
        return new_correlation_id(), None
    if isinstance(value, uuid.UUID):
        parsed: uuid.UUID | None = value
        text = str(value)
    else:
        text = str(value)
        if not text.strip():
            return new_correlation_id(), None
        try:
            parsed = uuid.UUID(text.strip())
        except ValueError:
            parsed = None
    if parsed is None or parsed.int == 0:
        return uuid.uuid5(CORRELATION_ID_NAMESPACE, text), _bounded(text)
    return parsed, None


def _bounded(text: str) -> str:
    from onex_otel.config import ALWAYS_FITS_CHARS

    if len(text) <= ALWAYS_FITS_CHARS:  # the usual short legacy id: no need to load the policy
        return text
    from onex_otel import _payload

    return _payload.truncate_text(text, _payload.policy().max_bytes)[0]


def new_correlation_id() -> uuid.UUID:
    """A fresh random correlation id (UUID v4, never the nil UUID)."""
    return uuid.uuid4()


def trace_id_to_uuid(trace_id: int) -> uuid.UUID:
    """The correlation id whose trace id is ``trace_id``."""
    return uuid.UUID(int=trace_id)


def uuid_text(value: int) -> str:
    """``str(uuid.UUID(int=value))``, several times faster (the hex of the value's bytes, cut)."""
    try:
        h = value.to_bytes(16, "big").hex()
    except OverflowError:
        raise ValueError("int is out of range (need a 128-bit value)") from None
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_uuid7_lock = threading.Lock()
_uuid7_last_ms = 0
_uuid7_counter = 0


def uuid7() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): 48-bit Unix ms timestamp, then random bits.

    Monotonic within a process: ids made in the same millisecond carry an increasing 12-bit
    counter in ``rand_a`` (RFC 9562 method 1), so sorting event ids sorts them by creation.
    """
    global _uuid7_last_ms, _uuid7_counter
    rand = int.from_bytes(os.urandom(10), "big")
    with _uuid7_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _uuid7_last_ms:
            _uuid7_counter += 1
            if _uuid7_counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _uuid7_last_ms += 1
                _uuid7_counter = 0
            ms = _uuid7_last_ms
        else:
            _uuid7_last_ms = ms
            _uuid7_counter = rand >> 68 & 0x7FF  # random start, headroom for increments
        counter = _uuid7_counter
    return uuid.UUID(int=uuid7_value(ms, counter, rand))


def uuid7_value(ms: int, rand_a: int, rand_b: int) -> int:
    """The 128-bit value of a UUID v7 (RFC 9562): the one layout of every v7 id of the project.

    48 bits of Unix milliseconds ``ms``, the version 7, 12 bits of ``rand_a``, the variant
    ``10``, 62 bits of ``rand_b`` (higher bits of both are ignored).
    """
    return (
        ((ms & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)
        | ((rand_a & 0xFFF) << 64)
        | (0b10 << 62)
        | (rand_b & 0x3FFF_FFFF_FFFF_FFFF)
    )


#: (Unix ms, the text of its 48 bits as the id's first two groups) of the last id made: the
#: events of a span share their few times
_uuid7_text_time: tuple[int | None, str] = (None, "")


#: the bits of ``rand`` a v7 id keeps where they are: ``rand_a`` (bits 64..75), ``rand_b`` (0..61)
UUID7_RAND_BITS = (0xFFF << 64) | 0x3FFF_FFFF_FFFF_FFFF
#: the version (7) and variant (``10``) bits of the low 80 bits of a v7 id
UUID7_VERSION_BITS = (0x7 << 76) | (0b10 << 62)


def uuid7_text(ts_ns: int, rand: int) -> str:
    """The canonical text of the UUID v7 of time ``ts_ns`` (ns) and 74 bits of ``rand``.

    ``rand_a`` is bits 64..75 of ``rand``, ``rand_b`` its low 62 bits: deterministic ids
    (the exporter's event ids) put a hash there. The text of :func:`uuid7_value`'s layout.
    Faster than ``str(uuid.UUID(...))``.
    """
    return uuid7_low_text(ts_ns, uuid7_low_bits(rand))


def uuid7_low_bits(rand: int) -> int:
    """The low 80 bits of the UUID v7 of ``rand`` (see :func:`uuid7_text`): version, rand, variant.

    The XOR of such a value with ``x & UUID7_RAND_BITS`` is the low bits of ``rand ^ x``: what
    lets the exporter make a span's event ids with one operation each.
    """
    return (rand & UUID7_RAND_BITS) | UUID7_VERSION_BITS


def uuid7_low_text(ts_ns: int, low: int) -> str:
    """The canonical text of the UUID v7 of time ``ts_ns`` (ns) and low 80 bits ``low``.

    ``low`` as :func:`uuid7_low_bits` makes it. Written from the bytes of the fields, with no
    128-bit value: the time's groups are kept from the last call, the rest is one ``hex`` of 10
    bytes (``7aaavbbb-bbbbbbbbbbbb``) and the one hyphen it lacks.
    """
    global _uuid7_text_time
    ms = ts_ns // 1_000_000
    last, time_text = _uuid7_text_time
    if ms != last:
        time_text = (ms & 0xFFFF_FFFF_FFFF).to_bytes(6, "big").hex("-", -4) + "-"
        _uuid7_text_time = (ms, time_text)
    rest = low.to_bytes(10, "big").hex("-", 6)
    return f"{time_text}{rest[:4]}-{rest[4:]}"


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: canonical texts seen lately (the spans of one execution repeat their ids): no regex for them
_canonical_seen: set[str] = set()
_CANONICAL_SEEN_MAX = 4096


def canonical_uuid(value: object) -> str | None:
    """``value`` as a canonical UUID text (lower case, with hyphens); ``None`` if it is not a UUID.

    The one UUID check: accepts a :class:`uuid.UUID` and any text :class:`uuid.UUID` parses (upper
    case, braces, ``urn:uuid:``, no hyphens); a canonical text is returned as it is, unparsed.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value in _canonical_seen:
            return value
        if _CANONICAL_UUID.fullmatch(value):  # the usual case: no parsing
            if len(_canonical_seen) >= _CANONICAL_SEEN_MAX:
                _canonical_seen.clear()
            _canonical_seen.add(value)
            return value
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID or a text that parses as one (see :func:`canonical_uuid`)."""
    return canonical_uuid(value) is not None
