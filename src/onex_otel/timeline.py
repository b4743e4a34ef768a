"""A run's timeline, rebuilt from the legacy PostgreSQL tables (``onex-otel trace``).

Pure functions: :func:`build_timeline` turns the rows of one correlation id into a tree of
:class:`Node` (routing, transformation, router performance, the execution with its actions), which
:func:`render_text` prints for a terminal, :func:`to_json` gives to machines and :func:`to_jaeger`
turns into the JSON that Jaeger UI's "JSON file" upload opens. :func:`fetch_rows` is the only I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from onex_otel.conventions import (
    TABLE_AGENT_ACTIONS,
    TABLE_EXECUTION_LOGS,
    TABLE_ROUTER_PERFORMANCE,
    TABLE_ROUTING_DECISIONS,
    TABLE_TRANSFORMATION_EVENTS,
)
from onex_otel.ids import is_uuid

__all__ = ["Node", "build_timeline", "fetch_rows", "render_text", "to_jaeger", "to_json"]

Row = Mapping[str, Any]


@dataclass
class Node:
    """One entry of the timeline: what happened, when, how long, with what outcome."""

    kind: str  # run | routing | transformation | performance | execution | action
    name: str
    start: datetime | None
    duration_ms: float | None
    status: str  # ok | error | in_progress | cancelled
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of this node and its children."""
        return {
            "kind": self.kind,
            "name": self.name,
            "start": self.start.isoformat() if self.start else None,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "attributes": {k: _jsonable(v) for k, v in self.attributes.items()},
            "children": [c.as_dict() for c in self.children],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


_EXEC_STATUS = {"success": "ok", "failed": "error", "cancelled": "cancelled"}


def build_timeline(correlation_id: str, rows: Mapping[str, Sequence[Row]]) -> Node | None:
    """The tree of one run from its rows per table; ``None`` when there are no rows at all."""
    if not any(rows.get(t) for t in rows):
        return None
    children: list[Node] = []
    for r in rows.get(TABLE_ROUTING_DECISIONS, ()):
        children.append(
            Node(
                "routing",
                f"route -> {r['selected_agent']}",
                r.get("created_at"),
                _num(r.get("routing_time_ms")),
                "ok",
                {
                    "confidence": _num(r.get("confidence_score")),
                    "strategy": r.get("routing_strategy"),
                    "reasoning": r.get("reasoning"),
                },
            )
        )
    for r in rows.get(TABLE_ROUTER_PERFORMANCE, ()):
        children.append(
            Node(
                "performance",
                "router metrics",
                r.get("created_at"),
                _num(r.get("routing_duration_ms")),
                "ok",
                {"cache_hit": r.get("cache_hit"), "candidates": r.get("candidates_evaluated")},
            )
        )
    for r in rows.get(TABLE_TRANSFORMATION_EVENTS, ()):
        children.append(
            Node(
                "transformation",
                f"{r['source_agent']} -> {r['target_agent']}",
                r.get("created_at"),
                _num(r.get("transformation_duration_ms")),
                "ok" if r.get("success") else "error",
                {"confidence": _num(r.get("confidence_score")), "reason": r.get("transformation_reason")},
            )
        )
    actions = rows.get(TABLE_AGENT_ACTIONS, ())
    executions = sorted(
        rows.get(TABLE_EXECUTION_LOGS, ()), key=lambda r: r.get("started_at") or r["created_at"]
    )
    exec_nodes: list[Node] = []
    for r in executions:
        status = _EXEC_STATUS.get(str(r.get("status")), "in_progress")
        attrs = {"execution_id": r.get("execution_id"), "quality_score": _num(r.get("quality_score"))}
        if r.get("error_message"):
            attrs["error"] = f"{r.get('error_type') or 'Error'}: {r['error_message']}"
        exec_nodes.append(
            Node(
                "execution",
                str(r["agent_name"]),
                r.get("started_at"),
                _num(r.get("duration_ms")),
                status,
                attrs,
            )
        )
    for r in actions:
        details = r.get("action_details") or {}
        duration = _num(r.get("duration_ms"))
        start = r.get("created_at")
        if start is not None and duration and r["action_type"] in _TIMED_ACTIONS:
            # A timed action's row is written when it ends (as the legacy ActionLogger did); an
            # error or success row is a point in time (the execution's end for its outcome row,
            # whose duration is the whole execution's).
            start = start - timedelta(milliseconds=duration)
        attrs = {"agent": r.get("agent_name"), "details": details}
        failure = _action_failure(r["action_type"], details)
        if failure:
            attrs["error"] = failure
        node = Node(
            "action",
            f"{r['action_type']} {r['action_name']}",
            start,
            duration,
            "error" if failure or r["action_type"] == "error" else "ok",
            attrs,
        )
        owner = _owning_execution(exec_nodes, r)
        (owner.children if owner else children).append(node)
    children.extend(exec_nodes)
    for items in (*(n.children for n in exec_nodes), children):
        items.sort(key=lambda n: (n.start is None, n.start.timestamp() if n.start else 0.0))
    starts = [n.start for n in children if n.start]
    ends = [n.start.timestamp() * 1000 + (n.duration_ms or 0) for n in children if n.start]
    total = (max(ends) - min(s.timestamp() * 1000 for s in starts)) if starts else None
    worst = (
        "error"
        if any(n.status == "error" for n in exec_nodes)
        else ("in_progress" if any(n.status == "in_progress" for n in exec_nodes) else "ok")
    )
    return Node("run", correlation_id, min(starts) if starts else None, total, worst, {}, children)


_TIMED_ACTIONS = frozenset({"tool_call", "decision"})


def _action_failure(action_type: str, details: Any) -> str | None:
    """The error of a tool call or decision that failed (``success: false`` and/or ``error``)."""
    if action_type not in _TIMED_ACTIONS or not isinstance(details, Mapping):
        return None
    error = details.get("error") or details.get("error_message")
    if not error and details.get("success") is not False:
        return None
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return f"{kind or 'Error'}: {message}" if message else str(kind or "Error")
    return str(error) if error else "failed"


def _owning_execution(executions: Sequence[Node], action: Row) -> Node | None:
    if not executions:
        return None
    at = action.get("created_at")
    agent = action.get("agent_name")
    for node in executions:
        if node.name == agent and node.start and at and at >= node.start:
            return node
    return executions[-1]


_MARK = {"ok": "ok", "error": "FAILED", "in_progress": "running", "cancelled": "cancelled"}


def render_text(root: Node) -> str:
    """The tree as indented lines: offset from the run start, name, duration, status."""
    lines: list[str] = []
    origin = root.start

    def walk(node: Node, prefix: str, last: bool, top: bool) -> None:
        offset = ""
        if origin and node.start:
            offset = f"+{(node.start - origin).total_seconds() * 1000:8.1f}ms "
        dur = f"{node.duration_ms:.0f}ms" if node.duration_ms is not None else "-"
        branch = "" if top else ("└─ " if last else "├─ ")
        extra = ""
        if "error" in node.attributes:
            extra = f"  {node.attributes['error']}"
        lines.append(
            f"{offset}{prefix}{branch}{node.kind:<14} {node.name}  [{dur}, "
            f"{_MARK.get(node.status, node.status)}]{extra}"
        )
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, False)

    walk(root, "", True, True)
    return "\n".join(lines)


