"""The engine file's write-ahead journal: commits appended to a plain file beside it.

A commit is one framed record (its number, length and a CRC-32, then the
body) written with one `write` and made durable with `fdatasync`: about a
tenth of the CPU of a DuckDB statement and commit, which a busy service
pays for every group of requests. A record torn by a crash fails its length
or CRC and is cut off on opening, so a commit is whole or absent, as a
single statement was. The header names the engine file the journal belongs
to, so a journal left beside another file of the same name is never read
into it; the engine file keeps the number of the last record folded into
its tables, so a crash between a fold and the journal's truncation does not
fold a record twice.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

MAGIC = b"rota-journal-1\n"
FILE_ID_BYTES = 16
_COUNTED = struct.Struct("<QI")  # a record's number and its body's length
_FRAME = struct.Struct("<QII")  # the same, then the CRC-32 of both and the body
_HEADER_BYTES = len(MAGIC) + FILE_ID_BYTES


def journal_path(engine_file: str | Path) -> Path:
    return Path(f"{engine_file}.journal")


class JournalFile:
    """The journal of one engine file, opened for appending after its whole records were read."""

    def __init__(self, path: Path, file_id: bytes, folded_through: int):
        """Open (or start) the journal at `path` for the engine file `file_id`; `records` are then the bodies
        after `folded_through`, in order. A journal of another file, or one without a whole header, is
        started again: it holds nothing of this file."""
        self.path = path
        self.records: list[bytes] = []
        self.last_number = folded_through
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            content = path.read_bytes()
            if content[:_HEADER_BYTES] == MAGIC + file_id:
                # Appends go where the last whole record ends, over a torn one: each is durable before the
                # next is written, so nothing whole ever lies beyond a torn record.
                self._end = self._read_records(content, folded_through)
            else:
                self._start(file_id)
        except BaseException:
            os.close(self._fd)
            raise

    def _read_records(self, content: bytes, folded_through: int) -> int:
        """Read the whole records into `records`; returns where the last one ends."""
        offset = _HEADER_BYTES
        while offset + _FRAME.size <= len(content):
            number, length, crc = _FRAME.unpack_from(content, offset)
            body = content[offset + _FRAME.size : offset + _FRAME.size + length]
            if len(body) < length or _crc(content[offset : offset + _COUNTED.size], body) != crc:
                break
            if number > folded_through:
                self.records.append(body)
                self.last_number = number
            offset += _FRAME.size + length
        return offset

    def _start(self, file_id: bytes) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, MAGIC + file_id, 0)
        os.fsync(self._fd)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:  # the journal's name must survive a crash too, or its records would go with it
            os.fsync(directory)
        finally:
            os.close(directory)
        self._end = _HEADER_BYTES

    def append(self, body: bytes) -> None:
        """Durable when it returns; on a failure the journal is cut back to what it was."""
        number = self.last_number + 1
        record = _FRAME.pack(number, len(body), _crc(_COUNTED.pack(number, len(body)), body)) + body
        try:
            written = 0
            while written < len(record):
                written += os.pwrite(self._fd, record[written:], self._end + written)
            os.fdatasync(self._fd)
        except BaseException:
            try:
                os.ftruncate(self._fd, self._end)
            except OSError:
                pass  # the torn record's CRC keeps it out on opening
            raise
        self._end += len(record)
        self.last_number = number

    def empty(self) -> None:
        """Drop every record (they are folded into the tables): the journal starts again after its header."""
        os.ftruncate(self._fd, _HEADER_BYTES)
        os.fdatasync(self._fd)
        self._end = _HEADER_BYTES

    def close(self) -> None:
        os.close(self._fd)


def _crc(counted: bytes, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(counted))
