"""A warning at most once a minute per topic; the rest goes to DEBUG."""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["RateLimitedLog"]

_log = logging.getLogger("onex_exporters.kafka")


class RateLimitedLog:
    """Logs a warning at most once a minute per topic; the rest goes to DEBUG."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def warning(self, what: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last.get(what, -1e9) >= self.interval:
            self._last[what] = now
            _log.warning(msg, *args, exc_info=exc_info)
        else:
            _log.debug(msg, *args, exc_info=exc_info)
