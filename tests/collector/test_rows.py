def test_nul_characters_are_stored_as_replacement_characters() -> None:
    """PostgreSQL text/jsonb cannot hold NUL: a valid event carrying one is not a poison message."""
    import json as _json
    import uuid as _uuid

    from onex_collector.rows import decode_message
    from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1

    env = OnexEnvelopeV1.create(
        AgentActionPayload(
            correlation_id=_uuid.uuid4(),
            agent_name="a\x00b",
            action_type="tool_call",
            action_name="read",
            action_details={"out": "x\x00y", "literal": "\\u0000"},
        )
    )
    decoded = decode_message(env.event_type.value, env.to_json())
    row = decoded.rows[0].as_dict()
    assert row["agent_name"] == "a\ufffdb"
    details = row["action_details"]
    details = _json.loads(details) if isinstance(details, str) else details
    assert details["out"] == "x\ufffdy"
    assert details["literal"] == "\\u0000"  # an escaped backslash is text, left alone
