"""Reading a data file into an Arrow table whose columns have their kinds decided (README "The snapshot").

- JSON lines and JSON arrays: each value keeps its own kind; a column whose
  values share one is typed, one whose values do not is a JSON column
  (storage.kinds). JSON has no times: a time in JSON is text.
- CSV: cells carry no kind, so a column has one, sniffed from all its cells:
  int, decimal, bool, timestamp, list (JSON `["a", "b"]` or DuckDB `[a, b]`)
  or text. A column where some cells read as one kind and others as another
  stops with the file, the column and the first row that disagrees.
- Parquet: typed by the file.

Broken files (not UTF-8, malformed JSON, a ragged CSV row, an empty file)
stop with one line naming the file and the line; lines may end in \n,
\r\n or a mix of both.
The fast readers (pyarrow's CSV, JSON and Parquet readers)
do the work; when one fails, a plain Python pass over the file finds the
line to name, so no reader's own error text reaches the user.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from rota.diagnostics import (
    DATA_BAD_HEADER,
    DATA_BAD_VALUE,
    DATA_MIXED_KINDS,
    DATA_RAGGED_ROW,
    DATA_UNREADABLE,
)

from .errors import StorageError, data_error
from .kinds import column_of_values, normalized_column

FORMATS = (".csv", ".parquet", ".json", ".jsonl", ".ndjson")
DELIMITERS = ",;\t|"
HEADER_BYTES = 1 << 16  # where the header (and its delimiter) is looked for


_SCRATCH: list[duckdb.DuckDBPyConnection] = []


def scratch() -> duckdb.DuckDBPyConnection:
    """A connection for the readers' own queries: a cursor on one in-memory database, made once
    (a new database costs tens of milliseconds; a cursor, microseconds, and one per thread is safe)."""
    if not _SCRATCH:
        _SCRATCH.append(duckdb.connect())
    connection = _SCRATCH[0].cursor()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


@dataclass
class Rows:
    """Where each row of a table came from: `line(index)` is the number its file counts it by."""

    path: Path
    line_of: Callable[[int], int]

    def line(self, index: int) -> int:
        return self.line_of(index)


@dataclass
class Read:
    table: pa.Table
    rows: Rows
    column_numbers: dict[str, int]  # 1-based position of each column in the file

    def column_number(self, name: str) -> int:
        return self.column_numbers.get(name, 0)


def read_file(path: Path, what: str = "file", text_columns: frozenset[str] = frozenset()) -> Read:
    """Read by extension. `text_columns` (ids, names, statuses) are text in CSV, never sniffed."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise data_error(path, f"unknown file type `{path.suffix}`", DATA_UNREADABLE, hint=f"use {', '.join(FORMATS)}")
    require_file(path, what)
    if suffix == ".parquet":
        read = _read_parquet(path)
    else:
        data = checked_bytes(path)
        if suffix == ".csv":
            read = _read_csv(path, data, text_columns)
        elif suffix == ".json":
            read = _read_json_array(path, data)
        else:
            read = _read_json_lines(path, data)
    columns = [normalized_column(column) for column in read.table.columns]
    read.table = pa.table(columns, names=read.table.column_names)
    return read


# ------------------------------------------------------------------ bytes


def require_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise data_error(path, f"is a folder, not a {what}", DATA_UNREADABLE)
    if not path.is_file():
        raise data_error(path, f"no such {what}", DATA_UNREADABLE)


def checked_bytes(path: Path) -> bytes:
    """The file's bytes, once they are known to be non-empty UTF-8 (lines may end in \\n, \\r\\n or both)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise data_error(path, f"cannot be read ({error.strerror or 'unreadable'})", DATA_UNREADABLE) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data or data.isspace():
        needs = "a header line" if path.suffix.lower() == ".csv" else "one row"
        raise data_error(path, "the file is empty", DATA_UNREADABLE, hint=f"it needs at least {needs}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise data_error(
            path,
            f"not UTF-8 text (byte 0x{data[error.start]:02x})",
            DATA_UNREADABLE,
            line,
            hint="save the file as UTF-8",
        ) from None
    return data


def _lines_by_row(data: bytes, rows: int, first_row_line: int) -> Callable[[int], int] | None:
    """Row index -> line number, when each row is one line with no blank line between (the common case)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines == rows + first_row_line - 1:
        return lambda index: index + first_row_line
    return None


