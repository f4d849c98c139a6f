"""`rota check` and `rota fmt`: a policy read as code."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from rich.console import Console

from rota import report
from rota.dsl import PolicyError, analyze, format_policy, parse
from rota.storage.files import replaced_atomically

from .common import OK, POLICY_ERRORS, Command, InputError, policy_source, snapshot_schema


def register(command: Command) -> None:
    check = command("check", "compile policies and report every problem")
    check.add_argument("files", nargs="+", metavar="FILE", help="policy files")
    check.add_argument("--snapshot", metavar="DIR", help="check fields, teams and users against a snapshot")
    check.add_argument("--format", choices=("text", "json"), default="text", help="how problems are printed")
    check.add_argument(
        "--plan", action="store_true", help="also say, per route, which path each filter takes (text format only)"
    )
    check.set_defaults(run=run_check)

    fmt = command("fmt", "rewrite policies in canonical form")
    fmt.add_argument("files", nargs="+", metavar="FILE", help="policy files; `-` reads stdin, writes stdout")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not canonical")
    fmt.set_defaults(run=run_fmt)


def run_check(arguments, errors: Console) -> int:
    if arguments.plan and arguments.format == "json":
        raise InputError("`--plan` prints text; use it without `--format json`")
    schema = snapshot_schema(arguments.snapshot, errors)
    found = []
    sources = {}
    plans = []
    for location in arguments.files:  # a folder is one policy: its files are checked together
        source = policy_source(location)
        sources.update(source.texts)
        policy, diagnostics = analyze(source, schema=schema)
        found.extend(diagnostics)
        if arguments.plan and policy is not None and not any(d.is_error for d in diagnostics):
            from rota.engine import compile_policy
            from rota.plan import policy_plan

            plans.append(policy_plan(compile_policy(policy)))
    if arguments.format == "json":
        print(json.dumps([diagnostic.to_json() for diagnostic in found], indent=2))
    else:
        for diagnostic in found:
            print(diagnostic.render(sources.get(diagnostic.file)))
        for plan in plans:
            print(plan, end="")
        errors.print(report.check_summary(len(sources), found), markup=False)
    return POLICY_ERRORS if any(diagnostic.is_error for diagnostic in found) else OK


def run_fmt(arguments, errors: Console) -> int:
    not_canonical = []
    for location in arguments.files:
        source = policy_source(location)
        # A folder is checked as one policy, then each file formatted.
        policy, diagnostics = analyze(source)
        if policy is None:
            raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
        for path, text in source.files:
            file_policy = policy if source.is_one_file else parse(text, path).policy
            assert file_policy is not None  # the policy was read without an error, so each of its files was
            formatted = format_policy(file_policy)
            if path == "-":
                sys.stdout.write(formatted)
            elif formatted != text:
                not_canonical.append(path)
                if not arguments.check:
                    _rewrite(Path(path), formatted)
    verb = "would reformat" if arguments.check else "reformatted"
    for path in not_canonical:
        errors.print(f"{verb} {path}", markup=False)
    return POLICY_ERRORS if arguments.check and not_canonical else OK


def _rewrite(path: Path, text: str) -> None:
    """Atomically, keeping the file's permissions; a symlink's target is rewritten, the link kept."""
    target = path.resolve()
    with replaced_atomically(target, stat.S_IMODE(target.stat().st_mode)) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
