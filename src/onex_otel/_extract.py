"""Reading the real values out of other instrumentations' attributes (pure helpers).

Used by the span processor (:mod:`onex_otel._frameworks`, which needs a run's user request while
the run is still going) and by the exporter's normalizer. The names they look for are the data
of :mod:`onex_otel.dialects`.
"""

from __future__ import annotations

import io
import json
import tokenize
from collections.abc import Mapping, Sequence
from typing import Any

from onex_otel import dialects as d
from onex_otel.conventions import OP_INVOKE_AGENT

__all__ = ["agent_name_from_span_name", "first_user_text", "first_user_text_of", "output_text", "unwrap"]


def agent_name_from_span_name(name: str) -> str:
    """An agent name from a span name (``invoke_agent x``, OpenLLMetry's ``x.workflow``)."""
    prefix = OP_INVOKE_AGENT + " "
    if name.startswith(prefix):
        return name[len(prefix) :]
    for suffix in d.TRACELOOP_NAME_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# ------------------------------------------------------------------------------------------------
# Unwrapping
# ------------------------------------------------------------------------------------------------
def _decode(value: Any) -> Any:
    """JSON text -> value (a text that is not JSON stays text); tuples -> lists."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[", '"'):
            try:
                return json.loads(text)
            except ValueError:
                return value
        return value
    if isinstance(value, tuple):
        return list(value)
    return value


def _literal(text: str) -> Any:
    """The value of a Python literal of JSON types (``{'city': 'Paris', 'n': None}``), else None.

    Reads tokens only (no ``ast``: besides never evaluating code, CPython 3.11's AST converter is
    not safe to run in an exporter thread while another thread parses).
    """
    if len(text) > 100_000:
        return None
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, value = tok.type, tok.string
            if kind == tokenize.STRING:
                if value[:1] not in _QUOTES or value[:3] in _TRIPLE_QUOTES:
                    return None
                body = value[1:-1]
                if "\\" in body:
                    body = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
                out.append(json.dumps(body))
            elif kind == tokenize.NAME and value in _PY_NAMES:
                out.append(_PY_NAMES[value])
            elif kind == tokenize.NUMBER or (kind == tokenize.OP and value in _PY_OPS):
                out.append(_PY_OPS.get(value, value))
            elif kind not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
                return None
        return json.loads("".join(out))
    except (tokenize.TokenError, IndentationError, ValueError, UnicodeError):
        return None


_QUOTES = ("'", '"')
_TRIPLE_QUOTES = ("'" * 3, '"' * 3)
_PY_NAMES = {"True": "true", "False": "false", "None": "null"}
_PY_OPS = {"{": "{", "}": "}", "[": "[", "]": "]", "(": "[", ")": "]", ":": ":", ",": ",", "-": "-"}


def _message_fields(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The fields of a serialized message (LangChain ``lc`` form or OpenInference dump)."""
    if value.get("lc") == 1 and isinstance(value.get("kwargs"), Mapping):
        kwargs: Mapping[str, Any] = value["kwargs"]
        return kwargs
    data = value.get("data")
    if isinstance(data, Mapping) and isinstance(value.get("type"), str) and d.MESSAGE_CONTENT_KEY in data:
        return data
    return None


def unwrap(value: Any, *, arguments: bool = False) -> tuple[Any, str | None]:
    """The real value inside an instrumentation's wrapper, and a tool call id found on the way.

    Unwraps OpenLLMetry's entity wrapper (``{"inputs"|"output": x, "kwargs": {...}}``),
    serialized LangChain / OpenInference messages (their content), and JSON text. With
    ``arguments``, a Python repr of a mapping (OpenLLMetry's ``input_str``) is read as a literal
    and anything that is not a mapping becomes ``{"input": value}``: arguments are a JSON object.
    """
    call_id: str | None = None
    current = _decode(value)
    for _ in range(6):
        if isinstance(current, Mapping):
            kwargs = current.get("kwargs")
            if isinstance(kwargs, Mapping) and call_id is None:
                found = kwargs.get(d.MESSAGE_TOOL_CALL_ID_KEY)
                if isinstance(found, str) and found:
                    call_id = found
            message = _message_fields(current)
            if message is not None:
                found = message.get(d.MESSAGE_TOOL_CALL_ID_KEY)
                if isinstance(found, str) and found and call_id is None:
                    call_id = found
                current = _decode(message.get(d.MESSAGE_CONTENT_KEY))
                continue
            if d.WRAPPER_MARKER_KEYS.intersection(current):
                inner = next((k for k in d.WRAPPER_VALUE_KEYS if k in current), None)
                if inner is not None:
                    current = _decode(current[inner])
                    continue
                text = current.get("input_str")
                if isinstance(text, str):
                    current = _decode(text)
                    if isinstance(current, str):
                        current = _literal(text) if arguments else current
                    continue
        break
    if arguments and current is not None and not isinstance(current, Mapping):
        if isinstance(current, str):
            literal = _literal(current)
            if isinstance(literal, Mapping):
                return dict(literal), call_id
        current = {"input": current}
    return current, call_id


