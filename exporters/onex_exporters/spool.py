"""A durable, bounded, append-only spool of Kafka messages that could not be delivered.

Layout of the spool directory::

    seg-<creation time ns>-<pid>.log   append-only segments, one open segment per writing process
    cursor.json                        how far each segment has been re-sent (byte offsets)
    .lock                              flock(2) guarding every read, write and cursor update

A record is ``b"OX"`` + body length (u32, big endian) + CRC-32 of the body (u32) + the body, a
compact JSON object ``{"t": topic, "k": key, "h": [[name, value], ...], "v": value}``. A record
is written with one ``write(2)`` under the lock, so processes (also forked workers) can share a
spool directory.

Reading goes oldest segment first, each segment in append order, which keeps the order of events
of one correlation id (one execution runs in one process and its events land in that process's
segments in order). A segment that is damaged (power loss mid-write: a truncated record, a CRC
mismatch) is read up to the damage; the rest of it is counted as dropped (``spool_corrupt``) and
the following segments still flow.

The spool is bounded by ``max_bytes`` of records not yet re-sent. Appending beyond the bound
drops the oldest records first; they are counted (``spool_full``) and reported in one warning.

fsync policy (``ONEX_SPOOL_FSYNC``):

- ``always``: every append is followed by ``fsync`` (each exported batch is on disk when
  ``export()`` returns; the slowest).
- ``batch`` (default): the exporter calls :meth:`Spool.sync` after every batch it spooled,
  within a second for events spooled in real time by the lifecycle processor (no fsync on the
  agent's thread), on ``force_flush()`` and on ``shutdown()``: at most the last second or the
  last spooled batch can be lost to a power failure, and nothing spooled to a process crash
  (the data is in the kernel's page cache).
- ``never``: the operating system writes when it likes: safe against process crashes, not
  against power loss.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Spool", "SpoolRecord", "SpoolStats"]

_log = logging.getLogger(__name__)

_MAGIC = b"OX"
_HEADER = struct.Struct(">2sII")
_MAX_RECORD = 64 * 1024 * 1024
_CURSOR = "cursor.json"
_LOCK = ".lock"
FSYNC_POLICIES = ("always", "batch", "never")


@dataclass(frozen=True)
class SpoolRecord:
    """One Kafka message waiting in the spool.

    ``ack`` (not stored) is told what became of a message whose sender waits for it to be safe
    (see :meth:`onex_exporters.kafka.OnexKafkaSpanExporter.send`).
    """

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    ack: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def encode(self) -> bytes:
        """The framed on-disk form of this record."""
        body: dict[str, Any] = {"t": self.topic, "h": [[k, v.decode("latin-1")] for k, v in self.headers]}
        if self.key is not None:
            body["k"] = self.key.decode("latin-1")
        try:
            body["v"] = self.value.decode()
        except UnicodeDecodeError:
            body["b"] = self.value.decode("latin-1")
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return _HEADER.pack(_MAGIC, len(data), zlib.crc32(data)) + data

    @classmethod
    def decode(cls, data: bytes) -> SpoolRecord:
        """Parse a record body (raises ``ValueError`` if it is not one)."""
        body = json.loads(data)
        value = body["v"].encode() if "v" in body else body["b"].encode("latin-1")
        key = body.get("k")
        return cls(
            topic=body["t"],
            value=value,
            key=None if key is None else key.encode("latin-1"),
            headers=tuple((k, v.encode("latin-1")) for k, v in body.get("h", ())),
        )


@dataclass
class SpoolStats:
    """Counters of one :class:`Spool` instance (this process)."""

    appended: int = 0
    committed: int = 0
    dropped_full: int = 0
    dropped_corrupt: int = 0


@dataclass
class _Segment:
    name: str
    size: int
    offset: int


@dataclass
class ReadBatch:
    """Records read from the spool, and how to acknowledge each of them."""

    records: list[SpoolRecord] = field(default_factory=list)
    #: ``(segment name, end offset)`` of each record.
    positions: list[tuple[str, int]] = field(default_factory=list)


class Spool:
    """A durable spool directory; thread-safe and safe to share between processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_bytes: int = 256 * 1024 * 1024,
        fsync: str = "batch",
        segment_bytes: int | None = None,
    ) -> None:
        """Open (creating it if needed) the spool at ``path``."""
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {', '.join(FSYNC_POLICIES)}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.segment_bytes = segment_bytes or max(4096, min(16 * 1024 * 1024, max_bytes // 8))
        self.stats = SpoolStats()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._active: str | None = None
        self._active_size = 0
        self._warned_full = False
        self._dirty = False

    # -- locking ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fd = os.open(self.path / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def after_fork_in_child(self) -> None:
        """Forget the parent's open segment: the child writes its own (call after ``fork``)."""
        self._lock = threading.Lock()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._active = None

    # -- cursor ----------------------------------------------------------------------------
    def _read_cursor(self) -> dict[str, int]:
        try:
            data = json.loads((self.path / _CURSOR).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}

    def _write_cursor(self, cursor: dict[str, int]) -> None:
        tmp = self.path / f"{_CURSOR}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(cursor))
        os.replace(tmp, self.path / _CURSOR)

    def _segments(self, cursor: dict[str, int]) -> list[_Segment]:
        out = []
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name):
            if entry.name.startswith("seg-") and entry.name.endswith(".log"):
                try:
                    size = entry.stat().st_size
                except OSError:
                    continue
                out.append(_Segment(entry.name, size, min(cursor.get(entry.name, 0), size)))
        return out

    # -- writing ---------------------------------------------------------------------------
    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        name = f"seg-{time.time_ns():020d}-{os.getpid()}.log"
        fd = os.open(self.path / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)  # marks the segment as being written
        if self.fsync != "never":
            dfd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._fd, self._active, self._active_size = fd, name, 0

    def append(self, records: Sequence[SpoolRecord]) -> int:
        """Append ``records`` in order; returns how many were stored (the rest were dropped).

        Beyond ``max_bytes`` the oldest records (already in the spool, then the oldest of
        ``records``) are dropped and counted.
        """
        if not records:
            return 0
        frames = [r.encode() for r in records]
        size = sum(map(len, frames))
        with self._locked():
            cursor = self._read_cursor()
            segments = self._segments(cursor)
            pending = sum(s.size - s.offset for s in segments)
            dropped = 0
            while frames and size > self.max_bytes:  # the batch alone is too big
                size -= len(frames.pop(0))
                dropped += 1
            if pending + size > self.max_bytes:
                dropped += self._drop_oldest(segments, cursor, pending + size - self.max_bytes)
                self._write_cursor(cursor)
            if dropped:
                self._count_full(dropped)
            if not frames:
                return 0
            if self._fd is None or self._active_size >= self.segment_bytes:
                self._open_segment()
            assert self._fd is not None
            data = b"".join(frames)
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            self._active_size += len(data)
            if self.fsync == "always":
                os.fsync(self._fd)
            else:
                self._dirty = True
            self.stats.appended += len(frames)
            return len(frames)

    def sync(self) -> None:
        """Flush this process's segment to disk (the ``batch`` policy's durability point)."""
        with self._lock:
            if self._fd is not None and self._dirty and self.fsync != "never":
                os.fsync(self._fd)
            self._dirty = False

    def _count_full(self, count: int) -> None:
        self.stats.dropped_full += count
        if not self._warned_full:
            self._warned_full = True
            _log.warning(
                "onex-otel spool %s is full (%d bytes): dropping the oldest events "
                "(counted in onex.export.dropped{reason=spool_full}; this is reported once)",
                self.path,
                self.max_bytes,
            )

    def _drop_oldest(self, segments: list[_Segment], cursor: dict[str, int], excess: int) -> int:
        dropped = 0
        for seg in segments:
            if excess <= 0:
                break
            for end in self._record_ends(seg):
                excess -= end - seg.offset
                seg.offset = end
                dropped += 1
                if excess <= 0:
                    break
            else:  # damaged or fully skipped: the rest of the segment goes too
                excess -= seg.size - seg.offset
                seg.offset = seg.size
            cursor[seg.name] = seg.offset
        return dropped

    def _record_ends(self, seg: _Segment) -> Iterator[int]:
        """End offsets of the intact records of ``seg`` after its offset (headers only)."""
        try:
            with open(self.path / seg.name, "rb") as f:
                pos = seg.offset
                f.seek(pos)
                while pos < seg.size:
                    header = f.read(_HEADER.size)
                    if len(header) < _HEADER.size:
                        return
                    magic, length, _crc = _HEADER.unpack(header)
                    if magic != _MAGIC or length > _MAX_RECORD or pos + _HEADER.size + length > seg.size:
                        return
                    pos += _HEADER.size + length
                    f.seek(pos)
                    yield pos
        except OSError:
            return

    # -- reading ---------------------------------------------------------------------------
    def read(self, max_records: int = 500, max_bytes: int = 4 * 1024 * 1024) -> ReadBatch:
        """The oldest records not yet acknowledged (at most ``max_records``)."""
        batch = ReadBatch()
        total = 0
        with self._locked():
            cursor = self._read_cursor()
            changed = False
            for seg in self._segments(cursor):
                if seg.offset >= seg.size:
                    continue
                with open(self.path / seg.name, "rb") as f:
                    f.seek(seg.offset)
                    pos = seg.offset
                    while pos < seg.size and len(batch.records) < max_records and total < max_bytes:
                        record, end = self._read_one(f, pos, seg.size)
                        if record is None:
                            self._damaged(seg, pos)
                            cursor[seg.name] = seg.size
                            changed = True
                            break
                        batch.records.append(record)
                        batch.positions.append((seg.name, end))
                        total += end - pos
                        pos = end
                if len(batch.records) >= max_records or total >= max_bytes:
                    break
            if changed:
                self._write_cursor(cursor)
        return batch

    def _read_one(self, f: Any, pos: int, size: int) -> tuple[SpoolRecord | None, int]:
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None, pos
        magic, length, crc = _HEADER.unpack(header)
        if magic != _MAGIC or length > _MAX_RECORD or pos + _HEADER.size + length > size:
            return None, pos
        data = f.read(length)
        if len(data) < length or zlib.crc32(data) != crc:
            return None, pos
        try:
            return SpoolRecord.decode(data), pos + _HEADER.size + length
        except (ValueError, KeyError, TypeError, AttributeError):
            return None, pos

    def _damaged(self, seg: _Segment, pos: int) -> None:
        self.stats.dropped_corrupt += 1
        _log.warning(
            "onex-otel spool segment %s is damaged at byte %d: its last %d bytes are skipped "
            "(counted in onex.export.dropped{reason=spool_corrupt}); the rest of the spool flows",
            self.path / seg.name,
            pos,
            seg.size - pos,
        )

    def commit(self, positions: Sequence[tuple[str, int]]) -> None:
        """Acknowledge records (by the positions :meth:`read` gave); drops finished segments."""
        if not positions:
            return
        with self._locked():
            cursor = self._read_cursor()
            for name, end in positions:
                if end > cursor.get(name, 0):
                    cursor[name] = end
            self.stats.committed += len(positions)
            self._collect(cursor)
            self._write_cursor(cursor)

    def _collect(self, cursor: dict[str, int]) -> None:
        """Delete fully re-sent segments that no process is writing any more."""
        for seg in self._segments(cursor):
            if seg.offset < seg.size or seg.name == self._active:
                continue
            path = self.path / seg.name
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # a live writer holds it
            try:
                path.unlink()
                cursor.pop(seg.name, None)
            finally:
                os.close(fd)
        names = {s.name for s in self._segments(cursor)}
        for name in list(cursor):
            if name not in names:
                del cursor[name]

    def pending_bytes(self) -> int:
        """Bytes of records not yet re-sent (all processes)."""
        with self._locked():
            return sum(s.size - s.offset for s in self._segments(self._read_cursor()))

    def is_empty(self) -> bool:
        """Whether nothing waits to be re-sent."""
        return self.pending_bytes() == 0

    def close(self) -> None:
        """Sync and close this process's segment (idempotent); it stays for a later re-send."""
        with self._lock:
            if self._fd is not None:
                if self.fsync != "never":
                    with contextlib.suppress(OSError):
                        os.fsync(self._fd)
                os.close(self._fd)
            self._fd = None
            self._active = None
        with contextlib.suppress(OSError), self._locked():
            cursor = self._read_cursor()
            self._collect(cursor)
            self._write_cursor(cursor)