# ---------------------------------------------------------------- parquet


def _read_parquet(path: Path) -> Read:
    try:
        # One file, read as such: `pq.read_table` would go through (and import) the datasets layer, 0.08 s.
        with pq.ParquetFile(path) as parquet:
            table = parquet.read()
    except (pa.ArrowException, OSError):
        raise data_error(path, "not a Parquet file, or a damaged one", DATA_UNREADABLE) from None
    return Read(table, Rows(path, lambda index: index + 1), _numbered(table.column_names))


def _numbered(names: list[str]) -> dict[str, int]:
    return {name: number for number, name in enumerate(names, 1)}


# ------------------------------------------------------------------- JSON


def _read_json_lines(path: Path, data: bytes) -> Read:
    """pyarrow's reader when every column has one kind; else (or on any error) a plain pass that
    keeps each value's own kind and names the first bad line."""
    try:
        table = pa_json.read_json(pa.BufferReader(data))
    except pa.ArrowException:
        return _read_json_records(path, _json_line_records(path, data))
    times = [field.name for field in table.schema if _holds_times(field.type)]
    if times:  # pyarrow reads ISO strings as times; in JSON a time is text
        schema = pa.schema([(name, _times_as_text(table.schema.field(name).type)) for name in times])
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    if any(pa.types.is_struct(field.type) or _nested_list(field.type) for field in table.schema):
        return _read_json_records(path, _json_line_records(path, data))
    line_of = _lines_by_row(data, table.num_rows, 1) or _json_line_numbers(data)
    return Read(table, Rows(path, line_of), _numbered(table.column_names))


def _holds_times(arrow_type: pa.DataType) -> bool:
    if pa.types.is_list(arrow_type):
        return _holds_times(arrow_type.value_type)
    return pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type)


def _times_as_text(arrow_type: pa.DataType) -> pa.DataType:
    return pa.list_(_times_as_text(arrow_type.value_type)) if pa.types.is_list(arrow_type) else pa.string()


def _nested_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) and not (
        pa.types.is_string(arrow_type.value_type)
        or pa.types.is_boolean(arrow_type.value_type)
        or pa.types.is_integer(arrow_type.value_type)
        or pa.types.is_floating(arrow_type.value_type)
        or pa.types.is_null(arrow_type.value_type)
    )