def to_json(root: Node) -> dict[str, Any]:
    """The tree as a JSON-ready dictionary."""
    return root.as_dict()


def _span_id(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def to_jaeger(root: Node, service_name: str = "onex-otel") -> dict[str, Any]:
    """Jaeger UI's JSON upload format: ``{"data": [{"traceID", "spans", "processes"}]}``.

    The trace id is the correlation id's hex (the same id the live trace has in Jaeger).
    """
    trace_id = uuid.UUID(root.name).hex if is_uuid(root.name) else _span_id(root.name) * 2
    spans: list[dict[str, Any]] = []
    fallback_us = int(root.start.timestamp() * 1e6) if root.start else 0

    def walk(node: Node, parent: str | None, index: str) -> None:
        sid = _span_id(trace_id, index, node.kind, node.name)
        start_us = int(node.start.timestamp() * 1e6) if node.start else fallback_us
        tags: list[dict[str, Any]] = [
            {"key": "onex.kind", "type": "string", "value": node.kind},
            {"key": "onex.status", "type": "string", "value": node.status},
        ]
        if node.status == "error":
            tags.append({"key": "error", "type": "bool", "value": True})
        for key, value in node.attributes.items():
            if value is None:
                continue
            tags.append({"key": key, "type": "string", "value": str(_jsonable(value))})
        spans.append(
            {
                "traceID": trace_id,
                "spanID": sid,
                "operationName": node.name if node.kind == "run" else f"{node.kind} {node.name}",
                "references": (
                    [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else []
                ),
                "startTime": start_us,
                "duration": int((node.duration_ms or 0) * 1000),
                "tags": tags,
                "logs": [],
                "processID": "p1",
                "warnings": None,
            }
        )
        for i, child in enumerate(node.children):
            walk(child, sid, f"{index}.{i}")

    walk(root, None, "0")
    return {
        "data": [
            {
                "traceID": trace_id,
                "spans": spans,
                "processes": {"p1": {"serviceName": service_name, "tags": []}},
                "warnings": None,
            }
        ]
    }


#: Every table has an indexed ``correlation_id`` column (the router tables also carry it in
#: ``context`` for the seeds' queries; see the migration's D3).
_QUERIES: dict[str, str] = {
    table: f"SELECT * FROM {table} WHERE correlation_id = %(cid)s::uuid ORDER BY {order}"
    for table, order in (
        (TABLE_ROUTING_DECISIONS, "created_at"),
        (TABLE_TRANSFORMATION_EVENTS, "created_at"),
        (TABLE_ROUTER_PERFORMANCE, "created_at"),
        (TABLE_EXECUTION_LOGS, "started_at"),
        (TABLE_AGENT_ACTIONS, "created_at"),
    )
}


def fetch_rows(conn: Any, correlation_id: str) -> dict[str, list[dict[str, Any]]]:
    """Read one run's rows from every table (``conn``: a psycopg connection)."""
    from psycopg.rows import dict_row

    out: dict[str, list[dict[str, Any]]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for table, sql in _QUERIES.items():
            cur.execute(sql, {"cid": correlation_id})
            out[table] = list(cur.fetchall())
    return out
