"""The events of an execution span: started, completed or failed, progress (with their actions)."""

from __future__ import annotations

from typing import Any

from onex_exporters.mapping_span import (
    _Builder,
    _exception_event,
    _execution_id,
    _started_id,
)
from onex_exporters.mapping_values import (
    DECISION,
    END_STATUSES,
    ERROR,
    EXECUTION_COMPLETED,
    EXECUTION_FAILED,
    EXECUTION_PROGRESS,
    EXECUTION_STARTED,
    STATUS_FAILED,
    STATUS_SUCCESS,
    STATUS_SUCCESS_TEXT,
    SUCCESS,
    _loads,
    _ms,
    _number,
    _object,
    _required,
    _text,
)
from onex_otel.conventions import (
    ACTION_EXECUTION_COMPLETED,
    ACTION_EXECUTION_FAILED,
    ACTION_EXECUTION_STARTED,
    ERROR_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    GEN_AI_CONVERSATION_ID,
    ONEX_CONTEXT,
    ONEX_CORRELATION_ID_ORIGINAL,
    ONEX_ERROR_MESSAGE,
    ONEX_ERROR_TYPE,
    ONEX_EXECUTION_STATUS,
    ONEX_METRICS,
    ONEX_OUTPUT_SUMMARY,
    ONEX_PARTIAL_RESULTS,
    ONEX_PROJECT_NAME,
    ONEX_PROJECT_PATH,
    ONEX_QUALITY_SCORE,
    ONEX_SESSION_ID,
    ONEX_USER_REQUEST,
    ONEX_WORKING_DIRECTORY,
    SEVERITY_ERROR,
)
from onex_otel.limits import SCORE_MAX, SCORE_MIN
from onex_otel.timestamps import rfc3339_ns


# ----------------------------------------------------------------------------------------------
# execution lifecycle
# ----------------------------------------------------------------------------------------------
def _started(b: _Builder) -> None:
    facts = b.facts
    attrs = facts.attrs
    start = facts.start or 0
    started_id = _started_id(facts)
    session_id = _text(attrs.get(ONEX_SESSION_ID) or attrs.get(GEN_AI_CONVERSATION_ID))
    user_request = _text(attrs.get(ONEX_USER_REQUEST))
    context = _object(attrs.get(ONEX_CONTEXT))
    execution_id = _execution_id(facts)
    payload = {
        "execution_id": execution_id,
        "agent_name": facts.agent_name,
        "user_request": user_request,
        "session_id": session_id,
        "started_at": rfc3339_ns(start),
        "context": context,
        "project_path": _text(attrs.get(ONEX_PROJECT_PATH)),
        "project_name": _text(attrs.get(ONEX_PROJECT_NAME)),
        "working_directory": _text(attrs.get(ONEX_WORKING_DIRECTORY)),
        "claude_session_id": None,
        "terminal_id": None,
        "correlation_id_original": _text(attrs.get(ONEX_CORRELATION_ID_ORIGINAL)),
    }
    b.add(EXECUTION_STARTED, started_id, start, None, payload)
    details = {
        "decision_context": {"user_request": user_request, "session_id": session_id, "context": context},
        "decision_result": {
            "agent_name": facts.agent_name,
            "correlation_id": facts.correlation_id,
            "execution_id": execution_id,
        },
    }
    b.action(
        facts.event_id(start, "started.action"),
        start,
        started_id,
        DECISION,
        ACTION_EXECUTION_STARTED,
        details,
        None,
    )


def _ended(b: _Builder) -> None:
    facts = b.facts
    attrs = facts.attrs
    start = facts.start or 0
    end = facts.end or start
    started_id = _started_id(facts)
    duration = _ms(start, end)
    execution_id = _execution_id(facts)
    session_id = _text(attrs.get(ONEX_SESSION_ID) or attrs.get(GEN_AI_CONVERSATION_ID))
    status = attrs.get(ONEX_EXECUTION_STATUS)
    if status not in END_STATUSES:
        status = STATUS_FAILED if facts.error else STATUS_SUCCESS
    end_id = facts.event_id(end, "ended")
    if status == STATUS_SUCCESS:
        quality = _number(attrs.get(ONEX_QUALITY_SCORE), "quality_score", lo=SCORE_MIN, hi=SCORE_MAX)
        summary = _text(attrs.get(ONEX_OUTPUT_SUMMARY))
        metrics = _object(attrs.get(ONEX_METRICS))
        payload = {
            "execution_id": execution_id,
            "agent_name": facts.agent_name,
            "session_id": session_id,
            "status": STATUS_SUCCESS_TEXT,
            "completed_at": rfc3339_ns(end),
            "duration_ms": duration,
            "quality_score": quality,
            "output_summary": summary,
            "metrics": metrics,
        }
        b.add(EXECUTION_COMPLETED, end_id, end, started_id, payload)
        details = {
            "execution_duration_ms": duration,
            "quality_score": quality,
            "output_summary": summary,
            "metrics": metrics,
        }
        b.action(
            facts.event_id(end, "ended.action"),
            end,
            end_id,
            SUCCESS,
            ACTION_EXECUTION_COMPLETED,
            details,
            duration,
        )
        return
    exc = _exception_event(facts)
    error_type = _text(attrs.get(ONEX_ERROR_TYPE) or attrs.get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE))
    error_message = (
        _text(attrs.get(ONEX_ERROR_MESSAGE) or exc.get(EXCEPTION_MESSAGE) or facts.status.description) or ""
    )
    stack = _text(exc.get(EXCEPTION_STACKTRACE))
    partial = _loads(attrs.get(ONEX_PARTIAL_RESULTS))
    payload = {
        "execution_id": execution_id,
        "agent_name": facts.agent_name,
        "session_id": session_id,
        "status": str(status),
        "failed_at": rfc3339_ns(end),
        "duration_ms": duration,
        "error_message": error_message,
        "error_type": error_type,
        "error_stack_trace": stack,
        "partial_results": partial,
    }
    b.add(EXECUTION_FAILED, end_id, end, started_id, payload)
    details = {
        "error_type": error_type or "UnknownError",
        "error_message": error_message,
        "error_context": {
            "status": str(status),
            "error_stack_trace": stack,
            "partial_results": partial,
            "execution_duration_ms": duration,
        },
        "severity": SEVERITY_ERROR,
    }
    b.action(
        facts.event_id(end, "ended.action"),
        end,
        end_id,
        ERROR,
        ACTION_EXECUTION_FAILED,
        details,
        duration,
    )


def _progress(b: _Builder, stage: Any, percent: Any, metadata: Any, ts_ns: int) -> None:
    """The progress event of one report, from a span event or a ``progress()`` call alike.

    Its id depends on the time, stage and percent only, so the real-time report and the span
    event of the same call are one event.
    """
    facts = b.facts
    payload = {
        "execution_id": _execution_id(facts),
        "agent_name": facts.agent_name,
        "stage": _required(stage, "progress stage"),
        "percent": _number(percent, "progress percent", lo=0, hi=100),
        "metadata": _object(metadata),
        "reported_at": rfc3339_ns(ts_ns),
    }
    b.add(
        EXECUTION_PROGRESS,
        facts.event_id(ts_ns, "progress", stage, percent),
        ts_ns,
        _started_id(facts),
        payload,
    )
