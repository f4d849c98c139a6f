"""Reading and writing tables by file extension, with one-line errors.

Every reader goes through DuckDB (csv, parquet, json, jsonl/ndjson); every
writer is atomic: it writes a temporary file beside the target and renames
it, so a failure leaves nothing half-written (`replaced_atomically`, which
every output file of rota goes through).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

READERS = {
    ".csv": "read_csv('{path}', header = true, auto_detect = true)",
    ".parquet": "read_parquet('{path}')",
    ".json": "read_json_auto('{path}')",
    ".jsonl": "read_json_auto('{path}', format = 'newline_delimited')",
    ".ndjson": "read_json_auto('{path}', format = 'newline_delimited')",
}
FORMATS = tuple(READERS)


class StorageError(Exception):
    """Bad input, said in one line that names the file and the problem."""


def relation_sql(path: Path) -> str:
    """The DuckDB table function reading `path`, chosen by its extension."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise StorageError(f"{path}: unknown file type `{path.suffix}`; use {', '.join(FORMATS)}")
    return reader.format(path=str(path).replace("'", "''"))


def read_table(connection: duckdb.DuckDBPyConnection, path: Path, what: str = "file") -> pa.Table:
    if not path.is_file():
        raise StorageError(f"{path}: no such {what}")
    try:
        return connection.sql(f"SELECT * FROM {relation_sql(path)}").to_arrow_table()
    except duckdb.Error as error:
        raise StorageError(f"{path}: cannot read: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def json_array_columns(table: pa.Table) -> pa.Table:
    """CSV has no lists: a text column whose every value is a JSON array becomes a list of strings."""
    for index, column_field in enumerate(table.schema):
        if not pa.types.is_string(column_field.type):
            continue
        values = [value for value in table.column(index).to_pylist() if value is not None]
        if not values or not all(value.lstrip().startswith("[") for value in values):
            continue
        try:
            lists = [
                None if value is None else [str(item) for item in json.loads(value)]
                for value in table.column(index).to_pylist()
            ]
        except (ValueError, TypeError):
            continue
        table = table.set_column(index, column_field.name, pa.array(lists, pa.list_(pa.string())))
    return table


def read_contacts(path: str | Path) -> pa.Table:
    """The contacts of a batch: `id` (text, unique), optional `assignee`, attribute columns; file order kept."""
    path = Path(path)
    table = read_table(duckdb.connect(), path, "contacts file")
    if "id" not in table.column_names:
        raise StorageError(f"{path}: missing column `id`; every contact needs an id")
    table = json_array_columns(table) if path.suffix.lower() == ".csv" else table
    table = table.set_column(table.column_names.index("id"), "id", pc.cast(table.column("id"), pa.string()))
    if table.column("id").null_count:
        row = table.column("id").to_pylist().index(None) + 1
        raise StorageError(f"{path}: contact {row} has no id")
    if "assignee" in table.column_names:
        table = table.set_column(
            table.column_names.index("assignee"), "assignee", pc.cast(table.column("assignee"), pa.string())
        )
    _reject_duplicate_ids(path, table.column("id"), "contact")
    return table


def _reject_duplicate_ids(path: Path, ids: pa.ChunkedArray, what: str) -> None:
    connection = duckdb.connect()
    connection.register("ids", pa.table({"id": ids}))
    repeated = connection.sql("SELECT id FROM ids GROUP BY id HAVING count(*) > 1 LIMIT 1").fetchall()
    if repeated:
        duplicate = repeated[0][0]
        rows = [index + 1 for index, value in enumerate(ids.to_pylist()) if value == duplicate][:2]
        raise StorageError(f"{path}: {what} `{duplicate}` appears twice (rows {rows[0]} and {rows[1]})")


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write by extension (.csv, .parquet, .json array, .jsonl/.ndjson lines), atomically."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise StorageError(f"{path}: unknown output type `{path.suffix}`; use {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise StorageError(f"{path}: folder {path.parent} does not exist")
    with replaced_atomically(path) as temporary:
        writer(_timestamps_as_text(table) if path.suffix.lower() != ".parquet" else table, temporary)


@contextmanager
def replaced_atomically(path: str | Path, mode: int | None = None) -> Iterator[str]:
    """The name of a new file beside `path` to write; renamed over `path` when the block ends, removed if it fails.

    The file is made as `open()` makes one, 0666 less the umask (tempfile.mkstemp's
    would be owner-only), or given `mode`, so a rewrite keeps its file's."""
    temporary = _new_file_beside(Path(path))
    try:
        if mode is not None:
            os.chmod(temporary, mode)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _new_file_beside(path: Path) -> str:
    while True:  # a name already taken (by chance, or by another run) is drawn again
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return str(candidate)


def _timestamps_as_text(table: pa.Table) -> pa.Table:
    """Text formats carry times as ISO 8601 in UTC with a `Z`."""
    for index, column_field in enumerate(table.schema):
        if pa.types.is_timestamp(column_field.type):
            text = pc.strftime(table.column(index), format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(index, column_field.name, text)
    return table


def _write_jsonl(table: pa.Table, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for batch in table.to_batches(65_536):
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in batch.to_pylist())


def _write_json(table: pa.Table, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(table.to_pylist(), out, ensure_ascii=False, indent=1)
        out.write("\n")


WRITERS = {
    ".csv": lambda table, path: pa_csv.write_csv(table, path),
    ".parquet": lambda table, path: pq.write_table(table, path),
    ".json": _write_json,
    ".jsonl": _write_jsonl,
    ".ndjson": _write_jsonl,
}


def read_events(path: str | Path) -> list[dict]:
    """A replay log: one JSON object per line, each with `at` and `type`; blank lines skipped.

    Read whole before anything runs, so a bad line stops the replay before it starts.
    Each record carries `_line`, its line number, so later errors can point at it."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise StorageError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise StorageError(f"{path}:{number}: not a JSON object: {error.msg}") from None
        if not isinstance(record, dict):
            raise StorageError(f"{path}:{number}: each line must be a JSON object")
        for needed in ("at", "type"):
            if needed not in record:
                raise StorageError(f"{path}:{number}: the event has no `{needed}`")
        record["_line"] = number
        records.append(record)
    return records
