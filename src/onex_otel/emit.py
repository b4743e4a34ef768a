"""Publishing ready-made envelopes from short-lived processes.

:func:`emit` sends envelope dictionaries through the local emit daemon when one listens on its Unix
socket (``onex-otel emit-daemon``: one long-lived Kafka producer and spool for every hook), and
otherwise publishes directly with the publisher of the entry-point group :data:`PUBLISHER_GROUP`
(``onex_exporters``' Kafka producer of its own, spooling what Kafka does not take within the
timeout). Either way it returns within about ``timeout`` seconds.

The wire format of the daemon socket (documented in the README) is a 4-byte big-endian length
followed by that many bytes of UTF-8 JSON, in both directions:

* request ``{"op": "emit", "events": [<OnexEnvelopeV1 as JSON object>, ...]}``, reply
  ``{"ok": true, "accepted": N}`` or ``{"ok": false, "error": "<one sentence>"}``;
* request ``{"op": "ping"}``, reply ``{"ok": true, "stats": {...}}``;
* request ``{"op": "skill", "argv": ["log-action", ...], "env": {"ONEX_...": "..."}}`` (a shell
  hook's whole command, see :mod:`onex_otel.cli._hook`), reply
  ``{"ok": true, "exit": 0, "output": "<the JSON line the skill prints>"}``.

Frames larger than :data:`MAX_FRAME` are rejected.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onex_otel.config import Settings, load_settings
from onex_otel.errors import OnexError, PublishError

__all__ = [
    "MAX_FRAME",
    "PUBLISHER_GROUP",
    "EmitError",
    "EmitOutcome",
    "default_socket_path",
    "emit",
    "recv_frame",
    "send_frame",
]

#: The entry-point group of the publishers :func:`emit` uses when no daemon runs.
PUBLISHER_GROUP = "onex_otel.publishers"

MAX_FRAME = 4 * 1024 * 1024
_HEADER = struct.Struct(">I")


class EmitError(OnexError, RuntimeError):
    """The events could be neither delivered nor spooled."""


@dataclass(frozen=True)
class EmitOutcome:
    """How the events left: ``daemon``, ``delivered`` (directly to Kafka) or ``spooled``."""

    delivery: str
    count: int


def default_socket_path(settings: Settings | None = None) -> Path:
    """The emit daemon's socket: ``ONEX_EMIT_SOCKET``, else a per-user runtime directory."""
    from onex_otel.cli._hook import socket_path

    return Path(socket_path(settings.emit_socket if settings is not None else None))


def send_frame(sock: socket.socket, message: Mapping[str, Any]) -> None:
    """Write one length-prefixed JSON frame."""
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise ValueError(f"frame of {len(body)} bytes exceeds the {MAX_FRAME}-byte limit")
    sock.sendall(_HEADER.pack(len(body)) + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed mid-frame")
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket) -> Any:
    """Read one length-prefixed JSON frame (``ValueError`` for an oversized or non-JSON frame)."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    return json.loads(_recv_exact(sock, size))


def _via_daemon(path: Path, events: Sequence[Mapping[str, Any]], timeout: float) -> EmitOutcome | None:
    """Send through the daemon; ``None`` when no daemon listens (then publish directly)."""
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # stale socket file: no daemon
        send_frame(sock, {"op": "emit", "events": list(events)})
        reply = recv_frame(sock)
    except (OSError, ValueError) as exc:
        raise EmitError(f"emit daemon at {path} did not answer: {exc}") from None
    finally:
        sock.close()
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise EmitError(str(error or "emit daemon rejected the events"))
    return EmitOutcome("daemon", int(reply.get("accepted", len(events))))


def emit(
    events: Sequence[Mapping[str, Any]],
    *,
    settings: Settings | None = None,
    timeout: float = 5.0,
) -> EmitOutcome:
    """Publish envelope dicts through the daemon if it runs, else directly; bounded by ``timeout``."""
    settings = settings or load_settings()
    if not settings.kafka_enable_logging:
        return EmitOutcome("disabled", 0)
    outcome = _via_daemon(default_socket_path(settings), events, timeout)
    if outcome is not None:
        return outcome
    if not settings.kafka_bootstrap_servers:
        raise EmitError("Kafka is not configured: set KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS)")
    publish = _publisher()
    try:
        delivery = publish(events, settings=settings, timeout=timeout)
    except PublishError as exc:
        raise EmitError(str(exc)) from None
    return EmitOutcome(delivery, len(events))


def _publisher() -> Callable[..., str]:
    """The publisher of :data:`PUBLISHER_GROUP` (the first by name), as ``EmitError`` if none loads.

    ``onex_exporters`` registers ``kafka``: ``publish_envelope_dicts(events, *, settings,
    timeout)``, returning ``"delivered"`` or ``"spooled"`` and raising
    :class:`~onex_otel.errors.PublishError` when events were dropped.
    """
    from importlib.metadata import entry_points

    found = sorted(entry_points(group=PUBLISHER_GROUP), key=lambda entry: entry.name)
    if not found:
        raise EmitError(
            f"publishing needs the Kafka extra (pip install 'onex-otel[kafka]'): "
            f"no publisher in the entry-point group {PUBLISHER_GROUP!r}"
        )
    try:
        publish: Callable[..., str] = found[0].load()
    except ImportError as exc:
        raise EmitError(f"publishing needs the Kafka extra (pip install 'onex-otel[kafka]'): {exc}") from None
    return publish
