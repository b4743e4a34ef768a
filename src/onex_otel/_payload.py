"""Payload capture: any Python object to bounded, redacted JSON, without ever raising.

:func:`encode` turns a value into compact JSON text:

- any object encodes: dataclasses, pydantic models, mappings, sets, bytes, datetimes, UUIDs,
  enums, paths, exceptions; cycles become ``"<cycle>"``; an object whose ``__repr__`` raises becomes
  ``"<unrepresentable T>"``; non-finite floats become strings (JSON has no NaN);
- values under secret-looking keys (see ``ONEX_REDACT_KEYS``; case-insensitive substring match, any
  nesting depth) become ``"[REDACTED]"``;
- a result longer than ``ONEX_MAX_PAYLOAD_BYTES`` (UTF-8 bytes) is shrunk to fit and stays valid
  JSON: long strings are cut and end with ``...[truncated]``, long lists and mappings keep their
  first items plus a ``...[truncated]`` marker item; the original size is returned alongside so
  the caller records it as ``<key>.original_size``.

The policy (capture switch, size limit, redaction keys) comes from :mod:`onex_otel.config` and is
replaced by ``configure()``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from onex_otel.config import DEFAULT_REDACT_KEYS, MIN_PAYLOAD_BYTES, Settings, load_settings
from onex_otel.conventions import REDACTED_MARKER, TRUNCATION_MARKER

__all__ = ["Policy", "encode", "foreign_json", "foreign_text", "policy", "set_policy", "to_jsonable"]

_MAX_DEPTH = 24
_SCALARS = (str, int, bool, type(None))
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_encode_text = _encoder.encode
# The C encoder made once (JSONEncoder.encode builds one per call): no cycle check, no default,
# NaN rejected. Only for trees known to be acyclic; any failure falls back to the full path.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
c_encoder = _c_encoder = (
    _c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    if _c_make_encoder is not None
    else None
)


def _encode_fast(tree: Any) -> str:
    """Compact JSON of an acyclic tree of JSON types (the C encoder when available)."""
    if _c_encoder is None or isinstance(tree, str):
        return _encode_text(tree)
    return "".join(_c_encoder(tree, 0))


class Policy:
    """What is captured and how: capture switch, size limit, redaction key fragments."""

    __slots__ = ("_key_cache", "capture", "fragments", "max_bytes")

    def __init__(
        self,
        capture: bool = True,
        max_bytes: int = 8192,
        redact_keys: Iterable[str] = DEFAULT_REDACT_KEYS,
    ) -> None:
        self.capture = capture
        self.max_bytes = max(MIN_PAYLOAD_BYTES, int(max_bytes))
        self.fragments = tuple(sorted({k.strip().lower() for k in redact_keys if k.strip()}))
        self._key_cache: dict[str, bool] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy that ``settings`` describe."""
        return cls(settings.capture_content, settings.max_payload_bytes, settings.all_redact_keys)

    def is_secret(self, key: object) -> bool:
        """Whether values under ``key`` are redacted (case-insensitive substring match)."""
        text = key if isinstance(key, str) else str(key)
        hit = self._key_cache.get(text)
        if hit is None:
            lowered = text.lower()
            hit = any(f in lowered for f in self.fragments)
            if len(self._key_cache) < 4096:
                self._key_cache[text] = hit
        return hit


_policy: Policy | None = None


def policy() -> Policy:
    """The policy in force (read from the environment on first use)."""
    global _policy
    current = _policy
    if current is None:
        try:
            current = Policy.from_settings(load_settings())
        except Exception:  # a bad env value must not break the agent: defaults, and say so once
            from onex_otel._internal import internal_error

            current = Policy()
            _policy = current
            internal_error("payload.settings")
        _policy = current
    return current


def set_policy(new: Policy | None) -> None:
    """Replace the policy (``None``: re-read the environment on next use)."""
    global _policy
    _policy = new


# ------------------------------------------------------------------------------------------------
# Conversion to JSON-compatible values
# ------------------------------------------------------------------------------------------------
def _safe_repr(obj: object) -> str:
    try:
        return repr(obj)
    except Exception:
        try:
            name = type(obj).__qualname__
        except Exception:
            name = "object"
        return f"<unrepresentable {name}>"


