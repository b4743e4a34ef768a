import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from onex_otel.config import ConfigError, load_settings, reference_markdown
from onex_otel.conventions import CORRELATION_ID_NAMESPACE, SCHEMA_REFS, EventType
from onex_otel.envelope import (
    PAYLOAD_MODELS,
    AgentActionPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    json_schemas,
    rfc3339,
)
from onex_otel.ids import correlation_uuid, uuid7


def test_settings_precedence_argument_env_default() -> None:
    env = {"BATCH_SIZE": "7", "KAFKA_BROKERS": "h:1"}
    assert load_settings(env).batch_size == 7
    assert load_settings(env, batch_size=9).batch_size == 9
    assert load_settings({}).batch_size == 1000
    assert load_settings(env).kafka_bootstrap_servers == "h:1"  # legacy alias
    both = {"KAFKA_BOOTSTRAP_SERVERS": "a:1", "KAFKA_BROKERS": "b:2"}
    assert load_settings(both).kafka_bootstrap_servers == "a:1"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"BATCH_SIZE": "lots"}, "BATCH_SIZE='lots'"),
        ({"KAFKA_ENABLE_LOGGING": "maybe"}, "KAFKA_ENABLE_LOGGING"),
        ({"BATCH_SIZE": "0"}, "must be >= 1"),
        ({"ONEX_SPOOL_FSYNC": "sometimes"}, "always, batch or never"),
    ],
)
def test_bad_values_are_reported_not_guessed(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        load_settings(env)


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({}, batch_sise=1)


def test_reference_lists_every_variable() -> None:
    table = reference_markdown()
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKERS", "TENANT_ID", "BATCH_TIMEOUT_MS"):
        assert f"`{name}`" in table


def test_correlation_ids() -> None:
    u = uuid.uuid4()
    assert correlation_uuid(str(u)) == (u, None)
    assert correlation_uuid(u) == (u, None)
    mapped, original = correlation_uuid("abc-123-def-456")
    assert mapped == uuid.uuid5(CORRELATION_ID_NAMESPACE, "abc-123-def-456")
    assert original == "abc-123-def-456"
    assert correlation_uuid("abc-123-def-456")[0] == mapped  # deterministic
    fresh, none = correlation_uuid(None)
    assert none is None and fresh.int != 0
    nil, original = correlation_uuid(str(uuid.UUID(int=0)))
    assert nil.int != 0 and original is not None


def test_uuid7_is_version_7_and_sorted() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_envelope_round_trip_and_fields() -> None:
    cid = uuid.uuid4()
    env = OnexEnvelopeV1.create(
        AgentActionPayload(correlation_id=cid, agent_name="a", action_type="tool_call", action_name="Read"),
        tenant_id="t1",
    )
    data = json.loads(env.to_json())
    assert set(data) == {
        "event_type",
        "event_id",
        "timestamp",
        "tenant_id",
        "namespace",
        "source",
        "correlation_id",
        "causation_id",
        "schema_ref",
        "payload",
    }
    assert data["timestamp"].endswith("Z")
    assert data["schema_ref"] == SCHEMA_REFS[EventType.AGENT_ACTION]
    assert data["tenant_id"] == "t1" and data["namespace"] == "omninode"
    assert OnexEnvelopeV1.model_validate(data) == env


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 11, 6, 12, 0, 1, 5, tzinfo=UTC), "2025-11-06T12:00:01.000005Z"),
        (
            datetime(2025, 11, 6, 17, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2025-11-06T12:00:00.000000Z",
        ),
        (datetime(2025, 11, 6, 12, 0), "2025-11-06T12:00:00.000000Z"),  # naive: UTC
        (datetime(5, 1, 2, tzinfo=UTC), "0005-01-02T00:00:00.000000Z"),  # four-digit year
    ],
)
def test_timestamps_are_written_rfc3339_utc(value: datetime, text: str) -> None:
    assert rfc3339(value) == text


@pytest.mark.parametrize(
    "bad",
    [
        {"routing_duration_ms": 1000},
        {"routing_duration_ms": -1},
        {"candidates_evaluated": -1},
        {"query_text": ""},
    ],
)
def test_payload_constraints_follow_the_sql_checks(bad: dict[str, object]) -> None:
    base = {
        "correlation_id": uuid.uuid4(),
        "query_text": "q",
        "routing_duration_ms": 5,
        "candidates_evaluated": 3,
    }
    with pytest.raises(ValueError):
        RouterPerformancePayload(**(base | bad))


def test_payload_must_match_event_type() -> None:
    env = OnexEnvelopeV1.create(
        RouterPerformancePayload(
            correlation_id=uuid.uuid4(),
            query_text="q",
            routing_duration_ms=1,
            candidates_evaluated=1,
        )
    )
    data = json.loads(env.to_json())
    data["event_type"] = EventType.AGENT_ACTION.value
    with pytest.raises(ValueError):
        OnexEnvelopeV1.model_validate(data)


def test_every_event_type_has_a_schema() -> None:
    schemas = json_schemas()
    assert set(schemas) == {"OnexEnvelopeV1", *(et.value for et in PAYLOAD_MODELS)}
    assert set(PAYLOAD_MODELS) == set(EventType)


def test_configuration_reference_is_current() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    block = page.split("<!-- config:begin -->\n")[1].split("\n<!-- config:end -->")[0]
    assert block == reference_markdown(), "run: onex-otel config --markdown, paste into docs/configuration.md"


def test_semconv_keys_match_the_semantic_conventions_package() -> None:
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
    from opentelemetry.semconv.attributes import error_attributes, exception_attributes

    from onex_otel import conventions as c

    for name in (
        "GEN_AI_OPERATION_NAME",
        "GEN_AI_AGENT_NAME",
        "GEN_AI_AGENT_ID",
        "GEN_AI_CONVERSATION_ID",
        "GEN_AI_TOOL_NAME",
        "GEN_AI_TOOL_CALL_ID",
        "GEN_AI_TOOL_TYPE",
        "GEN_AI_TOOL_DESCRIPTION",
        "GEN_AI_TOOL_CALL_ARGUMENTS",
        "GEN_AI_TOOL_CALL_RESULT",
    ):
        assert getattr(c, name) == getattr(gen_ai, name)
    assert c.ERROR_TYPE == error_attributes.ERROR_TYPE
    for name in ("EXCEPTION_TYPE", "EXCEPTION_MESSAGE", "EXCEPTION_STACKTRACE"):
        assert getattr(c, name) == getattr(exception_attributes, name)
    assert gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value == c.OP_INVOKE_AGENT
    assert gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value == c.OP_EXECUTE_TOOL


def test_the_one_uuid_check_accepts_every_spelling_and_returns_the_canonical_text() -> None:
    from onex_otel.ids import canonical_uuid, is_uuid

    u = uuid.UUID("0190f5e6-1c2b-7d3e-8f40-123456789abc")
    for spelling in (str(u), str(u).upper(), u.hex, f"{{{u}}}", f"urn:uuid:{u}", u):
        assert canonical_uuid(spelling) == str(u)
        assert is_uuid(spelling)
    for bad in (None, "", "abc-123", str(u)[:-1], 5, "0190f5e6-1c2b-7d3e-8f40-123456789abz"):
        assert canonical_uuid(bad) is None
        assert not is_uuid(bad)
