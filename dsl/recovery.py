"""Every syntax error of a file in one run, each reported once.

The text is lexed first, text the lexer cannot read becoming a token of its
own (an unclosed string runs to the end of its line). The tokens are then fed
one by one to Lark's LALR parser (its interactive parser). After an error the
parser resumes at the next place a new statement starts: an option keyword
(`using`, `only`, `priority`, `timeout`, `reassign`) or the `}` inside a route, the `{`
of a route whose header is broken, or the next `route`. Tokens skipped on the
way are never read as further mistakes, so there are no follow-on errors.

To resume, a fresh parser is fed a few tokens of its own (`route _ {`, then
`unassign`), which leave it where any option, `}` or `route` is welcome: the
tree is thrown away anyway, as a file with a syntax error has no policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from rota.diagnostics import SYNTAX, TOO_LARGE, UNCLOSED

from .diagnostics import Code, Diagnostic
from .syntax_errors import describe_unexpected

MAX_SYNTAX_ERRORS = 100
UNREADABLE = "UNREADABLE"  # the type of a token for text the lexer cannot read
OPTION_KEYWORDS = frozenset({"USING", "ONLY", "PRIORITY", "TIMEOUT", "REASSIGN"})
ACTION_KEYWORDS = frozenset({"_ASSIGN", "UNASSIGN"})
CLOSING = {"_LPAR": "_RPAR", "_LSQB": "_RSQB"}
SHOWN = {"_LPAR": "(", "_RPAR": ")", "_LSQB": "[", "_RSQB": "]"}
# After `.` a keyword is a field name (`user.priority`); after `route` it is a (bad) route name.
NOT_A_STATEMENT_AFTER = frozenset({"_DOT", "_ROUTE"})
# What a fresh parser is fed to stand inside a route's header, or inside its body after the action.
INSIDE_BRACES = (("_ROUTE", "route"), ("NAME", "_"), ("_LBRACE", "{"))
AFTER_ACTION = INSIDE_BRACES + (("UNASSIGN", "unassign"),)


@dataclass(frozen=True)
class Unreadable:
    """Why the lexer could not read a token's text."""

    message: str
    hint: str | None
    code: Code


class _Phase(Enum):
    BETWEEN_ROUTES = "between routes"
    HEADER = "route header"  # `route NAME when ...` up to its `{`
    BODY = "route body"  # inside the route's braces


def read_tokens(lark: Lark, text: str) -> tuple[list[Token], dict[int, Unreadable]]:
    """The text's tokens, comments and white space left out; what cannot be read is a token of its own."""
    thread = lark.parse_interactive(text).lexer_thread
    assert thread.state is not None  # given the text, the thread has a lexer state
    counter = thread.state.line_ctr
    tokens: list[Token] = []
    unreadable: dict[int, Unreadable] = {}
    while True:
        try:
            for token in thread.lex(None):
                tokens.append(token)
            return tokens, unreadable
        except UnexpectedCharacters as error:
            start = cast(int, error.pos_in_stream)  # lark declares it None on the base class; the lexer sets it
            end = start + 1
            message, hint = describe_unexpected(error, text)
            code = SYNTAX
            if text[start] == '"':  # the string runs to the end of its line
                newline = text.find("\n", start)
                end = len(text) if newline < 0 else newline
                code = UNCLOSED
            token = Token(UNREADABLE, text[start:end], start, counter.line, counter.column)
            counter.feed(text[start:end])
            token.end_line, token.end_column, token.end_pos = counter.line, counter.column, end
            unreadable[len(tokens)] = Unreadable(message, hint, code)
            tokens.append(token)


def parse_tokens(
    lark: Lark, tokens: list[Token], unreadable: dict[int, Unreadable], file: str
) -> tuple[Tree | None, list[Diagnostic]]:
    """The parse tree, or None and every syntax error (at most MAX_SYNTAX_ERRORS)."""
    return _ResumingParser(lark, tokens, unreadable, file).run()


