"""Generate the Grafana dashboards of onex-otel (``deploy/grafana/dashboards/*.json``).

The dashboards are defined here, panel by panel, and written as the JSON that Grafana's file
provisioning loads (``deploy/grafana/provisioning/dashboards/onex-otel.yaml``). Edit this file,
then run::

    python deploy/grafana/generate.py          # rewrite the JSON files
    python deploy/grafana/generate.py --check  # exit 1 if the JSON files are not up to date

The test suite runs every SQL query of every panel against a migrated PostgreSQL filled through
the collector (``tests/dashboards/``), checks the JSON's structure, and that the files are in sync
with this definition.

Data sources (provisioned by ``deploy/grafana/provisioning/datasources/onex-otel.yaml``):
``onex-postgres`` (the collector's legacy tables) and ``onex-prometheus`` (agent, exporter and
collector metrics). SQL panels use two Grafana macros only, ``$__timeFilter(column)`` and
``$__timeGroupAlias(column, 'interval')``, and the template variables below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"

POSTGRES = {"type": "grafana-postgresql-datasource", "uid": "onex-postgres"}
PROMETHEUS = {"type": "prometheus", "uid": "onex-prometheus"}

#: Executions still in progress after this many minutes are "stuck" (dashboard default).
STUCK_MINUTES_DEFAULT = "30"

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# template variables
# ---------------------------------------------------------------------------------------------
def _query_var(name: str, label: str, sql: str, description: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": POSTGRES,
        "query": sql,
        "definition": sql,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "description": description,
    }


AGENT_VAR = _query_var(
    "agent",
    "Agent",
    "SELECT agent_name FROM agent_execution_logs UNION SELECT agent_name FROM agent_actions "
    "UNION SELECT selected_agent FROM agent_routing_decisions ORDER BY 1",
    "Agents seen in the execution, action and routing tables.",
)
TOOL_VAR = _query_var(
    "tool",
    "Tool",
    "SELECT DISTINCT action_name FROM agent_actions WHERE action_type = 'tool_call' ORDER BY 1",
    "Tools seen in agent_actions (action_type tool_call).",
)
JAEGER_VAR: Json = {
    "name": "jaeger_url",
    "label": "Jaeger UI",
    "type": "textbox",
    "query": "http://localhost:16686",
    "current": {"text": "http://localhost:16686", "value": "http://localhost:16686"},
    "description": "Base URL of the Jaeger UI; trace links open <jaeger_url>/trace/<trace id>.",
}
STUCK_VAR: Json = {
    "name": "stuck_minutes",
    "label": "Stuck after (minutes)",
    "type": "custom",
    "query": "15,30,60,240",
    "multi": False,
    "includeAll": False,
    "current": {"text": STUCK_MINUTES_DEFAULT, "value": STUCK_MINUTES_DEFAULT},
    "options": [
        {"text": v, "value": v, "selected": v == STUCK_MINUTES_DEFAULT} for v in ("15", "30", "60", "240")
    ],
    "description": "An execution still in progress this long after it started counts as stuck.",
}
CORRELATION_VAR: Json = {
    "name": "correlation_id",
    "label": "Correlation id",
    "type": "textbox",
    "query": "",
    "current": {"text": "", "value": ""},
    "description": "A run's correlation id (= its trace id; legacy non-UUID ids work too).",
}

AGENT_SQL = "${agent:sqlstring}"
TOOL_SQL = "${tool:sqlstring}"
AGENT_RE = "${agent:regex}"
TOOL_RE = "${tool:regex}"


# ---------------------------------------------------------------------------------------------
# panels
# ---------------------------------------------------------------------------------------------
def _sql(raw: str, fmt: str = "table") -> Json:
    return {
        "refId": "A",
        "datasource": POSTGRES,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": raw.strip(),
    }


def _prom(expr: str, legend: str, ref: str = "A") -> Json:
    return {
        "refId": ref,
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": True,
    }


def _panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    w: int = 12,
    h: int = 8,
    unit: str | None = None,
    **extra: Any,
) -> Json:
    panel: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": targets[0]["datasource"],
        "targets": targets,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    }
    if unit:
        panel["fieldConfig"]["defaults"]["unit"] = unit
    panel.update(extra)
    return panel


def _trace_link(field: str = "trace_id") -> Json:
    """A field override: the trace id opens the run in Jaeger."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {
                "id": "links",
                "value": [
                    {
                        "title": "Open the trace in Jaeger",
                        "targetBlank": True,
                        "url": "${jaeger_url}/trace/${__value.raw}",
                    }
                ],
            }
        ],
    }


