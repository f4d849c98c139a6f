"""Every finding has a stable code, listed in docs/diagnostics.md with an example that gives it.

The docs and the registry (rota.diagnostics.CODES) list the same codes; each
policy example in the docs gives exactly its code and its fix gives nothing;
and no check of a policy falls back on the syntax code by accident.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from rota.diagnostics import CODES, ERROR, SYNTAX, WARNING
from rota.dsl import analyze, check, load_policy, parse
from rota.dsl.type_check import TypeChecker
from rota.engine import compile_policy, snapshot_schema
from rota.storage import load_snapshot
from rota.testing import Snapshot, vocabulary
from rota.verify import review_policy

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "diagnostics.md"
DEMO_SNAPSHOT = ROOT / "policies" / "demo" / "snapshot"
GOLDEN = Path(__file__).parent / "golden" / "diagnostics"
MAX_WAIT_OF_THE_EXAMPLES = 2 * 3600  # V505's and V507's examples are checked with --max-wait 2h
# Codes the parser gives once its error recovery assigns them (another branch); until then they read E101.


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    severity: str
    examples: tuple[str, ...]  # the ```rota blocks: the example, then its fix


def documented() -> dict[str, Entry]:
    entries = {}
    for section in re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
        heading, body = section.split("\n", 1)
        id, name = heading.split()
        severity = re.search(r"^Severity: (error|warning)\b", body, re.MULTILINE)
        examples = tuple(re.findall(r"^```(?:rota|yaml)\n(.*?)^```$", body, re.MULTILINE | re.DOTALL))
        entries[id] = Entry(id, name, severity.group(1) if severity else "", examples)
    return entries


ENTRIES = documented()


@cache
def demo_schema():
    return snapshot_schema(load_snapshot(DEMO_SNAPSHOT).connection)


def codes_of(text: str) -> list[str]:
    """The codes `rota check --snapshot policies/demo/snapshot` gives for the text."""
    found = analyze(text, "example.rota", demo_schema())[1]
    return [diagnostic.code.id for diagnostic in found]


def verify_codes_of(text: str, max_wait: int | None) -> list[str]:
    """The codes of the policy checks `rota verify --snapshot policies/demo/snapshot` gives for the text."""
    snapshot = Snapshot.from_directory(DEMO_SNAPSHOT)
    policy = compile_policy(load_policy(text))
    checks = review_policy(policy, vocabulary(policy, snapshot), snapshot, "example.rota", max_wait)
    return [finding.code.id for result in checks for finding in result.findings]


def test_the_docs_list_every_registered_code_and_only_those():
    assert sorted(ENTRIES) == sorted(CODES)
    for id, code in CODES.items():
        assert (ENTRIES[id].name, ENTRIES[id].severity) == (code.name, code.severity.value), id


def test_codes_are_stable_ids_with_kebab_names_in_their_block():
    for code in CODES.values():
        assert re.fullmatch(r"[EDVST]\d{3}", code.id) and re.fullmatch(r"[a-z]+(-[a-z]+)*", code.name), code
        assert code.severity in (ERROR, WARNING)


# Codes only a policy of several files can give: tests/test_policy_folders.py checks them on folders.
ONLY_IN_FOLDERS = {"E104"}


def _example_cases(prefix: str) -> list:
    return [
        pytest.param(entry, id=f"{entry.id}-{entry.name}")
        for entry in ENTRIES.values()
        if entry.id.startswith(prefix) and entry.id not in ONLY_IN_FOLDERS
    ]


@pytest.mark.parametrize("entry", _example_cases("E"))
def test_each_policy_example_gives_its_code_and_its_fix_nothing(entry):
    assert len(entry.examples) == 2, "an example and its fix"
    example, fix = entry.examples
    assert codes_of(example) == [entry.id]
    assert codes_of(fix) == []


@pytest.mark.parametrize("entry", _example_cases("V"))
def test_each_verify_example_gives_its_code_and_its_fix_nothing(entry):
    assert len(entry.examples) == 2, "an example and its fix"
    example, fix = entry.examples
    max_wait = MAX_WAIT_OF_THE_EXAMPLES if entry.name in ("escalation-too-long", "wait-chain-too-long") else None
    assert verify_codes_of(example, max_wait) == [entry.id]
    assert verify_codes_of(fix, max_wait) == []


def rota_test_codes_of(text: str, folder: Path) -> list[str]:
    """The codes `rota test` gives for a test file of this text beside a copy of policies/vip_desk.rota."""
    from rota.policytest import run_suite

    (folder / "example.rota").write_text((ROOT / "policies" / "vip_desk.rota").read_text())
    (folder / "example.test.yaml").write_text(text)
    return [diagnostic.code.id for run in run_suite([str(folder)]).files for diagnostic in run.diagnostics]


@pytest.mark.parametrize("entry", _example_cases("T"))
def test_each_test_file_example_gives_its_code_and_its_fix_nothing(entry, tmp_path):
    assert len(entry.examples) == 2, "an example and its fix"
    example, fix = entry.examples
    assert rota_test_codes_of(example, tmp_path) == [entry.id]
    assert rota_test_codes_of(fix, tmp_path) == []


def _checked_policies() -> list:
    cases = []
    for path in sorted(GOLDEN.glob("*.rota")):
        cases.append(pytest.param(path, None, id=f"golden/{path.stem}"))
    for path in sorted((ROOT / "policies").rglob("*.rota")):
        cases.append(pytest.param(path, demo_schema, id=str(path.relative_to(ROOT))))
    return cases


@pytest.mark.parametrize(("path", "schema"), _checked_policies())
def test_no_check_of_a_policy_has_the_syntax_code_and_type_errors_are_e2xx(path, schema):
    parsed = parse(path.read_text(encoding="utf-8"), path.name)
    if parsed.policy is None:  # a syntax error: E1xx is its code
        assert all(diagnostic.code.id.startswith("E1") for diagnostic in parsed.diagnostics)
        return
    found = check(parsed.policy, schema() if schema else None)
    assert [d.message for d in found if d.code == SYNTAX or d.code.id.startswith("E1")] == []
    type_codes: list[str] = []

    def note(position, message, hint=None, code=SYNTAX) -> None:  # the checker's `report`, keeping the code
        type_codes.append(code.id)

    for route in parsed.policy.routes:
        TypeChecker(schema() if schema else None, note).check_route(route)
    assert all(code.startswith("E2") for code in type_codes), type_codes
