"""Tool call ids: UUID version 4 text, made cheaply on the hot path."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from random import getrandbits

__all__ = ["new_call_id"]

_format: str = ""
_counter: Iterator[int] = iter(())


def _reseed() -> None:
    """Draw the random part of this process's ids (at import, and again in a forked child)."""
    global _format, _counter
    h = os.urandom(9).hex()
    # 60 random bits, the version, 2 variant bits and 14 random bits, then a 48-bit counter
    # starting at a random value below 2**47 (so it never needs a 13th hex digit)
    variant = int(h[16:18] + h[13:15], 16) & 0x3FFF | 0x8000
    _format = f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{variant:04x}-%012x"
    _counter = itertools.count(getrandbits(47))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_call_id() -> str:
    """A tool call id in UUID version 4 form, unique, cheaply.

    74 random bits are drawn once per process (and again after ``fork``); the last 48 bits count
    up from a random start, so ids are unique without paying for ``str(uuid.uuid4())`` (or for
    random bits per call) on the hot path.
    """
    return _format % next(_counter)