def _drill_down_link(field: str = "correlation_id") -> Json:
    """A field override: the correlation id opens the run's actions on the actions dashboard."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {
                "id": "links",
                "value": [
                    {
                        "title": "Show the run's actions",
                        "url": "/d/onex-actions/agent-actions?var-correlation_id=${__value.raw}"
                        "&${__url_time_range}",
                    }
                ],
            }
        ],
    }


def _with_links(panel: Json, *overrides: Json) -> Json:
    panel["fieldConfig"]["overrides"].extend(overrides)
    return panel


def executions_dashboard() -> Json:
    """Agent executions: the legacy Agent Execution Dashboard (seed 000)."""
    where = f"$__timeFilter(started_at) AND agent_name IN ({AGENT_SQL})"
    panels = [
        _panel(
            "stat",
            "Runs in flight",
            "Executions whose row is still in_progress (started, not yet completed or "
            "failed), whatever the time range.",
            [
                _sql(f"""
SELECT count(*) AS in_flight
FROM agent_execution_logs
WHERE status = 'in_progress' AND agent_name IN ({AGENT_SQL})""")
            ],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Stuck runs",
            "In-progress executions that started more than $stuck_minutes minutes ago: "
            "the agent died, or its end event never reached the collector.",
            [
                _sql(f"""
SELECT count(*) AS stuck
FROM agent_execution_logs
WHERE status = 'in_progress' AND agent_name IN ({AGENT_SQL})
  AND started_at < now() - make_interval(mins => $stuck_minutes)""")
            ],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Success rate",
            "Finished executions in the time range that succeeded.",
            [
                _sql(f"""
SELECT (count(*) FILTER (WHERE status = 'success'))::float
       / NULLIF(count(*) FILTER (WHERE status <> 'in_progress'), 0) AS success_rate
FROM agent_execution_logs
WHERE {where}""")
            ],
            w=6,
            h=5,
            unit="percentunit",
        ),
        _panel(
            "stat",
            "Runs",
            "Executions started in the time range.",
            [_sql(f"SELECT count(*) AS runs FROM agent_execution_logs WHERE {where}")],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Oldest run in progress (collector)",
            "Age of the oldest execution still in progress, as the collector last counted it "
            "(onex_collector_oldest_in_progress_seconds; the OnexStuckRuns alert fires above "
            "30 minutes).",
            [_prom("max(onex_collector_oldest_in_progress_seconds)", "oldest")],
            w=6,
            h=5,
            unit="s",
        ),
        _panel(
            "timeseries",
            "Runs by status",
            "Executions started per minute, by their current status (in_progress, success, "
            "failed, cancelled).",
            [
                _sql(
                    f"""
SELECT $__timeGroupAlias(started_at, '1m'), status AS metric, count(*) AS runs
FROM agent_execution_logs
WHERE {where}
GROUP BY 1, 2
ORDER BY 1, 2""",
                    "time_series",
                )
            ],
        ),
        _panel(
            "timeseries",
            "Execution failure rate (metrics)",
            "Failed / ended executions per agent over 5 minutes, from the agents' "
            "onex_agent_executions_total counter (the OnexExecutionFailureRateHigh alert).",
            [
                _prom(
                    f'sum by (agent_name) (rate(onex_agent_executions_total{{status="failed", '
                    f'agent_name=~"{AGENT_RE}"}}[5m])) / sum by (agent_name) '
                    f'(rate(onex_agent_executions_total{{agent_name=~"{AGENT_RE}"}}[5m]))',
                    "{{agent_name}}",
                )
            ],
            unit="percentunit",
        ),
        _panel(
            "table",
            "Duration percentiles by agent",
            "p50 / p95 / p99 / max duration of the executions that ended, per agent.",
            [
                _sql(f"""
