"""OnexEnvelopeV1 and the payload model of every event type (seed 003; fields from seeds 000-004).

An envelope is what travels on Kafka: one JSON object per message, keyed by correlation id.

>>> from onex_otel.envelope import OnexEnvelopeV1, RoutingDecisionPayload
>>> env = OnexEnvelopeV1.create(
...     RoutingDecisionPayload(
...         correlation_id="ad12146a-b7d0-4a47-86bf-7ec298ce2c81",
...         selected_agent="agent-performance",
...         confidence_score=0.92,
...         routing_strategy="enhanced_fuzzy_matching",
...         routing_time_ms=45,
...     )
... )
>>> env.event_type.value
'onex.evt.omniclaude.routing-decision.v1'
>>> OnexEnvelopeV1.model_validate_json(env.to_json()) == env
True

Constraints mirror the seeds' SQL CHECK constraints (confidence 0..1, routing_duration_ms 0..999,
non-negative durations, the action_type enum, percent 0..100; the numbers are those of
:mod:`onex_otel.limits`), so an event that validates here is one the legacy tables accept.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    field_serializer,
    field_validator,
)

from onex_otel.conventions import (
    DEFAULT_SOURCE,
    DEFAULT_TENANT_ID,
    ENVELOPE_NAMESPACE,
    SCHEMA_REFS,
    ActionType,
    EventType,
    ExecutionStatus,
)
from onex_otel.ids import uuid7
from onex_otel.limits import NON_NEGATIVE_MIN, ROUTING_DURATION_MS_LIMIT, SCORE_MAX, SCORE_MIN
from onex_otel.timestamps import as_utc, rfc3339, rfc3339_ns

__all__ = [
    "PAYLOAD_MODELS",
    "AgentActionPayload",
    "DetectionFailurePayload",
    "EventPayload",
    "ExecutionCompletedPayload",
    "ExecutionFailedPayload",
    "ExecutionProgressPayload",
    "ExecutionStartedPayload",
    "OnexEnvelopeV1",
    "RouterPerformancePayload",
    "RoutingDecisionPayload",
    "TransformationPayload",
    "as_utc",
    "json_schemas",
    "payload_model_for",
    "rfc3339",
    "rfc3339_ns",
    "utc_now",
]

NonNegativeInt = Annotated[int, Field(ge=NON_NEGATIVE_MIN)]
Confidence = Annotated[float, Field(ge=SCORE_MIN, le=SCORE_MAX)]
JsonObject = dict[str, Any]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


#: A timestamp: validated to timezone-aware UTC (a naive one is taken as UTC), written to JSON as
#: RFC 3339 with a ``Z`` suffix. Only the datetime fields carry a Python validator, so the rest of
#: a payload is validated by pydantic-core alone.
UtcDatetime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
]


class _Payload(BaseModel):
    """Base of every payload: correlation id, timestamps RFC 3339 UTC, unknown fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    #: The event type this payload belongs to (a class constant, not a field).
    event_type: ClassVar[EventType]

    correlation_id: uuid.UUID


class ExecutionStartedPayload(_Payload):
    """``omninode.agent.execution.started.v1`` (seeds 002, 003)."""

    event_type = EventType.EXECUTION_STARTED

    execution_id: uuid.UUID
    agent_name: str = Field(min_length=1)
    user_request: str | None = None
    session_id: str | None = None
    started_at: UtcDatetime = Field(default_factory=utc_now)
    context: JsonObject = Field(default_factory=dict)
    project_path: str | None = None
    project_name: str | None = None
    working_directory: str | None = None
    claude_session_id: str | None = None
    terminal_id: str | None = None
    correlation_id_original: str | None = None


class ExecutionProgressPayload(_Payload):
    """``omninode.agent.execution.progress.v1``: a progress report during an execution."""

    event_type = EventType.EXECUTION_PROGRESS

    execution_id: uuid.UUID
    agent_name: str = Field(min_length=1)
    stage: str = Field(min_length=1)
    percent: float = Field(ge=0, le=100)
    metadata: JsonObject = Field(default_factory=dict)
    reported_at: UtcDatetime = Field(default_factory=utc_now)


