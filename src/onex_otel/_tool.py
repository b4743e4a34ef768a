"""The old home of tool calls and timed decisions, kept so its import paths keep working.

The code lives in modules named for their jobs: :mod:`onex_otel._fast_json` (the arguments' and
results' JSON), :mod:`onex_otel._call_id` (tool call ids), :mod:`onex_otel._action_spec` (what is
known before a call), :mod:`onex_otel._invocation` (the invocation model),
:mod:`onex_otel._decorators` (``@traced_tool_call``, ``@traced_decision``) and
:mod:`onex_otel._tool_call` (``tool_call()``).
"""

from __future__ import annotations

from onex_otel._action_spec import ActionSpec
from onex_otel._call_id import new_call_id
from onex_otel._decorators import traced_decision, traced_tool_call
from onex_otel._fast_json import json_text as _json_text
from onex_otel._fast_json import set_json as _set_json
from onex_otel._invocation import ActionInvocation
from onex_otel._tool_call import ToolCall, tool_call

__all__ = [
    "ActionInvocation",
    "ActionSpec",
    "ToolCall",
    "_json_text",
    "_set_json",
    "new_call_id",
    "tool_call",
    "traced_decision",
    "traced_tool_call",
]
