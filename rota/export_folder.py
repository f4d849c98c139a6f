"""An export folder (README "History and export"): what `rota export` writes and `rota replay --export` reads.

DIR/export.json            the window: since, until, history_began, the policy version active at since
DIR/snapshot/users.jsonl   SPEC 1's tables as of since (users, memberships, rotation) ...
DIR/snapshot/contacts.jsonl  ... and the contacts the engine knew then (held, queued with their place, closed)
DIR/snapshot/engine.json   the order of the users' last assignments, the queue's next arrival number
DIR/events.jsonl           SPEC 5.1 events from since through until, with `policy` events between them
DIR/policies/VERSION/      each policy version the window runs under, as .rota files
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rota.dsl import PolicySource
from rota.storage.readers import checked_bytes, json_object, require_file

MANIFEST = "export.json"
SNAPSHOT = "snapshot"
EVENTS = "events.jsonl"
POLICIES = "policies"
TABLES = ("users", "memberships", "rotation", "contacts")  # each a JSON-lines file of the snapshot folder
ENGINE = "engine.json"  # the state no SPEC 1 table holds
MANIFEST_FIELDS = ("since", "until", "history_began")

Progress = Callable[[int, int], None]


@dataclass
class ExportFolder:
    manifest: dict[str, Any]
    state: dict[str, Any]  # as rota.engine.history.state_of writes it
    events: list[dict[str, Any]]  # each with `_line`, its line in events.jsonl
    policies: dict[str, PolicySource]  # by version
    events_path: Path


def write_export(directory: Path, export: dict[str, Any], progress: Progress | None = None) -> None:
    """Write the service's GET /v1/export answer as an export folder (which must be new or empty)."""
    snapshot = export["snapshot"]
    (directory / SNAPSHOT).mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        _write_lines(directory / SNAPSHOT / f"{table}.jsonl", snapshot[table])
    (directory / SNAPSHOT / ENGINE).write_text(json.dumps(snapshot["engine"], indent=2) + "\n", encoding="utf-8")
    for kept in export["policies"]:
        folder = directory / POLICIES / Path(kept["version"]).name  # a name, never a path elsewhere
        folder.mkdir(parents=True, exist_ok=True)
        files = PolicySource.decode(kept["text"]).files
        for index, (name, text) in enumerate(files, 1):
            stem = Path(name).stem or "policy"
            (folder / (f"{index:02d}-{stem}.rota" if len(files) > 1 else f"{stem}.rota")).write_text(text, "utf-8")
    events = export["events"]
    with open(directory / EVENTS, "w", encoding="utf-8") as out:
        for count, event in enumerate(events, 1):
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
            if progress is not None and count % 4096 == 0:
                progress(count, len(events))
    manifest = {name: export[name] for name in MANIFEST_FIELDS} | {"policy": snapshot["policy"]}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if progress is not None:
        progress(len(events), len(events))


def read_export(directory: Path) -> ExportFolder:
    """An export folder read whole; StorageError names the file (and line) that cannot be used."""
    manifest = _json_file(directory / MANIFEST)
    state: dict[str, Any] = {
        table: [record for _, record in _lines(directory / SNAPSHOT / f"{table}.jsonl")] for table in TABLES
    }
    state["engine"] = _json_file(directory / SNAPSHOT / ENGINE)
    state["policy"] = manifest.get("policy")
    from rota.jobs import read_policy_source

    policies_folder = directory / POLICIES
    policies = {
        folder.name: read_policy_source(folder)
        for folder in sorted(policies_folder.iterdir() if policies_folder.is_dir() else [])
        if folder.is_dir()
    }
    events_path = directory / EVENTS
    events = [record | {"_line": number} for number, record in _lines(events_path)]
    return ExportFolder(manifest, state, events, policies, events_path)


def _write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    require_file(path, "export file")
    if path.stat().st_size == 0:  # a table with no row (no cursor, no contact, no event in the window)
        return []
    text = checked_bytes(path).decode("utf-8")
    return [
        (number, json_object(path, line, number)) for number, line in enumerate(text.split("\n"), 1) if line.strip()
    ]


def _json_file(path: Path) -> dict[str, Any]:
    require_file(path, "export file")
    return json_object(path, checked_bytes(path).decode("utf-8"), 1)
