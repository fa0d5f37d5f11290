"""A recursive-descent parser for Falco's condition language.

It follows libsinsp's grammar (see docs/falco-language.md §6): keywords are lower-case,
``and``/``or`` need a blank or ``(`` after them, bare values stop at blanks, parentheses,
quotes, ``=`` and ``,``, a field argument follows its field with no blank, and operators are
recognised by prefix in a fixed order (so ``existsand m`` parses, ``containsx`` does not).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TypeVar

from stockade.engines.falco.ast import (
    And,
    Check,
    FieldRef,
    ListValue,
    Literal,
    MacroRef,
    Node,
    Not,
    Operand,
    OperandList,
    Or,
    Transform,
)

BLANKS = " \t\b\r\n"
_SPACE = " \t\r\n\v\f"  # [[:space:]] after 'not'

_FIELD_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")
_IDENT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_NUM_RE = re.compile(r"0[xX][0-9a-zA-Z]+|[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-][0-9]+)?")
_BARE_RE = re.compile(r"[^()\"'\s\b=,]+")
_ARG_BARE_RE = re.compile(r"[^\[\]\"'\s\b]+")

TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_OPS = (
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
)
LIST_OPS = ("intersects", "in", "pmatch")
MODIFIERS = ("oneof", "anyof", "allof")
_SYMBOL_OPS = frozenset(("==", "=", "!=", "<=", "<", ">=", ">"))
MAX_DEPTH = 1000
_NEEDED_RECURSION = 4 * MAX_DEPTH


_T = TypeVar("_T")


class ParseError(Exception):
    """A condition does not parse; the message follows libsinsp's wording."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.depth = 0
        self.last = ""

    # -- lexical helpers ---------------------------------------------------------------
    def blanks(self) -> int:
        start = self.i
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i] in BLANKS:
            self.i += 1
        return self.i - start

    def peek(self, lit: str) -> bool:
        return self.s.startswith(lit, self.i)

    def take(self, tok: str) -> None:
        """Consume ``tok``, which is at the current position."""
        self.i += len(tok)
        self.last = tok

    def word(self, w: str) -> bool:
        """Consume keyword ``w`` when a blank or ``(`` follows it."""
        if not self.s.startswith(w, self.i):
            return False
        j = self.i + len(w)
        if j < len(self.s) and (self.s[j] in BLANKS or self.s[j] == "("):
            self.i = j
            self.last = w
            return True
        return False

    def error(self, msg: str) -> ParseError:
        return ParseError(msg)

    def unexpected(self) -> ParseError:
        return ParseError(f"unexpected token after '{self.last}', expecting 'or', 'and'")

    # -- grammar -----------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.s:
            raise self.error("filter input string is empty")
        self.blanks()
        node = self.parse_or()
        self.blanks()
        if self.i < len(self.s):
            raise self.unexpected()
        return node

    def enter(self, n: int = 1) -> None:
        """Count one level of libsinsp's recursion guard: each of parse_or, parse_and,
        parse_not, parse_check and a parenthesis costs one, a comparison three more (condition,
        value, transformer probe); reaching the limit (Falco sets 1000) is an error."""
        self.depth += n
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded max depth limit of {MAX_DEPTH}")

    def parse_or(self) -> Node:
        return self.parse_chain("or", self.parse_and, Or)

    def parse_and(self) -> Node:
        return self.parse_chain("and", self.parse_not, And)

    def parse_chain(self, kw: str, operand: Callable[[], Node], node: type[Or] | type[And]) -> Node:
        """One or more ``operand``s joined by keyword ``kw`` (one level of the depth guard)."""
        self.enter()
        children = [operand()]
        while True:
            save = self.i
            self.blanks()
            if self.peek(kw):
                children.append(self.parse_after_keyword(kw, operand))
            else:
                self.i = save
                break
        self.depth -= 1
        return children[0] if len(children) == 1 else node(tuple(children))

    def parse_after_keyword(self, kw: str, operand: Callable[[], Node]) -> Node:
        """After ``and``/``or``: a blank then an operand, or directly a parenthesised expression.

        As in libsinsp, ``a or(b) and c`` takes only ``(b)`` as the right-hand side, so the
        trailing ``and c`` is then an unexpected token.
        """
        self.take(kw)
        if self.blanks():
            return operand()
        if self.peek("("):
            return self.parse_paren()
        raise self.error(f"expected blank or '(' after '{kw}'")

    def parse_not(self) -> Node:
        self.enter()
        negations = 0
        while True:
            if self.s.startswith("not", self.i):
                j = self.i + 3
                if j < len(self.s) and self.s[j] in _SPACE:
                    self.i = j
                    self.last = "not"
                    self.blanks()
                    negations += 1
                    continue
                if j < len(self.s) and self.s[j] == "(":
                    self.i = j
                    self.last = "not"
                    negations += 1
                    node = self.parse_paren()
                    break
            node = self.parse_check()
            break
        self.depth -= 1
        # repeated 'not's toggle one flag, as in libsinsp (no tower of nested negations)
        return Not(node) if negations % 2 else node

    def parse_paren(self) -> Node:
        # at '('
        self.take("(")
        self.enter()
        self.blanks()
        node = self.parse_or()
        self.blanks()
        if not self.peek(")"):
            raise self.error("expected a ')' token")
        self.take(")")
        self.depth -= 1
        return node

    def parse_check(self) -> Node:
        self.enter()
        try:
            return self.parse_check_body()
        finally:
            self.depth -= 1

    def parse_check_body(self) -> Node:
        if self.i >= len(self.s):
            raise self.error(f"unexpected end of input after '{self.last}'")
        if self.peek("("):
            return self.parse_paren()
        lhs = self.parse_lhs()
        if lhs is None:
            m = _IDENT_RE.match(self.s, self.i)
            if m:
                self.take(m.group())
                return MacroRef(m.group())
            raise self.error(
                f"expected a field, a transformer or a macro name after '{self.last}'"
                if self.last
                else "expected a field, a transformer or a macro name"
            )
        self.blanks()
        return self.parse_operator(lhs)

    def parse_field(self) -> FieldRef | None:
        m = _FIELD_RE.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        name = m.group()
        self.last = name
        arg = None
        if self.peek("["):
            arg = self.parse_field_arg()
        return FieldRef(name, arg)

    def parse_field_arg(self) -> str:
        self.i += 1
        if self.i < len(self.s) and self.s[self.i] in "\"'":
            arg = self.parse_quoted()
        else:
            m = _ARG_BARE_RE.match(self.s, self.i)
            if not m:
                raise self.error("expected a valid field argument")
            arg = m.group()
            self.i = m.end()
        if not self.peek("]"):
            raise self.error("expected a ']' token")
        self.take("]")
        return arg

    def parse_transformer(self, names: tuple[str, ...]) -> Transform | None:
        for name in names:
            if self.s.startswith(name + "(", self.i):
                self.i += len(name) + 1
                self.last = name + "("
                args: list[Operand] = []
                self.blanks()
                while True:
                    args.append(self.parse_targ())
                    self.blanks()
                    if self.peek(","):
                        self.i += 1
                        self.blanks()
                        continue
                    break
                if not self.peek(")"):
                    raise self.error("expected a ')' token")
                self.take(")")
                return Transform(name, tuple(args))
        return None

    def parse_targ(self) -> Operand:
        f = self.parse_field()
        if f is not None:
            return f
        t = self.parse_transformer(TRANSFORMERS)
        if t is not None:
            return t
        if self.i < len(self.s) and self.s[self.i] in "\"'":
            return Literal(self.parse_quoted(), True)
        m = _NUM_RE.match(self.s, self.i)
        if m:
            self.i = m.end()
            return Literal(m.group())
        if self.peek("("):
            return self.parse_targ_list()
        raise self.error(f"expected a field or a value as transformer argument after '{self.last}'")

    def parse_targ_list(self) -> OperandList:
        """``( item, ... )`` inside a transformer: items are fields, transformers or values."""
        return OperandList(self.parse_items(self.parse_targ_item))

    def parse_targ_item(self) -> Operand:
        # items are fields, transformers, quoted strings or numbers (no bare words, no lists)
        if self.peek("("):
            raise self.error("expected transformer list argument: field, transformer, quoted string, or number")
        return self.parse_targ()

    def parse_items(self, item: Callable[[], _T]) -> tuple[_T, ...]:
        """A parenthesised, comma-separated list of ``item``s, from its ``(``."""
        self.take("(")
        self.blanks()
        items: list[_T] = []
        if self.peek(")"):
            self.take(")")
            return ()
        while True:
            items.append(item())
            self.blanks()
            if self.peek(","):
                self.take(",")
                self.blanks()
                continue
            if self.peek(")"):
                self.take(")")
                return tuple(items)
            raise self.error("expected a ')' or ',' token")

    def parse_lhs(self) -> FieldRef | Transform | None:
        f = self.parse_field()
        if f is not None:
            return f
        return self.parse_transformer(TRANSFORMERS)

    def parse_operator(self, lhs: FieldRef | Transform) -> Check:
        self.enter()  # parse_condition
        try:
            if not any(self.peek(op) for op in UNARY_OPS):
                # a comparison also nests the value parser and the transformer probe
                self.enter(2)
                self.depth -= 2
            return self.parse_operator_body(lhs)
        finally:
            self.depth -= 1

    def parse_operator_body(self, lhs: FieldRef | Transform) -> Check:
        for op in UNARY_OPS:
            if self.peek(op):
                self.take(op)
                return Check(lhs, op)
        for op in NUM_OPS:
            if self.peek(op):
                self.take(op)
                self.blanks()
                return Check(lhs, op, self.parse_num_rhs())
        for op in STR_OPS:
            if self.peek(op) and self.op_boundary(op):
                self.take(op)
                self.blanks()
                for mod in MODIFIERS:
                    if self.word(mod):
                        self.blanks()
                        return Check(lhs, op, self.parse_list_value(), mod)
                return Check(lhs, op, self.parse_str_rhs())
        for op in LIST_OPS:
            # list operators need no blank after them (libsinsp lexes them as plain prefixes):
            # ``x in(a)`` and even ``x inside`` (= ``x in side``) parse
            if self.peek(op):
                self.take(op)
                self.blanks()
                tr = self.parse_rhs_transform()
                return Check(lhs, op, tr if tr is not None else self.parse_list_value())
        raise self.error(f"expected a valid check operator after '{self.last}'")

    def op_boundary(self, op: str) -> bool:
        """Word operators (``contains``...) need a blank after them; symbols do not."""
        if op in _SYMBOL_OPS:
            return True
        j = self.i + len(op)
        if j >= len(self.s):
            return False
        return self.s[j] in BLANKS

    def parse_rhs_transform(self) -> Transform | None:
        if self.s.startswith("val(", self.i):
            self.i += 4
            self.blanks()
            f = self.parse_field()
            if f is None:
                raise self.error("expected a field inside val()")
            self.blanks()
            if not self.peek(")"):
                raise self.error("expected a ')' token")
            self.take(")")
            return Transform("val", (f,))
        return self.parse_transformer(TRANSFORMERS)

    def parse_num_rhs(self) -> Literal | Transform:
        t = self.parse_rhs_transform()
        if t is not None:
            return t
        m = _NUM_RE.match(self.s, self.i)
        if not m:
            raise self.error(f"expected a number after '{self.last}'")
        self.take(m.group())
        return Literal(m.group())

    def parse_str_rhs(self) -> Literal | Transform:
        t = self.parse_rhs_transform()
        if t is not None:
            return t
        return self.parse_value()

    def parse_value(self) -> Literal:
        if self.i < len(self.s) and self.s[self.i] in "\"'":
            text = self.parse_quoted()
            self.last = text
            return Literal(text, True)
        m = _BARE_RE.match(self.s, self.i)
        if not m:
            raise self.error(f"expected a value after '{self.last}'")
        self.take(m.group())
        return Literal(m.group())

    def parse_list_value(self) -> ListValue:
        if not self.peek("("):
            # a bare identifier is a one-value list: ``x in cat`` is ``x in (cat)``
            m = _IDENT_RE.match(self.s, self.i)
            if m:
                self.take(m.group())
                return ListValue((Literal(m.group()),))
            raise self.error(f"expected a list, an identifier, or a field with a valid transformer after '{self.last}'")
        return ListValue(self.parse_items(self.parse_value))

    def parse_quoted(self) -> str:
        # libsinsp finds the closing quote first (a quote preceded by a backslash does not
        # close the string), then decodes the escapes inside.
        s = self.s
        q = s[self.i]
        j = self.i + 1
        n = len(s)
        while j < n and not (s[j] == q and s[j - 1] != "\\"):
            j += 1
        if j >= n:
            raise self.error("unterminated string: missing closing quote")
        raw = s[self.i + 1 : j]
        self.i = j + 1
        return self.unescape(raw, q)

    def unescape(self, raw: str, q: str) -> str:
        out: list[str] = []
        k, n = 0, len(raw)
        while k < n:
            c = raw[k]
            if c != "\\":
                out.append(c)
                k += 1
                continue
            e = raw[k + 1] if k + 1 < n else ""
            if e == q:
                out.append(q)
            elif e in ('"', "'"):
                raise self.error(f"invalid escape sequence '\\{e}' in string")
            elif e == "\\":
                out.append("\\")
            elif e == "/":
                out.append("/")
            elif e and e in "bfnrt":
                out.append({"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}[e])
            elif e == " ":
                # legacy (escaping.cpp): "\ " falls through to the "\\" case, so the pair
                # becomes one backslash and the blank is dropped
                out.append("\\")
            elif e == "x":
                hexd = raw[k + 2 : k + 4]
                if len(hexd) != 2 or not all(ch in "0123456789abcdefABCDEF" for ch in hexd):
                    raise self.error("invalid \\x escape sequence in string")
                out.append(chr(int(hexd, 16)))
                k += 4
                continue
            else:
                raise self.error(f"invalid escape sequence '\\{e}' in string")
            k += 2
        return "".join(out)


def parse(text: str) -> Node:
    """Parse a condition; raise :class:`ParseError` with libsinsp-like wording."""
    # the depth guard stops at MAX_DEPTH levels (five per parenthesis, which take eight Python
    # frames): make sure Python's own limit is not reached first
    limit = sys.getrecursionlimit()
    if limit < _NEEDED_RECURSION:
        sys.setrecursionlimit(_NEEDED_RECURSION)
    try:
        return _Parser(text).parse()
    except RecursionError as e:
        raise ParseError(f"exceeded max depth limit of {MAX_DEPTH}") from e
    finally:
        if limit < _NEEDED_RECURSION:
            sys.setrecursionlimit(limit)


def parse_operand(text: str, pos: int) -> tuple[FieldRef | Transform, int] | None:
    """Parse the longest field or transformer at ``pos`` (for ``%`` tokens in outputs)."""
    p = _Parser(text)
    p.i = pos
    try:
        lhs = p.parse_lhs()
    except ParseError:
        return None
    if lhs is None:
        return None
    return lhs, p.i
