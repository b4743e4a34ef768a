"""The fast path's statement: ``onex_ingest`` and the JSONB document of a batch it takes.

One statement, one round trip per batch. The batch's rows travel as a single JSONB document to
``onex_ingest`` (migrations 0003, 0004, 0008, 0009), which inserts them table by table and
recomputes the ``agent_execution_logs`` rows of the executions that got new lifecycle events;
idempotent (a redelivered event adds nothing).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import pydantic_core

from onex_collector.tables import JSON_COLUMNS, TABLE_COLUMNS, Decoded, Row

__all__ = ["INGEST", "INGEST_PREPARED", "PREPARE_INGEST", "batch_document", "db_values"]

#: The fast path: the whole batch as one JSONB document, one statement (migration 0003).
INGEST = "SELECT rows_inserted, executions_updated FROM onex_ingest(%s::jsonb)"
#: The same, prepared on each pipelined connection (parsed and planned once, not per batch).
INGEST_NAME = "onex_ingest"
INGEST_PREPARED = INGEST_NAME.encode()
PREPARE_INGEST = f"PREPARE {INGEST_NAME} (jsonb) AS {INGEST.replace('%s::jsonb', '$1')}"


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def db_values(row: Row) -> tuple[Any, ...]:
    """The row's values as PostgreSQL takes them one by one (JSONB columns as JSON text)."""
    json_cols = JSON_COLUMNS[row.table]
    if not json_cols:
        return row.values
    names = TABLE_COLUMNS[row.table]
    return tuple(
        json.dumps(v, separators=(",", ":"), default=_json_default)
        if name in json_cols and v is not None
        else v
        for name, v in zip(names, row.values, strict=True)
    )


def batch_document(events: Sequence[Decoded]) -> str:
    """The rows of ``events`` as the JSON document ``onex_ingest`` takes.

    ``{"<table>": [[value, ...], ...]}``: each row the array of its values in
    :data:`TABLE_COLUMNS` order; UUIDs and timestamps as canonical / RFC 3339 strings, JSONB
    columns as nested JSON (pydantic-core's serializer, no per-value Python work).
    """
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for event in events:
        for row in event.rows:
            rows = by_table.get(row.table)
            if rows is None:
                rows = by_table[row.table] = []
            rows.append(row.values)
    return pydantic_core.to_json(by_table).decode()
