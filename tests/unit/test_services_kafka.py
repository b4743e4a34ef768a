"""The test services' broker: an external broker that does not answer is named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import kafka


def _closed() -> str:
    return f"127.0.0.1:{kafka.free_port()}"  # nothing listens there once the probe socket closed


def test_an_unanswering_broker_is_reported_with_its_address() -> None:
    address = _closed()
    with pytest.raises(kafka.BrokerUnreachable, match=f"no Kafka broker answered at {address}"):
        kafka.check_answers(address, timeout=1.0)


def test_a_script_ends_with_one_line_when_the_external_broker_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = _closed()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    monkeypatch.setattr(kafka, "EXTERNAL_ANSWER_S", 1.0)
    with pytest.raises(SystemExit) as exited, kafka.script_broker(tmp_path):
        pytest.fail("the script ran without a broker")
    assert str(exited.value).startswith(f"no Kafka broker answered at {address} (KAFKA_BOOTSTRAP_SERVERS)")
    assert "\n" not in str(exited.value)


def test_a_broker_that_answers_passes_the_check(broker: kafka.Broker) -> None:
    kafka.check_answers(broker.bootstrap, timeout=10.0)  # a real broker (integration: the fixture)
