"""Every SQL query of every panel runs against the tables the collector filled and answers.

The queries are taken from the provisioned JSON, expanded as Grafana expands them
(``tests/dashboards/grafana.py``) over the last 6 hours with every variable at its default, and
run on a migrated PostgreSQL that ``onex-otel collect`` filled (``conftest.py``). Each panel's
result is checked against what the data must give: a schema change that breaks a panel (a
renamed column, a changed status value, a moved JSON key) fails here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.dashboards import grafana
from tests.dashboards.agent_process import EXECUTION_ERROR, TOOL_ERROR
from tests.dashboards.conftest import (
    GAMMA_DURATIONS,
    GAMMA_FAILED_MS,
    GAMMA_QUALITY,
    GAMMA_TOOL_MS,
    Stack,
)

pytestmark = pytest.mark.integration

SQL_TARGETS = grafana.targets("onex-postgres")

Rows = list[dict[str, Any]]


def percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def hexid(value: Any) -> str:
    return str(value).replace("-", "")


def num(value: Any) -> float:
    assert isinstance(value, int | float | Decimal), value
    return float(value)


def run_panel(
    stack: Stack, target: grafana.Target, overrides: dict[str, list[str]] | None = None
) -> tuple[list[str], Rows]:
    dashboard = grafana.load_dashboards()[target.dashboard]
    values = grafana.variable_values(dashboard, stack.run, overrides)
    sql = grafana.expand(
        target.target["rawSql"],
        time_from=stack.now - timedelta(hours=6),
        time_to=stack.now + timedelta(minutes=5),
        variables=values,
    )
    names, rows = stack.columns(sql)
    return names, [dict(zip(names, row, strict=True)) for row in rows]


# --- what each panel must answer, by dashboard file and panel title ------------------------------
def in_flight(s: Stack, rows: Rows) -> None:
    assert rows == [{"in_flight": 2}]  # beta's open run and gamma's stuck one


def stuck_count(s: Stack, rows: Rows) -> None:
    assert rows == [{"stuck": 1}]


def success_rate(s: Stack, rows: Rows) -> None:
    # successes: alpha + gamma x4; ended: those + beta's and gamma's failures
    assert rows[0]["success_rate"] == pytest.approx(5 / 7)


def runs(s: Stack, rows: Rows) -> None:
    assert rows == [{"runs": 9}]


def runs_by_status(s: Stack, rows: Rows) -> None:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["metric"]] = totals.get(row["metric"], 0) + row["runs"]
    assert totals == {"success": 5, "failed": 2, "in_progress": 2}


def duration_percentiles(s: Stack, rows: Rows) -> None:
    by_agent = {r["agent"]: r for r in rows}
    assert set(by_agent) == {"agent-alpha", "agent-beta", "agent-gamma"}
    gamma = by_agent["agent-gamma"]
    durations = [float(d) for d in (*GAMMA_DURATIONS, GAMMA_FAILED_MS)]
    assert gamma["runs"] == 5
    assert gamma["p50_ms"] == pytest.approx(percentile(durations, 0.5))
    assert gamma["p95_ms"] == pytest.approx(percentile(durations, 0.95))
    assert gamma["p99_ms"] == pytest.approx(percentile(durations, 0.99))
    assert gamma["max_ms"] == max(GAMMA_DURATIONS)
    assert rows[0]["agent"] == "agent-gamma"  # ordered by p95, slowest first
    assert by_agent["agent-alpha"]["runs"] == by_agent["agent-beta"]["runs"] == 1


def quality_trend(s: Stack, rows: Rows) -> None:
    gamma = sorted((r["time"], r["quality_score"]) for r in rows if r["metric"] == "agent-gamma")
    assert [q for _, q in gamma] == pytest.approx(list(GAMMA_QUALITY))
    assert [r["quality_score"] for r in rows if r["metric"] == "agent-alpha"] == [0.75]


def failure_reasons(s: Stack, rows: Rows) -> None:
    assert {(r["error_type"], r["error_message"], r["failures"], r["agents"]) for r in rows} == {
        ("TimeoutError", "upstream timed out", 1, "agent-gamma"),
        ("ValueError", EXECUTION_ERROR, 1, "agent-beta"),
    }


def stuck_runs(s: Stack, rows: Rows) -> None:
    assert len(rows) == 1
    row = rows[0]
    assert row["execution_id"] == str(s.ids["gamma_stuck_execution"])
    assert (row["agent"], row["last_stage"]) == ("agent-gamma", "fetching")
    assert row["trace_id"] == hexid(s.ids["gamma_stuck"])
    assert 179 <= row["age_minutes"] <= 185


def recent_runs(s: Stack, rows: Rows) -> None:
    assert len(rows) == 9
    started = [r["started_at"] for r in rows]
    assert started == sorted(started, reverse=True)
    assert all(r["trace_id"] == hexid(r["correlation_id"]) for r in rows)
    by_cid = {r["correlation_id"]: r for r in rows}
    alpha = by_cid[str(s.ids["alpha"])]
    assert (alpha["agent"], alpha["status"], alpha["quality_score"]) == ("agent-alpha", "success", 0.75)
    beta = by_cid[str(s.ids["beta"])]
    assert (beta["status"], beta["error_type"]) == ("failed", "ValueError")
    assert by_cid[str(s.ids["in_flight"])]["status"] == "in_progress"


def actions_per_minute(s: Stack, rows: Rows) -> None:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["metric"]] = totals.get(row["metric"], 0) + row["actions"]
    # tool calls: alpha read_file + web_search, beta read_file, gamma write_file x4
    assert totals["tool_call"] == 7
    # alpha's recorded ParseError and beta's failed execution
    assert totals["error"] == 2
    assert totals["success"] >= 1 and totals["decision"] >= 1


def tool_latency(s: Stack, rows: Rows) -> None:
    by_tool = {r["tool"]: r for r in rows}
    assert set(by_tool) == {"read_file", "web_search", "write_file"}
    write = by_tool["write_file"]
    ms = [float(v) for v in GAMMA_TOOL_MS]
    assert write["calls"] == 4
    assert write["p50_ms"] == pytest.approx(percentile(ms, 0.5))
    assert write["p95_ms"] == pytest.approx(percentile(ms, 0.95))
    assert write["max_ms"] == max(GAMMA_TOOL_MS)
    assert by_tool["read_file"]["calls"] == 2


def tool_error_rate(s: Stack, rows: Rows) -> None:
    table = {(r["agent"], r["tool"]): (r["calls"], r["failures"], r["error_rate"]) for r in rows}
    assert table == {
        ("agent-alpha", "web_search"): (1, 1, 1.0),
        ("agent-alpha", "read_file"): (1, 0, 0.0),
        ("agent-beta", "read_file"): (1, 0, 0.0),
        ("agent-gamma", "write_file"): (4, 0, 0.0),
    }
    assert (rows[0]["agent"], rows[0]["tool"]) == ("agent-alpha", "web_search")


def slowest_tools(s: Stack, rows: Rows) -> None:
    assert rows[0]["tool"] == "write_file"
    assert rows[0]["p95_ms"] == pytest.approx(percentile([float(v) for v in GAMMA_TOOL_MS], 0.95))
    assert rows[0]["calls"] == 4
    assert {r["tool"] for r in rows} == {"read_file", "web_search", "write_file"}


def most_failing_tools(s: Stack, rows: Rows) -> None:
    assert [(r["tool"], r["failures"], r["last_error"]) for r in rows] == [("web_search", 1, TOOL_ERROR)]


def error_actions(s: Stack, rows: Rows) -> None:
    table = {(r["agent"], r["error"]): (r["error_message"], r["errors"]) for r in rows}
    assert table[("agent-alpha", "ParseError")] == ("could not parse the page", 1)
    assert [v for k, v in table.items() if k[0] == "agent-beta"] == [(EXECUTION_ERROR, 1)]


def drill_down(s: Stack, rows: Rows) -> None:
    # the default (empty) correlation id matches no run
    assert rows == []


def routing_confidence(s: Stack, rows: Rows) -> None:
    # alpha 0.9 and beta 0.6, routed a moment apart (one 5-minute bucket, or two)
    assert min(r["min_confidence"] for r in rows) == pytest.approx(0.6)
    weighted = sorted(r["mean_confidence"] for r in rows)
    assert weighted in ([pytest.approx(0.75)], [pytest.approx(0.6), pytest.approx(0.9)])


def strategy_mix(s: Stack, rows: Rows) -> None:
    assert {(r["strategy"], r["decisions"]) for r in rows} == {("fuzzy_match", 1), ("keyword", 1)}


def cache_hit_rate(s: Stack, rows: Rows) -> None:
    rates = sorted(r["cache_hit_rate"] for r in rows)
    assert rates in ([0.5], [0.0, 1.0])


def routing_latency(s: Stack, rows: Rows) -> None:
    if len(rows) == 1:
        assert (rows[0]["p50_ms"], rows[0]["p95_ms"]) == pytest.approx((21.0, 29.1))
    else:
        assert sorted(r["p50_ms"] for r in rows) == [12.0, 30.0]


def selected_agents(s: Stack, rows: Rows) -> None:
    assert {(r["agent"], r["decisions"], r["mean_confidence"], r["mean_routing_ms"]) for r in rows} == {
        ("agent-alpha", 1, 0.9, 12.0),
        ("agent-beta", 1, 0.6, 30.0),
    }


def transformations(s: Stack, rows: Rows) -> None:
    assert [
        (r["source_agent"], r["target_agent"], r["transformations"], r["success_rate"], r["mean_ms"])
        for r in rows
    ] == [("polymorphic-agent", "agent-beta", 1, 1.0, 40.0)]


def detection_failures(s: Stack, rows: Rows) -> None:
    assert [(r["metric"], r["failures"]) for r in rows] == [("no_confident_match", 1)]


def detection_reasons(s: Stack, rows: Rows) -> None:
    assert [(r["failure_reason"], r["strategy"], r["failures"], r["best_confidence"]) for r in rows] == [
        ("no_confident_match", "fuzzy_match", 1, 0.3)
    ]


EXPECTED: dict[tuple[str, str], Callable[[Stack, Rows], None]] = {
    ("agent-executions.json", "Runs in flight"): in_flight,
    ("agent-executions.json", "Stuck runs"): stuck_count,
    ("agent-executions.json", "Success rate"): success_rate,
    ("agent-executions.json", "Runs"): runs,
    ("agent-executions.json", "Runs by status"): runs_by_status,
    ("agent-executions.json", "Duration percentiles by agent"): duration_percentiles,
    ("agent-executions.json", "Quality score trend"): quality_trend,
    ("agent-executions.json", "Failure reasons"): failure_reasons,
    ("agent-executions.json", "Stuck runs (in progress too long)"): stuck_runs,
    ("agent-executions.json", "Recent runs"): recent_runs,
    ("agent-actions.json", "Actions per minute by type"): actions_per_minute,
    ("agent-actions.json", "Tool latency by tool"): tool_latency,
    ("agent-actions.json", "Tool error rate by agent and tool"): tool_error_rate,
    ("agent-actions.json", "Slowest tools"): slowest_tools,
    ("agent-actions.json", "Most failing tools"): most_failing_tools,
    ("agent-actions.json", "Error actions"): error_actions,
    ("agent-actions.json", "Run drill-down"): drill_down,
    ("router.json", "Routing confidence"): routing_confidence,
    ("router.json", "Strategy mix"): strategy_mix,
    ("router.json", "Cache hit rate"): cache_hit_rate,
    ("router.json", "Routing latency"): routing_latency,
    ("router.json", "Selected agents"): selected_agents,
    ("router.json", "Transformations"): transformations,
    ("router.json", "Detection failures"): detection_failures,
    ("router.json", "Detection failure reasons"): detection_reasons,
}


def test_every_sql_panel_has_an_expectation() -> None:
    assert sorted({(t.dashboard, t.panel_title) for t in SQL_TARGETS}) == sorted(EXPECTED)


@pytest.mark.parametrize("target", SQL_TARGETS, ids=lambda t: t.name)
def test_panel_query(stack: Stack, target: grafana.Target) -> None:
    names, rows = run_panel(stack, target)
    if target.target["format"] == "time_series":
        # Grafana's time series from SQL: a "time" column, an optional text "metric" column
        # naming the series, every other column a number.
        assert names[0] == "time", names
        assert rows, "a time series panel with no points"
        for row in rows:
            for name, value in row.items():
                if name == "metric":
                    assert isinstance(value, str)
                elif value is not None:
                    num(value)
    EXPECTED[(target.dashboard, target.panel_title)](stack, rows)


def test_drill_down_finds_a_run_by_correlation_id(stack: Stack) -> None:
    (target,) = [t for t in SQL_TARGETS if t.panel_title == "Run drill-down"]
    alpha = str(stack.ids["alpha"])
    _, rows = run_panel(stack, target, {"correlation_id": [alpha]})
    assert {r["trace_id"] for r in rows} == {hexid(alpha)}
    tools = [(r["action_name"], r["error"]) for r in rows if r["action_type"] == "tool_call"]
    assert tools == [("read_file", None), ("web_search", TOOL_ERROR)]
    assert [r["action_name"] for r in rows if r["action_type"] == "error"] == ["ParseError"]
    created = [r["created_at"] for r in rows]
    assert created == sorted(created)


def test_variables_narrow_the_panels(stack: Stack) -> None:
    (target,) = [t for t in SQL_TARGETS if t.panel_title == "Tool error rate by agent and tool"]
    _, rows = run_panel(stack, target, {"agent": ["agent-alpha"], "tool": ["web_search"]})
    assert [(r["agent"], r["tool"], r["failures"]) for r in rows] == [("agent-alpha", "web_search", 1)]
    (target,) = [t for t in SQL_TARGETS if t.panel_title == "Runs"]
    _, rows = run_panel(stack, target, {"agent": ["agent-gamma"]})
    assert rows == [{"runs": 6}]


def test_variable_queries(stack: Stack) -> None:
    dashboards = grafana.load_dashboards()
    values = grafana.variable_values(dashboards["agent-actions.json"], stack.run)
    assert values["agent"] == ["agent-alpha", "agent-beta", "agent-gamma"]
    assert values["tool"] == ["read_file", "web_search", "write_file"]
