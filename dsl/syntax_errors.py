"""Lark's syntax errors, said the way a person writing a policy thinks.

Never `__ANON_3` or `_RBRACE`: tokens are shown as written (`}`), expected
terminals as the words they stand for, and a misspelt keyword gets a hint.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from rota.vocabulary import ReassignTrigger

from .diagnostics import did_you_mean

KEYWORDS = {
    "_TIMEZONE": "timezone",
    "_ROUTE": "route",
    "_WHEN": "when",
    "_ASSIGN": "assign",
    "_TO": "to",
    "_USER": "user",
    "_TEAM": "team",
    "_SPACE": "space",
    "UNASSIGN": "unassign",
    "USING": "using",
    "ROUND_ROBIN": "round_robin",
    "LEAST_OPEN": "least_open",
    "ONLY": "only",
    "PRIORITY": "priority",
    "TIMEOUT": "timeout",
    "REASSIGN": "reassign",
    "UNANSWERED": ReassignTrigger.UNANSWERED.value,
    "AWAY": ReassignTrigger.AWAY.value,
    "_AND": "and",
    "_OR": "or",
    "NOT": "not",
    "_IN": "in",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
}
PUNCTUATION = {
    "_LBRACE": "{",
    "_RBRACE": "}",
    "_LPAR": "(",
    "_RPAR": ")",
    "_LSQB": "[",
    "_RSQB": "]",
    "_COMMA": ",",
    "_DOT": ".",
    "_ARROW": "->",
}
WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DURATION": "a duration like `30m`",
    "COMPARATOR": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
    "$END": "the end of the file",
}
REASSIGN_HINT = f"say what to wait for: `reassign when {ReassignTrigger.UNANSWERED} 5m` or `reassign when {ReassignTrigger.AWAY} 5m`"
# Terminals that can start an expression: listed as one phrase, not ten.
EXPRESSION_START = {"NAME", "_USER", "STRING", "NUMBER", "TRUE", "FALSE", "NULL", "_LSQB", "_LPAR"}
# The order expected terminals are listed in: the order a policy is written.
ORDER = [
    "_TIMEZONE",
    "_ROUTE",
    "NAME",
    "_WHEN",
    "_LBRACE",
    "_ASSIGN",
    "UNASSIGN",
    "_TO",
    "_USER",
    "_TEAM",
    "_SPACE",
    "STRING",
    "USING",
    "ROUND_ROBIN",
    "LEAST_OPEN",
    "ONLY",
    "PRIORITY",
    "TIMEOUT",
    "REASSIGN",
    "UNANSWERED",
    "AWAY",
    "DURATION",
    "_ARROW",
    "COMPARATOR",
    "_IN",
    "NOT",
    "_AND",
    "_OR",
    "NUMBER",
    "TRUE",
    "FALSE",
    "NULL",
    "_LSQB",
    "_RSQB",
    "_LPAR",
    "_RPAR",
    "_COMMA",
    "_DOT",
    "_RBRACE",
    "$END",
]


def describe_unexpected(error: UnexpectedInput, text: str) -> tuple[str, str | None]:
    """A message and an optional hint for a syntax error."""
    if isinstance(error, UnexpectedCharacters):
        return _unexpected_character(error, text)
    if isinstance(error, UnexpectedEOF):
        return f"the file ends too early; expected {_expected_words(error.expected)}", None
    if isinstance(error, UnexpectedToken):
        return _unexpected_token(error)
    return "the policy cannot be read here", None


def _unexpected_character(error: UnexpectedCharacters, text: str) -> tuple[str, str | None]:
    position = cast(int, error.pos_in_stream)  # lark declares it None on the base class; the lexer sets it
    character = text[position] if position < len(text) else ""
    if character == '"':
        return "this string is not closed", 'add the closing `"` on the same line'
    if character == "=":
        return "unexpected `=`", "compare with `==`"
    if character == "!":
        return "unexpected `!`", "write `!=` to compare, or `not` to negate"
    if character == "'":
        return "unexpected `'`", 'strings use double quotes: "like this"'
    return f"unexpected character `{character}`", None


def _unexpected_token(error: UnexpectedToken) -> tuple[str, str | None]:
    token = error.token
    expected = set(error.expected) - {"COMMENT", "WHITESPACE"}
    message = f"unexpected {_describe_token(token)}; expected {_expected_words(expected)}"
    hint = None
    if token.type == "NAME" or token.type in KEYWORDS:
        keywords = [KEYWORDS[name] for name in expected if name in KEYWORDS]
        hint = did_you_mean(str(token), keywords)
    if hint is None and (expected == {"_WHEN"} or expected == {"UNANSWERED", "AWAY"}):  # only after `reassign`
        hint = REASSIGN_HINT
    if token.type == "NUMBER" and "DURATION" in expected:
        hint = f"give a unit: `{token}s`, `{token}m`, `{token}h` or `{token}d`"
    if token.type in ("COMPARATOR", "_IN") and "COMPARATOR" not in expected:
        return f"comparisons do not chain: unexpected `{token}`", "write `a < b and b < c`"
    return message, hint


def _describe_token(token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type in KEYWORDS or token.type in PUNCTUATION or token.type == "COMPARATOR":
        return f"`{token}`"
    kind = {"NAME": "name", "STRING": "string", "NUMBER": "number", "DURATION": "duration"}.get(token.type, "text")
    return f"{kind} `{token}`"


def _expected_words(expected: Collection[str]) -> str:
    names = set(expected)
    words = []
    if EXPRESSION_START <= names:
        names -= EXPRESSION_START | {"NOT"}
        words.append("an expression")
    ordered = sorted(names, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))
    words += [_word(name) for name in ordered]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _word(name: str) -> str:
    if name in KEYWORDS:
        return f"`{KEYWORDS[name]}`"
    if name in PUNCTUATION:
        return f"`{PUNCTUATION[name]}`"
    return WORDS.get(name, name.lower())
