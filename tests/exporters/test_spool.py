"""The durable spool: order, bound, corruption tolerance, restart."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from onex_exporters.spool import Spool, SpoolRecord


def rec(i: int, topic: str = "t", key: str = "k") -> SpoolRecord:
    return SpoolRecord(
        topic,
        f'{{"i":{i:03d}}}'.encode(),
        key.encode(),
        (("traceparent", b"00-ab-cd-01"), ("x", bytes([0, 255]))),
    )


def drain(spool: Spool) -> list[SpoolRecord]:
    out: list[SpoolRecord] = []
    for _ in range(1000):
        batch = spool.read(max_records=7)
        if not batch.records:
            return out
        out.extend(batch.records)
        spool.commit(batch.positions)
    raise AssertionError("spool did not drain")


def segments(path: Path) -> list[Path]:
    return sorted(path.glob("seg-*.log"))


def test_round_trip_keeps_order_and_fields(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync="always")
    records = [rec(i) for i in range(20)] + [SpoolRecord("t2", b"\xff\x00binary", None, ())]
    spool.append(records[:10])
    spool.append(records[10:])
    assert not spool.is_empty()
    assert drain(spool) == records
    assert spool.is_empty()
    assert spool.stats.appended == 21 and spool.stats.committed == 21


def test_uncommitted_records_are_read_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([rec(i) for i in range(5)])
    first = spool.read(max_records=3)
    spool.commit(first.positions[:1])  # only the first was delivered
    again = spool.read(max_records=10)
    assert [r.value for r in again.records] == [rec(i).value for i in range(1, 5)]


def test_survives_a_restart_and_a_new_process_reads_oldest_first(tmp_path: Path) -> None:
    old = Spool(tmp_path)
    old.append([rec(i) for i in range(3)])
    old.close()
    new = Spool(tmp_path)  # "a new process": writes its own newer segment
    new.append([rec(i) for i in range(3, 6)])
    assert [r.value for r in drain(new)] == [rec(i).value for i in range(6)]
    new.close()
    # fully re-sent segments are deleted
    assert segments(tmp_path) == []


def test_bound_drops_oldest_counts_and_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    size = len(rec(0).encode())
    spool = Spool(tmp_path, max_bytes=size * 10, segment_bytes=size * 3)
    with caplog.at_level(logging.WARNING, logger="onex_exporters.spool"):
        for i in range(25):
            spool.append([rec(i)])
    assert spool.stats.dropped_full == 15
    assert spool.pending_bytes() <= size * 10
    assert [r.value for r in drain(spool)] == [rec(i).value for i in range(15, 25)]
    warnings = [r for r in caplog.records if "full" in r.getMessage()]
    assert len(warnings) == 1


def test_a_batch_larger_than_the_bound_keeps_its_newest(tmp_path: Path) -> None:
    size = len(rec(0).encode())
    spool = Spool(tmp_path, max_bytes=size * 4)
    assert spool.append([rec(i) for i in range(10)]) == 4
    assert spool.stats.dropped_full == 6
    assert [r.value for r in drain(spool)] == [rec(i).value for i in range(6, 10)]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_segment_is_read_up_to_the_damage_and_the_rest_flows(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = Spool(tmp_path)
    first.append([rec(i) for i in range(5)])
    first.close()
    (seg,) = segments(tmp_path)
    data = seg.read_bytes()
    size = len(rec(0).encode())
    if damage == "truncate":  # power loss in the middle of the 4th record
        seg.write_bytes(data[: size * 3 + size // 2])
    else:  # a flipped byte in the body of the 4th record
        pos = size * 3 + size - 3
        seg.write_bytes(data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1 :])
    second = Spool(tmp_path)
    second.append([rec(i) for i in range(100, 103)])
    with caplog.at_level(logging.WARNING, logger="onex_exporters.spool"):
        got = [r.value for r in drain(second)]
    assert got == [rec(i).value for i in (0, 1, 2, 100, 101, 102)]
    assert second.stats.dropped_corrupt == 1
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_garbage_file_does_not_stop_the_spool(tmp_path: Path) -> None:
    (tmp_path / "seg-00000000000000000001-1.log").write_bytes(os.urandom(100))
    (tmp_path / "cursor.json").write_text("{not json")
    spool = Spool(tmp_path)
    spool.append([rec(1)])
    assert [r.value for r in drain(spool)] == [rec(1).value]


def test_two_writers_share_a_directory(tmp_path: Path) -> None:
    a, b = Spool(tmp_path), Spool(tmp_path)
    a.append([rec(1, key="a")])
    b.append([rec(2, key="b")])
    a.append([rec(3, key="a")])
    got = drain(a)
    assert [r.value for r in got if r.key == b"a"] == [rec(1).value, rec(3).value]
    assert [r.value for r in got if r.key == b"b"] == [rec(2).value]
    # a's own live segment stays until closed; b's too, it is still open for writing
    b.close()
    a.close()
    Spool(tmp_path).commit([("none", 0)])
    assert segments(tmp_path) == []


def test_bad_fsync_policy_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync"):
        Spool(tmp_path, fsync="sometimes")
