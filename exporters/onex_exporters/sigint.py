"""A second Ctrl-C during the exporter's shutdown ends the wait instead of raising."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

__all__ = ["sigint_sets"]


@contextlib.contextmanager
def sigint_sets(event: threading.Event) -> Any:
    """Within the block, SIGINT sets ``event`` instead of raising (main thread, default handler).

    At exit the first Ctrl-C is what started the exit; a second one must end the wait, not
    raise a traceback out of an atexit handler (:meth:`OnexKafkaSpanExporter.shutdown` raises
    ``KeyboardInterrupt`` itself, after spooling, when the process is not exiting).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        event.set()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.default_int_handler)
