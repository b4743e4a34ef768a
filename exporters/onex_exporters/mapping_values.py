"""Values of span attributes as the events hold them: JSON decoded, numbers in range, UUIDs."""

from __future__ import annotations

from typing import Any

from onex_exporters.mapping import MappingError, _json_loads
from onex_otel.conventions import (
    ActionType,
    EventType,
    ExecutionStatus,
)

_VALUES: dict[Any, str] = {m: str(m.value) for e in (EventType, ActionType) for m in e}

# The enum members the mapping names, bound once: on Python 3.11 ``EventType.X`` (the enum
# class's ``__getattr__``) and ``member.value`` are Python calls, about 1,000 instructions each.
AGENT_ACTION = EventType.AGENT_ACTION
EXECUTION_STARTED = EventType.EXECUTION_STARTED
EXECUTION_PROGRESS = EventType.EXECUTION_PROGRESS
EXECUTION_COMPLETED = EventType.EXECUTION_COMPLETED
EXECUTION_FAILED = EventType.EXECUTION_FAILED
ROUTING_DECISION = EventType.ROUTING_DECISION
ROUTER_PERFORMANCE = EventType.ROUTER_PERFORMANCE
TRANSFORMATION = EventType.TRANSFORMATION
DETECTION_FAILURE = EventType.DETECTION_FAILURE
TOOL_CALL = ActionType.TOOL_CALL
DECISION = ActionType.DECISION
SUCCESS = ActionType.SUCCESS
ERROR = ActionType.ERROR
STATUS_SUCCESS = ExecutionStatus.SUCCESS
STATUS_FAILED = ExecutionStatus.FAILED
STATUS_CANCELLED = ExecutionStatus.CANCELLED
#: the statuses an execution can end with (a tuple: compared with ``==``, as a text is)
END_STATUSES = (STATUS_SUCCESS, STATUS_FAILED, STATUS_CANCELLED)
#: the text of the status of a successful execution
STATUS_SUCCESS_TEXT = STATUS_SUCCESS.value


def _loads(value: Any) -> Any:
    """Decode a JSON-encoded attribute; a value that is not JSON is kept as it is."""
    if isinstance(value, str):
        try:
            return _json_loads(value)
        except ValueError:
            return value
    if isinstance(value, tuple):
        return list(value)
    return value


def _object(value: Any) -> dict[str, Any]:
    """A JSON attribute that must be an object; anything else is wrapped as ``{"value": x}``."""
    if value is None:
        return {}
    decoded = _loads(value)
    if isinstance(decoded, dict):
        return decoded
    return {"value": decoded}


def _array(value: Any) -> list[Any]:
    if value is None:
        return []
    decoded = _loads(value)
    if isinstance(decoded, list):
        return decoded
    return [decoded]


def _text(value: Any) -> str | None:
    # a text (the usual case first, without a call); one in JSON quotes is decoded
    if type(value) is str or (value is not None and isinstance(value, str)):
        if value[:1] == '"':
            decoded = _loads(value)
            if isinstance(decoded, str):
                return decoded
        return value
    if value is None:
        return None
    return str(value)


def _number(
    value: Any,
    what: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    if value is None:
        return None
    try:
        number: float | int = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise MappingError(f"{what}={value!r} is not a number") from None
    if number != number:  # NaN
        raise MappingError(f"{what} is NaN")
    if lo is not None and number < lo:
        raise MappingError(f"{what}={number} is below {lo}")
    if hi is not None and (number >= hi if hi_open else number > hi):
        raise MappingError(f"{what}={number} is above the allowed maximum {hi}")
    return number


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _required(value: Any, what: str) -> str:
    text = _text(value)
    if not text:
        raise MappingError(f"{what} is missing")
    return text


def _ms(start_ns: int | None, end_ns: int | None) -> int | None:
    if start_ns is None or end_ns is None:
        return None
    return max(0, (end_ns - start_ns) // 1_000_000)