SELECT agent_name AS agent,
       count(*) AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99_ms,
       max(duration_ms) AS max_ms
FROM agent_execution_logs
WHERE {where} AND status <> 'in_progress' AND duration_ms IS NOT NULL
GROUP BY agent_name
ORDER BY p95_ms DESC, agent""")
            ],
            unit="ms",
        ),
        _panel(
            "timeseries",
            "Quality score trend",
            "Mean quality score (0..1) of successful executions, per agent, in 5-minute buckets.",
            [
                _sql(
                    f"""
SELECT $__timeGroupAlias(started_at, '5m'), agent_name AS metric,
       avg(quality_score) AS quality_score
FROM agent_execution_logs
WHERE {where} AND quality_score IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2""",
                    "time_series",
                )
            ],
            unit="percentunit",
        ),
        _panel(
            "table",
            "Failure reasons",
            "Failed and cancelled executions grouped by error type and message.",
            [
                _sql(f"""
SELECT COALESCE(error_type, 'unknown') AS error_type,
       left(COALESCE(error_message, ''), 200) AS error_message,
       count(*) AS failures,
       string_agg(DISTINCT agent_name, ', ') AS agents,
       max(started_at) AS last_seen
FROM agent_execution_logs
WHERE {where} AND status IN ('failed', 'cancelled')
GROUP BY 1, 2
ORDER BY failures DESC, last_seen DESC""")
            ],
            w=24,
        ),
        _with_links(
            _panel(
                "table",
                "Stuck runs (in progress too long)",
                "In-progress executions that started more than $stuck_minutes minutes ago, oldest "
                "first, with their last progress report; the trace id opens the run in Jaeger.",
                [
                    _sql(f"""
SELECT execution_id::text AS execution_id,
       agent_name AS agent,
       started_at,
       round(extract(epoch FROM now() - started_at) / 60)::int AS age_minutes,
       metadata->'progress'->-1->>'stage' AS last_stage,
       replace(correlation_id::text, '-', '') AS trace_id
FROM agent_execution_logs
WHERE status = 'in_progress' AND agent_name IN ({AGENT_SQL})
  AND started_at < now() - make_interval(mins => $stuck_minutes)
ORDER BY started_at
LIMIT 100""")
                ],
                w=24,
            ),
            _trace_link(),
        ),
        _with_links(
            _panel(
                "table",
                "Recent runs",
                "The latest executions in the time range; the trace id (the run's correlation id) "
                "opens the run in Jaeger.",
                [
                    _sql(f"""
SELECT started_at,
       agent_name AS agent,
       status,
       duration_ms,
       quality_score,
       error_type,
       correlation_id::text AS correlation_id,
       replace(correlation_id::text, '-', '') AS trace_id
FROM agent_execution_logs
WHERE {where}
ORDER BY started_at DESC
LIMIT 100""")
                ],
                w=24,
                h=10,
            ),
            _trace_link(),
            _drill_down_link(),
        ),
    ]
    return _dashboard(
        "onex-executions",
        "Agent executions",
        "Agent runs from agent_execution_logs: status, durations, quality, "
        "failures, runs in flight or stuck, links to the traces.",
        panels,
        [AGENT_VAR, STUCK_VAR, JAEGER_VAR],
    )


def actions_dashboard() -> Json:
    """Agent actions: the legacy Action Logging Dashboard (seeds 000, 001)."""
    where = f"$__timeFilter(created_at) AND agent_name IN ({AGENT_SQL})"
    tools = f"{where} AND action_type = 'tool_call' AND action_name IN ({TOOL_SQL})"
    failed = "jsonb_typeof(action_details->'error') = 'object'"
    panels = [
        _panel(
            "timeseries",
            "Actions per minute by type",
            "agent_actions rows per minute by action_type (tool_call, decision, error, success).",
            [
                _sql(
                    f"""
