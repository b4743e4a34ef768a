"""Bounded JSON text of a traced call's arguments and result, fast for the common values.

Scalars and flat mappings of scalars are converted here directly (the C encoder where available);
anything else, and anything that may need redacting or cutting, goes through
:func:`onex_otel._payload.encode`, which bounds values while it converts them. The text is always
what :func:`~onex_otel._payload.encode` would give.
"""

from __future__ import annotations

import json
import math
from typing import Any

from onex_otel import _payload
from onex_otel.conventions import ORIGINAL_SIZE_SUFFIX

__all__ = ["encode_str", "json_text", "set_json"]

_FLAT = frozenset({str, int, bool, type(None)})
#: JSON text of a str (the C version when available).
encode_str = json.encoder.encode_basestring
_c_encoder = _payload.c_encoder


def json_text(value: Any, pol: _payload.Policy, redacted: bool = False) -> tuple[str, int | None]:
    """``value`` as bounded, redacted JSON and its original size when it had to be cut.

    ``redacted``: the top-level keys of a mapping were already checked for secrets.
    """
    kind = type(value)
    if kind is dict:
        if _c_encoder is not None:
            # Strings longer in all than the limit never fit: bounded while converted instead.
            chars = pol.max_bytes
            for key, item in value.items():
                item_kind = type(item)
                if item_kind is str:
                    chars -= len(item)
                    if chars < 0:
                        break
                elif item_kind not in _FLAT:
                    break
                if not redacted and pol.is_secret(key):
                    break
            else:
                try:
                    text = "".join(_c_encoder(value, 0))
                except Exception:
                    return _payload.encode(value, pol)
                if len(text) * 4 <= pol.max_bytes:
                    return text, None
                return _payload.fit(text, value, pol.max_bytes)
    elif kind is str:
        if len(value) * 6 + 2 <= pol.max_bytes:  # fits even if every character is escaped
            return encode_str(value), None
    elif kind is int:
        text = repr(value)  # an exact int or float: repr() is what the JSON encoder writes
        if len(text) <= pol.max_bytes:
            return text, None
    elif kind is float:
        if math.isfinite(value):
            return repr(value), None
    elif value is None:
        return "null", None
    elif kind is bool:
        return ("true" if value else "false"), None
    return _payload.encode(value, pol)


def set_json(
    attrs: dict[str, Any], key: str, value: Any, pol: _payload.Policy, redacted: bool = False
) -> None:
    """Put ``value`` as JSON under ``key`` (and its original size when it had to be cut)."""
    text, original = json_text(value, pol, redacted)
    attrs[key] = text
    if original is not None:
        attrs[key + ORIGINAL_SIZE_SUFFIX] = original
