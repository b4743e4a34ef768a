"""Drop-in replacements for the legacy agent logging APIs, recording OpenTelemetry spans.

Code written against the legacy stack switches by changing its imports only::

    # from agents.lib.action_logger import ActionLogger
    # from agents.lib.agent_execution_publisher import AgentExecutionPublisherContext
    # from agents.lib.agent_execution_logger import log_agent_execution
    from onex_otel import ActionLogger, AgentExecutionPublisherContext, log_agent_execution

Every name is also importable from :mod:`onex_otel` itself (loaded on first use there).

What each call becomes
----------------------

====================================================  ===========================================
legacy call                                           new API equivalent (same spans and events)
====================================================  ===========================================
``ActionLogger.tool_call(name, params)`` block        ``tool_call(name, params)`` block
``log_tool_call`` / ``publish_tool_call``             an ``execute_tool {name}`` span lasting
                                                      ``duration_ms`` (failed: status ERROR)
``log_decision`` / ``publish_decision``               ``record_decision(name, context, result)``
``log_error`` / ``publish_error``                     ``record_error(type, message, context,
                                                      severity)``
``log_success`` / ``publish_success``                 ``record_success(name, details)``
``publish_execution_started``                         entering ``agent_execution(...)``
``publish_execution_progress`` / ``progress``         ``run.progress(stage, percent, metadata)``
``publish_execution_completed``                       ``run.complete(...)`` and leaving the block
``publish_execution_failed``                          ``run.fail(...)`` and leaving the block
``complete(status=CANCELLED)``                        the block cancelled (``CancelledError``)
====================================================  ===========================================

Actions are recorded in the execution of their correlation id when one is active (current in the
context, or opened by a legacy ``publish_execution_started`` / ``log_agent_execution``); otherwise
in a short span of their own whose trace id is the correlation id and which carries the agent
name, project fields and debug mode. The seed 000 "dual layer" actions (decision
``agent_execution_started``, success ``agent_execution_completed``, error) come from the execution
span through the exporter, as with the new API: the legacy calls do not log them again.

Return values and failures
--------------------------

Every call returns ``True`` or ``False`` and never raises, whatever the arguments or the state of
Kafka. ``True`` means the event was recorded and handed to the export pipeline (delivery to Kafka
is asynchronous, with a spool while the broker is away); ``False``:

- ``enable_events=False`` on the publisher, or publishing before ``start()``: nothing recorded;
- ``KAFKA_ENABLE_LOGGING=false``: the spans are still recorded (traces still reach an OTLP
  backend), but nothing goes to Kafka, so the calls say ``False``;
- invalid arguments: nothing recorded, counted and logged once per call as an internal error
  ``legacy.<call>.invalid`` (see :func:`onex_otel._internal.internal_error_counts`);
- no tracing can be set up (e.g. a non-SDK TracerProvider is installed).

Legacy code never called ``configure()``: when no SDK TracerProvider is installed, the first
legacy call runs ``onex_otel.configure()`` from the environment (``KAFKA_BOOTSTRAP_SERVERS``,
``OTEL_EXPORTER_OTLP_ENDPOINT``, ...). A provider set up by the application or by
``opentelemetry-instrument`` is used as it is.

Differences from the legacy stack
---------------------------------

- An execution's duration is its span's, measured from ``publish_execution_started`` to its end;
  ``duration_ms`` of ``publish_execution_completed`` is checked but not used. A completion without
  a started execution yields a whole (very short) execution.
- Executions started and never ended are ended as cancelled at interpreter exit (and beyond
  10,000 open at once, the oldest), so their traces are complete.
- ``send_slack_notification``, ``claude_session_id`` and ``terminal_id`` are accepted and ignored.
"""

from __future__ import annotations

from onex_otel.legacy._action_logger import ActionLogger, ToolCallContext
from onex_otel.legacy._action_publishers import (
    log_action,
    publish_action_event,
    publish_decision,
    publish_error,
    publish_success,
    publish_tool_call,
)
from onex_otel.legacy._action_recording import ToolCallFailed
from onex_otel.legacy._execution_logger import AgentExecutionLogger, log_agent_execution
from onex_otel.legacy._execution_publisher import (
    AgentExecutionPublisher,
    AgentExecutionPublisherContext,
    publish_execution_completed,
    publish_execution_failed,
    publish_execution_started,
)
from onex_otel.legacy._execution_steps import EnumOperationStatus

__all__ = [
    "ActionLogger",
    "AgentExecutionLogger",
    "AgentExecutionPublisher",
    "AgentExecutionPublisherContext",
    "EnumOperationStatus",
    "ToolCallContext",
    "ToolCallFailed",
    "log_action",
    "log_agent_execution",
    "publish_action_event",
    "publish_decision",
    "publish_error",
    "publish_execution_completed",
    "publish_execution_failed",
    "publish_execution_started",
    "publish_success",
    "publish_tool_call",
]