class ExecutionCompletedPayload(_Payload):
    """``omninode.agent.execution.completed.v1`` (seeds 000, 002)."""

    event_type = EventType.EXECUTION_COMPLETED

    execution_id: uuid.UUID
    agent_name: str = Field(min_length=1)
    session_id: str | None = None
    status: Literal[ExecutionStatus.SUCCESS] = ExecutionStatus.SUCCESS
    completed_at: UtcDatetime = Field(default_factory=utc_now)
    duration_ms: NonNegativeInt | None = None
    quality_score: Confidence | None = None
    output_summary: str | None = None
    metrics: JsonObject = Field(default_factory=dict)


class ExecutionFailedPayload(_Payload):
    """``omninode.agent.execution.failed.v1``: failed or cancelled (seeds 000, 002, 003)."""

    event_type = EventType.EXECUTION_FAILED

    execution_id: uuid.UUID
    agent_name: str = Field(min_length=1)
    session_id: str | None = None
    status: Literal[ExecutionStatus.FAILED, ExecutionStatus.CANCELLED] = ExecutionStatus.FAILED
    failed_at: UtcDatetime = Field(default_factory=utc_now)
    duration_ms: NonNegativeInt | None = None
    error_message: str = ""
    error_type: str | None = None
    error_stack_trace: str | None = None
    partial_results: Any = None


class AgentActionPayload(_Payload):
    """``onex.evt.omniclaude.agent-actions.v1``: a row of ``agent_actions`` (seeds 001, 004)."""

    event_type = EventType.AGENT_ACTION

    agent_name: str = Field(min_length=1)
    action_type: ActionType
    action_name: str = Field(min_length=1)
    action_details: JsonObject = Field(default_factory=dict)
    debug_mode: bool = True
    duration_ms: NonNegativeInt | None = None
    project_path: str | None = None
    project_name: str | None = None
    working_directory: str | None = None
    timestamp: UtcDatetime = Field(default_factory=utc_now)


class RoutingDecisionPayload(_Payload):
    """``onex.evt.omniclaude.routing-decision.v1``: ``agent_routing_decisions`` (seed 004)."""

    event_type = EventType.ROUTING_DECISION

    selected_agent: str = Field(min_length=1)
    confidence_score: Confidence
    routing_strategy: str = Field(min_length=1)
    routing_time_ms: NonNegativeInt
    user_request: str | None = None
    alternatives: list[Any] = Field(default_factory=list)
    reasoning: str | None = None
    context: JsonObject = Field(default_factory=dict)
    timestamp: UtcDatetime = Field(default_factory=utc_now)


class RouterPerformancePayload(_Payload):
    """``router-performance-metrics``: ``router_performance_metrics`` (seed 004)."""

    event_type = EventType.ROUTER_PERFORMANCE

    query_text: str = Field(min_length=1)
    routing_duration_ms: int = Field(ge=NON_NEGATIVE_MIN, lt=ROUTING_DURATION_MS_LIMIT)
    cache_hit: bool = False
    trigger_match_strategy: str | None = None
    confidence_components: JsonObject = Field(default_factory=dict)
    candidates_evaluated: NonNegativeInt
    timestamp: UtcDatetime = Field(default_factory=utc_now)


class TransformationPayload(_Payload):
    """``agent-transformation-events``: ``agent_transformation_events`` (seed 004)."""

    event_type = EventType.TRANSFORMATION

    source_agent: str = Field(min_length=1)
    target_agent: str = Field(min_length=1)
    transformation_reason: str | None = None
    confidence_score: Confidence | None = None
    transformation_duration_ms: NonNegativeInt
    success: bool = True
    timestamp: UtcDatetime = Field(default_factory=utc_now)


class DetectionFailurePayload(_Payload):
    """``agent-detection-failures``: the router could not pick an agent for a request."""

    event_type = EventType.DETECTION_FAILURE

    user_request: str = Field(min_length=1)
    failure_reason: str = Field(min_length=1)
    detection_strategy: str | None = None
    candidates_evaluated: NonNegativeInt = 0
    candidates: list[Any] = Field(default_factory=list)
    best_confidence: Confidence | None = None
    detection_duration_ms: NonNegativeInt | None = None
    context: JsonObject = Field(default_factory=dict)
    timestamp: UtcDatetime = Field(default_factory=utc_now)


EventPayload = (
    ExecutionStartedPayload
    | ExecutionProgressPayload
    | ExecutionCompletedPayload
    | ExecutionFailedPayload
    | AgentActionPayload
    | RoutingDecisionPayload
    | RouterPerformancePayload
    | TransformationPayload
    | DetectionFailurePayload
)

