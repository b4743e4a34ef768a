"""Cost of the legacy API calls against their new-API equivalents, decided reliably.

ns per call, measured with ``benchmarks/harness.py``: each phase runs in ``--processes`` fresh
worker processes, each measuring all of the phase's cases once per round (``--rounds`` rounds,
the order rotated), and ratios are taken within a round; each phase is also counted in
instructions per call under callgrind (``--callgrind-calls``; ``--no-callgrind`` skips it).

Phases: ``exec``, inside an agent execution; ``alone``, standalone (no execution: the legacy call
makes a span of its own carrying the legacy identity). Cases:

  (n1) record_decision(...)                       (new API, the baseline)
  (l1) await ActionLogger.log_decision(...)       (legacy)
  (n2) with tool_call(...) as a: a.set_result()   (new API, the baseline)
  (l2) async with ActionLogger.tool_call(...)     (legacy)
  (l3) await ActionLogger.log_tool_call(..., duration_ms=...)

The legacy calls never wait for anything: each coroutine is run to its end by one ``send(None)``
on the calling thread (one that suspended would stop the benchmark), so no event loop's cost is
in either figure. Spans go to a BatchSpanProcessor with a discarding exporter
(``bench_decorator``'s provider), flushed between loops. No target: the ratios legacy / new are
printed.

Usage: python benchmarks/bench_legacy.py [--processes 3] [--rounds 5] [--calls 5000]
       [--callgrind-calls 500] [--no-callgrind]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable

import harness
from bench_decorator import _env, _provider
from harness import Rounds

#: Each phase and its title.
PHASES = {"exec": "inside an agent execution", "alone": "standalone"}
CID = "5f0c2a8e-3d41-4b7a-9c55-0e8f4b1d2a77"
LABELS = {
    "n1": "(n1) record_decision (new)",
    "l1": "(l1) log_decision (legacy)",
    "n2": "(n2) tool_call block (new)",
    "l2": "(l2) tool_call block (legacy)",
    "l3": "(l3) log_tool_call (legacy)",
}
PAIRS = [("l1", "n1"), ("l2", "n2"), ("l3", "n2")]


def _run(make: Callable[[], Awaitable[object]]) -> Callable[[], None]:
    """A plain call running what ``make()`` returns to its end, with no event loop."""

    def call() -> None:
        steps = make().__await__()
        try:
            next(steps)
        except StopIteration:
            return
        steps.close()
        raise RuntimeError("a legacy call suspended: it needs an event loop, which this benchmark leaves out")

    return call


def build_cases(phase: str) -> tuple[dict[str, Callable[[], object]], Callable[[], object]]:
    """The phase's cases and the flush to run between timed loops."""
    import onex_otel
    from onex_otel import ActionLogger, agent_execution, record_decision, tool_call

    provider = _provider()
    onex_otel.configure(tracer_provider=provider)
    log = ActionLogger("agent-bench", correlation_id=CID)
    if phase == "exec":  # an execution open for the rest of the worker
        agent_execution("agent-bench", correlation_id=CID).__enter__()

    def n2() -> None:
        with tool_call("Read", {"path": "x"}) as action:
            action.set_result({"n": 1})

    async def l2() -> None:
        async with log.tool_call("Read", {"path": "x"}) as action:
            action.set_result({"n": 1})

    return {
        "n1": lambda: record_decision("pick", {"n": 1}, {"r": 2}),
        "l1": _run(lambda: log.log_decision("pick", {"n": 1}, {"r": 2})),
        "n2": n2,
        "l2": _run(l2),
        "l3": _run(lambda: log.log_tool_call("Read", {"path": "x"}, {"n": 1}, duration_ms=3)),
    }, provider.force_flush


def main() -> None:
    parser = harness.phased_parser((__doc__ or "").splitlines()[0], list(PHASES), 5000, 500)
    args = parser.parse_args()

    if args.worker or args.callgrind_worker:
        cases, flush = build_cases(args.phase)
        if args.callgrind_worker:
            harness.callgrind_worker(cases, args.callgrind_calls)
        else:
            harness.emit_rounds(harness.time_rounds(cases, args.calls, args.rounds, flush))
        return

    me = [sys.executable, os.path.abspath(__file__)]
    env = _env()
    print(f"machine: {harness.machine()}")
    counting = not args.no_callgrind and harness.valgrind_available()
    if not args.no_callgrind and not counting:
        print("valgrind not found: no instruction counts")
    for phase, title in PHASES.items():
        print(f"measuring {phase}...", file=sys.stderr, flush=True)
        rounds: Rounds = harness.run_processes(
            [*me, "--worker", "--phase", phase, "--rounds", str(args.rounds), "--calls", str(args.calls)],
            args.processes,
            env=env,
        )
        instr = None
        if counting:
            instr = harness.count_instructions(
                [*me, "--callgrind-worker", "--phase", phase, "--callgrind-calls", str(args.callgrind_calls)],
                args.callgrind_calls,
                env=env,
            )
        harness.report(f"{title} (ns/call)", rounds, LABELS, "ns/call", ["n1", "n2"], [], instr, PAIRS)


if __name__ == "__main__":
    main()
