"""The names the collector's modules had before they were split by job still import, unchanged."""

from __future__ import annotations

import importlib

import pytest

#: (old module, name, the module that defines it now)
MOVED = [
    ("onex_collector.consumer", "CollectorOptions", "onex_collector.options"),
    ("onex_collector.consumer", "KafkaUnavailable", "onex_collector.kafka_clients"),
    ("onex_collector.consumer", "DeadLetterUnavailable", "onex_collector.dead_letters"),
    ("onex_collector.writer", "BatchResult", "onex_collector.write_outcomes"),
    ("onex_collector.writer", "DatabaseUnavailable", "onex_collector.write_outcomes"),
    ("onex_collector.writer", "PendingWrite", "onex_collector.write_outcomes"),
    ("onex_collector.writer", "Rejected", "onex_collector.write_outcomes"),
    ("onex_collector.writer", "is_row_rejection", "onex_collector.write_outcomes"),
    ("onex_collector.writer", "batch_document", "onex_collector.ingest"),
    ("onex_collector.writer", "BATCHES_PER_CONNECTION", "onex_collector.pipeline"),
    ("onex_collector.rows", "decode_message", "onex_collector.decode"),
    ("onex_collector.rows", "default_topic_types", "onex_collector.decode"),
    ("onex_collector.rows", "replace_nul", "onex_collector.decode"),
    ("onex_collector.rows", "PoisonMessage", "onex_collector.poison"),
    ("onex_collector.rows", "NotJson", "onex_collector.poison"),
    ("onex_collector.rows", "InvalidEvent", "onex_collector.poison"),
    ("onex_collector.rows", "legacy_event_id", "onex_collector.legacy_records"),
    ("onex_collector.rows", "LEGACY_EXECUTION_TOPIC_KIND", "onex_collector.legacy_records"),
    ("onex_collector.rows", "rows_for_envelope", "onex_collector.row_builders"),
    ("onex_collector.rows", "TABLE_COLUMNS", "onex_collector.tables"),
    ("onex_collector.rows", "JSON_COLUMNS", "onex_collector.tables"),
    ("onex_collector.rows", "Row", "onex_collector.tables"),
    ("onex_collector.rows", "Decoded", "onex_collector.tables"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_still_imports_from_its_old_module(old: str, name: str, new: str) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_every_name_a_module_exports_is_defined() -> None:
    for module in {m for row in MOVED for m in (row[0], row[2])}:
        mod = importlib.import_module(module)
        missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
        assert not missing, f"{module} exports undefined {missing}"