SELECT $__timeGroupAlias(created_at, '1m'), action_type AS metric, count(*) AS actions
FROM agent_actions
WHERE {where}
GROUP BY 1, 2
ORDER BY 1, 2""",
                    "time_series",
                )
            ],
        ),
        _panel(
            "timeseries",
            "Actions per second by type (metrics)",
            "The agents' onex_agent_actions_total counter, by action type.",
            [
                _prom(
                    f'sum by (action_type) (rate(onex_agent_actions_total{{agent_name=~"{AGENT_RE}"}}[5m]))',
                    "{{action_type}}",
                )
            ],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Tool latency p50 / p95 (metrics)",
            "Quantiles of the onex_agent_action_duration_milliseconds histogram of tool calls, per tool.",
            [
                _prom(
                    "histogram_quantile(0.5, sum by (le, tool_name) (rate("
                    'onex_agent_action_duration_milliseconds_bucket{action_type="tool_call", '
                    f'agent_name=~"{AGENT_RE}", tool_name=~"{TOOL_RE}"}}[5m])))',
                    "{{tool_name}} p50",
                ),
                _prom(
                    "histogram_quantile(0.95, sum by (le, tool_name) (rate("
                    'onex_agent_action_duration_milliseconds_bucket{action_type="tool_call", '
                    f'agent_name=~"{AGENT_RE}", tool_name=~"{TOOL_RE}"}}[5m])))',
                    "{{tool_name}} p95",
                    "B",
                ),
            ],
            unit="ms",
        ),
        _panel(
            "timeseries",
            "Errors per second by agent (metrics)",
            "The agents' onex_agent_action_errors_total counter, by agent and error type "
            "(failed tool calls, recorded errors, failed executions).",
            [
                _prom(
                    f"sum by (agent_name, error_type) (rate(onex_agent_action_errors_total"
                    f'{{agent_name=~"{AGENT_RE}"}}[5m]))',
                    "{{agent_name}} {{error_type}}",
                )
            ],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Tool latency regression (p95 vs a day earlier)",
            "Each tool's p95 latency over the last hour divided by its p95 in the same hour "
            "a day earlier: above 1 the tool got slower (performance regression).",
            [
                _prom(
                    "histogram_quantile(0.95, sum by (le, tool_name) (rate("
                    'onex_agent_action_duration_milliseconds_bucket{action_type="tool_call", '
                    f'agent_name=~"{AGENT_RE}", tool_name=~"{TOOL_RE}"}}[1h]))) / '
                    "histogram_quantile(0.95, sum by (le, tool_name) (rate("
                    'onex_agent_action_duration_milliseconds_bucket{action_type="tool_call", '
                    f'agent_name=~"{AGENT_RE}", tool_name=~"{TOOL_RE}"}}[1h] offset 1d)))',
                    "{{tool_name}}",
                )
            ],
        ),
        _panel(
            "table",
            "Tool latency by tool",
            "Tool calls in the time range: count, p50 / p95 / max duration.",
            [
                _sql(f"""
SELECT action_name AS tool,
       count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms
FROM agent_actions
WHERE {tools}
GROUP BY action_name
ORDER BY tool""")
            ],
            unit="ms",
        ),
        _panel(
            "table",
            "Tool error rate by agent and tool",
            "Failed tool calls (action_details.error set) / all tool calls, per agent and tool.",
            [
                _sql(f"""
SELECT agent_name AS agent,
       action_name AS tool,
       count(*) AS calls,
       count(*) FILTER (WHERE {failed}) AS failures,
       (count(*) FILTER (WHERE {failed}))::float / count(*) AS error_rate
FROM agent_actions
WHERE {tools}
GROUP BY agent_name, action_name
ORDER BY error_rate DESC, agent, tool""")
            ],
        ),
        _panel(
            "table",
            "Slowest tools",
            "The ten tools with the highest p95 duration in the time range.",
            [
                _sql(f"""
