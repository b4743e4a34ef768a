"""The limits of onex_otel.limits are the CHECK constraints of the migrations, and they are used."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from onex_migrations import migration_files
from onex_otel import limits, records
from onex_otel.conventions import ActionType, ExecutionStatus

_TABLE = re.compile(r"CREATE TABLE (\w+)\s*\((.*?)\n\);", re.S)
_RANGE = re.compile(r"CHECK \((\w+) >= (\d+(?:\.\d+)?)(?: AND \1 (<=?) (\d+(?:\.\d+)?))?\)")
_IN = re.compile(r"CHECK \((\w+) IN \(([^)]*)\)\)")


def _tables() -> dict[str, str]:
    sql = "\n".join(f.read_text(encoding="utf-8") for f in migration_files())
    return {name: body for name, body in _TABLE.findall(sql)}


def test_every_range_check_of_the_migrations_is_a_constant() -> None:
    found = {}
    for table, body in _tables().items():
        for column, lo, op, hi in _RANGE.findall(body):
            found[table, column] = (float(lo), float(hi) if hi else None, op != "<")
    assert len(found) >= 12
    assert found == limits.COLUMN_RANGES


def test_the_enumerations_are_the_migrations_ones() -> None:
    checks = {
        (t, c): {v.strip().strip("'") for v in values.split(",")}
        for t, body in _tables().items()
        for c, values in _IN.findall(body)
    }
    assert checks["agent_actions", "action_type"] == {a.value for a in ActionType}
    assert checks["agent_execution_logs", "status"] == {s.value for s in ExecutionStatus}


def test_the_validators_stop_at_the_limits() -> None:
    from onex_otel.envelope import RouterPerformancePayload

    limit = limits.ROUTING_DURATION_MS_LIMIT
    assert records.check_routing_duration(limit - 1) == limit - 1
    with pytest.raises(records.RecordError, match=f"below {limit}"):
        records.check_routing_duration(limit)
    assert records.check_confidence("c", limits.SCORE_MAX) == limits.SCORE_MAX
    with pytest.raises(records.RecordError):
        records.check_confidence("c", limits.SCORE_MAX + 0.01)
    base: dict[str, Any] = {
        "query_text": "q",
        "candidates_evaluated": 1,
        "correlation_id": "0190f5e6-1c2b-7d3e-8f40-123456789abc",
    }
    RouterPerformancePayload(routing_duration_ms=limit - 1, **base)
    with pytest.raises(ValidationError):
        RouterPerformancePayload(routing_duration_ms=limit, **base)