class _ResumingParser:
    def __init__(self, lark: Lark, tokens: list[Token], unreadable: dict[int, Unreadable], file: str):
        self.lark, self.tokens, self.unreadable, self.file = lark, tokens, unreadable, file
        self.diagnostics: list[Diagnostic] = []
        self.parser = lark.parse_interactive()
        self.phase = _Phase.BETWEEN_ROUTES
        self.route_name: Token | None = None
        self.brace: Token | None = None  # the `{` of the route being read
        self.statement_start = 0  # where the statement being read starts: brackets are matched from there
        # An option came where the route's action was due (reported): the action, when it comes later, is
        # that same mistake, not another one.
        self.action_late = False

    def run(self) -> tuple[Tree | None, list[Diagnostic]]:
        index, count = 0, len(self.tokens)
        while index < count:
            if len(self.diagnostics) >= MAX_SYNTAX_ERRORS:
                token = self.tokens[index]
                self._report(token, f"more than {MAX_SYNTAX_ERRORS} syntax errors; stopped here", None, TOO_LARGE)
                return None, self.diagnostics
            starts_route = self._starts_route(index)
            if starts_route and self.phase is _Phase.BODY and self._would_close():
                self._report_unclosed_brace("before the next route")
                self._restart(_Phase.BETWEEN_ROUTES)
            if index in self.unreadable:
                reason = self.unreadable[index]
                self._report(self.tokens[index], reason.message, reason.hint, reason.code)
                index = self._resume(index)
                continue
            try:
                self.parser.feed_token(self.tokens[index])
            except UnexpectedToken as error:
                if self._takes_late_action(index):
                    continue
                self.action_late = self.phase is _Phase.BODY and "_ASSIGN" in error.expected
                self._report_unexpected(index, error)
                index = self._resume(index)
                continue
            self._step(index, starts_route)
            index += 1
        return self._finish()

    # ----------------------------------------------------------- feeding

    def _step(self, index: int, starts_route: bool) -> None:
        """Follow where the parser is, after it took the token at `index`."""
        token = self.tokens[index]
        if starts_route:
            self.phase, self.route_name, self.brace, self.statement_start = _Phase.HEADER, None, None, index
            self.action_late = False
        elif self.phase is _Phase.HEADER and token.type == "NAME" and self.tokens[index - 1].type == "_ROUTE":
            self.route_name = token
        elif self.phase is _Phase.HEADER and token.type == "_LBRACE":
            self.phase, self.brace, self.statement_start = _Phase.BODY, token, index
        elif self.phase is _Phase.BODY and self._starts_option(index):
            self.statement_start = index
        elif self.phase is _Phase.BODY and token.type == "_RBRACE":
            self.phase, self.brace = _Phase.BETWEEN_ROUTES, None

    def _takes_late_action(self, index: int) -> bool:
        """After an option came before the action, read the action where it stands, without a new error."""
        if not (self.action_late and self.phase is _Phase.BODY and self.tokens[index].type in ACTION_KEYWORDS):
            return False
        self.action_late = False
        self._restart(_Phase.BODY, INSIDE_BRACES)
        self.statement_start = index
        return True

    def _finish(self) -> tuple[Tree | None, list[Diagnostic]]:
        if self.phase is _Phase.BODY and self._would_close():
            self._report_unclosed_brace("at the end of the route")
            return None, self.diagnostics
        last = self.tokens[-1] if self.tokens else None
        end = Token.new_borrow_pos("$END", "", last) if last is not None else Token("$END", "", 0, 1, 1)
        try:
            tree = self.parser.feed_token(end)
        except UnexpectedToken as error:
            self._report_unexpected(len(self.tokens), error)
            return None, self.diagnostics
        return (None if self.diagnostics else tree), self.diagnostics

    # ---------------------------------------------------------- resuming

    def _resume(self, index: int) -> int:
        """Where to go on after an error at `index`, with the parser made ready for it."""
        for at in range(index, len(self.tokens)):
            if self._starts_route(at):
                if self.phase is _Phase.BODY and at > index:
                    self._restart(_Phase.BODY, AFTER_ACTION)  # the route's `}` is missing too: said next
                else:
                    self._restart(_Phase.BETWEEN_ROUTES)
                return at
            if self.phase is _Phase.HEADER and self.tokens[at].type == "_LBRACE":
                self._restart(_Phase.BODY, INSIDE_BRACES)
                self.brace, self.statement_start = self.tokens[at], at
                return at + 1
            if self.phase is _Phase.BODY and (self.tokens[at].type == "_RBRACE" or self._starts_option(at)):
                self._restart(_Phase.BODY, AFTER_ACTION)
                self.statement_start = at
                return at
        if self.phase is _Phase.BODY:
            self._restart(_Phase.BODY, AFTER_ACTION)  # the end of the file comes first: the route is not closed
        else:
            self._restart(_Phase.BETWEEN_ROUTES)
        return len(self.tokens)

    def _restart(self, phase: _Phase, made_up: tuple[tuple[str, str], ...] = ()) -> None:
        self.parser = self.lark.parse_interactive()
        for kind, text in made_up:
            self.parser.feed_token(self._made_up(kind, text))
        self.phase = phase

    def _would_close(self) -> bool:
        """Whether `}` is welcome now (the route has all it needs), asked of a copy of the parser."""
        probe = self.parser.copy(deepcopy_values=False)
        try:
            probe.feed_token(self._made_up("_RBRACE", "}"))
        except UnexpectedToken:
            return False
        return True

    def _made_up(self, kind: str, text: str) -> Token:
        return Token(kind, text, 0, 1, 1, 1, 1, 0)

    def _starts_route(self, index: int) -> bool:
        return self.tokens[index].type == "_ROUTE" and not self._follows_word(index)

    def _starts_option(self, index: int) -> bool:
        return self.tokens[index].type in OPTION_KEYWORDS and not self._follows_word(index)

    def _follows_word(self, index: int) -> bool:
        return index > 0 and self.tokens[index - 1].type in NOT_A_STATEMENT_AFTER

    # --------------------------------------------------------- reporting

    def _report_unexpected(self, index: int, error: UnexpectedToken) -> None:
        token = error.token
        ends_statement = index == len(self.tokens) or self._starts_route(index) or self._starts_option(index)
        if ends_statement or token.type in ("_LBRACE", "_RBRACE"):
            bracket = self._open_bracket(index, error.expected)
            if bracket is not None:
                closing = SHOWN[CLOSING[bracket.type]]
                self._report(bracket, f"this `{bracket}` is never closed", f"close it with `{closing}`", UNCLOSED)
                return
        message, hint = describe_unexpected(error, "")
        if self.phase is _Phase.BODY and (index == len(self.tokens) or self._starts_route(index)):
            where = "at the end of the file" if index == len(self.tokens) else "here"
            assert self.brace is not None  # in a route's body, its `{` is known
            never_closed = f"its `{{` on line {self.brace.line} is never closed"
            hint = hint or f"{self._route_words()} is still open {where}: {never_closed}"
        self._report(token, message, hint, SYNTAX)

    def _open_bracket(self, index: int, expected: set[str]) -> Token | None:
        """The innermost `(` or `[` of the statement that is still open, when its closing one is expected."""
        opened: list[Token] = []
        for token in self.tokens[self.statement_start : index]:
            if token.type in CLOSING:
                opened.append(token)
            elif opened and token.type == CLOSING[opened[-1].type]:
                opened.pop()
        return opened[-1] if opened and CLOSING[opened[-1].type] in expected else None

    def _report_unclosed_brace(self, where: str) -> None:
        assert self.brace is not None  # only said in a route's body, whose `{` is known
        self._report(
            self.brace,
            f"{self._route_words()} opens `{{` here and it is never closed",
            f"close it with `}}` {where}",
            UNCLOSED,
        )

    def _route_words(self) -> str:
        return f"route `{self.route_name}`" if self.route_name is not None else "this route"

    def _report(self, token: Token, message: str, hint: str | None, code: Code) -> None:
        line, column = max(token.line or 1, 1), max(token.column or 1, 1)
        self.diagnostics.append(
            Diagnostic(
                self.file,
                line,
                column,
                message,
                hint,
                code=code,
                end_line=token.end_line or line,
                end_column=token.end_column or column,
            )
        )
