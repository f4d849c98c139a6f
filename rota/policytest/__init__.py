"""Policy unit tests (`rota test`): a test format beside each policy, run through the real engine.

`cases` reads a `NAME.test.yaml` (docs/testing.md), its values read with their places by
`yaml_nodes` and `values`; `runner` runs a case in memory and holds its decisions to the
expectations; `coverage` says which routes, branches, failures and filters the tests exercised;
`suite` finds and runs the test files under a path; `output` prints the results.
Not to be confused with `rota.testing`, the model of the rules and the hypothesis strategies.
"""

from .cases import TEST_SUFFIX, TestFile, TestFileError, read_test_file
from .coverage import PolicyCoverage, percent
from .runner import CaseResult, Failure, run_case
from .suite import NothingToTest, SuiteRun, run_suite

__all__ = [
    "TEST_SUFFIX",
    "CaseResult",
    "Failure",
    "NothingToTest",
    "PolicyCoverage",
    "SuiteRun",
    "TestFile",
    "TestFileError",
    "percent",
    "read_test_file",
    "run_case",
    "run_suite",
]
