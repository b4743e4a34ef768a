"""onex-otel collector: Kafka -> the legacy PostgreSQL tables.

Run it with ``onex-otel db migrate`` (create or update the tables) and ``onex-otel collect``
(consume the event topics into them); ``onex-otel replay`` rebuilds the tables from the topics.

Modules:

- :mod:`onex_collector.rows`: pure mapping, message -> rows (no I/O).
- :mod:`onex_collector.fastpath`: one-pass validation of envelopes with per-event-type models.
- :mod:`onex_collector.migrate`: the versioned SQL migrations of ``onex_migrations``.
- :mod:`onex_collector.writer`: one transaction per batch, sent as one statement (a JSONB
  document to ``onex_ingest``); rejected rows isolated; thread-safe (a connection per write).
- :mod:`onex_collector.consumer`: the Kafka consumer loop (commit after the transaction, pause and
  back off while PostgreSQL is away, dead-letter topic, drain on SIGTERM).
- :mod:`onex_collector.http`: ``/health`` and ``/metrics`` (JSON or Prometheus text).
- :mod:`onex_collector.tracing`: batch spans linked to the producers' traces.
- :mod:`onex_collector.service`: options from the settings, signals, HTTP; what `onex-otel
  collect` and `onex-otel replay` (a group of its own, from the beginning) run.
"""

from __future__ import annotations

__all__: list[str] = []
