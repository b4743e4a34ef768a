"""Fixtures of the framework tests: a fresh SDK provider with onex-otel's core per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onex_otel import _metrics, _payload
from tests.core.conftest import _ENV, reset_tracing


@pytest.fixture
def clean_tracing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_tracing()
    yield
    reset_tracing()
    _payload.set_policy(None)
    _metrics.set_meter_provider(None)
