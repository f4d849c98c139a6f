"""Reading and writing tables by file extension, with one-line errors.

Readers decide every column's kind by the rules of storage/readers.py and
storage/kinds.py; every writer is atomic: it writes a temporary file beside
the target and renames it, so a failure leaves nothing half-written
(`replaced_atomically`, which every output file of rota goes through).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rota.diagnostics import DATA_BAD_VALUE, DATA_DUPLICATE, DATA_MISSING_COLUMN
from rota.vocabulary import CONTACT_ASSIGNEE_COLUMN, CONTACT_ID_COLUMN

from .errors import StorageError, data_error, row_word
from .kinds import CONTACT_COLUMNS, column_values
from .readers import FORMATS, Read, checked_bytes, json_object, read_file, require_file, shown

READERS = {
    ".csv": "read_csv('{path}', header = true, auto_detect = true)",
    ".parquet": "read_parquet('{path}')",
    ".json": "read_json_auto('{path}')",
    ".jsonl": "read_json_auto('{path}', format = 'newline_delimited')",
    ".ndjson": "read_json_auto('{path}', format = 'newline_delimited')",
}


def relation_sql(path: Path) -> str:
    """The DuckDB table function reading `path`, chosen by its extension (for reading rota's own output)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise StorageError(f"{path}: unknown file type `{path.suffix}`; use {', '.join(FORMATS)}")
    return reader.format(path=str(path).replace("'", "''"))


def read_contacts(path: str | Path) -> pa.Table:
    """The contacts of a batch: `id` (text, unique), `assignee` (text; null when the file has no such
    column), attribute columns with their kinds decided; file order kept."""
    path = Path(path)
    read = read_file(path, "contacts file", text_columns=frozenset(CONTACT_COLUMNS))
    require_columns(read, (CONTACT_ID_COLUMN,), "every contact needs an id")
    table = with_id_column(read, CONTACT_ID_COLUMN, "contact", required=True)
    table = with_id_column(read, CONTACT_ASSIGNEE_COLUMN, "assignee", required=False, table=table)
    reject_duplicate_ids(read, table.column(CONTACT_ID_COLUMN), "contact")
    return with_contact_columns(table)


def with_contact_columns(table: pa.Table) -> pa.Table:
    """The built-in contact columns (SPEC 5.1) are always there, as text: an absent `assignee` is null."""
    for name in CONTACT_COLUMNS:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def require_columns(read: Read, names: tuple[str, ...], why: str) -> None:
    for name in names:
        if name not in read.table.column_names:
            raise data_error(read.rows.path, f"missing column `{name}`", DATA_MISSING_COLUMN, hint=why)


def with_id_column(read: Read, name: str, what: str, required: bool, table: pa.Table | None = None) -> pa.Table:
    """Column `name` as text ids: text, or whole numbers written in decimal; anything else stops.
    `required`: every row needs one."""
    table = read.table if table is None else table
    if name not in table.column_names:
        return table
    column = table.column(name)
    if not (pa.types.is_string(column.type) or pa.types.is_null(column.type)):
        values = column_values(column)
        for index, value in enumerate(values):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
                raise data_error(
                    read.rows.path,
                    f"column `{name}` must hold ids (text), not {shown(value, as_json=True)}",
                    DATA_BAD_VALUE,
                    read.rows.line(index),
                    read.column_number(name),
                )
        column = pa.array([None if value is None else str(value) for value in values], pa.string())
    else:
        column = pc.cast(column, pa.string())
    if required:
        missing = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
        if pc.any(missing).as_py():
            raise data_error(
                read.rows.path,
                f"this {what} has no `{name}`",
                DATA_BAD_VALUE,
                read.rows.line(pc.index(missing, True).as_py()),
                read.column_number(name),
            )
    return table.set_column(table.column_names.index(name), name, column)


def reject_duplicate_ids(read: Read, ids: pa.ChunkedArray | pa.Array, what: str) -> None:
    if ids_strictly_increase(ids) or len(pc.unique(ids)) == len(ids):  # unique: half of pc.count_distinct's time
        return
    counts = pc.value_counts(ids).flatten()
    repeated = pc.filter(counts[0], pc.greater(counts[1], 1))
    positions = pc.indices_nonzero(pc.is_in(ids, repeated)).to_pylist()
    duplicate = ids[positions[0]].as_py()
    first, second = [read.rows.line(index) for index in positions if ids[index].as_py() == duplicate][:2]
    raise data_error(
        read.rows.path,
        f"{what} `{duplicate}` appears twice ({row_word(read.rows.path)}s {first} and {second})",
        DATA_DUPLICATE,
        second,
        hint=f"each {what} must appear once",
    )


def ids_strictly_increase(ids: pa.ChunkedArray | pa.Array) -> bool:
    """Whether each id sorts after the one before it, so that none repeats: exports are often in id
    order, and this is one comparison a row instead of a hash table of every id (40x faster on a million)."""
    column = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    return len(column) < 2 or pc.all(pc.greater(column[1:], column[:-1]), skip_nulls=False).as_py() is True


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
    """Text formats carry times as ISO 8601 in UTC with a `Z`, fractions of a second only when there are
    any, as `rota replay` writes them (engine.clock.format_instant)."""
    for index, column_field in enumerate(table.schema):
        if pa.types.is_timestamp(column_field.type):
            text = pc.strftime(table.column(index), format="%Y-%m-%dT%H:%M:%SZ")
            text = pc.replace_substring_regex(text, pattern=r"\.0+Z$", replacement="Z")
            table = table.set_column(index, column_field.name, text)
    return table


def _write_parquet(table: pa.Table, path: str) -> None:
    """Without Arrow's schema beside the file's own: a column of text written from a dictionary array
    (rota batch's) reads back as text, not as a dictionary. Statistics (min, max) only for the columns
    that are not dictionary arrays: on rota batch's million rows, the dictionary columns' statistics
    were half the time of the write, and a column of a few names repeated in no order gives a reader
    nothing to skip by."""
    plain = [column.name for column in table.schema if not pa.types.is_dictionary(column.type)]
    pq.write_table(table, path, store_schema=False, write_statistics=plain)


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
    ".parquet": _write_parquet,
    ".json": _write_json,
    ".jsonl": _write_jsonl,
    ".ndjson": _write_jsonl,
}


def read_events(path: str | Path) -> list[dict]:
    """A replay log: one JSON object per line, each with `at` and `type`; blank lines skipped.

    Read whole before anything runs, so a bad line stops the replay before it starts.
    Each record carries `_line`, its line number, so later errors can point at it."""
    path = Path(path)
    require_file(path, "event log")
    records = []
    for number, line in enumerate(checked_bytes(path).decode("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        record = json_object(path, line, number)
        for needed in ("at", "type"):
            if needed not in record:
                raise data_error(path, f"the event has no `{needed}`", DATA_BAD_VALUE, number)
        record["_line"] = number
        records.append(record)
    return records
