"""A small OTLP/gRPC trace receiver on a free loopback port (``onex-otel demo`` uses it).

The demo's agent exports its spans here as it would to a Collector or Jaeger; the demo writes them
as Jaeger's upload JSON (:mod:`onex_otel.jaeger`). Built on opentelemetry-proto's generated
service (grpcio and opentelemetry-proto come with ``opentelemetry-exporter-otlp``).
"""

from __future__ import annotations

import os
import threading
from concurrent import futures
from typing import Any

from onex_otel.jaeger import SpanRecord, from_otlp


class OtlpSink:
    """Collects every span exported to :attr:`endpoint` until :meth:`stop`."""

    def __init__(self) -> None:
        # The demo forks (the agent, pg_ctl) while the server runs; it needs no fork handlers.
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        import grpc
        from opentelemetry.proto.collector.trace.v1 import (
            trace_service_pb2,
            trace_service_pb2_grpc,
        )

        self._spans: list[SpanRecord] = []
        self._lock = threading.Lock()
        sink = self

        class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                spans = from_otlp(request)
                with sink._lock:
                    sink._spans.extend(spans)
                return trace_service_pb2.ExportTraceServiceResponse()

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(), self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``, for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.port}"

    def spans(self) -> list[SpanRecord]:
        """Every span received so far."""
        with self._lock:
            return list(self._spans)

    def stop(self) -> None:
        """Stop serving (bounded)."""
        self._server.stop(grace=1).wait(5)
