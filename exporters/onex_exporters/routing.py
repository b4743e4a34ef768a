"""Where the exporter sends new events: straight to Kafka or through the spool, as a state machine.

::

    DIRECT --(a send failed, the producer's queue is full or fatal)--> HOLDING
    HOLDING --(every outstanding message resolved: failed and held events spooled)--> SPOOLING
    SPOOLING --(the re-sender found the spool empty)--> DIRECT

``DIRECT``: new events go to the producer. ``HOLDING``: messages already handed to the producer
may still fail (their callbacks spool them); new events wait in memory until they have resolved,
then follow them into the spool, so the spool keeps the order of each correlation's events; the
I/O thread must resolve the outstanding messages. ``SPOOLING``: new events go to the spool behind
the older ones it holds, and the re-sender sends the spool oldest first.

The table :data:`TRANSITIONS` is the only place that says which moves exist; every move goes
through :meth:`RouteState.advance` (called with the exporter's route lock held).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["TRANSITIONS", "Route", "RouteState"]


class Route(enum.Enum):
    """Where new events go."""

    DIRECT = "direct"
    HOLDING = "holding"
    SPOOLING = "spooling"


#: Every allowed move, with why it happens.
TRANSITIONS: Mapping[tuple[Route, Route], str] = {
    (Route.DIRECT, Route.HOLDING): "a send failed, the producer's queue is full or fatal",
    (Route.HOLDING, Route.SPOOLING): "outstanding messages resolved, failed and held ones spooled",
    (Route.SPOOLING, Route.DIRECT): "the spool is empty",
}


class RouteState:
    """The current :class:`Route` and its moves (the caller holds the route lock)."""

    __slots__ = ("route",)

    def __init__(self) -> None:
        """Start sending directly."""
        self.route = Route.DIRECT

    def advance(self, source: Route, target: Route) -> bool:
        """Move from ``source`` to ``target`` if the state is ``source``; True if it moved.

        A move that is not in :data:`TRANSITIONS` is a programming error (``ValueError``).
        """
        if (source, target) not in TRANSITIONS:
            raise ValueError(f"no transition {source.value} -> {target.value}")
        if self.route is not source:
            return False
        self.route = target
        return True

    @property
    def direct(self) -> bool:
        """New events go to the producer."""
        return self.route is Route.DIRECT

    @property
    def holding(self) -> bool:
        """New events wait in memory while outstanding messages resolve."""
        return self.route is Route.HOLDING

    @property
    def spooling(self) -> bool:
        """New events go to the spool."""
        return self.route is Route.SPOOLING
