"""Fixtures of the framework tests: a fresh SDK provider with onex-otel's core per test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from onex_otel import _context, _metrics, _payload
from tests.core.conftest import _ENV, reset_tracing


@pytest.fixture
def clean_tracing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_tracing()
    yield
    # Forget the tracer cached for the test's provider, so that its exporters (and their Kafka
    # producers) go away with it rather than outliving the broker.
    _context._cached_provider, _context._cached_tracer = object(), None
    # Finalize what the frameworks left (event loops, async generators) now: CPython 3.11.7's
    # AST converter reports a "recursion depth mismatch" when a finalizer runs in the middle of
    # a later ast.parse (pytest's assertion rewriting of a module imported afterwards).
    gc.collect()
    # What survived (the frameworks' modules, schemas and caches) is kept out of every later
    # collection: the next test's gc.collect() walks only what came since (it took ~0.5 s each).
    gc.freeze()
    reset_tracing()
    _payload.set_policy(None)
    _metrics.set_meter_provider(None)
