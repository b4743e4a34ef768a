"""The collector's own spans: each batch write is a span linked to the traces that produced it.

The producers put a W3C ``traceparent`` header on every message; the batch span carries one link
per distinct producing span (at most :data:`MAX_LINKS`), so a trace viewer shows the database
writes next to the agent run. psycopg's own spans (opentelemetry-instrumentation-psycopg) are
children of the batch span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, TraceFlags

from onex_otel.conventions import HEADER_TRACEPARENT

__all__ = ["MAX_LINKS", "links_from_headers", "parse_traceparent", "tracer"]

MAX_LINKS = 128


def tracer(provider: trace.TracerProvider | None = None) -> trace.Tracer:
    """The collector's tracer (from ``provider``, default the global tracer provider)."""
    return trace.get_tracer("onex_collector", tracer_provider=provider)


def parse_traceparent(value: str | bytes | None) -> SpanContext | None:
    """A remote SpanContext from a W3C ``traceparent`` value, or None if it is not valid."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_hex, span_hex, flags_hex = parts[:4]
    if len(trace_hex) != 32 or len(span_hex) != 16 or len(flags_hex) != 2:
        return None
    if version == "00" and len(parts) != 4:
        return None
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 0x01))


def links_from_headers(
    headers_list: Iterable[Sequence[tuple[str, bytes | None]] | None],
) -> list[Link]:
    """One link per distinct ``traceparent`` among the messages' headers (bounded)."""
    seen: set[tuple[int, int]] = set()
    links: list[Link] = []
    for headers in headers_list:
        if not headers:
            continue
        for key, value in headers:
            if key != HEADER_TRACEPARENT:
                continue
            ctx = parse_traceparent(value)
            if ctx is None or (ctx.trace_id, ctx.span_id) in seen:
                continue
            seen.add((ctx.trace_id, ctx.span_id))
            links.append(Link(ctx))
            if len(links) >= MAX_LINKS:
                return links
    return links
