"""Cost of tracing a trivial tool call, against a bare OpenTelemetry SDK span in the same run.

Prints ns per call of a trivial function:

  (a) undecorated
  (d) decorated with @traced_tool_call, no SDK configured (no TracerProvider installed)
  (b) inside a bare SDK ``tracer.start_as_current_span`` (BatchSpanProcessor, discarding exporter)
      on a provider onex-otel has not touched
  (b') the same span on the provider onex-otel configured (its id generator and processor)
  (c) decorated with @traced_tool_call (small arguments and result captured), on that provider
  (c') the same inside an agent execution (execution attributes stamped onto the span)
  (c'') the same with an SDK MeterProvider recording the action metrics

and the ratio (c)/(b). Targets: (c)/(b) <= 1.5, (d) < 1000 ns. Then the cost of large arguments
beside a small one, in the same run: (c) with a 10 MB string argument, and with a 10 MB string
inside a mapping argument, as ratios to (c); values over ``ONEX_MAX_PAYLOAD_BYTES`` are bounded
while they are converted, so these stay near (c) instead of growing with the argument.

Where the difference goes: the tool span carries the attributes the span contract asks for
(operation name, tool name, tool type, call id, action type, action name, arguments; the result is
set at the end) and the SDK validates every attribute; that, more than onex-otel's own code, is
most of (c) - (b).

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

    # (b): a pristine SDK provider, nothing of onex-otel installed on it
    bare_provider = TracerProvider()
    bare_provider.add_span_processor(
        BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 20)
    )
    bare_tracer = bare_provider.get_tracer("bench")

    # (c): the global provider, configured by onex-otel (id generator + execution processor)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 20))
    trace.set_tracer_provider(provider)
    onex_otel.configure()
    onex_tracer = provider.get_tracer("bench")

    def bare() -> int:
        with bare_tracer.start_as_current_span("trivial"):
            return trivial(1, "xy")

    def bare_on_onex_provider() -> int:
        with onex_tracer.start_as_current_span("trivial"):
            return trivial(1, "xy")

    # interleave the runs so that drift of the machine hits all alike
    b_runs, b2_runs, c_runs = [], [], []
    for _ in range(3):
        b_runs.append(measure(bare, n, r))
        b2_runs.append(measure(bare_on_onex_provider, n, r))
        c_runs.append(measure(lambda: decorated(1, "xy"), n, r))
    results["b"], results["b'"], results["c"] = min(b_runs), min(b2_runs), min(c_runs)
    with agent_execution("bench-agent", session_id="s"):
        results["c'"] = measure(lambda: decorated(1, "xy"), n, r)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    onex_otel.configure(meter_provider=meter_provider)
    results["c''"] = measure(lambda: decorated(1, "xy"), n, r)

    big = "x" * 10_000_000
    big_calls = max(5, n // 1000)
    results["small"] = measure(lambda: decorated(1, "xy"), n, r)
    results["big"] = measure(lambda: decorated(1, big), big_calls, r)
    big_in_dict = traced_tool_call(name="lookup")(lambda a, b: a + len(b["text"]))
    results["bigdict"] = measure(lambda: big_in_dict(1, {"text": big}), big_calls, r)
    provider.shutdown()
    bare_provider.shutdown()
    meter_provider.shutdown()

    labels = {
        "a": "undecorated",
        "d": "@traced_tool_call, no SDK configured",
        "b": "bare SDK start_as_current_span (baseline)",
        "b'": "the same span on the onex-configured provider",
        "c": "@traced_tool_call, args + result captured",
        "c'": "@traced_tool_call inside an agent execution",
        "c''": "@traced_tool_call + SDK MeterProvider metrics",
    }
    for key in ("a", "d", "b", "b'", "c", "c'", "c''"):
        ratio = results[key] / results["b"]
        print(f"({key:>3}) {labels[key]:<48} {results[key]:>9.0f} ns/call  {ratio:5.2f}x (b)")
    print(f"(c)/(b) = {results['c'] / results['b']:.2f}   target <= 1.5")
    small = results["small"]
    for key, label in (("big", "10 MB str argument"), ("bigdict", "10 MB str inside a dict")):
        print(f"(c) with a {label:<24} {results[key]:>9.0f} ns/call  {results[key] / small:5.2f}x "
              f"(c) with a small argument ({small:.0f} ns, same run)")
    print(f"(d)     = {results['d']:.0f} ns   target < 1000 ns")


if __name__ == "__main__":
    main()
