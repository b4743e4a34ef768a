"""The light (no pydantic) envelope builders produce exactly what the models accept."""

import json
import uuid
from typing import Any

import pytest

from onex_otel import records
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1, payload_model_for

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"

CASES: list[tuple[EventType, dict[str, Any]]] = [
    (
        EventType.AGENT_ACTION,
        records.agent_action(
            agent_name="polymorphic-agent",
            action_type="decision",
            action_name="route_to_specialized_agent",
            action_details={"selected_agent": "agent-performance", "confidence": 0.92},
            correlation_id=CID,
            duration_ms=45,
        ),
    ),
    (
        EventType.ROUTING_DECISION,
        records.routing_decision(
            selected_agent="agent-performance",
            confidence_score=0.92,
            routing_strategy="enhanced_fuzzy_matching",
            routing_time_ms=45,
            user_request="optimize my database queries",
            reasoning="triggers",
            alternatives=["agent-api"],
            correlation_id=CID,
        ),
    ),
    (
        EventType.TRANSFORMATION,
        records.transformation(
            source_agent="polymorphic-agent",
            target_agent="agent-performance",
            transformation_duration_ms=85,
            success=True,
            transformation_reason="match",
            confidence_score=0.92,
            correlation_id=CID,
        ),
    ),
    (
        EventType.ROUTER_PERFORMANCE,
        records.router_performance(
            query_text="optimize my database queries",
            routing_duration_ms=45,
            candidates_evaluated=5,
            cache_hit=False,
            trigger_match_strategy="enhanced_fuzzy_matching",
            correlation_id=CID,
        ),
    ),
]


@pytest.mark.parametrize(("event_type", "payload"), CASES, ids=[c[0].value for c in CASES])
def test_light_envelope_equals_model_serialization(event_type: EventType, payload: dict[str, Any]) -> None:
    env = records.envelope(event_type, payload, tenant_id="t", source="s")
    parsed = OnexEnvelopeV1.model_validate(env)
    # The model's own serialization of the same event is the light builder's output, key for key.
    assert json.loads(parsed.to_json()) == env
    assert isinstance(parsed.payload, payload_model_for(event_type))
    assert parsed.correlation_id == uuid.UUID(CID)


def test_legacy_correlation_id_maps_and_is_kept() -> None:
    payload = records.agent_action(
        agent_name="a", action_type="error", action_name="x", correlation_id="abc-123"
    )
    assert uuid.UUID(payload["correlation_id"]).version == 5
    assert payload["action_details"]["correlation_id_original"] == "abc-123"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: records.agent_action(agent_name="a", action_type="x", action_name="n"),
            "action type must be one of",
        ),
        (
            lambda: records.agent_action(agent_name="", action_type="error", action_name="n"),
            "agent is required",
        ),
        (
            lambda: records.agent_action(
                agent_name="a", action_type="error", action_name="n", duration_ms=-1
            ),
            "duration_ms must be >= 0",
        ),
        (
            lambda: records.routing_decision(
                selected_agent="a", confidence_score=1.01, routing_strategy="s", routing_time_ms=1
            ),
            "between 0.0 and 1.0",
        ),
        (
            lambda: records.routing_decision(
                selected_agent="a", confidence_score=float("nan"), routing_strategy="s", routing_time_ms=1
            ),
            "must be a number",
        ),
        (
            lambda: records.router_performance(
                query_text="q", routing_duration_ms=1000, candidates_evaluated=1
            ),
            "below 1000",
        ),
        (
            lambda: records.transformation(
                source_agent="a", target_agent="b", transformation_duration_ms=1, confidence_score=-0.1
            ),
            "between 0.0 and 1.0",
        ),
        (lambda: records.parse_json_object("--details", "[1]"), "must be a JSON object"),
        (lambda: records.parse_json_object("--details", "{x"), "not valid JSON"),
    ],
)
def test_invalid_records_are_rejected_with_a_clear_message(call: Any, message: str) -> None:
    with pytest.raises(records.RecordError, match=message):
        call()