SELECT action_name AS tool,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       avg(duration_ms)::float AS avg_ms,
       count(*) AS calls
FROM agent_actions
WHERE {tools} AND duration_ms IS NOT NULL
GROUP BY action_name
ORDER BY p95_ms DESC, tool
LIMIT 10""")
            ],
            unit="ms",
        ),
        _panel(
            "table",
            "Most failing tools",
            "The ten tools with the most failed calls in the time range, with the last error message.",
            [
                _sql(f"""
SELECT action_name AS tool,
       count(*) AS failures,
       (array_agg(action_details->'error'->>'message' ORDER BY created_at DESC))[1]
           AS last_error,
       max(created_at) AS last_seen
FROM agent_actions
WHERE {tools} AND {failed}
GROUP BY action_name
ORDER BY failures DESC, tool
LIMIT 10""")
            ],
        ),
        _panel(
            "table",
            "Error actions",
            "Errors recorded by agents (action_type error), grouped as in seed 001's error analysis.",
            [
                _sql(f"""
SELECT agent_name AS agent,
       action_name AS error,
       action_details->>'error_message' AS error_message,
       count(*) AS errors
FROM agent_actions
WHERE {where} AND action_type = 'error'
GROUP BY 1, 2, 3
ORDER BY errors DESC, agent, error""")
            ],
            w=24,
        ),
        _with_links(
            _panel(
                "table",
                "Run drill-down",
                "Every action of the run whose correlation id is typed in the Correlation id box, "
                "in order (any time); the trace id opens it in Jaeger.",
                [
                    _sql("""
SELECT created_at,
       agent_name AS agent,
       action_type,
       action_name,
       duration_ms,
       action_details->'error'->>'message' AS error,
       action_details::text AS details,
       replace(correlation_id::text, '-', '') AS trace_id
