"""Cost of tracing a trivial tool call, against bare OpenTelemetry SDK spans, decided reliably.

ns per call of a trivial function ``trivial(1, "xy")``, measured with ``benchmarks/harness.py``:
every phase runs in ``--processes`` fresh worker processes, each measuring all of the phase's
cases once per round (``--rounds`` rounds, the order rotated), and ratios are taken within a round.
The ``nosdk``, ``sdk`` and ``big`` phases are also counted in instructions per call under
callgrind (``--callgrind-calls``; ``--no-callgrind`` skips it), which machine drift does not move.

Phases and cases (every SDK provider uses a BatchSpanProcessor with a discarding exporter, its
worker kept asleep during a timed loop and flushed between loops):

``nosdk``   (a) undecorated; (d) ``@traced_tool_call`` with no SDK configured.
``sdk``     (b) bare SDK ``tracer.start_as_current_span("trivial")`` on a provider onex-otel has not
            touched - the baseline; (B) the same bare span carrying the attributes
            ``@traced_tool_call`` records (operation name, tool name, tool type, a call id, the
            arguments as JSON at start, the result as JSON at the end; values built in advance, so
            B is the SDK's cost of those attributes and nothing else) - the fair baseline;
            (b') the bare span on the provider onex-otel configured (its id generator and
            processor); (c) ``@traced_tool_call`` on that provider.
``exec``    (b) and (c') ``@traced_tool_call`` inside an agent execution (its attributes stamped
            onto the span).
``metrics`` (b) and (c'') ``@traced_tool_call`` with an SDK MeterProvider recording the action
            metrics.
``big``     (c) beside (c) with a 10 MB string argument and with a 10 MB string inside a mapping
            argument: values over ``ONEX_MAX_PAYLOAD_BYTES`` are bounded while they are converted,
            so these stay near (c) instead of growing with the argument.

Targets (issue 19): c/b <= 1.3 and c/B < 1.0 (median time ratio and instruction ratio);
d < 1000 ns.

Usage: python benchmarks/bench_decorator.py [--processes 3] [--rounds 5] [--calls 20000]
       [--callgrind-calls 2000] [--no-callgrind]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import harness
from harness import Rounds, Target
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

PHASES = ("nosdk", "sdk", "exec", "metrics", "big")
#: The phases also counted in instructions per call.
CALLGRIND_PHASES = ("nosdk", "sdk", "big")

LABELS = {
    "a": "(a)   undecorated",
    "d": "(d)   @traced_tool_call, no SDK configured",
    "b": "(b)   bare SDK span (baseline)",
    "B": "(B)   bare SDK span + the same attributes (fair baseline)",
    "b1": "(b')  bare span on the onex-configured provider",
    "c": "(c)   @traced_tool_call",
    "c1": "(c')  @traced_tool_call inside an agent execution",
    "c2": "(c'') @traced_tool_call + SDK MeterProvider metrics",
    "big": "(c)   with a 10 MB str argument",
    "bigdict": "(c)   with a 10 MB str inside a dict argument",
}


class DiscardingExporter(SpanExporter):
    """Accepts every span and does nothing with it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def trivial(a: int, b: Any) -> int:
    return a + len(b)


def _provider() -> TracerProvider:
    provider = TracerProvider()
    # the export thread sleeps during a timed loop (no batch fills up, no timer fires); the
    # harness flushes between loops
    provider.add_span_processor(
        BatchSpanProcessor(
            DiscardingExporter(),
            max_queue_size=1 << 20,
            max_export_batch_size=1 << 20,
            schedule_delay_millis=3_600_000,
        )
    )
    return provider


def build_cases(phase: str) -> tuple[dict[str, Callable[[], object]], Callable[[], object]]:
    """The phase's cases and the function to run between timed loops."""
    import onex_otel
    from onex_otel import agent_execution, traced_tool_call
    from onex_otel._call_id import new_call_id
    from onex_otel.conventions import (
        GEN_AI_OPERATION_NAME,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_ID,
        GEN_AI_TOOL_CALL_RESULT,
        GEN_AI_TOOL_NAME,
        GEN_AI_TOOL_TYPE,
        OP_EXECUTE_TOOL,
        tool_span_name,
    )

    decorated = traced_tool_call(trivial)
    if phase == "nosdk":
        assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "SDK already set"
        return {"a": lambda: trivial(1, "xy"), "d": lambda: decorated(1, "xy")}, lambda: None

    bare_provider = _provider()
    bare_tracer = bare_provider.get_tracer("bench")
    provider = _provider()
    trace.set_tracer_provider(provider)
    onex_otel.configure()
    onex_tracer = provider.get_tracer("bench")

    def flush() -> None:
        bare_provider.force_flush()
        provider.force_flush()

    def bare() -> int:
        with bare_tracer.start_as_current_span("trivial"):
            return trivial(1, "xy")

    if phase == "sdk":
        name = tool_span_name("trivial")
        start_attrs = {
            GEN_AI_OPERATION_NAME: OP_EXECUTE_TOOL,
            GEN_AI_TOOL_NAME: "trivial",
            GEN_AI_TOOL_TYPE: "function",
            GEN_AI_TOOL_CALL_ID: new_call_id(),
            GEN_AI_TOOL_CALL_ARGUMENTS: '{"a": 1, "b": "xy"}',
        }

        def bare_attrs() -> int:
            with bare_tracer.start_as_current_span(name, attributes=start_attrs) as span:
                result = trivial(1, "xy")
                span.set_attribute(GEN_AI_TOOL_CALL_RESULT, "3")
                return result

        def bare_on_onex_provider() -> int:
            with onex_tracer.start_as_current_span("trivial"):
                return trivial(1, "xy")

        return {
            "b": bare,
            "B": bare_attrs,
            "b1": bare_on_onex_provider,
            "c": lambda: decorated(1, "xy"),
        }, flush
    if phase == "exec":
        # an execution open for the rest of the worker (the bare provider has nothing of
        # onex-otel, so (b) is not affected by it)
        run = agent_execution("bench-agent", session_id="s")
        run.__enter__()
        return {"b": bare, "c1": lambda: decorated(1, "xy")}, flush
    if phase == "metrics":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        onex_otel.configure(meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]))
        return {"b": bare, "c2": lambda: decorated(1, "xy")}, flush
    if phase == "big":
        big = "x" * 10_000_000
        big_in_dict = traced_tool_call(name="lookup")(lambda a, b: a + len(b["text"]))
        return {
            "c": lambda: decorated(1, "xy"),
            "big": lambda: decorated(1, big),
            "bigdict": lambda: big_in_dict(1, {"text": big}),
        }, flush
    raise SystemExit(f"unknown phase {phase!r}")


