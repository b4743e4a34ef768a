"""Cost of the legacy API calls against their new-API equivalents, in the same run.

Prints ns per call, inside an agent execution and standalone (no execution: the legacy call makes
a span of its own carrying the legacy identity), of:

  (n1) record_decision(...)                       (new API, the baseline)
  (l1) await ActionLogger.log_decision(...)       (legacy)
  (n2) with tool_call(...) as a: a.set_result()   (new API, the baseline)
  (l2) async with ActionLogger.tool_call(...)     (legacy)
  (l3) await ActionLogger.log_tool_call(..., duration_ms=...)

and the ratios legacy / new. Spans go to a BatchSpanProcessor with a discarding exporter.

Usage: python benchmarks/bench_legacy.py [--calls N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import onex_otel
from onex_otel import ActionLogger, agent_execution, record_decision, tool_call

CID = "5f0c2a8e-3d41-4b7a-9c55-0e8f4b1d2a77"


class DiscardingExporter(SpanExporter):
    """Accepts every span and does nothing with it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def measure(body: Callable[[], Awaitable[None]], calls: int, repeat: int) -> float:
    """Best ns per call over ``repeat`` runs of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(calls):
            await body()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


async def main(calls: int, repeat: int) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 16))
    onex_otel.configure(tracer_provider=provider)
    log = ActionLogger("agent-bench", correlation_id=CID)

    async def n1() -> None:
        record_decision("pick", {"n": 1}, {"r": 2})

    async def l1() -> None:
        await log.log_decision("pick", {"n": 1}, {"r": 2})

    async def n2() -> None:
        with tool_call("Read", {"path": "x"}) as action:
            action.set_result({"n": 1})

    async def l2() -> None:
        async with log.tool_call("Read", {"path": "x"}) as action:
            action.set_result({"n": 1})

    async def l3() -> None:
        await log.log_tool_call("Read", {"path": "x"}, {"n": 1}, duration_ms=3)

    for where in ("inside an execution", "standalone"):
        results: dict[str, float] = {}
        for name, body in (("n1", n1), ("l1", l1), ("n2", n2), ("l2", l2), ("l3", l3)):
            if where == "standalone":
                results[name] = await measure(body, calls, repeat)
            else:
                async with agent_execution("agent-bench", correlation_id=CID):
                    results[name] = await measure(body, calls, repeat)
        print(f"{where}:")
        for name, label in (
            ("n1", "record_decision (new)"),
            ("l1", "log_decision (legacy)"),
            ("n2", "tool_call block (new)"),
            ("l2", "tool_call block (legacy)"),
            ("l3", "log_tool_call (legacy)"),
        ):
            print(f"  ({name}) {label:28s} {results[name]:9.0f} ns/call")
        print(
            f"  ratio l1/n1 = {results['l1'] / results['n1']:.2f}, "
            f"l2/n2 = {results['l2'] / results['n2']:.2f}, "
            f"l3/n2 = {results['l3'] / results['n2']:.2f}"
        )
    provider.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.repeat))