def _float(value: float) -> Any:
    return value if math.isfinite(value) else str(value)


#: Conversion stops spending once its output passes this many times the size limit: what is
#: beyond can never be kept, so a 10 MB argument costs about what a value of that size does.
_BUDGET_FACTOR = 8
#: Characters kept of a string met after the budget is spent.
_STARVED_WIDTH = 16


class _Conversion:
    """One conversion's bounds and what it left out (an estimate of the bytes not converted)."""

    __slots__ = ("budget", "cut", "floor", "items", "pol", "seen", "width")

    def __init__(self, pol: Policy, items: int, bounded: bool) -> None:
        self.pol = pol
        self.items = items
        self.seen: set[int] = set()
        # ``bounded``: strings over the size limit are cut and the budget applies (a value that
        # large can never be kept whole); the plain conversion only limits the number of items.
        self.width = pol.max_bytes if bounded else -1
        self.budget = _BUDGET_FACTOR * pol.max_bytes if bounded else -1
        # Once spent, mappings still list their keys (values cut short) down to this floor.
        self.floor = -self.budget
        self.cut = 0

    def text(self, value: str) -> str:
        """``value``, cut when it can never fit (and counted, chars taken as bytes)."""
        width = self.width
        if width < 0:
            return value
        if self.budget <= 0:
            width = _STARVED_WIDTH
        if len(value) > width:
            self.cut += len(value) - width - len(TRUNCATION_MARKER)  # the marker is counted
            value = value[:width] + TRUNCATION_MARKER
        self.budget -= len(value) + 3
        return value


def to_jsonable(value: Any, pol: Policy | None = None, *, max_items: int | None = None) -> Any:
    """A JSON-compatible copy of ``value`` with secrets redacted; never raises."""
    pol = pol or policy()
    limit = max_items if max_items is not None else max(64, pol.max_bytes)
    return _to_tree(value, _Conversion(pol, limit, False))


def _to_tree(value: Any, conv: _Conversion) -> Any:
    try:
        return _convert(value, conv, 0)
    except Exception:  # pragma: no cover - _convert guards each step; last resort
        return _safe_repr(value)


def _convert(obj: Any, conv: _Conversion, depth: int) -> Any:
    kind = type(obj)
    if kind is str:
        return conv.text(obj) if conv.width >= 0 else obj
    if kind in _SCALARS:
        conv.budget -= 8
        return obj
    if kind is float:
        conv.budget -= 8
        return _float(obj)
    if depth >= _MAX_DEPTH:
        return "<max depth>"
    oid = id(obj)
    seen = conv.seen
    if oid in seen:
        return "<cycle>"
    seen.add(oid)
    try:
        return _convert_other(obj, conv, depth + 1)
    except Exception:
        return _safe_repr(obj)
    finally:
        seen.discard(oid)


def _convert_other(obj: Any, conv: _Conversion, depth: int) -> Any:
    if isinstance(obj, enum.Enum):
        return _convert(obj.value, conv, depth)
    if isinstance(obj, str):  # subclasses of the scalars
        return _convert(str(obj), conv, depth)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return _float(float(obj))
    return _convert_container(obj, conv, depth)


def _starved(conv: _Conversion, value: Any) -> bool:
    """Whether ``value`` is a container met after the budget is spent (then not converted)."""
    return conv.budget <= 0 <= conv.width and not isinstance(value, (str, int, float)) and value is not None