def _calls(phase: str, calls: int) -> int:
    """Calls per loop: the 10 MB cases take about a hundred times fewer."""
    return max(5, calls // 100) if phase == "big" else calls


def _env() -> dict[str, str]:
    """The environment of the workers: nothing that would add an exporter or a provider."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_")) and k != "KAFKA_BROKERS"
    }


def main() -> None:
    parser = harness.phased_parser((__doc__ or "").splitlines()[0], PHASES, 20000, 2000)
    args = parser.parse_args()

    if args.worker or args.callgrind_worker:
        cases, between = build_cases(args.phase)
        if args.callgrind_worker:
            harness.callgrind_worker(cases, _calls(args.phase, args.callgrind_calls))
        else:
            harness.emit_rounds(
                harness.time_rounds(cases, _calls(args.phase, args.calls), args.rounds, between)
            )
        return

    me = [sys.executable, os.path.abspath(__file__)]
    common = ["--rounds", str(args.rounds), "--calls", str(args.calls)]
    env = _env()
    print(f"machine: {harness.machine()}")
    print(
        f"command: python benchmarks/bench_decorator.py --processes {args.processes} "
        f"--rounds {args.rounds} --calls {args.calls} --callgrind-calls {args.callgrind_calls}"
        + (" --no-callgrind" if args.no_callgrind else "")
    )
    rounds: dict[str, Rounds] = {}
    for phase in PHASES:
        rounds[phase] = harness.run_processes(
            [*me, "--worker", "--phase", phase, *common], args.processes, env=env
        )
    instr: dict[str, dict[str, float] | None] = dict.fromkeys(PHASES)
    if not args.no_callgrind:
        if harness.valgrind_available():
            for phase in CALLGRIND_PHASES:
                calls = _calls(phase, args.callgrind_calls)
                instr[phase] = harness.count_instructions(
                    [
                        *me,
                        "--callgrind-worker",
                        "--phase",
                        phase,
                        "--callgrind-calls",
                        str(args.callgrind_calls),
                    ],
                    calls,
                    env=env,
                )
        else:
            print("valgrind not found: no instruction counts")

    verdicts = []
    verdicts += harness.report(
        "no SDK configured (ns/call)",
        rounds["nosdk"],
        {k: LABELS[k] for k in ("a", "d")},
        "ns/call",
        ["a"],
        [],
        instr["nosdk"],
    )
    d = harness.summarize([r["d"] for r in rounds["nosdk"]])
    print(f"{'PASS' if d.median < 1000 else 'FAIL'}  (d) < 1000 ns: median {d.median:.0f} ns")
    verdicts += harness.report(
        "SDK configured (ns/call)",
        rounds["sdk"],
        {k: LABELS[k] for k in ("b", "B", "b1", "c")},
        "ns/call",
        ["b", "B"],
        [Target("c", "b", "<=", 1.3), Target("c", "B", "<", 1.0)],
        instr["sdk"],
        pairs=[("B", "b"), ("b1", "b")],
    )
    verdicts += harness.report(
        "inside an agent execution (ns/call)",
        rounds["exec"],
        {k: LABELS[k] for k in ("b", "c1")},
        "ns/call",
        ["b"],
        [],
    )
    verdicts += harness.report(
        "with action metrics (ns/call)",
        rounds["metrics"],
        {k: LABELS[k] for k in ("b", "c2")},
        "ns/call",
        ["b"],
        [],
    )
    verdicts += harness.report(
        "large arguments (ns/call)",
        rounds["big"],
        {k: LABELS[k] for k in ("c", "big", "bigdict")},
        "ns/call",
        ["c"],
        [],
        instr["big"],
        pairs=[("big", "c"), ("bigdict", "c")],
    )
    sys.exit(0 if all(v.passed for v in verdicts) and d.median < 1000 else 1)


if __name__ == "__main__":
    main()
