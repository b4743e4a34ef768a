"""The shell-hook fast path: a skill command handed whole to the emit daemon.

A hook process pays for every module it imports, and the skills' own work (argument parsing,
validation, the envelope, its JSON) needs ``argparse``, ``json``, ``re``, ``uuid``, ``dataclasses``...
which together cost several times an empty interpreter's start. So when the emit daemon listens,
:func:`run` sends it the command line and the environment's onex-otel settings
(``{"op": "skill", "argv": [...], "env": {...}}``), the daemon runs the skill exactly as the
process would (:func:`onex_otel.cli._skills.run_skill`, settings read from the forwarded
variables) and replies with the exit code and the JSON line to print. This module imports only
``os``, ``sys`` and the C modules ``_socket`` and ``_json``.

Without a daemon (or with one that does not know the ``skill`` op, or that refuses the request:
nothing of a refused request is published) the skill runs in this process, as it always did.
"""

from __future__ import annotations

import _json  # the C half of json: no ``re``, no ``json`` package
import _socket
import os
import sys

from onex_otel.errors import OnexError

#: The skill subcommands (this module routes them; :mod:`._skills` defines them).
COMMANDS = ("log-action", "log-routing-decision", "log-transformation", "log-performance-metrics")

#: Environment variables forwarded to the daemon: every onex-otel setting's variable starts with
#: one of these or is one of them (a test checks this against :data:`onex_otel.config.SETTINGS`).
FORWARDED_PREFIXES = ("ONEX_", "KAFKA_", "OTEL_", "POSTGRES_")
FORWARDED_NAMES = frozenset(
    {"ENVIRONMENT", "TENANT_ID", "DEBUG", "DATABASE_URL", "BATCH_SIZE", "BATCH_TIMEOUT_MS"}
)

#: Seconds the daemon has to answer unless ``--timeout`` says otherwise (the skills' default).
DEFAULT_TIMEOUT = 5.0

_REPLY_OK = b'{"ok":true,"exit":'
_REPLY_OUTPUT = ',"output":'


def socket_path(configured: str | None = None) -> str:
    """The emit daemon's socket: ``configured`` (``ONEX_EMIT_SOCKET``), else a per-user path."""
    if configured:
        return configured
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = f"{runtime}/onex-otel" if runtime else f"/tmp/onex-otel-{os.getuid()}"
    return f"{base}/emit.sock"


def _timeout(argv: list[str]) -> float:
    for i, arg in enumerate(argv):
        text = (
            arg[len("--timeout=") :]
            if arg.startswith("--timeout=")
            else (argv[i + 1] if arg == "--timeout" and i + 1 < len(argv) else None)
        )
        if text is not None:
            try:
                return max(0.1, float(text))
            except ValueError:
                return DEFAULT_TIMEOUT  # the daemon reports the bad value
    return DEFAULT_TIMEOUT


def _string(text: str) -> str:
    return _json.encode_basestring_ascii(text)  # type: ignore[no-any-return]


def encode_request(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> bytes:
    """The ``skill`` request as one frame (4-byte big-endian length, then JSON)."""
    env = ",".join(
        f"{_string(k)}:{_string(v)}"
        for k, v in environ.items()
        if k.startswith(FORWARDED_PREFIXES) or k in FORWARDED_NAMES
    )
    body = ('{"op":"skill","argv":[' + ",".join(_string(a) for a in argv) + '],"env":{' + env + "}}").encode(
        "ascii"
    )
    return len(body).to_bytes(4, "big") + body


def decode_reply(body: bytes) -> tuple[int, str] | None:
    """``(exit code, output)`` of a ``skill`` reply; ``None`` for any other reply (a refusal)."""
    if not body.startswith(_REPLY_OK):
        return None
    text = body[len(_REPLY_OK) :].decode("utf-8")
    comma = text.find(_REPLY_OUTPUT)
    start = comma + len(_REPLY_OUTPUT)
    if comma < 0 or text[start : start + 1] != '"':
        return None
    output, end = _json.scanstring(text, start + 1, True)
    if text[end:] != "}":
        return None
    return int(text[:comma]), output


def _recv_exact(sock: _socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed mid-frame")
        chunks += chunk
    return bytes(chunks)


class DaemonSilent(OnexError):
    """The daemon took the request but gave no usable answer (its outcome is unknown)."""


def forward(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> tuple[int, str] | None:
    """Run the skill ``argv`` in the emit daemon: ``(exit code, output)``, ``None`` if not there.

    Raises :class:`DaemonSilent` when the daemon accepted the request but did not answer in time.
    """
    path = socket_path(environ.get("ONEX_EMIT_SOCKET"))
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(_timeout(argv))
        try:
            sock.connect(path)
        except OSError:
            return None  # no daemon (or a stale socket file)
        try:
            sock.sendall(encode_request(argv, environ))
            size = int.from_bytes(_recv_exact(sock, 4), "big")
            body = _recv_exact(sock, size)
        except OSError as exc:
            raise DaemonSilent(f"emit daemon at {path} did not answer: {exc}") from None
    finally:
        sock.close()
    return decode_reply(body)


def run(argv: list[str], debug: bool = False) -> int:
    """Run a skill command: through the daemon when it listens, else in this process.

    A request for help (``-h``, ``--help`` or an abbreviation argparse accepts) is answered here.
    """
    if not any(arg == "-h" or (len(arg) > 2 and "--help".startswith(arg)) for arg in argv):
        try:
            reply = forward(argv, os.environ)
        except DaemonSilent as exc:
            sys.stdout.write('{"success": false, "error": ' + _string(str(exc)) + "}\n")
            sys.stdout.flush()
            return 1
        if reply is not None:
            code, output = reply
            sys.stdout.write(output)
            sys.stdout.flush()
            return code
    from onex_otel.cli._skills import run_skill
    from onex_otel.emit import emit

    code, output = run_skill(argv, os.environ, emit, debug=debug)
    sys.stdout.write(output)
    sys.stdout.flush()
    return code