def _json_line_numbers(data: bytes) -> Callable[[int], int]:
    numbers = [number for number, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    return lambda index: numbers[index]


def _json_line_records(path: Path, data: bytes) -> list[tuple[int, dict]]:
    records = []
    for number, line in enumerate(data.decode("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        records.append((number, json_object(path, line, number)))
    return records


def json_object(path: Path, text: str, number: int) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise data_error(path, _not_json(error), DATA_UNREADABLE, number) from None
    if not isinstance(value, dict):
        raise data_error(path, "each line must be a JSON object (`{...}`)", DATA_UNREADABLE, number)
    return value


def _not_json(error: ValueError) -> str:
    column = getattr(error, "colno", None)
    return "not a JSON object" + (f" (the JSON breaks at character {column})" if column else "")


def _read_json_array(path: Path, data: bytes) -> Read:
    try:
        items = json.loads(data.decode("utf-8"))
    except ValueError as error:
        line = getattr(error, "lineno", 0)
        raise data_error(path, f"line {line}: {_not_json(error)}", DATA_UNREADABLE) from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise data_error(path, "a JSON file must hold an array of objects", DATA_UNREADABLE)
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise data_error(path, "each item must be a JSON object (`{...}`)", DATA_UNREADABLE, position)
    return _read_json_records(path, list(enumerate(items, 1)))


def _read_json_records(path: Path, records: list[tuple[int, dict]]) -> Read:
    names: dict[str, None] = {}
    for _, record in records:
        names.update(dict.fromkeys(record))
    columns = [column_of_values([record.get(name) for _, record in records]) for name in names]
    table = pa.table(columns, names=list(names)) if names else pa.table({})
    numbers = [number for number, _ in records]
    return Read(table, Rows(path, lambda index: numbers[index]), _numbered(list(names)))


# -------------------------------------------------------------------- CSV


def _read_csv(path: Path, data: bytes, text_columns: frozenset[str]) -> Read:
    head = data[:HEADER_BYTES].decode("utf-8", errors="ignore")  # the whole text only when a row goes wrong
    delimiter = _delimiter(head.split("\n", 1)[0])
    header = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
    _check_header(path, header)
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
                check_utf8=False,
            ),
        )
    except pa.ArrowException:
        raise _csv_problem(path, data.decode("utf-8"), delimiter, len(header)) or data_error(
            path, "cannot be read as CSV", DATA_UNREADABLE
        ) from None
    if data.count(b'"') % 2:  # a quote left open runs to the end of the file, where pyarrow takes it as closed
        problem = _csv_problem(path, data.decode("utf-8"), delimiter, len(header))
        if problem is not None:
            raise problem
    line_of = _lines_by_row(data, table.num_rows, 2) or _csv_line_numbers(data, delimiter)
    rows = Rows(path, line_of)
    numbers = _numbered(header)
    columns = [
        column if name in text_columns else CsvColumn(path, name, numbers[name], rows).typed(column)
        for name, column in zip(table.column_names, table.columns)
    ]
    return Read(pa.table(columns, names=table.column_names), rows, numbers)


def _delimiter(first_line: str) -> str:
    """The header's delimiter: the candidate it holds most often outside quotes (a comma by default)."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {candidate: unquoted.count(candidate) for candidate in DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        if not name.strip():
            raise data_error(path, f"column {number} of the header has no name", DATA_BAD_HEADER, 1, number)
        if name in seen:
            raise data_error(
                path, f"the header names column `{name}` twice (columns {seen[name]} and {number})", DATA_BAD_HEADER, 1
            )
        seen[name] = number


def _csv_records(text: str, delimiter: str, starts: list[int] | None = None):
    """(first line, cells) of every non-blank record, as Python's csv module reads them;
    `starts` gets the first line of the record being read, also when reading it fails."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    starts = [] if starts is None else starts
    starts.append(1)
    for cells in reader:
        start = starts[-1]
        starts.append(reader.line_num + 1)
        if cells:
            yield start, cells


def _csv_problem(path: Path, text: str, delimiter: str, width: int) -> StorageError | None:
    """What Python's csv module finds wrong with the file: a ragged row, or a quote out of place."""
    starts: list[int] = []
    try:
        for line, cells in _csv_records(text, delimiter, starts):
            if len(cells) != width:
                return data_error(
                    path,
                    f"this row has {len(cells)} cell{'s' * (len(cells) != 1)}, the header has {width} columns",
                    DATA_RAGGED_ROW,
                    line,
                    hint="give every row one cell per column (quote cells that hold the delimiter)",
                )
    except csv.Error as error:
        unclosed = "end of data" in str(error).lower()
        return data_error(
            path,
            "a quoted cell is never closed" if unclosed else "a quoted cell goes on after its closing quote",
            DATA_UNREADABLE,
            starts[-1],
            hint='quote whole cells, and write a quote inside one as ""',
        )
    return None


def _csv_line_numbers(data: bytes, delimiter: str) -> Callable[[int], int]:
    """Row index -> first line of the row, counted by Python's csv module once a row is named."""
    numbers: list[int] = []

    def line_of(index: int) -> int:
        if not numbers:
            numbers.extend(line for line, _ in list(_csv_records(data.decode("utf-8"), delimiter))[1:])
        return numbers[index]

    return line_of


# Readings of a CSV cell (after trimming spaces); a column must have one family of them.
READINGS = (
    ("int", r"^[-+]?\d+$"),
    ("decimal", r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$"),
    ("bool", r"^(?i:true|false)$"),
    ("timestamp", r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|z|[-+]\d{2}(:?\d{2})?)?$"),
    ("list", r"^\[.*\]$"),
)
FAMILY = {"int": "number", "decimal": "number", "bool": "bool", "timestamp": "timestamp", "list": "list"}
FAMILY_WORDS = {"number": "numbers", "bool": "true/false", "timestamp": "times", "list": "lists", "text": "text"}
# What a built-in column needs: the readings it accepts, its type when empty, and the words that say so.
WANTS = {
    "bool": ({"bool"}, pa.bool_(), "must hold true or false"),
    "int": ({"int"}, pa.int64(), "must hold whole numbers"),
    "timestamp": ({"timestamp"}, pa.timestamp("us"), "must hold times (ISO 8601)"),
}


class CsvColumn:
    """One column of a CSV file: its kind, sniffed from every cell, then its values in that kind."""

    def __init__(self, path: Path, name: str, number: int, rows: Rows):
        self.path, self.name, self.number, self.rows = path, name, number, rows

    def typed(self, cells: pa.ChunkedArray, want: str | None = None) -> pa.Array:
        """The column in its kind; `want` is the kind a built-in column needs (a key of WANTS)."""
        cells = cells.combine_chunks()
        values = pc.utf8_trim_whitespace(cells)
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        uniques = pc.unique(values.drop_null())
        if len(uniques) == 0:
            return pa.nulls(len(values), pa.null() if want is None else WANTS[want][1])
        readings = _readings(uniques)
        if want is not None and not set(readings) <= WANTS[want][0]:
            self._refuse(values, uniques, readings, want)
        families = {FAMILY.get(reading, "text") for reading in readings}
        if len(families) > 1:
            self._refuse_mixed(values, uniques, readings)
        family = families.pop()
        if family == "number":
            return _numbers(values, "decimal" in readings)
        if family == "bool":
            return pc.equal(pc.utf8_lower(values), "true")
        if family == "timestamp":
            return self._times(values)
        if family == "list":
            return self._lists(values, uniques)
        return cells

    def _refuse_mixed(self, values: pa.Array, uniques: pa.Array, readings: list[str]) -> None:
        per_row = _per_row([FAMILY.get(reading, "text") for reading in readings], values, uniques)
        present = np.flatnonzero(per_row != None)  # noqa: E711 (element-wise on an object array)
        first = int(present[0])
        other = int(present[per_row[present] != per_row[first]][0])
        raise data_error(
            self.path,
            f"column `{self.name}` mixes {FAMILY_WORDS[per_row[first]]} (line {self.rows.line(first)}: "
            f"{shown(values[first].as_py())}) and {FAMILY_WORDS[per_row[other]]} (line {self.rows.line(other)}: "
            f"{shown(values[other].as_py())})",
            DATA_MIXED_KINDS,
            self.rows.line(other),
            self.number,
            hint="CSV cells carry no kind, so a column has one: fix the odd cells, or write the file "
            "as JSON lines, where each value keeps its own kind",
        )

    def _refuse(self, values: pa.Array, uniques: pa.Array, readings: list[str], want: str) -> None:
        accepted, _, needs = WANTS[want]
        per_row = _per_row(readings, values, uniques)
        bad = int(np.flatnonzero((per_row != None) & ~np.isin(per_row, list(accepted)))[0])  # noqa: E711
        raise self.bad_value(bad, values[bad].as_py(), needs)

    def bad_value(self, index: int, value: object, needs: str) -> StorageError:
        return data_error(
            self.path,
            f"column `{self.name}` {needs}, not {shown(value)}",
            DATA_BAD_VALUE,
            self.rows.line(index),
            self.number,
        )

    def _times(self, values: pa.Array) -> pa.Array:
        """With a zone, converted to UTC; without one, UTC already."""
        connection = scratch()
        connection.register("cells", pa.table({"cell": values}))
        times = connection.sql(
            "SELECT CAST(timezone('UTC', TRY_CAST(cell AS TIMESTAMPTZ)) AS TIMESTAMP) FROM cells"
        ).to_arrow_table()
        moments = times.column(0).combine_chunks().cast(pa.timestamp("us"))
        failed = pc.and_(pc.is_null(moments), pc.is_valid(values)).to_numpy(zero_copy_only=False)
        if failed.any():
            bad = int(np.flatnonzero(failed)[0])
            raise self.bad_value(bad, values[bad].as_py(), WANTS["timestamp"][2])
        return moments

    def _lists(self, values: pa.Array, uniques: pa.Array) -> pa.Array:
        parsed = list_cells(uniques.to_pylist())
        if None in parsed:
            bad_text = uniques[parsed.index(None)]
            bad = int(np.flatnonzero(pc.equal(values, bad_text).to_numpy(zero_copy_only=False))[0])
            raise data_error(
                self.path,
                f"column `{self.name}` holds lists, and {shown(bad_text.as_py())} is not one",
                DATA_BAD_VALUE,
                self.rows.line(bad),
                self.number,
                hint='write a list as JSON (["a", "b"]) or the way DuckDB writes one ([a, b])',
            )
        return pa.array(parsed, pa.list_(pa.string())).take(pc.index_in(values, uniques))


SHOWN_VALUE_WIDTH = 40


def shown(value: object, as_json: bool = False) -> str:
    """A value as a one-line message quotes it: in backticks, control characters escaped, cut when long;
    `as_json`: written as JSON (a value from a JSON file, so `"true"` shows it is text)."""
    text = value if isinstance(value, str) and not as_json else json.dumps(value, ensure_ascii=False, default=str)
    text = json.dumps(text, ensure_ascii=False)[1:-1] if any(ord(char) < 32 for char in text) else text
    return f"`{text[:SHOWN_VALUE_WIDTH]}...`" if len(text) > SHOWN_VALUE_WIDTH else f"`{text}`"


def reads_as_text(texts: list[str]) -> bool:
    """Whether these strings, written as CSV cells, read back as text (not numbers, times, lists or nulls)."""
    cells = pc.utf8_trim_whitespace(pa.array(texts, pa.string()))
    uniques = pc.unique(cells.drop_null())
    return not pc.any(pc.equal(uniques, "")).as_py() and set(_readings(uniques)) <= {"text"}


def _readings(uniques: pa.Array) -> list[str]:
    readings = np.full(len(uniques), "text", dtype=object)
    undecided = np.ones(len(uniques), dtype=bool)
    for reading, pattern in READINGS:
        matches = pc.match_substring_regex(uniques, pattern).to_numpy(zero_copy_only=False) & undecided
        readings[matches] = reading
        undecided &= ~matches
    return list(readings)


def _per_row(labels: list[str], values: pa.Array, uniques: pa.Array) -> np.ndarray:
    """Each row's label (None for an empty cell), from the labels of the distinct cells."""
    by_unique = np.array(labels + [None], dtype=object)
    return by_unique[pc.fill_null(pc.index_in(values, uniques), len(uniques)).to_numpy(zero_copy_only=False)]


def _numbers(values: pa.Array, decimals: bool) -> pa.Array:
    unsigned = pc.replace_substring_regex(values, r"^\+", "")
    if not decimals:
        try:
            return pc.cast(unsigned, pa.int64())
        except pa.ArrowInvalid:  # beyond 64 bits
            pass
    return pc.cast(unsigned, pa.float64())


def list_cells(texts: list[str]) -> list[list[str | None] | None]:
    """CSV list cells as lists of text: JSON arrays, or DuckDB's `[a, 'b, c', NULL]`; None: neither.
    CSV cells carry no kind, and neither do the items of a list in one: `[1, 2]` holds "1" and "2"
    (as DuckDB writes a list of text that looks like numbers)."""
    parsed: list = [None] * len(texts)
    as_written = []  # not JSON, or JSON with items that are not text: DuckDB reads them as written
    for index, text in enumerate(texts):
        try:
            items = json.loads(text)
        except ValueError:
            as_written.append(index)
            continue
        if not isinstance(items, list) or any(isinstance(item, (list, dict)) for item in items):
            continue
        if all(item is None or isinstance(item, str) for item in items):
            parsed[index] = items
        else:
            as_written.append(index)
    if as_written:
        connection = scratch()
        connection.register("cells", pa.table({"cell": pa.array([texts[index] for index in as_written], pa.string())}))
        lists = connection.sql("SELECT TRY_CAST(cell AS VARCHAR[]) FROM cells").to_arrow_table().column(0).to_pylist()
        for index, items in zip(as_written, lists):
            parsed[index] = items
    return parsed