# ------------------------------------------------------------------------------------------------
# The run's input and output as text
# ------------------------------------------------------------------------------------------------
def first_user_text_of(attrs: Mapping[str, Any]) -> str | None:
    """The first user message of the run's input found in ``attrs`` (any dialect)."""
    for key in d.INPUT_KEYS:
        value = attrs.get(key)
        if value is not None:
            text = first_user_text(value)
            if text:
                return text
    return _flattened_user_text(attrs)


def _flattened_user_text(attrs: Mapping[str, Any]) -> str | None:
    prefix = d.OI_INPUT_MESSAGES_PREFIX
    if prefix + "0" + d.OI_MESSAGE_ROLE_SUFFIX not in attrs:
        return None
    for i in range(1000):
        role = attrs.get(f"{prefix}{i}{d.OI_MESSAGE_ROLE_SUFFIX}")
        if role is None:
            return None
        if str(role).lower() in d.USER_ROLES:
            content = attrs.get(f"{prefix}{i}{d.OI_MESSAGE_CONTENT_SUFFIX}")
            return None if content is None else str(content)
    return None


def _parts_text(parts: Any) -> str | None:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, Sequence):
        texts = [
            str(p.get("content") or p.get("text") or "")
            for p in parts
            if isinstance(p, Mapping) and p.get("type") in ("text", "output_text", None)
        ]
        joined = "".join(texts)
        return joined or None
    return None


def _role(message: Mapping[str, Any]) -> str | None:
    role = message.get("role") or message.get("type")
    if role is None:
        ident = message.get("id")
        if isinstance(ident, list) and ident:
            role = str(ident[-1]).removesuffix("Message").lower()
    return None if role is None else str(role).lower()


def first_user_text(value: Any, depth: int = 0) -> str | None:
    """The text of the first user message in ``value`` (a text, a message list, an input dict)."""
    if depth > 8:
        return None
    value = _decode(value)
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        message = _message_fields(value)
        if message is not None:
            if _role(value) in d.USER_ROLES or _role(message) in d.USER_ROLES:
                return _parts_text(message.get(d.MESSAGE_CONTENT_KEY))
            return None
        if "role" in value:
            if _role(value) in d.USER_ROLES:
                return _parts_text(value.get("parts") or value.get("content"))
            return None
        for key in (*d.WRAPPER_VALUE_KEYS, *d.REQUEST_KEYS):
            if key in value:
                found = first_user_text(value[key], depth + 1)
                if found:
                    return found
        return None
    if isinstance(value, Sequence):
        for item in value:
            found = first_user_text(item, depth + 1)
            if found:
                return found
    return None


def output_text(value: Any, depth: int = 0) -> str | None:
    """The run's output as text: the last assistant text, the ``output`` of a result..."""
    if value is None or depth > 8:
        return None
    value = _decode(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        message = _message_fields(value)
        if message is not None:
            return _parts_text(message.get(d.MESSAGE_CONTENT_KEY))
        if "role" in value:
            return _parts_text(value.get("parts") or value.get("content"))
        for key in (*d.WRAPPER_VALUE_KEYS, "final_output", "content", "result"):
            if key in value:
                return output_text(value[key], depth + 1)
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, Sequence):
        for item in reversed(value):
            if isinstance(item, Mapping) and _role(item) not in (None, *d.ASSISTANT_ROLES):
                continue
            found = output_text(item, depth + 1)
            if found:
                return found
        return None
    return str(value)
