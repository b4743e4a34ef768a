"""The old name of :mod:`onex_exporters.realtime_processor`, kept so its imports keep working."""

from __future__ import annotations

from onex_exporters.realtime_processor import OnexLifecycleProcessor

__all__ = ["OnexLifecycleProcessor"]
