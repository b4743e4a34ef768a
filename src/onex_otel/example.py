"""An example agent, traced end to end by onex-otel (``examples/agent.py`` runs it).

It routes a request (routing decision, router metrics, transformation), then runs an execution with
several tool calls, a decision, an error it recovers from and a database query. Run it plainly::

    python examples/agent.py

(``onex-otel demo`` runs it too, against embedded services), or with zero-code instrumentation
(psycopg queries appear under the tool span that made them)::

    OTEL_TRACES_EXPORTER=otlp,onex_kafka opentelemetry-instrument python examples/agent.py

Configuration comes from the environment (see the README): ``KAFKA_BOOTSTRAP_SERVERS`` to publish
events, ``OTEL_EXPORTER_OTLP_ENDPOINT`` to send spans to a Collector/Jaeger, ``DATABASE_URL`` or
``POSTGRES_*`` for the database the query tool reads. It prints the run's correlation id, which is
also its trace id in Jaeger.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

from onex_otel import (
    agent_execution,
    configure,
    record_decision,
    record_error,
    router_metrics,
    routing_decision,
    traced_tool_call,
    transformation,
)
from onex_otel.config import load_settings

AGENT = "agent-performance"


@traced_tool_call
def read_file(path: str) -> dict[str, Any]:
    """Read a file and report its size."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    return {"path": path, "lines": text.count("\n")}


@traced_tool_call(name="flaky_search")
def search(query: str, attempt: int) -> list[str]:
    """A search tool whose first attempt times out (the agent recovers by retrying)."""
    if attempt == 1:
        raise TimeoutError(f"search backend timed out for {query!r}")
    return [f"{query}: result {i}" for i in range(3)]


@traced_tool_call(name="query_database", redact=["conninfo"])
def query_database(conninfo: str) -> dict[str, Any]:
    """Ask PostgreSQL a question; psycopg's own span appears beneath this tool span."""
    import psycopg

    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_database(), count(*) FROM pg_stat_activity").fetchone()
    assert row is not None
    return {"database": row[0], "connections": row[1]}


def route(request: str, correlation_id: str) -> str:
    """The polymorphic router: pick an agent and record how and how fast."""
    started = time.perf_counter()
    candidates = {"agent-performance": 0.92, "agent-api": 0.41, "agent-debug": 0.37}
    selected = max(candidates, key=lambda name: candidates[name])
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    routing_decision(
        selected_agent=selected,
        confidence_score=candidates[selected],
        alternatives=[a for a in candidates if a != selected],
        reasoning="High confidence match on 'optimize' and 'performance' triggers",
        routing_strategy="enhanced_fuzzy_matching",
        routing_time_ms=elapsed_ms,
        user_request=request,
        correlation_id=correlation_id,
    )
    router_metrics(
        query_text=request,
        routing_duration_ms=elapsed_ms,
        cache_hit=False,
        trigger_match_strategy="enhanced_fuzzy_matching",
        confidence_components={"trigger": 0.6, "context": 0.32},
        candidates_evaluated=len(candidates),
        correlation_id=correlation_id,
    )
    transformation(
        source_agent="polymorphic-agent",
        target_agent=selected,
        reason="High confidence match",
        confidence_score=candidates[selected],
        duration_ms=elapsed_ms,
        success=True,
        correlation_id=correlation_id,
    )
    return selected


def run(correlation_id: str | None = None) -> str:
    """Run one traced agent execution; returns its correlation id."""
    correlation_id = correlation_id or str(uuid.uuid4())
    request = "optimize my database queries"
    agent = route(request, correlation_id)
    with agent_execution(
        agent,
        user_request=request,
        correlation_id=correlation_id,
        session_id=str(uuid.uuid4()),
        context={"domain": "performance"},
        project_name="onex-otel-example",
    ) as execution:
        execution.progress("analysis", 25)
        read_file(__file__)
        for attempt in (1, 2):
            try:
                hits = search("slow query patterns", attempt)
                break
            except TimeoutError as exc:
                record_error("TimeoutError", str(exc), context={"attempt": attempt}, severity="warning")
        else:  # pragma: no cover - the second attempt succeeds
            hits = []
        record_decision(
            "select_optimization_strategy",
            context={"hits": len(hits)},
            result={"strategy": "add_index"},
        )
        execution.progress("database", 75)
        db = query_database(load_settings().postgres_conninfo())
        execution.complete(
            quality_score=0.9,
            output_summary=f"{len(hits)} patterns, {db['connections']} connections",
            metrics={"tool_calls": 4},
        )
    return str(execution.correlation_id)


def main() -> int:
    """Configure onex-otel (a no-op addition under opentelemetry-instrument) and run once."""
    configure(service_name=os.environ.get("OTEL_SERVICE_NAME", "onex-example-agent"))
    correlation_id = run(sys.argv[1] if len(sys.argv) > 1 else None)
    print(correlation_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
