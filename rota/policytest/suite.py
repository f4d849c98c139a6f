"""`rota test PATH...`: find the test files for the policies under PATH, run them, gather coverage.

A folder holds its `*.test.yaml` files (at any depth) and its policies (`*.rota`); a policy
file stands for the test file of its name beside it; a test file stands for itself. A policy
found with no test file is listed as untested, and counts with none of its items covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rota.diagnostics import TEST_NO_POLICY, TEST_NOT_YAML, TEST_UNKNOWN_ROUTE, Diagnostic
from rota.dsl import PolicyError
from rota.engine import CompiledPolicy
from rota.jobs import PolicyNotReadable, compile_policy_file

from .cases import TEST_SUFFIX, Key, TestFile, TestFileError, declared_policy, default_policy, read_test_file
from .coverage import ItemKey, PolicyCoverage, coverage_of, policy_items
from .runner import CaseResult, run_case

POLICY_SUFFIX = ".rota"


@dataclass
class FileRun:
    """One test file: its results, or why it could not run (its diagnostics, or its policy's errors)."""

    path: Path
    policy: Path
    results: list[CaseResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    policy_error: PolicyError | None = None


@dataclass
class SuiteRun:
    files: list[FileRun]
    coverage: list[PolicyCoverage]
    untested: list[Path]

    @property
    def results(self) -> list[CaseResult]:
        return [result for run in self.files for result in run.results]

    @property
    def bad_input(self) -> bool:
        return any(run.diagnostics for run in self.files)

    @property
    def all_passed(self) -> bool:
        return all(result.passed for result in self.results) and not any(run.policy_error for run in self.files)


class NothingToTest(ValueError):
    """A PATH that is neither a folder, a policy nor a test file (the message says which)."""


def find(paths: list[str]) -> tuple[list[Path], list[Path]]:
    """The test files under `paths`, and the policies found there (both in order, each once)."""
    tests: dict[Path, None] = {}
    policies: dict[Path, None] = {}
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found_tests, found_policies = sorted(path.rglob("*" + TEST_SUFFIX)), sorted(path.rglob("*" + POLICY_SUFFIX))
            if not found_tests and not found_policies:
                raise NothingToTest(f"{text}: no test files (*{TEST_SUFFIX}) and no policies (*{POLICY_SUFFIX}) in it")
            tests.update(dict.fromkeys(found_tests))
            policies.update(dict.fromkeys(found_policies))
        elif path.name.endswith(TEST_SUFFIX) and path.is_file():
            tests[path] = None
        elif path.suffix == POLICY_SUFFIX and path.is_file():
            policies[path] = None
            beside = path.with_name(path.name[: -len(POLICY_SUFFIX)] + TEST_SUFFIX)
            if beside.is_file():
                tests[beside] = None
        elif not path.exists():
            raise NothingToTest(f"{text}: no such file or folder")
        else:
            raise NothingToTest(f"{text}: not a folder, a policy (.rota) or a test file ({TEST_SUFFIX})")
    return list(tests), list(policies)


def run_suite(paths: list[str]) -> SuiteRun:
    tests, policies = find(paths)
    runs: list[FileRun] = []
    compiled: dict[Path, CompiledPolicy] = {}
    seen: dict[Path, set[ItemKey]] = {}
    for test_path in tests:
        run = run_file(test_path, compiled, seen)
        runs.append(run)
    tested = {path.resolve() for path in compiled}
    untested = [p for p in policies if p.resolve() not in tested and not any(t in p.resolve().parents for t in tested)]
    coverage = [
        coverage_of(str(path), policy_items(policy), seen.get(path, set())) for path, policy in compiled.items()
    ]
    for path in untested:
        try:
            coverage.append(coverage_of(str(path), policy_items(compile_policy_file(path)), set()))
        except (PolicyError, PolicyNotReadable):  # not ours to report: `rota check` says what is wrong
            continue
    return SuiteRun(runs, coverage, untested)


def run_file(test_path: Path, compiled: dict[Path, CompiledPolicy], seen: dict[Path, set[ItemKey]]) -> FileRun:
    try:
        text = test_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        problem = Diagnostic(str(test_path), 0, 0, "cannot read the test file as UTF-8 text", code=TEST_NOT_YAML)
        return FileRun(test_path, default_policy(test_path), diagnostics=[problem])
    policy_path = declared_policy(test_path, text)
    run = FileRun(test_path, policy_path)
    if not policy_path.exists():
        run.diagnostics.append(
            Diagnostic(
                str(test_path),
                0,
                0,
                f"the policy {policy_path} does not exist",
                code=TEST_NO_POLICY,
                hint=f"put the tests beside their policy, named after it, or name it with `{Key.POLICY.value}:`",
            )  # fmt: skip
        )
        return run
    try:
        policy = compiled.get(policy_path) or compile_policy_file(policy_path)
    except PolicyError as error:
        run.policy_error = error
        return run
    compiled[policy_path] = policy
    try:
        test_file = read_test_file(test_path, text, policy.zone)
    except TestFileError as error:
        run.diagnostics = error.diagnostics
        return run
    run.diagnostics = unknown_routes(test_file, policy)
    if run.diagnostics:
        return run
    covered = seen.setdefault(policy_path, set())
    run.results = [run_case(policy, case, covered) for case in test_file.cases]
    return run


def unknown_routes(test_file: TestFile, policy: CompiledPolicy) -> list[Diagnostic]:
    """An expectation of a route the policy does not have can never be met: said before running."""
    problems = []
    for case in test_file.cases:
        expectations = [*case.expectations, *(e for step in case.steps for e in step.expectations)]
        for check in (check for e in expectations for check in e.checks):
            if check.key == Key.ROUTE.value and check.want is not None and policy.route_named(check.want) is None:
                problems.append(
                    Diagnostic(
                        str(test_file.path),
                        check.line,
                        check.column,
                        f"the policy has no route {check.want!r}",
                        code=TEST_UNKNOWN_ROUTE,
                        hint=f"its routes: {', '.join(route.name for route in policy.routes)}",
                    )  # fmt: skip
                )
    return sorted(problems, key=Diagnostic.sort_key)
