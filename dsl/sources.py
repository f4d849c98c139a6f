"""A policy's text: one file, or the `.rota` files of a folder, kept apart so that every
diagnostic names the real file and line.

The files of a folder make one policy: their routes are tried in the order of
the files, then of the routes within each; `timezone` may be given in one of
them; route names are unique across all. Each file is parsed on its own, so a
syntax error in one still lets the others be read and reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from rota.diagnostics import DUPLICATE_TIMEZONE, TOO_LARGE

from . import ast
from .diagnostics import Diagnostic
from .formatter import format_policy
from .parser import MAX_ROUTES, ParseResult, parse

# The key that marks the stored form of a policy of several files (see `PolicySource.encode`).
STORED_FORM_KEY = "rota_policy_files"


@dataclass(frozen=True)
class PolicySource:
    """The texts of a policy, file by file, in the order their routes are tried.

    `name` is what the user named: the file, or the folder."""

    name: str
    files: tuple[tuple[str, str], ...]

    @classmethod
    def of_text(cls, text: str, file: str = "<policy>") -> PolicySource:
        return cls(file, ((file, text),))

    @classmethod
    def of_files(cls, name: str, texts: Mapping[str, str]) -> PolicySource:
        return cls(name, tuple(texts.items()))

    @property
    def texts(self) -> dict[str, str]:
        return dict(self.files)

    @property
    def is_one_file(self) -> bool:
        """One file named as itself (a folder of one file still names the folder)."""
        return len(self.files) == 1 and self.files[0][0] == self.name

    def joined(self) -> str:
        """The texts one after another, for a person to read (not a policy in itself: each file may start with
        `timezone`)."""
        return "\n".join(text for _, text in self.files)

    def encode(self) -> str:
        """The form kept in an engine file: one file's text as it is; several files as a JSON document naming
        each (no policy text starts with `{`, so the two never mix up)."""
        if self.is_one_file:
            return self.files[0][1]
        return json.dumps({STORED_FORM_KEY: self.name, "files": [list(pair) for pair in self.files]})

    @classmethod
    def decode(cls, stored: str, file: str = "<policy>") -> PolicySource:
        """What `encode` wrote; any other text is one file, named `file`."""
        if stored.startswith("{"):
            try:
                document = json.loads(stored)
            except ValueError:
                document = None
            if isinstance(document, dict) and STORED_FORM_KEY in document:
                return cls(str(document[STORED_FORM_KEY]), tuple((str(f), str(t)) for f, t in document["files"]))
        return cls.of_text(stored, file)


def as_source(policy: str | PolicySource, file: str = "<policy>") -> PolicySource:
    """A text is the policy of one file named `file`."""
    return policy if isinstance(policy, PolicySource) else PolicySource.of_text(policy, file)


def parse_source(source: PolicySource) -> ParseResult:
    """Every file parsed, then their routes joined into one policy (named after the folder). A policy may come
    with an error (`timezone` given twice): `analyze` then checks it and refuses it."""
    if source.is_one_file:
        return parse(source.files[0][1], source.name)
    results = [parse(text, file) for file, text in source.files]
    diagnostics = [diagnostic for result in results for diagnostic in result.diagnostics]
    if diagnostics:
        return ParseResult(None, diagnostics)
    policies = [result.policy for result in results if result.policy is not None]
    assert len(policies) == len(results)  # a file read without a diagnostic has its policy
    return _joined(source.name, policies)


def _joined(name: str, policies: list[ast.Policy]) -> ParseResult:
    problems = []
    zoned = [policy for policy in policies if policy.timezone is not None]
    for again in zoned[1:]:
        first, place = zoned[0], again.timezone_position
        problems.append(
            Diagnostic(
                again.file,
                place.line,
                place.column,
                f"`timezone` is given again (first at {first.file}:{first.timezone_position.line})",
                "give the timezone in one file of the folder",
                code=DUPLICATE_TIMEZONE,
                end_line=place.end_line,
                end_column=place.end_column,
            )
        )
    routes = tuple(route for policy in policies for route in policy.routes)
    if len(routes) > MAX_ROUTES:
        return ParseResult(
            None, [Diagnostic(name, 0, 0, f"more than {MAX_ROUTES} routes in the folder", code=TOO_LARGE)]
        )
    if not zoned:
        return ParseResult(ast.Policy(routes, file=name), problems)
    # With a second timezone the first counts, so the checks can go on; the error still refuses the policy.
    return ParseResult(ast.Policy(routes, zoned[0].timezone, zoned[0].timezone_position, file=name), problems)


def as_one_file(source: PolicySource, policy: ast.Policy) -> str:
    """The policy as the text of one file: a file's own text; for a folder, its joined routes in canonical
    form (comments left out), which mean the same."""
    return source.files[0][1] if source.is_one_file else format_policy(policy)
