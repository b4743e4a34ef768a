"""What is known about a timed action before it is called: its :class:`ActionSpec`.

Made once per decorated function (or per ``tool_call`` block): the span name, the attributes every
call carries, the parameter names read from the signature, and how a call's arguments are recorded
(secrets redacted, excluded parameters left out; a quick path for flat positional arguments).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from onex_otel import _payload
from onex_otel._fast_json import encode_str
from onex_otel.conventions import (
    ATTR_DECISION_CONTEXT,
    ATTR_DECISION_RESULT,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    ONEX_ACTION_NAME,
    ONEX_ACTION_TYPE,
    OP_DECISION,
    OP_EXECUTE_TOOL,
    REDACTED_MARKER,
    ActionType,
    decision_span_name,
    tool_span_name,
)

__all__ = ["ActionSpec"]

_TOOL_TYPE_FUNCTION = "function"


class ActionSpec:
    """Everything about a timed action that is known before it is called."""

    __slots__ = (
        "action_type",
        "args_key",
        "capture_args",
        "capture_result",
        "exclude",
        "is_tool",
        "json_keys",
        "name",
        "named",
        "positional",
        "redact",
        "result_key",
        "secret_cache",
        "skip",
        "span_name",
        "static",
        "var_positional",
    )

    def __init__(
        self,
        name: str,
        *,
        action_type: ActionType,
        capture_args: bool = True,
        capture_result: bool = True,
        redact: Iterable[str] = (),
        exclude: Iterable[str] = (),
        func: Callable[..., Any] | None = None,
        skip_first: bool = False,
    ) -> None:
        self.name = name
        self.action_type = action_type
        self.is_tool = action_type is ActionType.TOOL_CALL
        self.capture_args = capture_args
        self.capture_result = capture_result
        self.redact = frozenset(redact)
        self.exclude = frozenset(exclude)
        if action_type is ActionType.TOOL_CALL:
            self.span_name = tool_span_name(name)
            self.args_key, self.result_key = GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT
            self.static: dict[str, Any] = {
                GEN_AI_OPERATION_NAME: OP_EXECUTE_TOOL,
                GEN_AI_TOOL_NAME: name,
                GEN_AI_TOOL_TYPE: _TOOL_TYPE_FUNCTION,
                # No onex.action_type/action_name here: gen_ai.operation.name and gen_ai.tool.name
                # say the same, and every attribute costs on the hot path.
            }
        else:
            self.span_name = decision_span_name(name)
            self.args_key, self.result_key = ATTR_DECISION_CONTEXT, ATTR_DECISION_RESULT
            self.static = {
                GEN_AI_OPERATION_NAME: OP_DECISION,
                ONEX_ACTION_TYPE: action_type.value,
                ONEX_ACTION_NAME: name,
            }
        self.positional: tuple[str, ...] = ()
        self.var_positional: str | None = None
        self.skip = 0
        if func is not None:
            self._read_signature(func, skip_first)
        # the recorded positional parameters
        self.named: tuple[str, ...] = self.positional[self.skip :]
        # (policy, names among ``named`` whose values are redacted under it, quick path usable)
        self.secret_cache: tuple[_payload.Policy, tuple[str, ...], bool] | None = None
        # '{"a":', ',"b":', ...: the recorded parameters as the start of their JSON members
        named: tuple[str, ...] = self.named
        self.json_keys: tuple[str, ...] = tuple(
            ("," if i else "{") + str(encode_str(n)) + ":" for i, n in enumerate(named)
        )

    def _read_signature(self, func: Callable[..., Any], skip_first: bool) -> None:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            return
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.positional = tuple(p.name for p in params if p.kind in kinds)
        for p in params:
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                self.var_positional = p.name
        qualname = getattr(func, "__qualname__", "")
        in_class = (
            "." in qualname and not qualname.endswith(">") and qualname.rsplit(".", 2)[-2] != "<locals>"
        )
        if self.positional and (skip_first or (in_class and self.positional[0] in ("self", "cls"))):
            self.skip = 1

    def arguments_json(self, args: tuple[Any, ...], pol: _payload.Policy) -> str | None:
        """The JSON text of positional-only ``args`` when it is quick to make, else ``None``.

        Quick: every value a str, int, bool or None, no parameter redacted or excluded, nothing
        to cut. The text is exactly what ``_json_text(self.arguments(args, {}, pol), pol)`` gives
        for such arguments; any other call takes that way.
        """
        cache = self.secret_cache
        if cache is None or cache[0] is not pol:
            cache = self._secrets(pol)
        if not cache[2]:
            return None
        if self.skip:
            args = args[self.skip :]
        keys = self.json_keys
        if len(args) > len(keys):
            return None
        if not args:
            return "{}"
        # string concatenation and an index: cheaper than zip() and a list here
        budget = pol.max_bytes
        text = ""
        i = 0
        for value in args:
            kind = type(value)
            if kind is str:
                budget -= len(value)
                if budget < 0:
                    return None
                text += keys[i] + encode_str(value)
            elif kind is int:
                text += keys[i] + repr(value)  # an exact int: what int.__repr__ gives
            elif value is None:
                text += keys[i] + "null"
            elif kind is bool:
                text += keys[i] + ("true" if value else "false")
            else:
                return None
            i += 1  # noqa: SIM113 - enumerate() allocates; this is the hot path
        text += "}"
        return text if len(text) * 4 <= pol.max_bytes else None

    def _secrets(self, pol: _payload.Policy) -> tuple[_payload.Policy, tuple[str, ...], bool]:
        """(``pol``, the recorded parameters redacted under it, whether the quick path applies)."""
        secret = tuple(name for name in self.named if pol.is_secret(name))
        cache = self.secret_cache = (pol, secret, not (secret or self.exclude or self.redact))
        return cache

    def arguments(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], pol: _payload.Policy
    ) -> dict[str, Any]:
        """The call's arguments by parameter name, secrets redacted (defaults not filled in)."""
        if self.skip:
            args = args[self.skip :]
        names = self.named
        out = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            out[self.var_positional or "args"] = list(args[len(names) :])
        cache = self.secret_cache
        if cache is None or cache[0] is not pol:
            cache = self._secrets(pol)
        for key in cache[1]:
            if key in out:
                out[key] = REDACTED_MARKER
        if kwargs:
            for key, value in kwargs.items():
                out[key] = REDACTED_MARKER if pol.is_secret(key) else value
        if self.exclude or self.redact:
            for key in self.exclude:
                out.pop(key, None)
            for key in self.redact:
                if key in out:
                    out[key] = REDACTED_MARKER
        return out
