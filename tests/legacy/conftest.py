"""Fixtures of the legacy API tests: the core's in-memory span fixture, a clean registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from onex_otel.legacy import _registry
from tests.core.conftest import Spans, clean_env, spans  # noqa: F401 - fixtures used here

VOLATILE = (
    "gen_ai.agent.id",
    "gen_ai.tool.call.id",
    "onex.execution_id",
    "onex.started_event_id",
)


@pytest.fixture
def legacy(spans: Spans, monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:  # noqa: F811
    """The core's span fixture, with no legacy execution left open before or after the test."""
    monkeypatch.delenv("KAFKA_ENABLE_LOGGING", raising=False)
    _registry.close_all()
    spans.clear()
    yield spans
    leftover = _registry.close_all()
    assert leftover == 0, f"{leftover} legacy execution(s) left open by the test"


def tree(finished: list[ReadableSpan]) -> list[dict[str, Any]]:
    """Whole spans as comparable values, ids aside: parents by name, trace ids by correlation.

    Each span becomes its name, kind, attributes (volatile ids as ``"<any>"``), events (stack
    traces as ``"<any>"``), status and the name of its parent span (``None`` for a root), plus
    whether its trace id is the UUID in its ``onex.correlation_id`` attribute. Sorted by name.
    """
    by_id = {s.context.span_id: s for s in finished}
    out = []
    for span in finished:
        attrs = {k: ("<any>" if k in VOLATILE else v) for k, v in (span.attributes or {}).items()}
        events = []
        for event in span.events:
            event_attrs = dict(event.attributes or {})
            if "exception.stacktrace" in event_attrs:
                event_attrs["exception.stacktrace"] = "<any>"
            events.append((event.name, event_attrs))
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        cid = (span.attributes or {}).get("onex.correlation_id")
        out.append(
            {
                "name": span.name,
                "kind": span.kind.name,
                "attributes": attrs,
                "events": events,
                "status": (span.status.status_code.name, span.status.description),
                "parent": None if span.parent is None else (parent.name if parent else "<remote>"),
                "trace_is_correlation": cid is not None
                and isinstance(cid, str)
                and uuid.UUID(cid).int == span.context.trace_id,
            }
        )
    return sorted(out, key=lambda s: (s["name"], str(s["attributes"])))
