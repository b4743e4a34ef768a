"""``/health`` and ``/metrics`` of a long-running onex-otel service, served by the standard library.

One helper for every service (the collector, the bridge): the service hands over three callables
and this module serves them in a daemon thread.

- ``GET /health``: the ``health()`` dict as JSON; HTTP 200 when its ``status`` is ``healthy``,
  503 otherwise.
- ``GET /metrics``: the ``snapshot()`` dict as JSON; ``/metrics?format=prometheus`` or
  ``Accept: text/plain``: ``prometheus()``, the Prometheus text exposition format (a service's
  :meth:`~onex_otel.service_metrics.ServiceMetrics.prometheus`: its OpenTelemetry metrics
  through the Prometheus exporter).

Example::

    server = StatusServer(health, snapshot, prometheus, host="127.0.0.1", port=0).start()
    print(server.port)
    ...
    server.close()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["StatusServer"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatusServer:
    """An HTTP server thread exposing a service's health and metrics; a context manager."""

    def __init__(
        self,
        health: Callable[[], Mapping[str, Any]],
        snapshot: Callable[[], Mapping[str, Any]],
        prometheus: Callable[[], str],
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        name: str = "onex-otel",
    ) -> None:
        """Bind to ``host:port`` (port 0: any free port, see :attr:`port`)."""
        handler = _handler_for(health, snapshot, prometheus, name)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"{name}-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def start(self) -> Self:
        """Start serving in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(
    health: Callable[[], Mapping[str, Any]],
    snapshot: Callable[[], Mapping[str, Any]],
    prometheus: Callable[[], str],
    name: str,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = name

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/health":
                body = health()
                code = 200 if body.get("status") == "healthy" else 503
                self._send(code, json.dumps(body).encode(), "application/json")
            elif url.path == "/metrics":
                fmt = (query.get("format") or [""])[0].lower()
                accept = self.headers.get("Accept", "")
                if fmt == "prometheus" or (fmt != "json" and "text/plain" in accept):
                    self._send(200, prometheus().encode(), PROMETHEUS_CONTENT_TYPE)
                else:
                    self._send(200, json.dumps(snapshot()).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

    return Handler
