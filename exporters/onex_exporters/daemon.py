"""The local emit daemon: one Kafka producer (and spool) for many short-lived hook processes.

``onex-otel emit-daemon`` listens on a Unix socket (owner-only permissions) and accepts frames in
the format documented in :mod:`onex_otel.emit`: a 4-byte big-endian length, then UTF-8 JSON.
Each ``emit`` request carries OnexEnvelopeV1 objects; the daemon validates them against the models,
hands them to its publisher (which delivers to Kafka or spools) and replies
``{"ok": true, "accepted": N}``. A bad frame (not JSON, too large, an invalid envelope, an unknown
op) gets ``{"ok": false, "error": "..."}`` and is counted; it never stops the daemon, and a request
is all-or-nothing (nothing of a request with one invalid event is published).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from onex_otel.emit import recv_frame, send_frame
from onex_otel.errors import OnexError

__all__ = ["DaemonAlreadyRunning", "EmitDaemon", "EnvelopeSink"]

_log = logging.getLogger(__name__)


class EnvelopeSink(Protocol):
    """What the daemon hands validated envelopes to.

    :class:`onex_exporters.publish.EnvelopePublisher` (the Kafka publisher, with its spool) is one.
    """

    def publish_envelope(self, envelope: Any) -> None:
        """Queue one validated :class:`~onex_otel.envelope.OnexEnvelopeV1`; must not block long."""

    def stats(self) -> Mapping[str, Any]:
        """Counters of what was delivered, spooled and dropped."""


class DaemonAlreadyRunning(OnexError, RuntimeError):
    """Another daemon answers on the socket."""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.daemon.idle_timeout)
        while True:
            try:
                message = recv_frame(sock)
            except (ConnectionError, TimeoutError, OSError):
                return  # client went away (or idled out)
            except (ValueError, UnicodeDecodeError) as exc:  # oversized or not JSON
                self.server.daemon._count("rejected_frames")
                with contextlib.suppress(OSError):
                    send_frame(sock, {"ok": False, "error": f"bad frame: {exc}"})
                return  # the stream position is unknown after a bad frame: close it
            reply = self.server.daemon.handle_message(message)
            try:
                send_frame(sock, reply)
            except OSError:
                return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    daemon: EmitDaemon


class EmitDaemon:
    """Serve the emit socket until :meth:`stop`; usable as a context manager."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        publisher: EnvelopeSink,
        *,
        idle_timeout: float = 30.0,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.publisher = publisher
        self.idle_timeout = idle_timeout
        self._counts: dict[str, int] = {"accepted": 0, "rejected_events": 0, "rejected_frames": 0}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the socket (owner-only) and serve in a background thread."""
        self._claim_path()
        old_umask = os.umask(0o177)
        try:
            server = _Server(str(self.socket_path), _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, stat.S_IRUSR | stat.S_IWUSR)
        server.daemon = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="onex-emit-daemon",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and remove the socket file (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def __enter__(self) -> EmitDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _claim_path(self) -> None:
        parent = self.socket_path.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.socket_path.exists():
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(str(self.socket_path))
        except OSError:
            self.socket_path.unlink()  # stale socket of a daemon that died
            return
        finally:
            probe.close()
        raise DaemonAlreadyRunning(f"an emit daemon already listens on {self.socket_path}")

    # -- requests ----------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def stats(self) -> dict[str, Any]:
        """Daemon counters plus the publisher's."""
        with self._lock:
            counts: dict[str, Any] = dict(self._counts)
        counts["publisher"] = dict(self.publisher.stats())
        return counts

    def handle_message(self, message: Any) -> dict[str, Any]:
        """Answer one decoded frame (pure request/response; used by the socket handler)."""
        if not isinstance(message, dict):
            self._count("rejected_frames")
            return {"ok": False, "error": "a frame must be a JSON object"}
        op = message.get("op")
        if op == "ping":
            return {"ok": True, "stats": self.stats()}
        if op == "skill":
            return self._skill(message)
        if op != "emit":
            self._count("rejected_frames")
            return {"ok": False, "error": f"unknown op {op!r} (expected 'emit', 'skill' or 'ping')"}
        events = message.get("events")
        if not isinstance(events, list) or not events:
            self._count("rejected_frames")
            return {"ok": False, "error": "'events' must be a non-empty list of envelopes"}
        from pydantic import ValidationError

        from onex_otel.envelope import OnexEnvelopeV1

        envelopes = []
        for index, raw in enumerate(events):
            try:
                envelopes.append(OnexEnvelopeV1.model_validate(raw))
            except ValidationError as exc:
                self._count("rejected_events", len(events))
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                return {
                    "ok": False,
                    "error": f"event {index} is not a valid envelope: {where}: {first.get('msg')}",
                }
        for env in envelopes:
            self.publisher.publish_envelope(env)
        self._count("accepted", len(envelopes))
        return {"ok": True, "accepted": len(envelopes)}

    def _skill(self, message: dict[str, Any]) -> dict[str, Any]:
        """Run a shell hook's skill command here, with the hook's settings; reply what it prints.

        The keys of the reply stay in this order: the hook reads it without a JSON parser.
        """
        argv, env = message.get("argv"), message.get("env")
        if not (
            isinstance(argv, list)
            and all(isinstance(a, str) for a in argv)
            and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            self._count("rejected_frames")
            return {"ok": False, "error": "'argv' must be a list of strings, 'env' an object of strings"}
        from onex_otel import _payload
        from onex_otel.cli._skills import run_skill
        from onex_otel.config import ConfigError, load_settings
        from onex_otel.emit import EmitError, EmitOutcome

        try:
            bound = load_settings(env).max_payload_bytes
        except ConfigError:
            bound = None  # run_skill reports it
        if bound is not None and bound != _payload.policy().max_bytes:
            # --details are bounded by the process-wide payload policy: the hook's differs from
            # this daemon's, so the hook runs the skill itself (and publishes through "emit")
            return {
                "ok": False,
                "error": "the hook's ONEX_MAX_PAYLOAD_BYTES differs from the "
                "daemon's: run the skill in the hook process",
            }

        def emit(events: list[Any], *, settings: Any, timeout: float) -> EmitOutcome:
            if not settings.kafka_enable_logging:  # as onex_otel.emit.emit
                return EmitOutcome("disabled", 0)
            reply = self.handle_message({"op": "emit", "events": events})
            if not reply["ok"]:
                raise EmitError(reply["error"])
            return EmitOutcome("daemon", reply["accepted"])

        try:
            code, output = run_skill(argv, env, emit)
        except (Exception, SystemExit) as exc:  # nothing was published: the hook runs it itself
            _log.warning("skill %s failed in the daemon: %r", argv[:1], exc)
            return {"ok": False, "error": f"the skill failed in the daemon: {exc!r}"}
        return {"ok": True, "exit": code, "output": output}
