"""The legacy tables' range limits (their CHECK constraints), defined once.

Every layer that checks a value before it reaches PostgreSQL uses these: the envelope models
(:mod:`onex_otel.envelope`), the skills' record builders (:mod:`onex_otel.records`), the
instrumentation API (:mod:`onex_otel._events`, :mod:`onex_otel._execution`), the legacy API
(:mod:`onex_otel.legacy`) and the span -> event mapping (``onex_exporters.mapping``).
``tests/unit/test_limits.py`` reads the CHECK constraints of the migrations and compares them with
:data:`COLUMN_RANGES`, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COLUMN_RANGES",
    "NON_NEGATIVE_MIN",
    "ROUTING_DURATION_MS_LIMIT",
    "SCORE_MAX",
    "SCORE_MIN",
]

#: Scores and confidences (``confidence_score``, ``best_confidence``, ``quality_score``):
#: ``CHECK (x >= 0 AND x <= 1)``.
SCORE_MIN: Final = 0.0
SCORE_MAX: Final = 1.0
#: Durations in milliseconds and counts: ``CHECK (x >= 0)``.
NON_NEGATIVE_MIN: Final = 0
#: ``router_performance_metrics.routing_duration_ms``: ``CHECK (x >= 0 AND x < 1000)``; the limit
#: itself is out of range.
ROUTING_DURATION_MS_LIMIT: Final = 1000

#: Every range-checked column: ``(table, column) -> (lowest, highest or None, highest allowed)``.
COLUMN_RANGES: Final[dict[tuple[str, str], tuple[float, float | None, bool]]] = {
    ("agent_actions", "duration_ms"): (NON_NEGATIVE_MIN, None, True),
    ("agent_routing_decisions", "confidence_score"): (SCORE_MIN, SCORE_MAX, True),
    ("agent_routing_decisions", "routing_time_ms"): (NON_NEGATIVE_MIN, None, True),
    ("agent_transformation_events", "confidence_score"): (SCORE_MIN, SCORE_MAX, True),
    ("agent_transformation_events", "transformation_duration_ms"): (NON_NEGATIVE_MIN, None, True),
    ("router_performance_metrics", "routing_duration_ms"): (
        NON_NEGATIVE_MIN,
        ROUTING_DURATION_MS_LIMIT,
        False,
    ),
    ("router_performance_metrics", "candidates_evaluated"): (NON_NEGATIVE_MIN, None, True),
    ("agent_detection_failures", "candidates_evaluated"): (NON_NEGATIVE_MIN, None, True),
    ("agent_detection_failures", "best_confidence"): (SCORE_MIN, SCORE_MAX, True),
    ("agent_detection_failures", "detection_duration_ms"): (NON_NEGATIVE_MIN, None, True),
    ("agent_execution_logs", "duration_ms"): (NON_NEGATIVE_MIN, None, True),
    ("agent_execution_logs", "quality_score"): (SCORE_MIN, SCORE_MAX, True),
}
