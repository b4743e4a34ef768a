"""Shared fixtures: real services for integration tests (see tests/services/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# logfire (the `frameworks` extra) registers a pydantic plugin: every process that defines a pydantic
# model would import all of logfire (about 0.7 s per process). Tests (and the processes they start)
# run without it; tests/core/test_framework_providers.py uses logfire itself.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "logfire-plugin")

from tests.services.kafka import Broker, running_broker
from tests.services.otlp import OtlpReceiver
from tests.services.postgres import Database, fresh_database

#: Fixtures that start or reach a real service: a test using any of them (directly or through
#: another fixture) is an integration test, whether or not it carries the marker itself. So is
#: every test under tests/integration/ (they start whole pipelines in subprocesses).
SERVICE_FIXTURES = frozenset({"broker", "own_broker", "database", "otlp_receiver"})
_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real service ``integration`` (``-m "not integration"``: fast)."""
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())) or (
            _INTEGRATION_DIR in item.path.parents
        ):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka-protocol broker for the whole session."""
    with running_broker(tmp_path_factory.mktemp("kafka")) as b:
        yield b


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, which the test may stop and restart."""
    with running_broker(tmp_path) as b:
        if b.external:
            pytest.skip("outage tests need a broker the suite starts itself")
        yield b


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """A fresh PostgreSQL database for the test session, dropped afterwards."""
    with fresh_database() as db:
        yield db


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/gRPC trace receiver on a free loopback port."""
    receiver = OtlpReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
