"""Exponential backoff with jitter and a cap, on a monotonic clock that tests can replace.

One implementation for every retry loop: the collector's consumer asks for the next delay
(:meth:`Backoff.next_delay`), the Kafka exporter's spool re-sender records failures and asks
whether it may try again (:meth:`Backoff.failed`, :meth:`Backoff.ready`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays for retrying an operation: ``initial * factor**n`` (+/- ``jitter``), at most ``cap``.

    >>> b = Backoff(initial=0.1, factor=2.0, cap=0.5, jitter=0.0)
    >>> [b.next_delay() for _ in range(5)]
    [0.1, 0.2, 0.4, 0.5, 0.5]
    >>> b.reset(); b.next_delay()
    0.1
    """

    initial: float = 0.2
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.1
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0
    #: When the current run of failures started (clock time), None while healthy.
    failing_since: float | None = None
    #: Clock time before which :meth:`ready` says no (set by :meth:`failed`).
    next_at: float = 0.0

    def next_delay(self) -> float:
        """The delay before the next attempt; counts one more failure."""
        if self.failing_since is None:
            self.failing_since = self.clock()
        base = min(self.cap, self.initial * self.factor**self.attempts)
        self.attempts += 1
        if self.jitter:
            base *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.cap, base))

    def reset(self) -> None:
        """Forget the failures (after a success)."""
        self.attempts = 0
        self.failing_since = None
        self.next_at = 0.0

    def failed(self) -> None:
        """Count a failure: :meth:`ready` says no until the next delay has passed."""
        self.next_at = self.clock() + self.next_delay()

    def succeeded(self) -> None:
        """A success: ready at once (same as :meth:`reset`)."""
        self.reset()

    def ready(self) -> bool:
        """Whether the delay after the last failure has passed."""
        return self.clock() >= self.next_at

    def failing_for(self) -> float:
        """Seconds since the current run of failures started (0 while healthy)."""
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since
