"""Messages that can never be written: why, and at which stage (for the dead-letter headers)."""

from __future__ import annotations

from onex_otel import conventions as c
from onex_otel.errors import OnexError

__all__ = ["InvalidEvent", "NotJson", "PoisonMessage", "short"]


class PoisonMessage(OnexError):
    """A message that can never be written (it goes to the dead-letter topic)."""

    stage: str = c.DLQ_STAGE_VALIDATE


class NotJson(PoisonMessage):
    """The message value is not a JSON object."""

    stage = c.DLQ_STAGE_DECODE


class InvalidEvent(PoisonMessage):
    """The JSON is neither a valid OnexEnvelopeV1 nor a valid legacy record for its topic."""

    stage = c.DLQ_STAGE_VALIDATE


def short(exc: BaseException, limit: int = 300) -> str:
    """``exc`` on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
