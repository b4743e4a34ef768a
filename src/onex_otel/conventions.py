"""Every name onex-otel puts on the wire, in one place.

Span names, span attribute keys, span event names, metric names, envelope event types, schema
references, default Kafka topics and legacy PostgreSQL table names all live here, so a reader (or a
dashboard author) finds each of them once. Nothing else in the project spells these strings out.

Attribute keys follow the OpenTelemetry GenAI semantic conventions where one exists
(``gen_ai.*``); fields of the legacy stack that have no semantic-convention equivalent use the
``onex.*`` namespace.

The module imports only the standard library (short-lived CLI hooks import it); the semantic
convention keys are spelled out here and a test checks them against
``opentelemetry-semantic-conventions``.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Final

# --------------------------------------------------------------------------------------------
# Instrumentation scope
# --------------------------------------------------------------------------------------------
INSTRUMENTATION_NAME: Final = "onex_otel"

# --------------------------------------------------------------------------------------------
# Span names and GenAI operation names
# --------------------------------------------------------------------------------------------
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_DECISION: Final = "onex.decision"

SPAN_INVOKE_AGENT: Final = "invoke_agent {agent_name}"
SPAN_EXECUTE_TOOL: Final = "execute_tool {tool_name}"
SPAN_DECISION: Final = "decision {decision_name}"


def agent_span_name(agent_name: str) -> str:
    """Return the span name of an agent execution: ``invoke_agent {agent_name}``."""
    return f"{OP_INVOKE_AGENT} {agent_name}"


def tool_span_name(tool_name: str) -> str:
    """Return the span name of a tool call: ``execute_tool {tool_name}``."""
    return f"{OP_EXECUTE_TOOL} {tool_name}"


def decision_span_name(decision_name: str) -> str:
    """Return the span name of a timed decision: ``decision {decision_name}``."""
    return f"decision {decision_name}"


# --------------------------------------------------------------------------------------------
# Span attribute keys: OpenTelemetry GenAI semantic conventions
# --------------------------------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"  # = execution id
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"  # = session id
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"

ERROR_TYPE: Final = "error.type"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# --------------------------------------------------------------------------------------------
# Span attribute keys: onex (legacy fields with no semantic-convention equivalent)
# --------------------------------------------------------------------------------------------
# Put on every span of an execution (propagated through context, also onto spans that other
# instrumentations make inside the execution, e.g. psycopg or HTTP client spans).
ONEX_CORRELATION_ID: Final = "onex.correlation_id"  # UUID string == trace id hex
ONEX_SESSION_ID: Final = "onex.session_id"
ONEX_AGENT_NAME: Final = "onex.agent_name"
ONEX_EXECUTION_ID: Final = "onex.execution_id"
# The caller's correlation id when it was not a UUID (legacy strings such as "abc-123").
ONEX_CORRELATION_ID_ORIGINAL: Final = "onex.correlation_id.original"

# Execution (root) span.
ONEX_USER_REQUEST: Final = "onex.user_request"  # JSON-encoded string, subject to capture rules
ONEX_CONTEXT: Final = "onex.context"  # JSON-encoded object
ONEX_PROJECT_PATH: Final = "onex.project_path"
ONEX_PROJECT_NAME: Final = "onex.project_name"
ONEX_WORKING_DIRECTORY: Final = "onex.working_directory"
ONEX_EXECUTION_STATUS: Final = "onex.execution.status"  # see ExecutionStatus
ONEX_QUALITY_SCORE: Final = "onex.quality_score"  # float 0..1
ONEX_OUTPUT_SUMMARY: Final = "onex.output_summary"
ONEX_METRICS: Final = "onex.metrics"  # JSON-encoded object
ONEX_ERROR_MESSAGE: Final = "onex.error_message"
ONEX_ERROR_TYPE: Final = "onex.error_type"
ONEX_PARTIAL_RESULTS: Final = "onex.partial_results"  # JSON-encoded
ONEX_STARTED_EVENT_ID: Final = "onex.started_event_id"  # event_id of the started envelope
# What a framework's span is, as onex-otel's span processor decided (see onex_otel.dialects).
ONEX_SPAN_ROLE: Final = "onex.span.role"
# What a second span of the same tool invocation knew (JSON, content policy applied), put on the
# span that reports the invocation (see onex_otel._frameworks).
ONEX_TOOL_ARGUMENTS: Final = "onex.tool.arguments"
ONEX_TOOL_RESULT: Final = "onex.tool.result"
ONEX_TOOL_CALL_ID: Final = "onex.tool.call_id"
# Set by a producer whose facts reach Kafka by two paths with different clocks (Claude Code: a
# tool use as a span and as a log event, a prompt as the interaction span and the user_prompt
# event): the span's event ids are then name-based, uuid5 of this seed and what the event is,
# rather than derived from the span's ids and times, so both paths yield the same event ids.
ONEX_EVENT_ID_SEED: Final = "onex.event_id.seed"

# Action spans (tool calls, timed decisions).
ONEX_ACTION_TYPE: Final = "onex.action_type"  # see ActionType
ONEX_ACTION_NAME: Final = "onex.action_name"
ONEX_DURATION_MS: Final = "onex.duration_ms"
ONEX_DEBUG_MODE: Final = "onex.debug_mode"

# Truncation bookkeeping: "<attribute key>.original_size" holds the byte size before truncation.
ORIGINAL_SIZE_SUFFIX: Final = ".original_size"
TRUNCATION_MARKER: Final = "...[truncated]"

# --------------------------------------------------------------------------------------------
# Span event names and their attribute keys
# --------------------------------------------------------------------------------------------
EVENT_PROGRESS: Final = "onex.execution.progress"
EVENT_DECISION: Final = "onex.decision"
EVENT_ERROR: Final = "onex.error"
EVENT_SUCCESS: Final = "onex.success"
EVENT_ROUTING_DECISION: Final = "onex.routing_decision"
EVENT_TRANSFORMATION: Final = "onex.transformation"
EVENT_ROUTER_METRICS: Final = "onex.router_metrics"
EVENT_DETECTION_FAILURE: Final = "onex.detection_failure"

# progress
ATTR_STAGE: Final = "onex.stage"
ATTR_PERCENT: Final = "onex.percent"
ATTR_METADATA: Final = "onex.metadata"  # JSON
# decision / error / success
ATTR_NAME: Final = "onex.name"
ATTR_DETAILS: Final = "onex.details"  # JSON (context/result/details)
ATTR_DECISION_CONTEXT: Final = "onex.decision.context"  # JSON
ATTR_DECISION_RESULT: Final = "onex.decision.result"  # JSON
ATTR_ERROR_TYPE: Final = "onex.error.type"
ATTR_ERROR_MESSAGE: Final = "onex.error.message"
ATTR_ERROR_CONTEXT: Final = "onex.error.context"  # JSON
ATTR_SEVERITY: Final = "onex.error.severity"
ATTR_EVENT_DURATION_MS: Final = "onex.duration_ms"
# routing decision (seed 004 agent_routing_decisions)
ATTR_SELECTED_AGENT: Final = "onex.routing.selected_agent"
ATTR_CONFIDENCE_SCORE: Final = "onex.routing.confidence_score"
ATTR_ALTERNATIVES: Final = "onex.routing.alternatives"  # JSON array
ATTR_REASONING: Final = "onex.routing.reasoning"
ATTR_ROUTING_STRATEGY: Final = "onex.routing.strategy"
ATTR_ROUTING_TIME_MS: Final = "onex.routing.time_ms"
ATTR_ROUTING_USER_REQUEST: Final = "onex.routing.user_request"
ATTR_ROUTING_CONTEXT: Final = "onex.routing.context"  # JSON object
# transformation (seed 004 agent_transformation_events)
ATTR_SOURCE_AGENT: Final = "onex.transformation.source_agent"
ATTR_TARGET_AGENT: Final = "onex.transformation.target_agent"
ATTR_TRANSFORMATION_REASON: Final = "onex.transformation.reason"
ATTR_TRANSFORMATION_CONFIDENCE: Final = "onex.transformation.confidence_score"
ATTR_TRANSFORMATION_DURATION_MS: Final = "onex.transformation.duration_ms"
ATTR_TRANSFORMATION_SUCCESS: Final = "onex.transformation.success"
# router performance metrics (seed 004 router_performance_metrics)
ATTR_QUERY_TEXT: Final = "onex.router.query_text"
ATTR_ROUTING_DURATION_MS: Final = "onex.router.routing_duration_ms"
ATTR_CACHE_HIT: Final = "onex.router.cache_hit"
ATTR_TRIGGER_MATCH_STRATEGY: Final = "onex.router.trigger_match_strategy"
ATTR_CONFIDENCE_COMPONENTS: Final = "onex.router.confidence_components"  # JSON object
ATTR_CANDIDATES_EVALUATED: Final = "onex.router.candidates_evaluated"
# detection failure
ATTR_DETECTION_USER_REQUEST: Final = "onex.detection.user_request"
ATTR_DETECTION_FAILURE_REASON: Final = "onex.detection.failure_reason"
ATTR_DETECTION_CANDIDATES: Final = "onex.detection.candidates"  # JSON array
ATTR_DETECTION_CONFIDENCE: Final = "onex.detection.best_confidence"
ATTR_DETECTION_STRATEGY: Final = "onex.detection.strategy"
ATTR_DETECTION_CONTEXT: Final = "onex.detection.context"  # JSON object
ATTR_DETECTION_CANDIDATES_EVALUATED: Final = "onex.detection.candidates_evaluated"
ATTR_DETECTION_DURATION_MS: Final = "onex.detection.duration_ms"

# Markers written into captured values.
REDACTED_MARKER: Final = "[REDACTED]"  # value under a secret-looking key
NOT_CAPTURED_MARKER: Final = "[not captured]"  # required text field while capture is off
# Status description of a cancelled execution (asyncio.CancelledError, KeyboardInterrupt).
CANCELLED_DESCRIPTION: Final = "cancelled"


# --------------------------------------------------------------------------------------------
# Enumerations shared by spans, envelopes and tables
# --------------------------------------------------------------------------------------------
class ActionType(StrEnum):
    """``agent_actions.action_type`` (CHECK constraint of seed 001)."""

    TOOL_CALL = "tool_call"
    DECISION = "decision"
    ERROR = "error"
    SUCCESS = "success"


class ExecutionStatus(StrEnum):
    """``agent_execution_logs.status`` (seed 002)."""

    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Dual-layer action names (seed 000).
ACTION_EXECUTION_STARTED: Final = "agent_execution_started"
ACTION_EXECUTION_COMPLETED: Final = "agent_execution_completed"
ACTION_EXECUTION_FAILED: Final = "agent_execution_failed"
#: Agent name used when a span (e.g. another library's GenAI span) names no agent.
UNKNOWN_AGENT: Final = "unknown"
#: Severity of the agent_action error event of a failed execution (seed 000).
SEVERITY_ERROR: Final = "error"

# --------------------------------------------------------------------------------------------
# Correlation ids
# --------------------------------------------------------------------------------------------
#: Namespace under which non-UUID legacy correlation ids map to a UUID: ``uuid5(NS, text)``.
#: Fixed forever: changing it would split every legacy run from its history.
CORRELATION_ID_NAMESPACE: Final = uuid.UUID("6f6e6578-6f74-656c-2d63-6f72722d6964")

# --------------------------------------------------------------------------------------------
# Envelope (seed 003)
# --------------------------------------------------------------------------------------------
ENVELOPE_NAMESPACE: Final = "omninode"
DEFAULT_SOURCE: Final = "omniclaude"
DEFAULT_TENANT_ID: Final = "default"


class EventType(StrEnum):
    """``OnexEnvelopeV1.event_type`` values; each is also the default topic of its events."""

    EXECUTION_STARTED = "omninode.agent.execution.started.v1"
    EXECUTION_PROGRESS = "omninode.agent.execution.progress.v1"
    EXECUTION_COMPLETED = "omninode.agent.execution.completed.v1"
    EXECUTION_FAILED = "omninode.agent.execution.failed.v1"
    AGENT_ACTION = "onex.evt.omniclaude.agent-actions.v1"
    ROUTING_DECISION = "onex.evt.omniclaude.routing-decision.v1"
    ROUTER_PERFORMANCE = "router-performance-metrics"
    TRANSFORMATION = "agent-transformation-events"
    DETECTION_FAILURE = "agent-detection-failures"


#: ``schema_ref`` of each event type: ``registry://omninode/agent/<name>/v1``.
SCHEMA_REFS: Final[dict[EventType, str]] = {
    EventType.EXECUTION_STARTED: "registry://omninode/agent/execution_started/v1",
    EventType.EXECUTION_PROGRESS: "registry://omninode/agent/execution_progress/v1",
    EventType.EXECUTION_COMPLETED: "registry://omninode/agent/execution_completed/v1",
    EventType.EXECUTION_FAILED: "registry://omninode/agent/execution_failed/v1",
    EventType.AGENT_ACTION: "registry://omninode/agent/agent_action/v1",
    EventType.ROUTING_DECISION: "registry://omninode/agent/routing_decision/v1",
    EventType.ROUTER_PERFORMANCE: "registry://omninode/agent/router_performance_metrics/v1",
    EventType.TRANSFORMATION: "registry://omninode/agent/transformation/v1",
    EventType.DETECTION_FAILURE: "registry://omninode/agent/detection_failure/v1",
}

#: Default topic of each event type (each one configurable, see ``onex_otel.config``).
DEFAULT_TOPICS: Final[dict[EventType, str]] = {et: et.value for et in EventType}

#: Topic names of the legacy stack that the collector also consumes.
LEGACY_TOPIC_AGENT_ACTIONS: Final = "agent-actions"
LEGACY_TOPIC_ROUTING_DECISIONS: Final = "agent-routing-decisions"
LEGACY_TOPIC_EXECUTION_LOGS: Final = "agent-execution-logs"
LEGACY_TOPICS: Final = (
    LEGACY_TOPIC_AGENT_ACTIONS,
    LEGACY_TOPIC_ROUTING_DECISIONS,
    LEGACY_TOPIC_EXECUTION_LOGS,
)
DEFAULT_DLQ_TOPIC: Final = "onex.dlq.agent-observability.v1"

# Kafka message headers.
HEADER_TRACEPARENT: Final = "traceparent"
HEADER_TRACESTATE: Final = "tracestate"
HEADER_EVENT_TYPE: Final = "event_type"
HEADER_SCHEMA_REF: Final = "schema_ref"
HEADER_CONTENT_TYPE: Final = "content-type"
CONTENT_TYPE_JSON: Final = "application/json"

# --------------------------------------------------------------------------------------------
# PostgreSQL tables (legacy schema, seeds 001, 002, 004)
# --------------------------------------------------------------------------------------------
TABLE_AGENT_ACTIONS: Final = "agent_actions"
TABLE_EXECUTION_LOGS: Final = "agent_execution_logs"
TABLE_ROUTING_DECISIONS: Final = "agent_routing_decisions"
TABLE_TRANSFORMATION_EVENTS: Final = "agent_transformation_events"
TABLE_ROUTER_PERFORMANCE: Final = "router_performance_metrics"
TABLE_DETECTION_FAILURES: Final = "agent_detection_failures"
TABLE_SCHEMA_MIGRATIONS: Final = "schema_migrations"

# --------------------------------------------------------------------------------------------
# Metric instruments (OpenTelemetry names; Prometheus renders dots as underscores)
# --------------------------------------------------------------------------------------------
METRIC_ACTIONS: Final = "onex.agent.actions"  # counter; seed's action_log_counter
METRIC_ACTION_DURATION: Final = "onex.agent.action.duration"  # histogram ms; action_log_duration
METRIC_ACTION_ERRORS: Final = "onex.agent.action.errors"  # counter; action_log_errors_counter
METRIC_INTERNAL_ERRORS: Final = "onex.internal.errors"  # counter of contained internal failures
METRIC_EXECUTIONS: Final = "onex.agent.executions"  # counter of ended executions by status
METRIC_EXPORT_EVENTS: Final = "onex.export.events"  # counter by outcome (delivered/spooled/...)
METRIC_EXPORT_DROPS: Final = "onex.export.dropped"  # counter by reason
METRIC_EXPORT_SPANS: Final = "onex.export.spans"  # counter of spans the exporter has seen
METRIC_SPOOL_BYTES: Final = "onex.export.spool.size"  # gauge: bytes waiting in the spool
METRIC_EXPORT_PENDING: Final = "onex.export.pending"  # gauge: events in the producer queue
# outcomes (METRIC_ATTR_OUTCOME) and drop reasons (METRIC_ATTR_REASON) of exported events
OUTCOME_DELIVERED: Final = "delivered"  # acknowledged by the broker on the first try
OUTCOME_SPOOLED: Final = "spooled"  # written to the spool (broker away, timeout, queue full)
OUTCOME_RESENT: Final = "resent"  # delivered from the spool
DROP_SPOOL_FULL: Final = "spool_full"
DROP_SPOOL_CORRUPT: Final = "spool_corrupt"
DROP_UNSERIALIZABLE: Final = "unserializable"
DROP_DISABLED: Final = "disabled"
DROP_SHUTDOWN: Final = "shutdown"
DROP_SPOOL_ERROR: Final = "spool_error"  # the spool directory cannot be written
DROP_REJECTED: Final = "rejected"  # refused for good (e.g. message too large, topic forbidden)
# metric attribute keys
METRIC_ATTR_AGENT: Final = "agent_name"
METRIC_ATTR_ACTION_TYPE: Final = "action_type"
METRIC_ATTR_TOOL_NAME: Final = "tool_name"
METRIC_ATTR_ERROR_TYPE: Final = "error_type"
METRIC_ATTR_KIND: Final = "kind"
METRIC_ATTR_OUTCOME: Final = "outcome"
METRIC_ATTR_REASON: Final = "reason"
METRIC_ATTR_STATUS: Final = "status"  # an ExecutionStatus value (success, failed, cancelled)

# --------------------------------------------------------------------------------------------
# Collector (Kafka -> PostgreSQL)
# --------------------------------------------------------------------------------------------
#: Lifecycle events kept per event, from which agent_execution_logs rows are assembled.
TABLE_EXECUTION_EVENTS: Final = "agent_execution_events"
#: Namespace of the deterministic event ids of legacy flat records (which carry none):
#: ``uuid5(NS, "<event type>\n<canonical JSON of the record>")``. Fixed forever.
LEGACY_EVENT_ID_NAMESPACE: Final = uuid.UUID("6f6e6578-6f74-656c-2d6c-65676163792e")
#: Lifecycle kinds of ``agent_execution_events.kind``.
EXECUTION_KIND_STARTED: Final = "started"
EXECUTION_KIND_PROGRESS: Final = "progress"
EXECUTION_KIND_COMPLETED: Final = "completed"
EXECUTION_KIND_FAILED: Final = "failed"
# Headers the collector adds to a dead-lettered message (besides the original ones).
DLQ_HEADER_TOPIC: Final = "onex.dlq.original_topic"
DLQ_HEADER_PARTITION: Final = "onex.dlq.original_partition"
DLQ_HEADER_OFFSET: Final = "onex.dlq.original_offset"
DLQ_HEADER_ERROR_CLASS: Final = "onex.dlq.error_class"
DLQ_HEADER_ERROR_MESSAGE: Final = "onex.dlq.error_message"
DLQ_HEADER_STAGE: Final = "onex.dlq.stage"  # see DLQ_STAGE_*
DLQ_STAGE_DECODE: Final = "decode"  # not JSON
DLQ_STAGE_VALIDATE: Final = "validate"  # JSON, but not a valid envelope / legacy record
DLQ_STAGE_DATABASE: Final = "database"  # a row the database rejected
# Collector spans.
SPAN_COLLECTOR_BATCH: Final = "onex.collector.write_batch"
ATTR_COLLECTOR_BATCH_SIZE: Final = "onex.collector.batch.messages"
ATTR_COLLECTOR_ROWS_INSERTED: Final = "onex.collector.batch.rows_inserted"
ATTR_COLLECTOR_DEAD_LETTERED: Final = "onex.collector.batch.dead_lettered"
# Collector metric names (Prometheus exposition of /metrics?format=prometheus).
METRIC_COLLECTOR_PREFIX: Final = "onex_collector_"

# --------------------------------------------------------------------------------------------
# Bridge (OTLP on Kafka -> onex topics; ``onex-otel bridge``)
# --------------------------------------------------------------------------------------------
#: Topics the OpenTelemetry Collector's Kafka exporter writes by default (one export request
#: per message).
OTLP_SPANS_TOPIC: Final = "otlp_spans"
OTLP_LOGS_TOPIC: Final = "otlp_logs"
#: Encodings of those messages the bridge reads (the Kafka exporter's names).
ENCODING_OTLP_PROTO: Final = "otlp_proto"  # the serialized export request (the default)
ENCODING_OTLP_JSON: Final = "otlp_json"  # OTLP/JSON: hex ids, lowerCamelCase names
OTLP_ENCODINGS: Final = (ENCODING_OTLP_PROTO, ENCODING_OTLP_JSON)
DEFAULT_BRIDGE_GROUP_ID: Final = "onex-otel-bridge"
DEFAULT_BRIDGE_DLQ_TOPIC: Final = "onex.dlq.otlp-bridge.v1"
#: DLQ stage of a message whose spans or log records could not be mapped to events (the
#: decode stage is DLQ_STAGE_DECODE; the headers are the collector's DLQ_HEADER_*).
DLQ_STAGE_MAP: Final = "map"
# Bridge metric names (Prometheus exposition of /metrics?format=prometheus).
METRIC_BRIDGE_PREFIX: Final = "onex_bridge_"

# --------------------------------------------------------------------------------------------
# OTLP receiver (OTLP/gRPC, OTLP/HTTP -> the otlp topics above)
# --------------------------------------------------------------------------------------------
#: OTLP/HTTP request paths (the specification's defaults).
OTLP_HTTP_PATH_TRACES: Final = "/v1/traces"
OTLP_HTTP_PATH_LOGS: Final = "/v1/logs"
#: OTLP/HTTP content types.
CONTENT_TYPE_PROTOBUF: Final = "application/x-protobuf"
#: gRPC trailing metadata with a ``google.rpc.Status`` (its details hold a ``RetryInfo``), and
#: the ``RetryInfo`` alone under the key the OpenTelemetry Python exporter reads.
GRPC_STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
GRPC_RETRY_INFO_KEY: Final = "google.rpc.retryinfo-bin"
