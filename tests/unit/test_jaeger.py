"""Real spans as Jaeger's upload JSON: ids, times, parents, typed tags, events, errors, processes."""

from onex_otel.jaeger import SpanRecord, to_jaeger

TRACE = "0af7651916cd43dd8448eb211c80319c"
RESOURCE = {"service.name": "agent", "host.name": "h"}


def test_spans_become_one_jaeger_trace() -> None:
    root = SpanRecord(
        TRACE,
        "00f067aa0ba902b7",
        "",
        "invoke_agent a",
        1_000_000_000,
        1_050_000_000,
        attributes={"gen_ai.agent.name": "a", "n": 3, "q": 0.5, "ok": True, "tags": ["x", "y"]},
        resource=RESOURCE,
        scope="onex_otel",
    )
    tool = SpanRecord(
        TRACE,
        "b7ad6b7169203331",
        "00f067aa0ba902b7",
        "execute_tool search",
        1_010_000_000,
        1_012_500_000,
        error=True,
        status_message="timed out",
        events=[(1_012_000_000, "exception", {"exception.type": "TimeoutError"})],
        resource=RESOURCE,
        scope="onex_otel",
    )
    query = SpanRecord(
        TRACE,
        "c7ad6b7169203331",
        "b7ad6b7169203331",
        "SELECT",
        1_011_000_000,
        1_011_400_000,
        kind=3,
        resource={"service.name": "other"},
    )
    elsewhere = SpanRecord("1" * 32, "d7ad6b7169203331", "", "x", 0, 1)
    doc = to_jaeger([query, tool, root, elsewhere], [TRACE])
    (trace,) = doc["data"]
    assert trace["traceID"] == TRACE
    assert [s["operationName"] for s in trace["spans"]] == ["invoke_agent a", "execute_tool search", "SELECT"]
    first, second, third = trace["spans"]
    assert first["references"] == []
    assert second["references"] == [{"refType": "CHILD_OF", "traceID": TRACE, "spanID": "00f067aa0ba902b7"}]
    assert (second["startTime"], second["duration"]) == (1_010_000, 2_500)
    assert {"key": "n", "type": "int64", "value": 3} in first["tags"]
    assert {"key": "q", "type": "float64", "value": 0.5} in first["tags"]
    assert {"key": "ok", "type": "bool", "value": True} in first["tags"]
    assert {"key": "tags", "type": "string", "value": '["x", "y"]'} in first["tags"]
    assert not any(t["key"] == "error" for t in first["tags"])
    assert {"key": "error", "type": "bool", "value": True} in second["tags"]
    assert {"key": "otel.status_description", "type": "string", "value": "timed out"} in second["tags"]
    assert second["logs"] == [
        {
            "timestamp": 1_012_000,
            "fields": [
                {"key": "event", "type": "string", "value": "exception"},
                {"key": "exception.type", "type": "string", "value": "TimeoutError"},
            ],
        }
    ]
    assert {"key": "span.kind", "type": "string", "value": "client"} in third["tags"]
    assert first["processID"] == second["processID"] != third["processID"]
    assert trace["processes"][first["processID"]] == {
        "serviceName": "agent",
        "tags": [{"key": "host.name", "type": "string", "value": "h"}],
    }
    assert trace["processes"][third["processID"]]["serviceName"] == "other"
