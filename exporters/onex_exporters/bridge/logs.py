"""Log records -> events. PLACEHOLDER until the Claude Code mapping lands (replaced at merge).

The real module maps the log events of known producers (Claude Code) to events; this stand-in
keeps the bridge's interface: a pure function that maps the records of no known producer to
nothing.
"""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from onex_exporters.mapping import EventRecord, MappingOptions

__all__ = ["records_from_logs"]


def records_from_logs(request: ExportLogsServiceRequest, options: MappingOptions
                      ) -> list[EventRecord]:
    """The events of the request's log records: none from this placeholder."""
    return []