FROM agent_actions
WHERE correlation_id = onex_correlation_id(${correlation_id:sqlstring})
ORDER BY created_at, id""")
                ],
                w=24,
                h=10,
            ),
            _trace_link(),
        ),
    ]
    return _dashboard(
        "onex-actions",
        "Agent actions",
        "Tool calls, decisions, errors and successes from agent_actions and the "
        "agents' metrics: rates, latencies, failing tools, a run's actions.",
        panels,
        [AGENT_VAR, TOOL_VAR, CORRELATION_VAR, JAEGER_VAR],
    )


def router_dashboard() -> Json:
    """The polymorphic router (seed 004's tables)."""
    where = f"$__timeFilter(created_at) AND selected_agent IN ({AGENT_SQL})"
    panels = [
        _panel(
            "timeseries",
            "Routing confidence",
            "Mean and minimum confidence of routing decisions, in 5-minute buckets.",
            [
                _sql(
                    f"""
SELECT $__timeGroupAlias(created_at, '5m'),
       avg(confidence_score)::float AS mean_confidence,
       min(confidence_score)::float AS min_confidence
FROM agent_routing_decisions
WHERE {where}
GROUP BY 1
ORDER BY 1""",
                    "time_series",
                )
            ],
            unit="percentunit",
        ),
        _panel(
            "piechart",
            "Strategy mix",
            "Routing decisions by routing strategy.",
            [
                _sql(f"""
SELECT routing_strategy AS strategy, count(*) AS decisions
FROM agent_routing_decisions
WHERE {where}
GROUP BY 1
ORDER BY decisions DESC, strategy""")
            ],
        ),
        _panel(
            "timeseries",
            "Cache hit rate",
            "Share of router queries answered from the router's cache "
            "(router_performance_metrics.cache_hit), in 5-minute buckets.",
            [
                _sql(
                    """
SELECT $__timeGroupAlias(created_at, '5m'),
       avg(CASE WHEN cache_hit THEN 1.0 ELSE 0.0 END)::float AS cache_hit_rate
FROM router_performance_metrics
WHERE $__timeFilter(created_at)
GROUP BY 1
ORDER BY 1""",
                    "time_series",
                )
            ],
            unit="percentunit",
        ),
        _panel(
            "timeseries",
            "Routing latency",
            "p50 / p95 of the router's routing time (router_performance_metrics), in 5-minute buckets.",
            [
                _sql(
                    """
SELECT $__timeGroupAlias(created_at, '5m'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY routing_duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY routing_duration_ms) AS p95_ms
FROM router_performance_metrics
WHERE $__timeFilter(created_at)
GROUP BY 1
ORDER BY 1""",
                    "time_series",
                )
            ],
            unit="ms",
        ),
        _panel(
            "table",
            "Selected agents",
            "Routing decisions per selected agent: count, mean confidence, mean routing time.",
            [
                _sql(f"""
SELECT selected_agent AS agent,
       count(*) AS decisions,
       avg(confidence_score)::float AS mean_confidence,
       avg(routing_time_ms)::float AS mean_routing_ms
FROM agent_routing_decisions
WHERE {where}
GROUP BY 1
ORDER BY decisions DESC, agent""")
            ],
        ),
        _panel(
            "table",
            "Transformations",
            "Agent transformations (source -> target): count, success rate, mean duration.",
            [
                _sql("""
SELECT source_agent,
       target_agent,
       count(*) AS transformations,
       avg(CASE WHEN success THEN 1.0 ELSE 0.0 END)::float AS success_rate,
       avg(transformation_duration_ms)::float AS mean_ms
FROM agent_transformation_events
WHERE $__timeFilter(created_at)
GROUP BY 1, 2
ORDER BY transformations DESC, source_agent, target_agent""")
            ],
        ),
        _panel(
            "timeseries",
            "Detection failures",
            "Requests the router could not route, per 5 minutes, by failure reason.",
            [
                _sql(
                    """
SELECT $__timeGroupAlias(created_at, '5m'), failure_reason AS metric, count(*) AS failures
FROM agent_detection_failures
WHERE $__timeFilter(created_at)
GROUP BY 1, 2
ORDER BY 1, 2""",
                    "time_series",
                )
            ],
        ),
        _panel(
            "table",
            "Detection failure reasons",
            "Detection failures grouped by reason and strategy, with the best confidence reached.",
            [
                _sql("""
SELECT failure_reason,
       COALESCE(detection_strategy, '') AS strategy,
       count(*) AS failures,
       max(best_confidence)::float AS best_confidence,
       max(created_at) AS last_seen
FROM agent_detection_failures
WHERE $__timeFilter(created_at)
GROUP BY 1, 2
ORDER BY failures DESC, failure_reason""")
            ],
        ),
    ]
    return _dashboard(
        "onex-router",
        "Router",
        "The polymorphic router: confidence, strategies, cache, latency, "
        "transformations and detection failures.",
        panels,
        [AGENT_VAR],
    )


def pipeline_dashboard() -> Json:
    """The telemetry pipeline itself: exporters in the agents, the collector."""
    panels = [
        _panel(
            "timeseries",
            "Exporter queue",
            "Events queued in the Kafka producer of each agent process (onex_export_pending).",
            [_prom("sum by (instance) (onex_export_pending)", "{{instance}}")],
        ),
        _panel(
            "timeseries",
            "Spool size",
            "Bytes waiting in each agent's disk spool (Kafka unreachable or slow); grows "
            "during an outage, drains after it.",
            [_prom("sum by (instance) (onex_export_spool_size_bytes)", "{{instance}}")],
            unit="bytes",
        ),
        _panel(
            "timeseries",
            "Exported events by outcome",
            "Events delivered, spooled and re-sent from the spool, per second.",
            [_prom("sum by (outcome) (rate(onex_export_events_total[5m]))", "{{outcome}}")],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Dropped events by reason",
            "Events the exporter gave up on, per second, by reason (spool_full, rejected, "
            "...). Every drop is counted; none is expected.",
            [_prom("sum by (reason) (rate(onex_export_dropped_total[5m]))", "{{reason}}")],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Internal errors",
            "Contained onex-otel failures in agent processes, by kind.",
            [_prom("sum by (kind) (rate(onex_internal_errors_total[5m]))", "{{kind}}")],
            unit="ops",
        ),
        _panel(
            "stat",
            "Collector up",
            "1 while Prometheus can scrape the collector's /metrics.",
            [_prom('up{job="onex-collector"}', "{{instance}}")],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Database",
            "onex_collector_database_ok: 0 during a PostgreSQL outage (the collector pauses "
            "and retries; nothing is lost).",
            [_prom("min(onex_collector_database_ok)", "database ok")],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Kafka",
            "onex_collector_kafka_ok: 0 while the collector cannot reach Kafka.",
            [_prom("min(onex_collector_kafka_ok)", "kafka ok")],
            w=6,
            h=5,
        ),
        _panel(
            "stat",
            "Since last commit",
            "Seconds since the collector last committed a batch.",
            [_prom("time() - max(onex_collector_last_commit_time)", "seconds")],
            w=6,
            h=5,
            unit="s",
        ),
        _panel(
            "timeseries",
            "Collector lag",
            "Messages on the topics not yet consumed (approximate) and the batch in hand.",
            [
                _prom("sum by (instance) (onex_collector_consumer_lag)", "lag {{instance}}"),
                _prom("sum by (instance) (onex_collector_messages_pending)", "pending {{instance}}", "B"),
            ],
        ),
        _panel(
            "timeseries",
            "Batch latency",
            "Mean time to process a batch over the last 5 minutes, and since the collector started.",
            [
                _prom(
                    "sum by (instance) (rate(onex_collector_batch_processing_ms_total[5m])) / "
                    "sum by (instance) (rate(onex_collector_batches_processed_total[5m]))",
                    "5 min {{instance}}",
                ),
                _prom("onex_collector_avg_batch_processing_ms", "since start {{instance}}", "B"),
            ],
            unit="ms",
        ),
        _panel(
            "timeseries",
            "Collector throughput",
            "Messages consumed and rows inserted per second.",
            [
                _prom("sum(rate(onex_collector_messages_consumed_total[5m]))", "consumed"),
                _prom("sum(rate(onex_collector_rows_inserted_total[5m]))", "rows", "B"),
            ],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Dead-letter rate",
            "Messages sent to the dead-letter topic per second (poison messages), and "
            "database retries per second.",
            [
                _prom("sum(rate(onex_collector_dlq_messages_total[5m]))", "dead-lettered"),
                _prom("sum(rate(onex_collector_database_retries_total[5m]))", "database retries", "B"),
            ],
            unit="ops",
        ),
    ]
    return _dashboard(
        "onex-pipeline",
        "Telemetry pipeline",
        "The pipeline itself: the agents' Kafka exporters (queue, spool, drops) "
        "and the collector (lag, batches, dead letters, outages).",
        panels,
        [],
    )


# ---------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------
def _dashboard(uid: str, title: str, description: str, panels: list[Json], variables: list[Json]) -> Json:
    x = y = row_h = 0
    for number, panel in enumerate(panels, 1):
        pos = panel["gridPos"]
        if x + pos["w"] > 24:
            x, y, row_h = 0, y + row_h, 0
        pos["x"], pos["y"] = x, y
        x += pos["w"]
        row_h = max(row_h, pos["h"])
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["onex-otel"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


DASHBOARDS = {
    "agent-executions.json": executions_dashboard,
    "agent-actions.json": actions_dashboard,
    "router.json": router_dashboard,
    "pipeline.json": pipeline_dashboard,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(make(), indent=2, sort_keys=True) + "\n" for name, make in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    """Write the dashboards, or with ``--check`` report those that differ from the files."""
    rendered = render()
    if "--check" in argv:
        stale = [
            name
            for name, text in rendered.items()
            if not (OUT / name).is_file() or (OUT / name).read_text() != text
        ]
        for name in stale:
            print(
                f"deploy/grafana/dashboards/{name} is out of date: run python deploy/grafana/generate.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