def _mapping(
    items: Iterable[tuple[Any, Any]], conv: _Conversion, depth: int, total: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pol = conv.pol
    before = conv.budget
    i = 0
    bounded = conv.width >= 0
    for i, (key, val) in enumerate(items):
        if i >= conv.items or (bounded and conv.budget <= conv.floor):
            out[TRUNCATION_MARKER] = "more items"
            break
        skey = (conv.text(key) if bounded else key) if type(key) is str else _key_text(key, conv, depth)
        if pol.is_secret(skey):
            out[skey] = REDACTED_MARKER
        elif _starved(conv, val):
            out[skey] = TRUNCATION_MARKER
            conv.budget -= len(TRUNCATION_MARKER) + 3
            conv.cut += 16
        else:
            out[skey] = _convert(val, conv, depth)
    else:
        return out
    _count_dropped(conv, before, len(out) - 1, total, i)
    return out


def _key_text(key: Any, conv: _Conversion, depth: int) -> str:
    converted = _convert(key, conv, depth)
    return converted if isinstance(converted, str) else _encode_text(converted)


def _sequence(items: Iterable[Any], conv: _Conversion, depth: int, total: int | None = None) -> list[Any]:
    out: list[Any] = []
    before = conv.budget
    bounded = conv.width >= 0
    i = 0
    for i, val in enumerate(items):
        if i >= conv.items or (bounded and conv.budget <= 0):
            out.append(TRUNCATION_MARKER)
            break
        out.append(_convert(val, conv, depth))
    else:
        return out
    _count_dropped(conv, before, len(out) - 1, total, i)
    return out


def _count_dropped(conv: _Conversion, before: int, kept: int, total: int | None, stopped_at: int) -> None:
    """Estimate the bytes of the items left out: their count times the kept items' mean size."""
    if total is None or total <= stopped_at or conv.width < 0:
        return
    mean = (before - conv.budget) / kept if kept > 0 else 8
    conv.cut += int(mean * (total - stopped_at))


def _size(obj: Any) -> int | None:
    try:
        return len(obj)
    except Exception:
        return None


def _convert_container(obj: Any, conv: _Conversion, depth: int) -> Any:
    if isinstance(obj, Mapping):
        return _mapping(obj.items(), conv, depth, _size(obj))
    if isinstance(obj, (list, tuple)):
        return _sequence(obj, conv, depth, len(obj))
    if isinstance(obj, (set, frozenset)):
        items = list(obj)
        if conv.width < 0 or len(items) <= conv.items:
            try:
                items.sort()
            except Exception:
                items.sort(key=_safe_repr)
        return _sequence(items, conv, depth, len(items))
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (uuid.UUID, Decimal, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        max_bytes = conv.pol.max_bytes
        raw = bytes(obj[:max_bytes])
        if conv.width >= 0 and len(obj) > max_bytes:
            conv.cut += len(obj) - max_bytes
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = "base64:" + base64.b64encode(raw).decode("ascii")
        return conv.text(text) if conv.width >= 0 else text
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {_safe_str(obj)}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        pairs = ((f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj))
        return _mapping(pairs, conv, depth)
    dump = getattr(obj, "model_dump", None)  # pydantic 2 models
    if callable(dump) and not isinstance(obj, type):
        try:
            dumped = dump(mode="json")
        except Exception:
            dumped = None
        if isinstance(dumped, Mapping):
            return _mapping(dumped.items(), conv, depth, len(dumped))
    return _safe_repr(obj)


def _safe_str(obj: object) -> str:
    try:
        return str(obj)
    except Exception:
        return _safe_repr(obj)


# ------------------------------------------------------------------------------------------------
# Encoding with a size bound
# ------------------------------------------------------------------------------------------------
def encode(value: Any, pol: Policy | None = None) -> tuple[str, int | None]:
    """Encode ``value`` as compact JSON within the size limit; never raises.

    Returns ``(text, original_size)``; ``original_size`` is the UTF-8 byte size of the complete
    encoding when ``text`` had to be truncated, else ``None``. The conversion stops spending once
    the value can no longer fit (a string over the limit is cut as it is met, containers stop
    after several times the limit): then ``original_size`` is an estimate, the converted part's
    size plus the characters and items left out (items at the kept ones' mean size).
    """
    pol = pol or policy()
    conv = _Conversion(pol, max(64, pol.max_bytes), True)
    try:
        tree = _to_tree(value, conv)
        text = _encode_text(tree)
    except Exception:
        text = _encode_text(_safe_repr(value)[: pol.max_bytes])
        tree = None
    if not conv.cut:
        return fit(text, tree, pol.max_bytes)
    size = len(text.encode("utf-8", "surrogatepass"))
    original = max(size + conv.cut, pol.max_bytes + 1)
    if size <= pol.max_bytes:  # what was left out made it too large; what is kept fits
        return text, original
    return _shrink(text, tree, pol.max_bytes), original


def encode_plain(tree: Any, pol: Policy) -> tuple[str, int | None]:
    """Encode an already JSON-compatible, already redacted value (fast path); never raises."""
    try:
        text = _encode_fast(tree)
    except Exception:
        return encode(tree, pol)
    return fit(text, tree, pol.max_bytes)


def foreign_json(value: Any, pol: Policy | None = None) -> tuple[str | None, int | None]:
    """Content another library recorded (tool arguments, results), under the content policy.

    The capture switch (``None`` when off), per-key redaction at any depth and the size bound
    apply exactly as to onex-otel's own spans. Returns ``(json text | None, original size)``.
    """
    pol = pol or policy()
    if not pol.capture:
        return None, None
    return encode(value, pol)


def foreign_text(text: str | None, pol: Policy | None = None, max_chars: int | None = None) -> str | None:
    """Free text another library recorded (a user request, an output summary), under the policy.

    ``None`` when capture is off; cut to ``max_chars`` and to the size bound otherwise.
    """
    pol = pol or policy()
    if text is None or not pol.capture:
        return None
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars] + TRUNCATION_MARKER
    return truncate_text(text, pol.max_bytes)[0]


def fit(text: str, tree: Any, max_bytes: int) -> tuple[str, int | None]:
    """``text`` if it fits in ``max_bytes``, else a shrunk valid JSON and the original size."""
    if len(text) * 4 <= max_bytes:
        return text, None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= max_bytes:
        return text, None
    return _shrink(text, tree, max_bytes), size


def truncate_text(text: str, max_bytes: int) -> tuple[str, int | None]:
    """Cut plain text to ``max_bytes`` UTF-8 bytes with the truncation marker; never raises."""
    if len(text) * 4 <= max_bytes:
        return text, None
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text, None
    keep = max(0, max_bytes - len(TRUNCATION_MARKER.encode()))
    return data[:keep].decode("utf-8", "ignore") + TRUNCATION_MARKER, len(data)


def _shrink(text: str, tree: Any, max_bytes: int) -> str:
    if tree is not None:
        width = max(16, max_bytes // 2)
        items = max(4, max_bytes // 16)
        for _ in range(12):
            try:
                candidate = _encode_text(_cut(tree, width, items, 0))
            except Exception:
                break
            if len(candidate.encode("utf-8", "surrogatepass")) <= max_bytes:
                return candidate
            width = max(8, width // 2)
            items = max(1, items // 2)
    # Last resort: the beginning of the JSON text, as one JSON string.
    budget = max_bytes - len(TRUNCATION_MARKER) - 2
    for _ in range(8):
        head = text.encode("utf-8", "surrogatepass")[: max(0, budget)].decode("utf-8", "ignore")
        candidate = _encode_text(head + TRUNCATION_MARKER)
        over = len(candidate.encode("utf-8", "surrogatepass")) - max_bytes
        if over <= 0:
            return candidate
        budget -= max(over, 1)
    return _encode_text(TRUNCATION_MARKER)


def _cut(tree: Any, width: int, items: int, depth: int) -> Any:
    if isinstance(tree, str):
        if len(tree) > width:
            return tree[:width] + TRUNCATION_MARKER
        return tree
    if depth > 6:
        return TRUNCATION_MARKER
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(tree.items()):
            if i >= items:
                out[TRUNCATION_MARKER] = f"{len(tree) - items} more"
                break
            key = k if len(k) <= width else k[:width] + TRUNCATION_MARKER
            out[key] = _cut(v, width, items, depth + 1)
        return out
    if isinstance(tree, list):
        head = [_cut(v, width, items, depth + 1) for v in tree[:items]]
        if len(tree) > items:
            head.append(f"{TRUNCATION_MARKER} {len(tree) - items} more")
        return head
    return tree