#: The payload model of each event type.
PAYLOAD_MODELS: dict[EventType, type[_Payload]] = {
    model.event_type: model
    for model in (
        ExecutionStartedPayload,
        ExecutionProgressPayload,
        ExecutionCompletedPayload,
        ExecutionFailedPayload,
        AgentActionPayload,
        RoutingDecisionPayload,
        RouterPerformancePayload,
        TransformationPayload,
        DetectionFailurePayload,
    )
}


def payload_model_for(event_type: str | EventType) -> type[_Payload]:
    """The payload model of an event type; ``KeyError`` for an unknown one."""
    return PAYLOAD_MODELS[EventType(event_type)]


class OnexEnvelopeV1(BaseModel):
    """The OnexEnvelopeV1 event envelope (seed 003), with exactly the seed's fields.

    ``payload`` is validated against the model of ``event_type`` (see :data:`PAYLOAD_MODELS`);
    an envelope whose payload does not fit its event type does not validate.
    """

    model_config = ConfigDict(frozen=True)

    event_type: EventType
    event_id: uuid.UUID = Field(default_factory=uuid7)
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    tenant_id: str = DEFAULT_TENANT_ID
    namespace: str = ENVELOPE_NAMESPACE
    source: str = DEFAULT_SOURCE
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    schema_ref: str
    payload: EventPayload

    @field_validator("payload", mode="wrap")
    @classmethod
    def _payload_by_type(cls, value: Any, handler: Any, info: Any) -> Any:
        event_type = info.data.get("event_type")
        if event_type is None:
            return handler(value)
        model = PAYLOAD_MODELS[EventType(event_type)]
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return model.model_validate(value)

    @field_serializer("event_type")
    def _ser_type(self, value: EventType) -> str:
        return value.value

    @classmethod
    def create(
        cls,
        payload: _Payload,
        *,
        event_id: uuid.UUID | None = None,
        timestamp: datetime | None = None,
        causation_id: uuid.UUID | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        source: str = DEFAULT_SOURCE,
    ) -> OnexEnvelopeV1:
        """Wrap a payload: event type, schema_ref and correlation id come from the payload."""
        event_type = payload.event_type
        return cls(
            event_type=event_type,
            event_id=event_id or uuid7(),
            timestamp=timestamp or utc_now(),
            tenant_id=tenant_id,
            source=source,
            correlation_id=payload.correlation_id,
            causation_id=causation_id,
            schema_ref=SCHEMA_REFS[event_type],
            payload=payload,  # type: ignore[arg-type]
        )

    def to_json(self) -> bytes:
        """The envelope as compact UTF-8 JSON bytes (the Kafka message value)."""
        return self.model_dump_json().encode()


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of the envelope and of every payload, keyed by name.

    Keys: ``"OnexEnvelopeV1"`` and each event type (e.g. ``"omninode.agent.execution.started.v1"``).
    """
    schemas: dict[str, dict[str, Any]] = {
        "OnexEnvelopeV1": TypeAdapter(OnexEnvelopeV1).json_schema(mode="validation"),
    }
    for event_type, model in PAYLOAD_MODELS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = SCHEMA_REFS[event_type]
        schemas[event_type.value] = schema
    return schemas


def event_json_schema(event_type: str | EventType) -> dict[str, Any]:
    """The JSON Schema of a whole envelope of one event type (what one Kafka message holds).

    ``event_type`` and ``schema_ref`` are constants, ``payload`` is that type's payload model;
    ``$id`` is the schema_ref (``registry://omninode/agent/<name>/v1``).
    """
    import copy

    et = EventType(event_type)
    model = PAYLOAD_MODELS[et]
    base = TypeAdapter(OnexEnvelopeV1).json_schema(mode="validation")
    schema = copy.deepcopy(base)
    name = model.__name__
    schema["$id"] = SCHEMA_REFS[et]
    schema["title"] = f"OnexEnvelopeV1 {et.value}"
    others = {m.__name__ for m in PAYLOAD_MODELS.values()} - {name}
    schema["$defs"] = {k: v for k, v in base["$defs"].items() if k not in others}
    props = schema["properties"]
    props["event_type"] = {"const": et.value, "type": "string"}
    props["schema_ref"] = {"const": SCHEMA_REFS[et], "type": "string"}
    props["timestamp"] = {"format": "date-time", "title": "Timestamp", "type": "string"}
    props["payload"] = {"$ref": f"#/$defs/{name}"}
    return schema
