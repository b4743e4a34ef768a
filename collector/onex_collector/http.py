"""``/health`` and ``/metrics`` of the collector, served by the standard library in a thread.

- ``GET /health``: ``{"status": "healthy", "consumer": "running"}`` (HTTP 200), or
  ``{"status": "degraded", ..., "reasons": {"database": "...", "kafka": "..."}}`` (HTTP 503).
- ``GET /metrics``: the seed's JSON fields plus consumer lag and the dead-letter count;
  ``/metrics?format=prometheus`` or ``Accept: text/plain``: the same in Prometheus text format.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from onex_collector.metrics import CollectorMetrics, render_prometheus

__all__ = ["MetricsServer"]


class MetricsServer:
    """An HTTP server thread exposing a :class:`CollectorMetrics`; a context manager."""

    def __init__(self, metrics: CollectorMetrics, host: str = "127.0.0.1", port: int = 8080):
        """Bind to ``host:port`` (port 0: any free port, see :attr:`port`)."""
        self.metrics = metrics
        handler = _handler_for(metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name="onex-collector-http", daemon=True,
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(metrics: CollectorMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "onex-collector"

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
                health = metrics.health()
                code = 200 if health["status"] == "healthy" else 503
                self._send(code, json.dumps(health).encode(), "application/json")
            elif url.path == "/metrics":
                fmt = (query.get("format") or [""])[0].lower()
                accept = self.headers.get("Accept", "")
                if fmt == "prometheus" or (fmt != "json" and "text/plain" in accept):
                    self._send(200, render_prometheus(metrics).encode(),
                               "text/plain; version=0.0.4; charset=utf-8")
                else:
                    self._send(200, json.dumps(metrics.snapshot()).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

    return Handler
