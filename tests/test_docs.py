"""The docs stand on their own: every example in docs/*.md and every policy in the README runs through rota
and does what the page says (tests/doc_examples.py reads them; docs/engine.md explains the scenario format).

ROTA_UPDATE_GOLDEN=1 writes what rota does into the pages instead; read the diff before committing.
"""

import os
import re
from pathlib import Path

import pytest
from doc_examples import DocFormatError, Example, examples, mismatches, run, update_page
from markdown_it import MarkdownIt

ROOT = Path(__file__).parent.parent
# docs/diagnostics.md pairs each code's failing example with its fix; tests/test_diagnostic_codes.py runs those.
CODES_PAGE = ROOT / "docs" / "diagnostics.md"
PAGES = sorted(page for page in (ROOT / "docs").glob("*.md") if page != CODES_PAGE) + [ROOT / "README.md"]
READ_BY_USERS = PAGES + [CODES_PAGE, ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
# Written on another branch at the same time as these pages; remove once it is in.
EXAMPLES = [example for page in PAGES for example in examples(page)]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_the_example_does_what_its_page_says(example: Example, tmp_path):
    found = list(mismatches(example, run(example, tmp_path)))
    if os.environ.get("ROTA_UPDATE_GOLDEN"):
        for mismatch in sorted(found, key=lambda m: -m.block.ordinal):  # bottom-up: earlier blocks keep their lines
            if mismatch.expected:
                update_page(example.page, mismatch)
        found = [mismatch for mismatch in found if not mismatch.expected]
    assert not found, "\n\n".join(
        f"{example.page.name}:{m.block.line}: {m.what}\n--- the page\n{m.expected}\n--- rota\n{m.actual}" for m in found
    )


def _links(page: Path) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    inline = [child for token in tokens if token.children for child in token.children]
    return [child.attrs["href"] for child in inline if child.type == "link_open"]


def _anchors(page: Path) -> set[str]:
    """Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces as hyphens."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    headings = [tokens[index + 1].content for index, token in enumerate(tokens) if token.type == "heading_open"]
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", READ_BY_USERS, ids=lambda page: page.name)
def test_every_link_stays_in_the_project_and_finds_its_place(page):
    """A clone of the project is all a reader has: no link may lead outside it, or nowhere."""
    assert "SPEC.md" not in page.read_text(encoding="utf-8")
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(ROOT.resolve()), f"{page.name}: {link} leads outside the project"
        assert target.exists(), f"{page.name}: {link} names no file"
        assert not anchor or anchor in _anchors(target), f"{page.name}: {link} names no heading of {target.name}"


def test_every_page_has_examples_and_the_references_have_many():
    counts = {page.name: len(examples(page)) for page in PAGES}
    assert counts.get("language.md", 0) >= 30 and counts["engine.md"] >= 30, counts
    assert counts["README.md"] >= 1, counts


# The runner itself: a page that says the wrong thing must fail, and the update writes what rota does.

RIGHT = """\
```rota
route desk {
  assign to space
  only online
}
```

```scenario
users:
  u1 online
  u2 away
contacts:
  c1
decisions:
  c1 desk assigned u1 round_robin
```

```rota error
route r {
  unassign
  only online
}
```

```text
policy.rota:3:3: error: `only` has no meaning with `unassign`: it never queues and never chooses among users
    only online
    ^
  hint: use it with `assign to team` or `assign to space`
```

```rota fmt
route r { assign to space timeout 90m }
```

```text
route r {
  assign to space
  timeout 1h30m
}
```
"""

WRONG = {
    "the decisions": ("c1 desk assigned u1 round_robin", "c1 desk assigned u2 round_robin"),
    "a message": ("`only` has no meaning", "`only` means nothing"),
    "a caret": ("    ^\n  hint: use", "     ^\n  hint: use"),
    "the canonical form": ("timeout 1h30m", "timeout 90m"),
    "a clean policy": (
        "  only online\n}\n```\n\n```scenario",
        "  only online\n  only online < 1\n}\n```\n\n```scenario",
    ),
    "an error example": ("  unassign\n  only online\n", "  unassign\n"),
}


def page_problems(tmp_path, text: str) -> list[str]:
    page = tmp_path / "page.md"
    page.write_text(text)
    found = []
    for index, example in enumerate(examples(page)):
        workdir = tmp_path / f"example{index}"
        workdir.mkdir()
        found += [mismatch.what for mismatch in mismatches(example, run(example, workdir))]
    return found


def test_a_page_that_says_what_rota_does_passes(tmp_path):
    assert page_problems(tmp_path, RIGHT) == []


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_page_that_says_something_else_fails(tmp_path, wrong):
    right, changed = WRONG[wrong]
    assert right in RIGHT
    assert page_problems(tmp_path, RIGHT.replace(right, changed, 1))


def test_the_update_writes_what_rota_does(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(RIGHT.replace("round_robin\n```", "least_open\n```").replace("timeout 1h30m", "timeout 90m"))
    for index, example in enumerate(examples(page)):
        workdir = tmp_path / f"example{index}"
        workdir.mkdir()
        for mismatch in sorted(mismatches(example, run(example, workdir)), key=lambda m: -m.block.ordinal):
            update_page(page, mismatch)
    assert page.read_text() == RIGHT


@pytest.mark.parametrize(
    "text, problem",
    [
        ("```scenario\nusers:\n  u1 online\n```\n", "must follow the ```rota block"),
        ("```rota error\nroute r { unassign }\n```\n", "needs a ```text block"),
        ("```rota strict\nroute r { unassign }\n```\n", "unknown example kind"),
    ],
)
def test_a_page_the_runner_cannot_read_is_refused(tmp_path, text, problem):
    page = tmp_path / "page.md"
    page.write_text(text)
    with pytest.raises(DocFormatError, match=problem):
        examples(page)
