"""The collector's retry backoff: :class:`onex_otel.backoff.Backoff` (one implementation)."""

from __future__ import annotations

from onex_otel.backoff import Backoff

__all__ = ["Backoff"]
