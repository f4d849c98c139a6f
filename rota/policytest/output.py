"""What `rota test` prints: one line per case, each failure at its place with the decision, coverage."""

from __future__ import annotations

import json
from typing import Any

from rota.engine.replay import json_line
from rota.wording import plural

from .coverage import PolicyCoverage, percent
from .runner import CaseResult, Failure
from .suite import FileRun, SuiteRun


def text_lines(suite: SuiteRun, with_coverage: bool) -> list[str]:
    lines: list[str] = []
    for run in suite.files:
        lines += _problems(run)
        for result in run.results:
            lines += case_lines(run, result)
    if with_coverage:
        lines += coverage_lines(suite.coverage)
    return lines


def _problems(run: FileRun) -> list[str]:
    if run.policy_error is not None:
        return [str(run.policy_error)]
    if not run.diagnostics:
        return []
    source = run.path.read_text(encoding="utf-8-sig") if run.path.is_file() else None
    return [diagnostic.render(source) for diagnostic in run.diagnostics]


def case_lines(run: FileRun, result: CaseResult) -> list[str]:
    verdict = "pass" if result.passed else "FAIL"
    lines = [f"{verdict} {run.path}:{result.case.line}: {result.case.name}"]
    for index, failure in enumerate(result.failures):
        lines.append(f"  {run.path}:{failure.line}:{failure.column}: {failure.message}")
        following = result.failures[index + 1] if index + 1 < len(result.failures) else None
        if following is None or following.rows != failure.rows:  # once, after the last failure they explain
            lines += [f"    {json_line(row).rstrip()}" for row in failure.rows]
            if failure.explanation is not None:
                lines += ["    " + line if line else "" for line in failure.explanation.render_text().splitlines()]
    return lines


def coverage_lines(coverages: list[PolicyCoverage]) -> list[str]:
    covered, total = sum(c.covered for c in coverages), sum(len(c.items) for c in coverages)
    lines = [f"coverage: {covered} of {plural(total, 'item')} exercised ({percent(coverages):.1f}%)"]
    for coverage in coverages:
        share = f"{coverage.covered} of {len(coverage.items)} ({percent([coverage]):.1f}%)"
        lines.append(f"  {coverage.policy}: {share}" + (", not exercised:" if coverage.missed else ""))
        lines += [f"    {item.file}:{item.line}:{item.column}: {item.what}" for item in coverage.missed]
    return lines


def summary(suite: SuiteRun) -> str:
    results = suite.results
    failed = sum(not result.passed for result in results)
    files = plural(len(suite.files), "test file")
    return f"{plural(len(results), 'case')}: {len(results) - failed} passed, {failed} failed ({files})"


def as_json(suite: SuiteRun, with_coverage: bool) -> str:
    failed = sum(not result.passed for result in suite.results)
    document: dict[str, Any] = {
        "passed": suite.all_passed and not suite.bad_input,
        "summary": {"cases": len(suite.results), "passed": len(suite.results) - failed, "failed": failed},
        "cases": [_case_json(run, result) for run in suite.files for result in run.results],
        "diagnostics": [d.to_json() for run in suite.files for d in run.diagnostics],
        "policy_errors": [d.to_json() for run in suite.files if run.policy_error for d in run.policy_error.diagnostics],
        "untested": [str(path) for path in suite.untested],
    }
    if with_coverage:
        document["coverage"] = {
            "percent": round(percent(suite.coverage), 1),
            "policies": [_coverage_json(coverage) for coverage in suite.coverage],
        }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _case_json(run: FileRun, result: CaseResult) -> dict[str, Any]:
    return {
        "file": str(run.path),
        "line": result.case.line,
        "name": result.case.name,
        "policy": str(run.policy),
        "passed": result.passed,
        "failures": [_failure_json(failure) for failure in result.failures],
    }


def _failure_json(failure: Failure) -> dict[str, Any]:
    return {
        "line": failure.line,
        "column": failure.column,
        "contact": failure.contact,
        "expected": failure.expected,
        "got": failure.got,
        "message": failure.message,
        "decisions": [json.loads(json_line(row)) for row in failure.rows],
        "explanation": None if failure.explanation is None else failure.explanation.to_json(),
    }


def _coverage_json(coverage: PolicyCoverage) -> dict[str, Any]:
    return {
        "policy": coverage.policy,
        "items": len(coverage.items),
        "covered": coverage.covered,
        "percent": round(percent([coverage]), 1),
        "missed": [
            {"file": item.file, "line": item.line, "column": item.column, "what": item.what} for item in coverage.missed
        ],
    }
