"""The collector's CPU per event, Kafka message in hand to the batch's JSON document, no I/O.

What the collector's loop does with every message of the mixed workload
(:func:`bench_collector.mixed_events`, each message with the Kafka exporter's headers), on
Message-like objects that answer ``value()``, ``headers()``, ``topic()``, ``partition()``,
``offset()``, ``key()`` and ``error()`` as confluent_kafka's do:

* ``decode``: :func:`~onex_collector.batches.decode_batch` of a batch plus
  :func:`~onex_collector.ingest.batch_document` of its events (validation, rows, document);
* ``loop``: the consumer loop's own steps around it, a batch accepted
  (``Collector._accept``), submitted (``_submit``: decode, span, the writer's ``start``, which
  builds the document and returns at once) and finished (``_finish_oldest``: result, offsets
  stored, metrics), with a consumer and writer that do no I/O.

Figures per event (a call is one batch of ``--batch`` messages). The messages are generated
once, in the parent, and every worker reads the same bytes, so two source trees can be compared
on identical input: ``--baseline-tree DIR`` runs the same workers with DIR's packages
(``DIR/src``, ``DIR/collector``, ``DIR/exporters`` first on ``PYTHONPATH``) and prints this
tree's figures as a ratio to DIR's, times interleaved process by process::

    python benchmarks/bench_decode.py                                  # time only
    python benchmarks/bench_decode.py --instructions                   # + callgrind counts
    python benchmarks/bench_decode.py --instructions --baseline-tree ../main
    python benchmarks/bench_decode.py --profile                        # cProfile of 'decode'
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import Target  # noqa: E402

#: The measured cases (each a batch; figures per event).
CASES = ("decode", "loop")
#: What this work set out to do: a third less CPU per event than main (not enforced here; printed).
TARGET_RATIO = 0.75


class Message:
    """A consumed message as the collector reads it: confluent_kafka.Message's accessors.

    Each accessor is C code returning a constant (``itertools.repeat(x).__next__``), as
    confluent_kafka's are C methods: a Python method here would add a frame per call that the
    collector does not pay.
    """

    __slots__ = ("error", "headers", "key", "offset", "partition", "topic", "value")

    def __init__(
        self, topic: str, offset: int, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self.topic = repeat(topic).__next__
        self.partition = repeat(0).__next__
        self.offset = repeat(offset).__next__
        self.key = repeat(key).__next__
        self.value = repeat(value).__next__
        self.headers = repeat(headers).__next__
        self.error = repeat(None).__next__


def generate(n: int, path: Path) -> None:
    """Write ``n`` mixed events as (topic, key, value, headers) to ``path`` (pickle)."""
    sys.path.insert(0, str(ROOT))
    from bench_collector import headers, mixed_events, topic

    from onex_collector.rows import decode_message

    records = []
    for env in mixed_events(n):
        value = env.to_json()
        decode_message(topic(env.event_type), value)  # every message is valid
        hdrs = [(k, v if isinstance(v, bytes) else str(v).encode()) for k, v in headers(env)]
        records.append((topic(env.event_type), str(env.correlation_id).encode(), value, hdrs))
    path.write_bytes(pickle.dumps(records))


def cases(path: Path, batch: int) -> dict[str, Callable[[], object]]:
    """The measured calls, each over one batch of ``batch`` messages read from ``path``."""
    from onex_collector.batches import decode_batch
    from onex_collector.consumer import Collector, CollectorOptions
    from onex_collector.decode import default_topic_types
    from onex_collector.ingest import batch_document
    from onex_collector.write_outcomes import BatchResult, Finished

    records = pickle.loads(path.read_bytes())[:batch]
    messages = [Message(t, i, k, v, h) for i, (t, k, v, h) in enumerate(records)]
    topic_types = default_topic_types()  # (the messages are on the default topics)
    if len(messages) != batch:
        raise SystemExit(f"{len(messages)} messages generated, {batch} asked for")

    def decode() -> object:
        decoded = vars(decode_batch(messages, topic_types))
        # (A tree before DecodedBatch.events kept (message, event) pairs, as the consumer read them.)
        events = decoded["events"] if "events" in decoded else [d for _, d in decoded["decoded"]]
        return batch_document(events)

    class Writer:
        """Builds the document as the pipelined writer does and answers at once."""

        def start(self, events: Sequence[Any], *, writers: int = 2) -> Finished:
            batch_document(events)
            return Finished(BatchResult(rows_inserted=len(events)))

        def close(self) -> None:
            pass

    class Consumer:
        def store_offsets(self, offsets: Any) -> None:
            pass

    collector = Collector(
        CollectorOptions(bootstrap_servers="127.0.0.1:9", conninfo="", topic_types=topic_types),
        writer=Writer(),  # type: ignore[arg-type]
    )
    collector._consumer = Consumer()

    def loop() -> object:
        collector._accept(messages)
        pending, collector._pending = collector._pending, []
        collector._submit(pending)
        collector._finish_inflight()
        return pending

    return {"decode": decode, "loop": loop}


def _worker_argv(flag: str, data: Path, batch: int, rounds: int) -> list[str]:
    return [
        sys.executable,
        __file__,
        flag,
        "--data",
        str(data),
        "--batch",
        str(batch),
        "--rounds",
        str(rounds),
    ]


def _env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:
        parts = [str(tree / "src"), str(tree / "collector"), str(tree / "exporters")]
        env["PYTHONPATH"] = os.pathsep.join(parts + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.worker_parser((__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000, help="messages per batch (BATCH_SIZE)")
    parser.add_argument("--calls", type=int, default=20, help="batches per timed loop")
    parser.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout to compare with (e.g. main's)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the decode case, then exit")
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        rounds = harness.time_rounds(cases(args.data, args.batch), args.calls, args.rounds)
        harness.emit_rounds([{k: v / args.batch for k, v in r.items()} for r in rounds])
        return 0
    if args.callgrind_worker:
        harness.callgrind_worker(cases(args.data, args.batch), 3)
        return 0

    with tempfile.TemporaryDirectory(prefix="onex-bench-decode-") as tmp:
        data = Path(tmp) / "messages.pickle"
        generate(args.batch, data)
        if args.profile:
            import cProfile
            import pstats

            decode = cases(data, args.batch)["decode"]
            for _ in range(3):
                decode()
            prof = cProfile.Profile()
            prof.runcall(lambda: [decode() for _ in range(args.calls)])
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return 0
        trees: dict[str, Path | None] = {"": None}
        if args.baseline_tree is not None:
            trees["main "] = args.baseline_tree.resolve()
        print(f"machine: {harness.machine()}")
        print(f"{args.batch} mixed events per batch; figures per event")
        figures: harness.Rounds = []
        for _ in range(args.processes):  # the trees' processes alternate
            per_tree = {
                label: harness.run_processes(
                    _worker_argv("--worker", data, args.batch, args.rounds), 1, env=_env(tree)
                )
                for label, tree in trees.items()
            }
            for i in range(args.rounds):
                figures.append(
                    {f"{label}{case}": per_tree[label][i][case] for label in trees for case in CASES}
                )
        instructions: dict[str, float] | None = None
        if args.instructions:
            instructions = {}
            for label, tree in trees.items():
                counts = harness.count_instructions(
                    _worker_argv("--callgrind-worker", data, args.batch, 1), 3, env=_env(tree)
                )
                instructions.update({f"{label}{case}": v / args.batch for case, v in counts.items()})
        for case in CASES:
            labels = {f"{label}{case}": f"{label or 'this tree '}{case}" for label in trees}
            base = [f"main {case}"] if len(trees) > 1 else []
            harness.report(
                f"{case}: collector CPU per event",
                [{k: v for k, v in r.items() if k in labels} for r in figures],
                labels,
                "ns/event",
                base,
                [Target(case, b, "<=", TARGET_RATIO) for b in base],
                None if instructions is None else {k: v for k, v in instructions.items() if k in labels},
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
