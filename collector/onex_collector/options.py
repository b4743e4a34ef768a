"""How a collector runs: :class:`CollectorOptions` (``onex-otel collect`` fills it from the settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from onex_collector.decode import default_topic_types
from onex_otel import conventions as c
from onex_otel.config import Settings
from onex_otel.conventions import EventType

__all__ = ["CollectorOptions"]


@dataclass
class CollectorOptions:
    """How a :class:`Collector` runs (``onex-otel collect`` fills it from the settings)."""

    bootstrap_servers: str
    conninfo: str
    group_id: str = "agent-observability-postgres"
    topic_types: Mapping[str, EventType | str] = field(default_factory=default_topic_types)
    dlq_topic: str = c.DEFAULT_DLQ_TOPIC
    batch_size: int = Settings.batch_size
    batch_timeout_ms: int = Settings.batch_timeout_ms
    #: Write a partial batch as soon as no batch is in flight and the consumer holds no more
    #: messages; False: it waits ``batch_timeout_ms`` for more (fewer, fuller transactions).
    eager_batches: bool = Settings.eager_batches
    #: PostgreSQL connections writing batches at once (each batch in its own transaction; up to
    #: BATCHES_PER_CONNECTION queued per connection). Offsets and dead letters are still handled
    #: batch after batch, in consumption order.
    db_writers: int = 2
    #: Longest a batch's statement may run before PostgreSQL cancels it and the batch is retried
    #: like an outage (a lock held elsewhere, a stuck server); 0: no limit.
    statement_timeout_ms: int = 60_000
    #: How often the stored offsets (batches already committed to PostgreSQL) are committed to
    #: the group. A crash redelivers, idempotently, what was stored after the last commit.
    commit_interval_ms: int = 1000
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    shutdown_timeout_s: float = 30.0
    #: How long a PostgreSQL connection attempt may take; and how long a one-shot run
    #: (``stop_when_idle_s`` set) retries an unreachable Kafka or PostgreSQL before it gives up.
    connect_timeout_s: float = Settings.connect_timeout_s
    #: None: the group's committed offsets (new group: earliest). "beginning", or a datetime:
    #: every partition from that point (replay).
    start: str | datetime | None = None
    #: Stop by itself once every assigned partition reached its end and nothing came for this
    #: long (replay). None: run until stopped.
    stop_when_idle_s: float | None = None
    #: Trace the database connection with opentelemetry-instrumentation-psycopg. None: only
    #: when spans go somewhere (a tracer provider was passed, or a real global one is set).
    instrument_db: bool | None = None
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    producer_config: Mapping[str, Any] = field(default_factory=dict)
