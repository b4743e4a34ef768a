"""The OTLP/HTTP side of :class:`~onex_exporters.bridge.receiver.OtlpReceiver` (standard library).

A threading HTTP server with a bound on concurrent connections; ``POST /v1/traces`` and
``POST /v1/logs``, protobuf or JSON, gzip or deflate, ``Content-Length`` or chunked; every other
path or method answered 404/405; each error body a ``google.rpc.Status`` in the request's encoding.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from google.rpc import code_pb2

from onex_exporters.bridge._requests import (
    RETRY_AFTER_S,
    BadRequest,
    TooLarge,
    decode_request,
    decompress,
    encode,
    response_for,
    status_message,
)
from onex_otel.conventions import (
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_PROTOBUF,
    ENCODING_OTLP_JSON,
    OTLP_HTTP_PATH_LOGS,
    OTLP_HTTP_PATH_TRACES,
)
from onex_otel.errors import OnexError

if TYPE_CHECKING:
    from onex_exporters.bridge.receiver import OtlpReceiver

_log = logging.getLogger("onex_exporters.bridge.receiver")

#: Seconds an HTTP connection may stay silent (slow or idle clients do not hold a thread).
_IDLE_TIMEOUT_S: Final = 30
_MEDIA_TYPES: Final = {
    CONTENT_TYPE_PROTOBUF: CONTENT_TYPE_PROTOBUF,
    "application/protobuf": CONTENT_TYPE_PROTOBUF,
    CONTENT_TYPE_JSON: CONTENT_TYPE_JSON,
}


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server with a bound on concurrent connections."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
        *,
        ipv6: bool = False,
    ) -> None:
        if ipv6:
            self.address_family = AF_INET6
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: "
                    + str(RETRY_AFTER_S).encode()
                    + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


_HTTP_CODES: Final = {"bad": 400, "busy": 503, "unavailable": 503}


def handler_for(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    paths = {
        OTLP_HTTP_PATH_TRACES: receiver._signals["traces"],
        OTLP_HTTP_PATH_LOGS: receiver._signals["logs"],
    }
    limit = receiver._max_request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as OTLP clients expect
        server_version = "onex-otel-otlp"
        timeout = _IDLE_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _media(self) -> str | None:
            raw = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            return _MEDIA_TYPES.get(raw)

        def _reply(
            self, code: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def _error(
            self,
            code: int,
            message: str,
            media: str | None,
            *,
            bad_request: bool = False,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            grpc_code = {
                400: code_pb2.INVALID_ARGUMENT,
                404: code_pb2.NOT_FOUND,
                405: code_pb2.UNIMPLEMENTED,
                411: code_pb2.INVALID_ARGUMENT,
                413: code_pb2.RESOURCE_EXHAUSTED,
                415: code_pb2.INVALID_ARGUMENT,
                503: code_pb2.UNAVAILABLE,
            }.get(code, code_pb2.UNKNOWN)
            status = status_message(grpc_code, message, bad_request=bad_request, retry=code == 503)
            self._reply(code, *encode(status, media), headers=headers)

        def _not_post(self) -> None:
            path = urlsplit(self.path).path
            self.close_connection = True  # a body it may have is not read
            if path in paths:
                self._error(
                    405,
                    f"{self.command} is not allowed on {path}: use POST",
                    self._media(),
                    headers={"Allow": "POST"},
                )
            else:
                self._error(404, f"no OTLP endpoint at {path}", self._media())

        do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_post

        def do_HEAD(self) -> None:
            self.close_connection = True
            self.send_response(404 if urlsplit(self.path).path not in paths else 405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked()
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                raise _LengthRequired
            try:
                length = int(length_text)
            except ValueError:
                raise BadRequest("Content-Length is not a number") from None
            if length < 0:
                raise BadRequest("Content-Length is negative")
            if length > limit:
                raise TooLarge(f"the body ({length} bytes) is larger than {limit} bytes")
            body = self.rfile.read(length)
            if len(body) < length:
                raise BadRequest("the body ended early")
            return body

        def _read_chunked(self) -> bytes:
            body = bytearray()
            for _ in range(1_000_000):
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("malformed chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return bytes(body)
                if len(body) + size > limit:
                    raise TooLarge(f"the body is larger than {limit} bytes")
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    raise BadRequest("the body ended early")
                body += chunk
                self.rfile.readline(8)  # CRLF
            raise BadRequest("too many chunks")

        def do_POST(self) -> None:
            try:
                self._post()
            except OSError:  # the client went away
                self.close_connection = True
            except Exception:  # a bug of ours: answered (not retried), logged, counted
                _log.exception("onex-otel OTLP receiver failed on a request")
                receiver._count("requests_failed")
                self.close_connection = True
                with contextlib.suppress(Exception):
                    self._error(500, "internal error of the receiver", self._media())

        def _post(self) -> None:
            path = urlsplit(self.path).path
            signal = paths.get(path)
            media = self._media()
            if signal is None:
                self.close_connection = True  # the body is not read
                self._error(404, f"no OTLP endpoint at {path}", media)
                return
            if media is None:
                receiver._count("requests_unsupported")
                self.close_connection = True
                self._error(
                    415,
                    "unsupported Content-Type "
                    f"{self.headers.get('Content-Type')!r}: use "
                    f"{CONTENT_TYPE_PROTOBUF} or {CONTENT_TYPE_JSON}",
                    media,
                )
                return
            coding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
            if coding not in ("identity", "gzip", "deflate"):
                receiver._count("requests_unsupported")
                self.close_connection = True
                self._error(415, f"unsupported Content-Encoding {coding!r}: use gzip, deflate or none", media)
                return
            try:
                body = self._read_body()
                if coding != "identity":
                    body = decompress(body, coding, limit)
                request = (
                    decode_request(signal, body, ENCODING_OTLP_JSON) if media == CONTENT_TYPE_JSON else None
                )
            except _LengthRequired:
                self.close_connection = True
                self._error(411, "Content-Length required", media)
                return
            except TooLarge as exc:
                receiver._count("requests_too_large")
                self.close_connection = True
                self._error(413, str(exc), media)
                return
            except BadRequest as exc:
                receiver._count("requests_malformed")
                self.close_connection = True
                self._error(400, str(exc), media, bad_request=True)
                return
            result = receiver.handle(signal, None if request is not None else body, request)
            if result.status == "ok":
                self._reply(200, *encode(response_for(signal, result), media))
            else:
                headers = {"Retry-After": str(RETRY_AFTER_S)} if result.status != "bad" else None
                self._error(
                    _HTTP_CODES[result.status],
                    result.message,
                    media,
                    bad_request=result.status == "bad",
                    headers=headers,
                )

    return Handler


class _LengthRequired(OnexError):
    """Neither Content-Length nor chunked (411)."""
