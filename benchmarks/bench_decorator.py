"""Cost of tracing a trivial tool call, against a bare OpenTelemetry SDK span in the same run.

Prints ns per call of a trivial function:

  (a) undecorated
  (d) decorated with @traced_tool_call, no SDK configured (no TracerProvider installed)
  (b) inside a bare SDK ``tracer.start_as_current_span`` (BatchSpanProcessor, discarding exporter)
  (c) decorated with @traced_tool_call (small arguments and result captured), same SDK setup
  (c') the same inside an agent execution (execution attributes stamped onto the span)
  (c'') the same with an SDK MeterProvider recording the action metrics

and the ratio (c)/(b). Targets: (c)/(b) <= 1.5, (d) < 1000 ns.

Usage: python benchmarks/bench_decorator.py [--calls N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import onex_otel
from onex_otel import agent_execution, traced_tool_call


class DiscardingExporter(SpanExporter):
    """Accepts every span and does nothing with it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def trivial(a: int, b: str) -> int:
    return a + len(b)


def measure(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """Best-of-``repeat`` ns per call over ``calls`` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, r = args.calls, args.repeat

    decorated = traced_tool_call(trivial)
    results: dict[str, float] = {}
    results["a"] = measure(lambda: trivial(1, "xy"), n, r)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "SDK already set"
    results["d"] = measure(lambda: decorated(1, "xy"), n, r)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 20))
    trace.set_tracer_provider(provider)
    onex_otel.configure()
    tracer = provider.get_tracer("bench")

    def bare() -> int:
        with tracer.start_as_current_span("trivial"):
            return trivial(1, "xy")

    # interleave (b) and (c) so that drift of the machine hits both alike
    b_runs, c_runs = [], []
    for _ in range(3):
        b_runs.append(measure(bare, n, r))
        c_runs.append(measure(lambda: decorated(1, "xy"), n, r))
    results["b"], results["c"] = min(b_runs), min(c_runs)
    with agent_execution("bench-agent", session_id="s"):
        results["c'"] = measure(lambda: decorated(1, "xy"), n, r)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    onex_otel.configure(meter_provider=meter_provider)
    results["c''"] = measure(lambda: decorated(1, "xy"), n, r)
    provider.shutdown()
    meter_provider.shutdown()

    labels = {
        "a": "undecorated",
        "d": "@traced_tool_call, no SDK configured",
        "b": "bare SDK start_as_current_span (baseline)",
        "c": "@traced_tool_call, args + result captured",
        "c'": "@traced_tool_call inside an agent execution",
        "c''": "@traced_tool_call + SDK MeterProvider metrics",
    }
    for key in ("a", "d", "b", "c", "c'", "c''"):
        ratio = results[key] / results["b"]
        print(f"({key:>3}) {labels[key]:<48} {results[key]:>9.0f} ns/call  {ratio:5.2f}x (b)")
    print(f"(c)/(b) = {results['c'] / results['b']:.2f}   target <= 1.5")
    print(f"(d)     = {results['d']:.0f} ns   target < 1000 ns")


if __name__ == "__main__":
    main()
