"""onex-otel collector: Kafka -> the legacy PostgreSQL tables.

Run it with ``onex-otel db migrate`` (create or update the tables) and ``onex-otel collect``
(consume the event topics into them); ``onex-otel replay`` rebuilds the tables from the topics.

Modules:

- Message -> rows (pure, no I/O): :mod:`~onex_collector.decode` (a message -> a decoded event, or
  poison: :mod:`~onex_collector.poison`), :mod:`~onex_collector.fastpath` (one-pass validation of
  envelopes with per-event-type models), :mod:`~onex_collector.row_builders` (a payload -> its
  row), :mod:`~onex_collector.legacy_records` (flat records without an envelope),
  :mod:`~onex_collector.tables` (the tables' columns, ``Row``, ``Decoded``);
  :mod:`onex_collector.rows` gathers their names.
- :mod:`onex_collector.migrate`: the versioned SQL migrations of ``onex_migrations``.
- Rows -> PostgreSQL: :mod:`~onex_collector.writer` (one transaction per batch; rejected rows
  isolated; thread-safe), :mod:`~onex_collector.ingest` (the batch as one JSONB document to
  ``onex_ingest``), :mod:`~onex_collector.pipeline` (batches queued on connections in libpq's
  pipeline mode), :mod:`~onex_collector.write_outcomes` (committed, rejected or unavailable).
- Kafka -> batches: :mod:`~onex_collector.consumer` (the consumer loop: commit after the
  transaction, pause and back off while PostgreSQL is away, rebalances, drain on SIGTERM),
  :mod:`~onex_collector.options`, :mod:`~onex_collector.batches` (decoded, then in flight),
  :mod:`~onex_collector.dead_letters` (poison to the dead-letter topic),
  :mod:`~onex_collector.kafka_clients` (configuration, librdkafka's log, lag).
- :mod:`onex_collector.http`: ``/health`` and ``/metrics`` (JSON or Prometheus text).
- :mod:`onex_collector.tracing`: batch spans linked to the producers' traces.
- :mod:`onex_collector.service`: options from the settings, signals, HTTP; what `onex-otel
  collect` and `onex-otel replay` (a group of its own, from the beginning) run.
"""

from __future__ import annotations

__all__: list[str] = []
