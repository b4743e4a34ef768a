"""OtlpReceiver: OTLP/gRPC and OTLP/HTTP in, export requests on the bridge's Kafka topics out.

For one machine without an OpenTelemetry Collector: an agent (Claude Code, a TypeScript, Go or
Java agent, any OTLP exporter) sends to the receiver; each accepted export request is written
to ``ONEX_BRIDGE_SPANS_TOPIC`` / ``ONEX_BRIDGE_LOGS_TOPIC`` exactly as the Collector's Kafka
exporter writes it (``otlp_proto``: the serialized ``Export*ServiceRequest``, one per message,
no key), where the bridge consumes it like any other.

- OTLP/gRPC: ``TraceService/Export`` and ``LogsService/Export`` (gzip as gRPC negotiates it).
- OTLP/HTTP: ``POST /v1/traces`` and ``POST /v1/logs`` with ``application/x-protobuf`` or
  ``application/json`` (OTLP/JSON: hex trace and span ids, re-encoded to protobuf before it is
  written), ``Content-Encoding: gzip`` or ``deflate``, ``Content-Length`` or chunked.

Answers follow the OTLP specification: ``200`` with an ``Export*ServiceResponse`` (its
``partial_success`` set when items were rejected: a span or log record with malformed ids, or
one larger than ``ONEX_OTLP_MAX_MESSAGE_BYTES``); every error body is a ``google.rpc.Status``
in the request's encoding: ``400`` (with a ``BadRequest``) for a body that does not decode,
``415`` for another content type or encoding, ``413`` for a body over
``ONEX_OTLP_MAX_REQUEST_BYTES`` (as sent or decompressed), ``503`` with ``Retry-After`` under
back-pressure, ``404``/``405`` for other paths and methods. Over gRPC: ``INVALID_ARGUMENT``,
``RESOURCE_EXHAUSTED`` (too large, no retry info: not to be retried) and ``UNAVAILABLE`` with a
``RetryInfo`` (in ``grpc-status-details-bin`` and in ``google.rpc.retryinfo-bin``, which the
OpenTelemetry Python exporter reads).

Guarantees:

- An accepted request is never lost: it is answered OK only once Kafka acknowledged it or it is
  in the durable spool (:mod:`onex_exporters.spool`, synced to disk), from which
  :class:`~onex_exporters.kafka.OnexKafkaSpanExporter` (whose producer, spool and re-sending
  the receiver uses, see its ``send()``) delivers it when Kafka is back.
- Memory is bounded: bodies by ``ONEX_OTLP_MAX_REQUEST_BYTES``, requests waiting for Kafka by
  ``ONEX_OTLP_MAX_PENDING_BYTES`` (beyond it, and when the spool could not take the request,
  the answer is 503 / ``UNAVAILABLE`` with a retry delay instead of buffering), connections and
  gRPC calls by fixed thread pools.
- Loopback by default: a bare port (``4318``, ``:4318``) listens on 127.0.0.1; another host is
  listened on only when given explicitly, and a log line says so.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from typing import Any, Final

from google.protobuf.message import Message
from google.rpc import code_pb2

from onex_exporters.bridge._http import HttpServer, handler_for
from onex_exporters.bridge._requests import (
    BadRequest,
    Result,
    Signal,
    count_items,
    decode_request,
    response_for,
    retry_info,
    signals_for,
    split_request,
    status_message,
)
from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_exporters.spool import SpoolRecord
from onex_otel.config import Settings
from onex_otel.conventions import (
    DROP_REJECTED,
    ENCODING_OTLP_PROTO,
    GRPC_RETRY_INFO_KEY,
    GRPC_STATUS_DETAILS_KEY,
    OUTCOME_DELIVERED,
    OUTCOME_SPOOLED,
)

__all__ = ["DEFAULT_GRPC_ADDRESS", "DEFAULT_HTTP_ADDRESS", "OtlpReceiver", "parse_address"]

_log = logging.getLogger(__name__)

#: Where the receivers listen when switched on without an address (the OTLP default ports).
DEFAULT_GRPC_ADDRESS: Final = "127.0.0.1:4317"
DEFAULT_HTTP_ADDRESS: Final = "127.0.0.1:4318"
#: How much longer than the producer's delivery timeout a request waits for Kafka or the spool
#: (the switch to the spool resolves what was in flight within a few seconds).
_ACK_GRACE_S: Final = 5.0
#: Concurrent HTTP connections and gRPC workers; connections beyond are answered 503.
_HTTP_CONNECTIONS: Final = 64
_GRPC_WORKERS: Final = 16
#: How long the spool's size is trusted before it is read again (admission control; what this
#: receiver spools in between is added to it).
_SPOOL_SIZE_TTL_S: Final = 1.0
#: Spool bytes per byte of a request: binary values take about 2.5 times their size in the
#: spool's JSON frames; a margin on top, so that admission errs on the safe side.
_SPOOL_EXPANSION: Final = 3


# -- addresses ---------------------------------------------------------------------------------
def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``host:port`` -> ``(host, port)``; a bare or empty host means 127.0.0.1.

    Accepts ``4318``, ``:4318``, ``host``, ``host:4318``, ``[::1]:4318``. Raises ``ValueError``.
    """
    text = text.strip()
    if not text:
        return "127.0.0.1", default_port
    if text.isdigit():
        host, port_text = "", text
    elif text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"not an address: {text!r}")
        port_text = rest[1:]
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    port = int(port_text) if port_text else default_port
    if not 0 <= port < 65536:
        raise ValueError(f"not a TCP port: {port}")
    return host or "127.0.0.1", port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Ticket:
    """Counts the messages of one request down to "safe" (delivered or spooled)."""

    def __init__(self, receiver: OtlpReceiver, parts: list[tuple[bytes, int]]) -> None:
        self._receiver = receiver
        self._left = len(parts)
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.refused_items = 0  # in messages Kafka refuses for good
        self.failed: list[str] = []  # reasons of messages neither delivered nor spooled

    def ack_for(self, size: int, items: int) -> Callable[[str], None]:
        def ack(outcome: str) -> None:
            self._receiver._settled(size, outcome)
            with self._lock:
                if outcome == DROP_REJECTED:
                    self.refused_items += items
                elif outcome not in (OUTCOME_DELIVERED, OUTCOME_SPOOLED):
                    self.failed.append(outcome)
                self._left -= 1
                if self._left == 0:
                    self.done.set()

        return ack


