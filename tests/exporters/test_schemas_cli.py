"""``onex-otel schemas``: the JSON Schemas validate real events and reject bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from onex_exporters.mapping import span_to_records
from onex_otel.cli import main
from onex_otel.conventions import EventType
from tests.exporters.spans import SpanFactory, run_full_execution


def test_schemas_validate_every_mapped_event_and_reject_broken_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "--output", str(tmp_path / "s")]) == 0
    files = sorted((tmp_path / "s").glob("*.schema.json"))
    assert {f.name.removesuffix(".schema.json") for f in files} == {et.value for et in EventType}
    schemas = {f.name.removesuffix(".schema.json"): json.loads(f.read_text()) for f in files}
    f = SpanFactory()
    run_full_execution(f)
    run_full_execution(f, fail=True)
    seen = set()
    for span in f.finished():
        for record in span_to_records(span):
            envelope = json.loads(record.to_json())
            schema = schemas[envelope["event_type"]]
            jsonschema.validate(envelope, schema, format_checker=jsonschema.FormatChecker())
            seen.add(envelope["event_type"])
            wrong_type = dict(envelope, event_type="something.else")
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(wrong_type, schema)
    assert seen == {et.value for et in EventType}
    routing = next(
        r for s in f.finished() for r in span_to_records(s) if r.event_type is EventType.ROUTING_DECISION
    )
    bad = json.loads(routing.to_json())
    bad["payload"]["confidence_score"] = 1.5
    with pytest.raises(jsonschema.ValidationError, match=r"1\.5"):
        jsonschema.validate(bad, schemas[EventType.ROUTING_DECISION.value])


def test_schemas_prints_json_and_rejects_unknown_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {et.value for et in EventType}
    assert main(["schemas", "-t", EventType.AGENT_ACTION.value]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["$id"] == "registry://omninode/agent/agent_action/v1"
    assert main(["schemas", "-t", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("onex-otel schemas: unknown event type 'nope'")
    assert err.count("\n") == 1
