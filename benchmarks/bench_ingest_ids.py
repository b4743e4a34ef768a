"""onex_ingest before and after migration 0010 (name-based ids claimed), in one run.

Run from the repository root (it makes its own fresh database, like the tests)::

    python benchmarks/bench_ingest_ids.py                 # 12 rounds of 20 batches of 100 events
    python benchmarks/bench_ingest_ids.py --rounds 4

One fresh database with every migration, where ``onex_ingest_fresh`` (the statement a batch of
new events runs) is also installed as it was before 0010 (its claims removed), under another
name: both write into the same tables from the same connection, batch by batch in turn, each
batch with the collector benchmark's mixed events (actions, routing, lifecycles...) and new ids.
The figure is the CPU time the PostgreSQL server process spent on the call (Linux's
/proc/<pid>/schedstat), not wall time, which the machine's other load moves more. (Two
databases, one per migration, differ by up to 10% from each other for reasons of their own.)
Cases:

* ``uuid7_before`` / ``uuid7_0010``: time-ordered ids, as the in-process exporter mints them:
  the common path, which 0010 must not slow down (target: 0010 / before <= 1.03).
* ``uuid5_before`` / ``uuid5_0010``: every id name-based (as Claude Code's facts reported by two
  paths): what claiming the ids costs (no target; before 0010 such a fact could be written twice).

Printed: server CPU ms per batch (min/median/max), every round's ratio, the verdict.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from bench_collector import mixed_events
from harness import Rounds, Target, report
from tests.services.postgres import fresh_database

from onex_collector.migrate import migrate
from onex_collector.rows import Decoded, decode_message
from onex_collector.writer import batch_document

_FRESH = "onex_ingest_fresh"
_NAMESPACE = uuid.UUID("6f6e6578-0000-5000-8000-62656e636831")


def documents(count: int, size: int, named: bool) -> Iterator[str]:
    """``count`` batch documents of ``size`` mixed events each, every id new."""
    for i in range(count):
        batch: list[Decoded] = []
        for env in mixed_events(size):
            decoded = decode_message(env.event_type.value, env.to_json())
            if named:
                eid = uuid.uuid5(_NAMESPACE, f"{i}|{decoded.event_id}")
                decoded = decoded._replace(
                    event_id=eid, rows=tuple(r._replace(values=(eid, *r.values[1:])) for r in decoded.rows)
                )
            batch.append(decoded)
        yield batch_document(batch)


def backend_cpu_ns(pid: int) -> int:
    """CPU time the server process ``pid`` has run, in ns (Linux's schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def case(conn: psycopg.Connection[tuple[Any, ...]], function: str, docs: Iterator[str]) -> Callable[[], int]:
    """One batch ingested by ``function``; returns the CPU time the server spent on it (ns)."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    pid = int(row[0])
    statement = f"SELECT * FROM {function}(%s::jsonb)".encode()

    def call() -> int:
        start = backend_cpu_ns(pid)
        conn.execute(statement, (next(docs),)).fetchone()
        return backend_cpu_ns(pid) - start

    return call


def cpu_rounds(cases: dict[str, Callable[[], int]], calls: int, rounds: int) -> Rounds:
    """Server CPU ns per batch of each case, ``rounds`` times, the cases taking turns batch by
    batch (order rotated every round); each case warmed first."""
    names = list(cases)
    for name in names:
        for _ in range(max(1, calls // 10)):
            cases[name]()
    out: Rounds = []
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        totals = dict.fromkeys(order, 0)
        for _ in range(calls):
            for name in order:
                totals[name] += cases[name]()
        out.append({name: total / calls for name, total in totals.items()})
    return out


def install_before(conn: psycopg.Connection[tuple[Any, ...]]) -> str:
    """``onex_ingest_fresh`` as it was before 0010 (no claim), under another name."""
    row = conn.execute("SELECT pg_get_functiondef('onex_ingest_fresh(jsonb)'::regprocedure)").fetchone()
    assert row is not None
    definition = re.sub(
        r"\n *WHERE substr\(r ->> 0, 15, 1\) <> '5'\n *OR onex_claim_event_id"
        r"\(\(r ->> 0\)::uuid, \(r ->> \d+\)::timestamptz\)",
        "",
        str(row[0]),
    )
    assert "onex_claim_event_id" not in definition
    conn.execute(definition.replace("onex_ingest_fresh(", "bench_ingest_before_0010("))
    return "bench_ingest_before_0010"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=20, help="batches per case and round")
    parser.add_argument("--batch", type=int, default=100, help="events per batch")
    args = parser.parse_args(argv)
    needed = args.rounds * args.calls + max(1, args.calls // 10) + 10
    with fresh_database("bench_ingest_ids") as db:
        migrate(db.url)
        with psycopg.connect(db.url, autocommit=True) as conn:
            before = install_before(conn)
            cases = {
                "uuid7_before": case(conn, before, documents(needed, args.batch, named=False)),
                "uuid7_0010": case(conn, _FRESH, documents(needed, args.batch, named=False)),
                "uuid5_before": case(conn, before, documents(needed, args.batch, named=True)),
                "uuid5_0010": case(conn, _FRESH, documents(needed, args.batch, named=True)),
            }
            rounds = cpu_rounds(cases, args.calls, args.rounds)
    rounds = [{k: v / 1e6 for k, v in r.items()} for r in rounds]
    labels = {
        "uuid7_before": "uuid7 ids, before 0010",
        "uuid7_0010": "uuid7 ids, with 0010",
        "uuid5_before": "uuid5 ids, before 0010",
        "uuid5_0010": "uuid5 ids, with 0010 (claimed)",
    }
    verdicts = report(
        f"onex_ingest_fresh, {args.batch} mixed events per batch",
        rounds,
        labels,
        "server CPU ms/batch",
        baselines=["uuid7_before", "uuid5_before"],
        targets=[Target("uuid7_0010", "uuid7_before", "<=", 1.03)],
        pairs=[("uuid5_0010", "uuid5_before")],
    )
    return 0 if all(v.passed for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
