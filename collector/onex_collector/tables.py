"""The tables the collector writes and the shapes of what it writes: :class:`Row`, :class:`Decoded`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from onex_otel import conventions as c
from onex_otel.conventions import EventType

__all__ = ["JSON_COLUMNS", "TABLE_COLUMNS", "Decoded", "Fields", "Row", "UuidValue"]

#: Columns the collector writes, per table, in row order (the first is the primary key).
TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    c.TABLE_AGENT_ACTIONS: (
        "id",
        "correlation_id",
        "agent_name",
        "action_type",
        "action_name",
        "action_details",
        "debug_mode",
        "duration_ms",
        "project_path",
        "project_name",
        "working_directory",
        "created_at",
    ),
    c.TABLE_ROUTING_DECISIONS: (
        "id",
        "correlation_id",
        "user_request",
        "selected_agent",
        "confidence_score",
        "alternatives",
        "reasoning",
        "routing_strategy",
        "context",
        "routing_time_ms",
        "created_at",
    ),
    c.TABLE_TRANSFORMATION_EVENTS: (
        "id",
        "correlation_id",
        "source_agent",
        "target_agent",
        "transformation_reason",
        "confidence_score",
        "transformation_duration_ms",
        "success",
        "created_at",
    ),
    c.TABLE_ROUTER_PERFORMANCE: (
        "id",
        "correlation_id",
        "query_text",
        "routing_duration_ms",
        "cache_hit",
        "trigger_match_strategy",
        "confidence_components",
        "candidates_evaluated",
        "created_at",
    ),
    c.TABLE_DETECTION_FAILURES: (
        "id",
        "correlation_id",
        "user_request",
        "failure_reason",
        "detection_strategy",
        "candidates_evaluated",
        "candidates",
        "best_confidence",
        "detection_duration_ms",
        "context",
        "created_at",
    ),
    c.TABLE_EXECUTION_EVENTS: (
        "event_id",
        "execution_id",
        "correlation_id",
        "kind",
        "agent_name",
        "occurred_at",
        "body",
    ),
}

#: An event's payload as the row builders read it: the payload model's fields, validated.
Fields = Mapping[str, Any]

#: JSONB columns per table (values are Python dicts/lists in a :class:`Row`).
JSON_COLUMNS: Final[dict[str, frozenset[str]]] = {
    c.TABLE_AGENT_ACTIONS: frozenset({"action_details"}),
    c.TABLE_ROUTING_DECISIONS: frozenset({"alternatives", "context"}),
    c.TABLE_TRANSFORMATION_EVENTS: frozenset(),
    c.TABLE_ROUTER_PERFORMANCE: frozenset({"confidence_components"}),
    c.TABLE_DETECTION_FAILURES: frozenset({"candidates", "context"}),
    c.TABLE_EXECUTION_EVENTS: frozenset({"body"}),
}


#: A UUID as a row holds it: a ``uuid.UUID``, or the canonical text the message carried
#: (``str(uuid)``'s form; the fast path keeps it, :mod:`onex_collector.fastpath`).
UuidValue = uuid.UUID | str


class Row(NamedTuple):
    """One row of ``table``; ``values`` follow :data:`TABLE_COLUMNS` [table].

    A UUID column holds a :data:`UuidValue`, a timestamp column a timezone-aware ``datetime`` or
    its RFC 3339 UTC text (``2026-01-02T03:04:05.678901Z``, as the message carried it): both
    forms give the same JSON in the batch's document and the same value in the table.

    (Named tuples: built for every message, they cost a fraction of a frozen dataclass.)
    """

    table: str
    values: tuple[Any, ...]

    def as_dict(self) -> dict[str, Any]:
        """The row as ``{column: value}``."""
        return dict(zip(TABLE_COLUMNS[self.table], self.values, strict=True))


class Decoded(NamedTuple):
    """A decoded event: its identity and the rows it writes."""

    event_id: UuidValue
    event_type: EventType
    correlation_id: UuidValue
    rows: tuple[Row, ...]
    legacy: bool = False

    @property
    def execution_id(self) -> uuid.UUID | None:
        """The execution whose log row this event changes (lifecycle events only)."""
        for row in self.rows:
            if row.table == c.TABLE_EXECUTION_EVENTS:
                value: UuidValue = row.values[1]
                return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
        return None