# -- the receiver ------------------------------------------------------------------------------
class OtlpReceiver:
    """OTLP/gRPC and OTLP/HTTP receivers writing export requests to Kafka (see the module).

    ``grpc_address`` / ``http_address``: ``host:port`` (port 0: any free port, see
    :attr:`grpc_port` / :attr:`http_port`), or None to leave that receiver off.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        grpc_address: str | None,
        http_address: str | None,
        producer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """Check the addresses and prepare (nothing listens before :meth:`start`)."""
        self.settings = settings
        self._grpc_address = parse_address(grpc_address, 4317) if grpc_address else None
        self._http_address = parse_address(http_address, 4318) if http_address else None
        self._signals = signals_for(settings)
        self._max_request = settings.otlp_max_request_bytes
        self._max_pending = settings.otlp_max_pending_bytes
        self._max_message = settings.otlp_max_message_bytes
        self._ack_timeout_s = settings.otlp_delivery_timeout_ms / 1000.0 + _ACK_GRACE_S
        self._producer_overrides = {
            "client.id": "onex-otel-otlp-receiver",
            "delivery.report.only.error": False,  # a request waits for its acknowledgement
            "message.timeout.ms": settings.otlp_delivery_timeout_ms,
            "message.max.bytes": max(1_000_000, self._max_message + 64 * 1024),
            **(producer_overrides or {}),
        }
        self._exporter: OnexKafkaSpanExporter | None = None
        self._grpc_server: Any = None
        self._grpc_bound = 0
        self._http_server: HttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending_bytes = 0
        self._active = 0  # requests being handled
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        self._spool_bytes = 0
        self._spool_read_at = -1e9
        self._counts: dict[str, float] = dict.fromkeys(
            (
                "requests_accepted",
                "requests_partial",
                "requests_malformed",
                "requests_unsupported",
                "requests_too_large",
                "requests_busy",
                "requests_unavailable",
                "requests_failed",
                "spans_accepted",
                "spans_rejected",
                "log_records_accepted",
                "log_records_rejected",
                "messages_delivered",
                "messages_spooled",
                "messages_dropped",
            ),
            0.0,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start listening (raises ``OSError`` / ``RuntimeError`` if an address is taken)."""
        if not self.settings.kafka_enabled:
            raise ValueError(
                "the OTLP receiver needs Kafka: set KAFKA_BOOTSTRAP_SERVERS (and "
                "leave KAFKA_ENABLE_LOGGING on)"
            )
        self._exporter = OnexKafkaSpanExporter(
            self.settings, producer_overrides=self._producer_overrides, attach_lifecycle=False
        )
        self._exporter.start()  # also re-sends what an earlier receiver left in the spool
        try:
            if self._grpc_address is not None:
                self._start_grpc(*self._grpc_address)
            if self._http_address is not None:
                self._start_http(*self._http_address)
        except BaseException:
            self.stop(1.0)
            raise

    def _announce(self, what: str, host: str, port: int) -> None:
        if _is_loopback(host):
            _log.info("onex-otel OTLP/%s receiver listens on %s:%d", what, host, port)
        else:
            _log.warning(
                "onex-otel OTLP/%s receiver listens beyond loopback on %s:%d (as "
                "configured): anyone who reaches it can write to Kafka",
                what,
                host,
                port,
            )

    def _start_grpc(self, host: str, port: int) -> None:
        import grpc

        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_GRPC_WORKERS, thread_name_prefix="onex-otlp-grpc"),
            options=[("grpc.max_receive_message_length", self._max_request)],
            maximum_concurrent_rpcs=_GRPC_WORKERS * 4,
        )
        handlers = []
        for signal in self._signals.values():
            handlers.append(
                grpc.method_handlers_generic_handler(
                    signal.service,
                    {
                        "Export": grpc.unary_unary_rpc_method_handler(
                            self._grpc_export(signal),
                            request_deserializer=None,  # raw bytes: a bad body is INVALID_ARGUMENT
                            response_serializer=signal.response.SerializeToString,
                        ),
                    },
                )
            )
        server.add_generic_rpc_handlers(tuple(handlers))
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        bound = server.add_insecure_port(target)
        if not bound:
            raise OSError(f"OTLP/gRPC receiver cannot listen on {target}")
        server.start()
        self._grpc_server = server
        self._grpc_bound = bound
        self._announce("gRPC", host, bound)

    def _start_http(self, host: str, port: int) -> None:
        server = HttpServer((host, port), handler_for(self), _HTTP_CONNECTIONS, ipv6=":" in host)
        self._http_server = server
        self._http_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="onex-otlp-http", daemon=True
        )
        self._http_thread.start()
        self._announce("HTTP", host, self.http_port or port)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let requests in hand finish, deliver or spool what is pending.

        Bounded by ``timeout`` (plus the exporter's own bounded shutdown); idempotent.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            self._stopping = True
        grpc_done = None
        if self._grpc_server is not None:  # refuses new calls, lets those in hand finish
            grpc_done = self._grpc_server.stop(grace=max(0.0, timeout))
        if self._http_server is not None:
            if self._http_thread is not None and self._http_thread.is_alive():
                self._http_server.shutdown()
                self._http_thread.join(max(0.1, deadline - time.monotonic()))
            self._http_server.server_close()
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        if grpc_done is not None:
            grpc_done.wait(max(0.0, deadline - time.monotonic()))
        if self._exporter is not None:
            self._exporter.shutdown(max(0.0, deadline - time.monotonic()) * 1000)
        self._grpc_server = None
        self._http_server = None

    def __enter__(self) -> OtlpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def grpc_port(self) -> int | None:
        """The port the gRPC receiver listens on (None: off or not started)."""
        return int(self._grpc_bound) if self._grpc_server is not None else None

    @property
    def http_port(self) -> int | None:
        """The port the HTTP receiver listens on (None: off or not started)."""
        server = self._http_server
        return int(server.server_address[1]) if server is not None else None

    # -- figures -------------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Counters and gauges, named ``otlp_*`` (for the bridge's ``/metrics``).

        Requests by answer (accepted, of which partial; malformed, unsupported, too large,
        busy = refused under back-pressure, unavailable = Kafka and the spool did not take
        them in time, failed = an error of the receiver's own); items (spans, log records)
        accepted and rejected; messages delivered, spooled and dropped; bytes pending delivery
        and waiting in the spool.
        """
        with self._lock:
            out = {f"otlp_{k}": v for k, v in self._counts.items()}
            out["otlp_pending_bytes"] = float(self._pending_bytes)
        out["otlp_spool_bytes"] = float(self._spool_size(max_age=0.0))
        return out

    def health(self) -> dict[str, object]:
        """The receiver's state, for the bridge's ``/health``.

        ``status`` (healthy | degraded: Kafka does not take requests, they are spooled, or the
        receiver is stopping), the addresses listened on, and whether requests go to Kafka or
        to the spool.
        """
        spool_bytes = self._spool_size(max_age=0.0)
        with self._lock:
            pending = self._pending_bytes
            stopping = self._stopping
        listening = {
            name: f"{addr[0]}:{port}"
            for name, addr, port in (
                ("grpc", self._grpc_address, self.grpc_port),
                ("http", self._http_address, self.http_port),
            )
            if addr is not None and port
        }
        healthy = not stopping and spool_bytes == 0
        return {
            "status": "healthy" if healthy else "degraded",
            "listening": listening,
            "kafka": "delivering" if spool_bytes == 0 else "spooling",
            "pending_bytes": pending,
            "spool_bytes": spool_bytes,
        }

    def _spool_size(self, max_age: float = _SPOOL_SIZE_TTL_S) -> int:
        exporter = self._exporter
        spool = exporter.spool if exporter is not None else None
        if spool is None:
            return 0
        now = time.monotonic()
        if now - self._spool_read_at > max_age:
            with contextlib.suppress(OSError):
                self._spool_bytes = spool.pending_bytes()
            self._spool_read_at = now
        return self._spool_bytes

    def _count(self, key: str, n: float = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _settled(self, size: int, outcome: str) -> None:
        key = {OUTCOME_DELIVERED: "messages_delivered", OUTCOME_SPOOLED: "messages_spooled"}.get(
            outcome, "messages_dropped"
        )
        with self._lock:
            self._pending_bytes -= size
            self._counts[key] += 1
            if outcome == OUTCOME_SPOOLED:  # until the spool's size is read again
                self._spool_bytes += size * _SPOOL_EXPANSION

    # -- one request ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _in_hand(self) -> Iterator[None]:
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def handle(self, signal: Signal, body: bytes | None, request: Message | None = None) -> Result:
        """Check one export request, write it to Kafka, wait until it is safe.

        ``body`` is the protobuf request as received (``None`` when ``request`` was decoded
        from JSON). Returns what to answer.
        """
        with self._in_hand():
            try:
                return self._handle(signal, body, request)
            except BadRequest as exc:
                self._count("requests_malformed")
                return Result("bad", message=str(exc))

    def _handle(self, signal: Signal, body: bytes | None, request: Message | None) -> Result:
        if request is None:
            request = decode_request(signal, body or b"", ENCODING_OTLP_PROTO)
        total, valid = count_items(signal, request)
        if total == 0:  # nothing to store: success, as the specification asks
            self._count("requests_accepted")
            return Result("ok")
        serialized = body if body is not None and len(body) <= self._max_message else None
        if valid and serialized is None and request.ByteSize() <= self._max_message:
            serialized = request.SerializeToString()
        if valid and serialized is not None:  # the common case: one message, as received
            parts = [(serialized, total)]
            rejected: dict[str, int] = {}
        else:
            chunks, rejected = split_request(signal, request, self._max_message)
            parts = [(chunk.SerializeToString(), n) for chunk, n in chunks]
        rejected_n = sum(rejected.values())
        message = self._rejection_message(signal, rejected)
        if parts:
            outcome = self._deliver(signal, parts)
            if outcome.status != "ok":
                return outcome
            rejected_n += outcome.rejected
            message = "; ".join(m for m in (message, outcome.message) if m)
        accepted = total - rejected_n
        with self._lock:
            self._counts["requests_accepted"] += 1
            self._counts["requests_partial"] += 1 if rejected_n else 0
            self._counts[f"{signal.items}_accepted"] += accepted
            self._counts[f"{signal.items}_rejected"] += rejected_n
        return Result("ok", rejected=rejected_n, message=message)

    def _rejection_message(self, signal: Signal, rejected: Mapping[str, int]) -> str:
        what = signal.items.replace("_", " ")
        out = []
        if rejected.get("ids"):
            out.append(
                f"{rejected['ids']} {what} rejected: malformed ids (trace id 16 bytes "
                "and span id 8 bytes, not all zero, are required)"
            )
        if rejected.get("size"):
            out.append(
                f"{rejected['size']} {what} rejected: larger than the receiver's "
                f"largest Kafka message (ONEX_OTLP_MAX_MESSAGE_BYTES="
                f"{self._max_message})"
            )
        return "; ".join(out)

    def _deliver(self, signal: Signal, parts: list[tuple[bytes, int]]) -> Result:
        exporter = self._exporter
        size = sum(len(value) for value, _ in parts)
        spool = exporter.spool if exporter is not None else None
        with self._lock:
            if self._stopping or exporter is None:
                self._counts["requests_unavailable"] += 1
                return Result("unavailable", message="the receiver is shutting down")
            # alone, a request is always let in (up to ONEX_OTLP_MAX_REQUEST_BYTES): a larger
            # one than the cap would otherwise be refused forever
            busy = bool(self._pending_bytes) and self._pending_bytes + size > self._max_pending
            if not busy:
                self._pending_bytes += size
        # the spool must have room for this request and all others that may still end there:
        # beyond its bound the spool would drop the oldest requests, which were answered OK
        if (
            not busy
            and spool is not None
            and self._spool_size() + self._pending_bytes * _SPOOL_EXPANSION > spool.max_bytes
        ):
            self._settled_unused(size)
            busy = True
        if busy:
            self._count("requests_busy")
            return Result("busy", message="too much data waiting for Kafka; retry later")
        ticket = _Ticket(self, parts)
        exporter.send(
            [SpoolRecord(signal.topic, value, None, (), ticket.ack_for(len(value), n)) for value, n in parts]
        )
        if not ticket.done.wait(self._ack_timeout_s):
            self._count("requests_unavailable")
            _log.warning(
                "onex-otel OTLP receiver: neither Kafka nor the spool took a request "
                "within %.1f s; answered as unavailable (the client retries; the "
                "request may still arrive, then twice)",
                self._ack_timeout_s,
            )
            return Result("unavailable", message="Kafka did not take the request in time")
        if ticket.failed:
            self._count("requests_unavailable")
            return Result(
                "unavailable",
                message=f"the request could be neither delivered nor spooled ({', '.join(ticket.failed)})",
            )
        if ticket.refused_items:
            return Result(
                "ok",
                rejected=ticket.refused_items,
                message=f"{ticket.refused_items} {signal.items.replace('_', ' ')} "
                "rejected: Kafka refuses the message for good",
            )
        return Result("ok")

    def _settled_unused(self, size: int) -> None:
        with self._lock:
            self._pending_bytes -= size

    # -- gRPC ----------------------------------------------------------------------------------
    def _grpc_export(self, signal: Signal) -> Callable[[bytes, Any], Message]:
        import grpc

        def export(body: bytes, context: Any) -> Message:
            try:
                result = self.handle(signal, body)
            except Exception:  # a bug of ours: logged and counted; gRPC answers UNKNOWN
                _log.exception("onex-otel OTLP receiver failed on a request")
                self._count("requests_failed")
                raise
            if result.status == "ok":
                return response_for(signal, result)
            if result.status == "bad":
                status = status_message(code_pb2.INVALID_ARGUMENT, result.message, bad_request=True)
                context.set_trailing_metadata(((GRPC_STATUS_DETAILS_KEY, status.SerializeToString()),))
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, result.message)
            status = status_message(code_pb2.UNAVAILABLE, result.message, retry=True)
            retry = retry_info()
            context.set_trailing_metadata(
                (
                    (GRPC_STATUS_DETAILS_KEY, status.SerializeToString()),
                    (GRPC_RETRY_INFO_KEY, retry.SerializeToString()),
                )
            )
            context.abort(grpc.StatusCode.UNAVAILABLE, result.message)
            raise AssertionError("unreachable")  # abort raises

        return export
