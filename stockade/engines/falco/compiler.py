"""Compile a macro-free condition tree into one Python function, once.

The function takes ``g``, the event's field getter (``g("proc.name")`` -> value or ``None`` when
the field is missing), and returns a bool. Checks are generated as Python source so a rule costs
a few bytecodes per check; rarer operators call small helpers. Semantics (docs §7): a missing
field makes every check false (``not`` applies afterwards); list fields support ``in`` (subset),
``intersects`` and ``exists``; ancestor fields without an index are true if any ancestor passes.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable
from typing import Any

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
from stockade.engines.falco.evttypes import SYSCALL_EVENT_TYPES
from stockade.engines.falco.fields import FieldInfo, Schema, UnknownField

Getter = Callable[[str], Any]
Predicate = Callable[[Getter], bool]

# Operators each field type accepts; ancestor fields ("anc", "ancn") take their scalar type's.
_STR_TYPE_OPS = frozenset(
    [
        "==",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "intersects",
        "pmatch",
        "glob",
        "iglob",
        "contains",
        "icontains",
        "startswith",
        "endswith",
        "regex",
        "exists",
    ]
)
_NUM_TYPE_OPS = frozenset(["==", "=", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"])
_EQ_TYPE_OPS = frozenset(["==", "=", "!=", "in", "intersects", "exists"])
_OPS_BY_TYPE: dict[str, frozenset[str]] = {
    "str": _STR_TYPE_OPS,
    "anc": _STR_TYPE_OPS,
    "num": _NUM_TYPE_OPS,
    "ancn": _NUM_TYPE_OPS,
    "bool": _EQ_TYPE_OPS,
    "ip": _EQ_TYPE_OPS,
    "net": _EQ_TYPE_OPS,
    "buf": frozenset(
        [
            "==",
            "=",
            "!=",
            "contains",
            "in",
            "exists",
            "startswith",
            "endswith",
            "intersects",
            "bcontains",
            "bstartswith",
        ]
    ),
    "list": frozenset(["in", "intersects", "exists"]),
}
_TYPE_NAMES = {
    "str": "string",
    "anc": "string",
    "ancn": "numeric",
    "num": "numeric",
    "bool": "bool",
    "ip": "ipaddr",
    "net": "ipnet",
    "buf": "bytebuf",
    "list": "list",
}


class CompileError(Exception):
    """A condition does not compile (unknown field, bad operator or value)."""


# -- value helpers ---------------------------------------------------------------------------


_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
    "punct": "".join(re.escape(ch) for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}


def _posix_class(pat: str, j: int) -> tuple[str, int] | None:
    """The known POSIX class ``[:name:]`` starting at ``pat[j] == '['`` as regex class ranges,
    and the index after it; ``None`` when there is none."""
    if not pat.startswith(":", j + 1):
        return None
    end = pat.find(":]", j + 2)
    ranges = _POSIX_CLASSES.get(pat[j + 2 : end]) if end > 0 else None
    return None if ranges is None else (ranges, end + 2)


def _bracket(pat: str, i: int) -> tuple[str, int] | None:
    """The fnmatch bracket expression starting at ``pat[i] == '['`` as a regex class, and the
    index of its closing ``]``; ``None`` when it is not closed (then ``[`` is literal). A ``]``
    right after ``[`` or ``[!`` is literal, ``[:name:]`` is a POSIX class, a backslash escapes."""
    n = len(pat)
    j = i + 1
    neg = j < n and pat[j] in "!^"
    if neg:
        j += 1
    parts: list[str] = []
    first = True
    while j < n:
        c = pat[j]
        if c == "]" and not first:
            return "[" + ("^" if neg else "") + "".join(parts) + "]", j
        first = False
        if c == "[" and (cls := _posix_class(pat, j)) is not None:
            parts.append(cls[0])
            j = cls[1]
            continue
        if c == "\\" and j + 1 < n:
            j += 1
            c = pat[j]
        if c == "-" and parts and j + 1 < n and pat[j + 1] != "]":
            parts.append("-")
        else:
            parts.append(re.escape(c))
        j += 1
    return None


def glob_to_regex(pat: str, sep: bool = False, icase: bool = False) -> re.Pattern[str]:
    """POSIX fnmatch without flags (``*`` crosses ``/`` unless ``sep``), backslash escapes."""
    out: list[str] = []
    i, n = 0, len(pat)
    star = "[^/]*" if sep else ".*"
    one = "[^/]" if sep else "."
    while i < n:
        c = pat[i]
        if c == "*":
            out.append(star)
        elif c == "?":
            out.append(one)
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        elif c == "[":
            cls = _bracket(pat, i)
            if cls is None:
                out.append("\\[")
            else:
                out.append(cls[0])
                i = cls[1]
        else:
            out.append(re.escape(c))
        i += 1
    # iglob folds ASCII letters only, as fnmatch's FNM_CASEFOLD in the C locale
    flags = re.S | ((re.I | re.A) if icase else 0)
    return re.compile("".join(out) + r"\Z", flags)


class PathPrefixes:
    """``pmatch``: some path is a component-wise prefix of the value (globs per component)."""

    def __init__(self, paths: list[str]) -> None:
        self.exact: list[tuple[str, ...]] = []
        self.globbed: list[tuple[re.Pattern[str] | str, ...]] = []
        for p in paths:
            comps = tuple(c for c in p.split("/") if c)
            if any(ch in c for c in comps for ch in "*?["):
                self.globbed.append(
                    tuple(glob_to_regex(c, sep=True) if any(ch in c for ch in "*?[") else c for c in comps)
                )
            else:
                self.exact.append(comps)
        self.exact_set = frozenset(self.exact)

    def match(self, value: str) -> bool:
        comps = tuple(c for c in value.split("/") if c)
        for k in range(len(comps) + 1):
            if comps[:k] in self.exact_set:
                return True
        for g in self.globbed:
            if len(g) > len(comps):
                continue
            if all(
                (c == v) if isinstance(c, str) else (c.match(v) is not None) for c, v in zip(g, comps, strict=False)
            ):
                return True
        return False


def _as_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


_NUM_TEXT_RE = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+")


def _num(text: str) -> int | None:
    """A filter value for a numeric field, read like libsinsp (``sscanf("%lu%c") == 1``):
    optional leading blanks and sign, then decimal digits and nothing else (so no hex, no
    fraction, no exponent, no trailing blank)."""
    if _NUM_TEXT_RE.fullmatch(text) is None:
        return None
    return int(text)


def _netset(items: list[str], typ: str = "") -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Filter values of an IP field: an address field takes plain addresses and a network
    field takes ``addr/len`` networks (libsinsp's value parser rejects the other form)."""
    nets = []
    for it in items:
        if typ == "ip" and "/" in it:
            raise CompileError(f"unrecognized IP address {it}")
        if typ == "net" and "/" not in it:
            raise CompileError(f"unrecognized IP network {it}")
        try:
            nets.append(ipaddress.ip_network(it, strict=False))
        except ValueError as e:
            raise CompileError(f"'{it}' is not a valid IP address or network") from e
    return nets


def _in_nets(v: Any, nets: list[Any]) -> bool:
    try:
        addr = ipaddress.ip_address(_as_str(v))
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in nets)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _alower(s: str) -> str:
    """ASCII-only lower case (libsinsp folds bytes with the C locale's tolower)."""
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def _aupper(s: str) -> str:
    """ASCII-only upper case."""
    return s.upper() if s.isascii() else s.translate(_ASCII_UPPER)


def _tf(name: str, v: Any) -> Any:
    """Apply a one-argument transformer; ``None`` stays ``None``."""
    if v is None:
        return None
    if name == "len":
        if isinstance(v, (list, tuple)):
            return len(v)
        if isinstance(v, bytes):
            return len(v)
        return len(_as_str(v))
    if isinstance(v, (list, tuple)):
        return tuple(_tf(name, x) for x in v)
    s = _as_str(v)
    if name == "tolower":
        return _alower(s)
    if name == "toupper":
        return _aupper(s)
    if name == "basename":
        return "" if s.endswith("/") else s.rsplit("/", 1)[-1]
    if name == "b64":
        # padding is optional: "YWFhLWJiYg" decodes like "YWFhLWJiYg=="
        body = s.rstrip("=")
        if len(body) % 4 == 1:
            return None
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4), validate=False).decode("utf-8", "replace")
        except (ValueError, TypeError):
            return None
    return s


def _dyn_eq(v: Any, text: str) -> bool:
    if isinstance(v, bool):
        return v == (text.lower() == "true")
    if isinstance(v, (int, float)):
        n = _num(text)
        return n is not None and v == n
    return _as_str(v) == text


def _dyn_cmp(op: str, v: Any, text: str) -> bool:
    """Compare a value whose type is only known at run time (sources without a field table)."""
    if isinstance(v, (list, tuple)):
        return False
    if op in ("=", "=="):
        return _dyn_eq(v, text)
    if op == "!=":
        return not _dyn_eq(v, text)
    if op in ("<", "<=", ">", ">="):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            n = _num(text)
            if n is None:
                try:
                    n = float(text)  # type: ignore[assignment]
                except ValueError:
                    return False
            a: Any = v
            b: Any = n
        else:
            a, b = _as_str(v), text
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    s = _as_str(v)
    return _str_op(op, s, text)


def _str_op(op: str, s: str, text: str) -> bool:
    if op == "contains":
        return text in s
    if op == "icontains":
        return _alower(text) in _alower(s)
    if op == "startswith":
        return s.startswith(text)
    if op == "endswith":
        return s.endswith(text)
    if op == "glob":
        return glob_to_regex(text).match(s) is not None
    if op == "iglob":
        return glob_to_regex(text, icase=True).match(s) is not None
    if op == "regex":
        try:
            return re.fullmatch(_posix_regex_to_python(text), s, re.M) is not None
        except re.error:
            return False
    if op == "pmatch":
        return PathPrefixes([text]).match(s)
    if op in ("=", "=="):
        return s == text
    if op == "!=":
        return s != text
    if op == "<":
        return s < text
    if op == "<=":
        return s <= text
    if op == ">":
        return s > text
    if op == ">=":
        return s >= text
    if op == "bcontains":
        return text in s
    if op == "bstartswith":
        return s.startswith(text)
    return False


def _dyn_list(op: str, v: Any, items: tuple[str, ...]) -> bool:
    if op == "pmatch":
        vals = v if isinstance(v, (list, tuple)) else (v,)
        pp = PathPrefixes(list(items))
        return any(pp.match(_as_str(x)) for x in vals)
    if isinstance(v, (list, tuple)):
        if not v:
            return False
        hits = [any(_dyn_eq(x, it) for it in items) for x in v]
        return all(hits) if op == "in" else any(hits)
    return any(_dyn_eq(v, it) for it in items)


def _val_cmp(op: str, v: Any, w: Any) -> bool:
    """``lhs op val(other)`` and transformer right-hand sides: compare two run-time values."""
    if w is None:
        return False
    if isinstance(w, (list, tuple)):
        return _dyn_list(op if op in ("in", "intersects", "pmatch") else "intersects", v, tuple(_as_str(x) for x in w))
    if op in ("in", "intersects"):
        op = "="
    if isinstance(v, (list, tuple)):
        return False
    if isinstance(v, (int, float)) and isinstance(w, (int, float)):
        return _dyn_cmp(op, v, str(w))
    return _str_op(op, _as_str(v), _as_str(w))


def _modifier(mod: str, op: str, v: Any, items: tuple[str, ...]) -> bool:
    if not items or isinstance(v, (list, tuple)):
        return False
    hits = sum(1 for it in items if _dyn_cmp(op, v, it))
    if mod == "oneof":
        return hits == 1
    if mod == "anyof":
        return hits >= 1
    return hits == len(items)


# -- the compiler ----------------------------------------------------------------------------


class Compiler:
    """Turns condition trees into predicates for one schema (one event source)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.ns: dict[str, Any] = {
            "_dyn_cmp": _dyn_cmp,
            "_dyn_list": _dyn_list,
            "_val_cmp": _val_cmp,
            "_modifier": _modifier,
            "_tf": _tf,
            "_in_nets": _in_nets,
            "_as_str": _as_str,
            "_alower": _alower,
        }
        self.consts: dict[Any, str] = {}
        self.warnings: list[str] = []
        self.deprecations: list[str] = []

    def const(self, value: Any) -> str:
        try:
            key: Any = (type(value).__name__, value)
            hash(key)
        except TypeError:
            key = ("id", id(value))
        name = self.consts.get(key)
        if name is None:
            name = f"_c{len(self.consts)}"
            self.consts[key] = name
            self.ns[name] = value
        return name

    def compile(self, node: Node) -> Predicate:
        """A predicate for ``node``; raise :class:`CompileError`."""
        try:
            src = self.expr(node)
            fn: Predicate = eval(f"lambda g: bool({src})", self.ns)
        except (SyntaxError, RecursionError, MemoryError):
            # Python's parser caps nesting (about 200 parentheses) below libsinsp's depth
            # limit: compose per-check functions instead of one expression
            return self.compose(node)
        return fn

    def compose(self, node: Node) -> Predicate:
        """The slower closure form of :meth:`compile`, for very deeply nested conditions."""
        if isinstance(node, (And, Or)):
            preds = tuple(self.compose(c) for c in self.flat(node))
            if isinstance(node, And):
                return lambda g: all(p(g) for p in preds)
            return lambda g: any(p(g) for p in preds)
        if isinstance(node, Not):
            pred = self.compose(node.child)
            return lambda g: not pred(g)
        if isinstance(node, MacroRef):
            raise CompileError(f"unexpected identifier '{node.name}'")
        fn: Predicate = eval(f"lambda g: bool({self.check(node)})", self.ns)
        return fn

    @staticmethod
    def flat(node: And | Or) -> list[Node]:
        """Children of a conjunction (disjunction), with nested ones of the same kind inlined."""
        out: list[Node] = []
        stack: list[Node] = list(reversed(node.children))
        while stack:
            c = stack.pop()
            if type(c) is type(node):
                assert isinstance(c, (And, Or))
                stack.extend(reversed(c.children))
            else:
                out.append(c)
        return out

    def expr(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(c) for c in self.flat(node)) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(c) for c in self.flat(node)) + ")"
        if isinstance(node, Not):
            # collapse nested negations (``not (not (...))``) so deep trees stay shallow code
            inner, neg = node.child, True
            while isinstance(inner, Not):
                inner, neg = inner.child, not neg
            return f"(not {self.expr(inner)})" if neg else self.expr(inner)
        if isinstance(node, MacroRef):
            raise CompileError(f"unexpected identifier '{node.name}'")
        return self.check(node)

    # -- operands --------------------------------------------------------------------------
    def field_info(self, f: FieldRef) -> FieldInfo:
        try:
            return self.schema.lookup(f.name, f.arg)
        except UnknownField as e:
            raise CompileError(str(e)) from e

    def operand(self, op: FieldRef | Transform) -> tuple[str, str]:
        """Python source that yields the operand's value (or None), and its type."""
        if isinstance(op, FieldRef):
            info = self.field_info(op)
            return f"g({op.key!r})", info.type
        name = op.name
        if name in ("tolower", "toupper", "b64", "basename", "len"):
            if len(op.args) != 1 or not isinstance(op.args[0], (FieldRef, Transform)):
                raise CompileError(f"transformer '{name}' takes exactly one field argument")
            inner, typ = self.operand(op.args[0])
            # libsinsp: len takes strings, byte buffers and lists of anything; b64 strings and
            # byte buffers; tolower/toupper/basename strings only (lists of them included)
            if name == "len":
                if typ in ("num", "ancn", "bool", "ip", "net"):
                    raise CompileError(f"field type {_TYPE_NAMES[typ]} not supported by transformer 'len'")
                return f"_tf('len', {inner})", "num"
            if typ in ("num", "ancn", "bool", "ip", "net") or (typ == "buf" and name != "b64"):
                raise CompileError(f"field type {_TYPE_NAMES[typ]} not supported by transformer '{name}'")
            # a transformed list (or ancestor chain) stays a list of transformed values
            return f"_tf({name!r}, {inner})", typ if typ in ("list", "anc", "any") else "str"
        if name in ("concat", "join"):
            args = list(op.args)
            if name == "join":
                # join(separator, (items...)): exactly two arguments, a single value then a list
                if len(args) != 2 or not isinstance(args[1], (OperandList, ListValue)):
                    raise CompileError("transformer 'join' takes a separator and a parenthesised list")
                sep_src = self.scalar_arg(name, args[0])
                lst = args[1]
                items: tuple[Operand, ...] = lst.items
                parts = [self.list_item_arg(a) for a in items]
            else:
                # concat(a, b, ...): two or more single values
                if len(args) < 2:
                    raise CompileError("transformer 'concat' takes at least two arguments")
                sep_src = "''"
                parts = [self.scalar_arg(name, a) for a in args]
            fn = self.const(_concat)
            return f"{fn}({sep_src}, ({''.join(p + ', ' for p in parts)}))", "str"
        raise CompileError(f"unknown transformer '{name}'")

    def scalar_arg(self, name: str, a: Operand) -> str:
        """A single-valued transformer argument (a list or list-valued field is an error)."""
        if isinstance(a, Literal):
            return self.const(a.text)
        if isinstance(a, (FieldRef, Transform)):
            src, typ = self.operand(a)
            if typ == "list":
                raise CompileError(f"transformer '{name}' does not accept list arguments")
            return src
        raise CompileError(f"transformer '{name}' does not accept list arguments")

    def list_item_arg(self, a: Operand) -> str:
        """An item of join's list: a constant, a field (a list field adds all its values) or a
        transformer."""
        if isinstance(a, Literal):
            return self.const(a.text)
        if isinstance(a, (FieldRef, Transform)):
            return self.operand(a)[0]
        raise CompileError("transformer 'join' does not accept nested lists")

    # -- checks ----------------------------------------------------------------------------
    def check(self, c: Check) -> str:
        lhs_src, typ = self.operand(c.lhs)
        op = c.op
        if typ != "any" and op not in _OPS_BY_TYPE[typ] and not (c.modifier and typ in ("str", "anc")):
            raise CompileError(f"'{op}' operator not supported for {_TYPE_NAMES[typ]} filters")
        if op == "exists":
            return f"({lhs_src} is not None)"
        rhs = c.rhs
        if isinstance(c.lhs, FieldRef) and c.lhs.name == "evt.dir" and not self.schema.lax:
            # Deprecated (libs 0.22): only exit events exist now, so 'evt.dir = <' matches every
            # event and 'evt.dir = >' none.
            self.deprecations.append("The 'evt.dir' field is deprecated: it is '<' for every event")
            vals = rhs.items if isinstance(rhs, ListValue) else (rhs,) if isinstance(rhs, Literal) else ()
            hit = any(v.text == "<" for v in vals)
            if op == "!=":
                hit = not hit
            elif op not in ("=", "==", "in", "intersects"):
                hit = bool(_dyn_cmp(op, "<", vals[0].text)) if vals else False
            return "True" if hit else "False"
        if (
            self.schema.source == "syscall"
            and not self.schema.lax
            and isinstance(c.lhs, FieldRef)
            and c.lhs.name == "evt.type"
            and op in ("=", "==", "!=", "in", "intersects")
        ):
            vals = rhs.items if isinstance(rhs, ListValue) else (rhs,) if isinstance(rhs, Literal) else ()
            for v in vals:
                if v.text not in SYSCALL_EVENT_TYPES:
                    raise CompileError(f"unknown event type {v.text}")
        if c.modifier is not None:
            assert isinstance(rhs, ListValue)
            items = self.const(tuple(i.text for i in rhs.items))
            return f"((_v := {lhs_src}) is not None and _modifier({c.modifier!r}, {op!r}, _v, {items}))"
        if isinstance(rhs, Transform):
            if rhs.name == "val":
                f = rhs.args[0]
                assert isinstance(f, FieldRef)
                self.field_info(f)
                rsrc = f"g({f.key!r})"
            else:
                rsrc = self.operand(rhs)[0]
            if typ in ("anc", "ancn"):
                # an ancestor field without index: true when some ancestor passes
                return (
                    f"((_v := {lhs_src}) is not None and (_w := {rsrc}) is not None"
                    f" and any(_val_cmp({op!r}, _x, _w) for _x in _v))"
                )
            return f"((_v := {lhs_src}) is not None and _val_cmp({op!r}, _v, {rsrc}))"
        if isinstance(rhs, FieldRef):  # defensive: the parser never produces it
            raise CompileError("unexpected field on the right-hand side")
        if isinstance(rhs, ListValue):
            items_t = tuple(i.text for i in rhs.items)
            for it in rhs.items:
                self.warn_value(it, typ)
            return self.list_check(lhs_src, typ, op, items_t)
        assert isinstance(rhs, Literal)
        self.warn_value(rhs, typ)
        if op == "==":
            op = "="
        return self.scalar_check(lhs_src, typ, op, rhs.text)

    def warn_value(self, lit: Literal, typ: str) -> None:
        if "\x00" in lit.text and typ != "buf":
            # filter values are C strings: only byte buffers may hold a NUL byte
            raise CompileError(f"filter value contains a NUL byte, which only byte buffer fields accept: {lit.text!r}")
        # libsinsp check_value_and_add_warnings: every constant (quoted or not), with its blanks
        # removed, is tested as a field name and as a transformer expression
        text = lit.text
        nospaces = "".join(text.split())
        m = _FIELD_VALUE_RE.fullmatch(nospaces)
        if m and self.schema.knows(m.group(1)):
            self.warnings.append(f"'{text}' may be a valid field misused as a const string value")
        for t in _WARN_TRANSFORMERS:
            if len(nospaces) >= len(t) + 2 and nospaces.startswith(t + "(") and nospaces.endswith(")"):
                self.warnings.append(f"'{text}' may be a valid field transformer misused as a const string value")

    def list_check(self, lhs: str, typ: str, op: str, items: tuple[str, ...]) -> str:
        if op == "pmatch":
            pp = self.const(PathPrefixes(list(items)))
            if typ == "anc":
                return f"((_v := {lhs}) is not None and any({pp}.match(_x) for _x in _v))"
            if typ == "any":
                return f"((_v := {lhs}) is not None and _dyn_list('pmatch', _v, {self.const(items)}))"
            return f"((_v := {lhs}) is not None and {pp}.match(_v))"
        if typ == "list":
            s = self.const(frozenset(items))
            if op == "in":
                return f"((_v := {lhs}) is not None and {s}.issuperset(_v))"
            return f"((_v := {lhs}) is not None and not {s}.isdisjoint(_v))"
        if typ in ("str", "buf"):
            return f"({lhs} in {self.const(frozenset(items))})"
        if typ == "anc":
            s = self.const(frozenset(items))
            return f"((_v := {lhs}) is not None and not {s}.isdisjoint(_v))"
        if typ == "ancn":
            # proc.apid without an index: true when some ancestor's pid is in the set
            nset = self.const(frozenset(self.number(it) for it in items))
            return f"((_v := {lhs}) is not None and not {nset}.isdisjoint(_v))"
        if typ == "num":
            nums = []
            for it in items:
                n = _num(it)
                if n is None:
                    raise CompileError(f"'{it}' is not a valid number")
                nums.append(n)
            return f"({lhs} in {self.const(frozenset(nums))})"
        if typ == "bool":
            vals = frozenset(self.parse_bool(it) for it in items)
            return f"({lhs} in {self.const(vals)})"
        if typ in ("ip", "net"):
            nets = self.const(_netset(list(items), typ))
            return f"((_v := {lhs}) is not None and _in_nets(_v, {nets}))"
        return f"((_v := {lhs}) is not None and _dyn_list({op!r}, _v, {self.const(items)}))"

    def number(self, text: str) -> int:
        """A numeric filter value, or a compile error."""
        n = _num(text)
        if n is None:
            raise CompileError(f"'{text}' is not a valid number")
        return n

    def parse_bool(self, text: str) -> bool:
        # libsinsp accepts exactly "true" and "false" (case-sensitive)
        if text == "true":
            return True
        if text == "false":
            return False
        raise CompileError(f"'{text}' is not a valid bool value (true or false)")

    def scalar_check(self, lhs: str, typ: str, op: str, text: str) -> str:
        if typ == "any":
            return f"((_v := {lhs}) is not None and _dyn_cmp({op!r}, _v, {self.const(text)}))"
        if typ in ("anc", "ancn"):
            pred = self.scalar_check("_x", "str" if typ == "anc" else "num", op, text)
            return f"((_v := {lhs}) is not None and any({pred} for _x in _v))"
        if typ == "num":
            n = _num(text)
            if n is None:
                raise CompileError(f"'{text}' is not a valid number")
            return self.ordered(lhs, op, self.const(n))
        if typ == "bool":
            b = self.parse_bool(text)
            pyop = "==" if op == "=" else "!="
            return f"((_v := {lhs}) is not None and _v {pyop} {b})"
        if typ in ("ip", "net"):
            nets = self.const(_netset([text], typ))
            if op == "=":
                return f"((_v := {lhs}) is not None and _in_nets(_v, {nets}))"
            return f"((_v := {lhs}) is not None and not _in_nets(_v, {nets}))"
        if typ == "buf" and op in ("bcontains", "bstartswith"):
            try:
                raw = bytes.fromhex(text)
            except ValueError as e:
                raise CompileError(f"'{text}' is not a valid hex string") from e
            fn = self.const(_bytes_op)
            return f"((_v := {lhs}) is not None and {fn}({op!r}, _v, {self.const(raw)}))"
        c = self.const(text)
        if op == "=":
            return f"({lhs} == {c})"
        if op in ("!=", "<", "<=", ">", ">="):
            return self.ordered(lhs, op, c)
        if op == "contains":
            return f"((_v := {lhs}) is not None and {c} in _v)"
        if op == "icontains":
            low = self.const(_alower(text))
            return f"((_v := {lhs}) is not None and {low} in (_v.lower() if _v.isascii() else _alower(_v)))"
        if op == "startswith":
            return f"((_v := {lhs}) is not None and _v.startswith({c}))"
        if op == "endswith":
            return f"((_v := {lhs}) is not None and _v.endswith({c}))"
        if op in ("glob", "iglob"):
            rx = self.const(glob_to_regex(text, icase=op == "iglob"))
            return f"((_v := {lhs}) is not None and {rx}.match(_v) is not None)"
        if op == "regex":
            bad = _non_posix_regex(text)
            if bad:
                raise CompileError(f"invalid regex pattern: '{text}': {bad}")
            try:
                # RE2 defaults: '.' does not match a newline; POSIX mode anchors at lines
                rx_c = re.compile(_posix_regex_to_python(text), re.M)
            except re.error as e:
                raise CompileError(f"invalid regex pattern: '{text}': {e}") from e
            if _regex_is_plain(text):
                self.warnings.append(
                    f"regex check with '{text}' may be optimized with simpler operators such as "
                    "'=', 'contains', 'startswith', 'endswith'"
                )
            return f"((_v := {lhs}) is not None and {self.const(rx_c)}.fullmatch(_v) is not None)"
        if op == "pmatch":
            return self.list_check(lhs, typ, op, (text,))
        if op in ("in", "intersects"):
            return self.list_check(lhs, typ, op, (text,))
        raise CompileError(f"'{op}' operator not supported for {_TYPE_NAMES.get(typ, typ)} filters")

    def ordered(self, lhs: str, op: str, c: str) -> str:
        pyop = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op]
        if op == "=":
            return f"({lhs} == {c})"
        return f"((_v := {lhs}) is not None and _v {pyop} {c})"


def _non_posix_regex(pat: str) -> str:
    """Why ``pat`` is not RE2 POSIX syntax (which libsinsp's ``regex`` uses), or "".

    POSIX mode has no Perl extensions: no ``(?...)`` groups or flags, no non-greedy
    quantifiers, no back-references, no ``\\d \\w \\s \\b`` classes or ``\\A \\z`` anchors."""
    i, n = 0, len(pat)
    in_class = False
    while i < n:
        c = pat[i]
        if c == "\\" and i + 1 < n:
            e = pat[i + 1]
            if e in "dDwWsSbBAzZCQEpP" or e in "123456789":
                return f"invalid escape sequence: \\{e}"
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pat.startswith("^", i + 1):
                i += 1
            if pat.startswith("]", i + 1):
                i += 1
        elif c == "(" and pat.startswith("?", i + 1):
            return "missing argument to repetition operator: ?"
        elif c in "*+?}" and pat.startswith("?", i + 1) and i > 0:
            return f"bad repetition operator: {c}?"
        i += 1
    return ""


def _posix_regex_to_python(pat: str) -> str:
    """Rewrite bracket expressions for Python: ``[:alpha:]`` classes become ranges and
    characters Python would read as nested sets or set operations are escaped."""
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "\\" and i + 1 < n:
            out.append(pat[i : i + 2])
            i += 2
            continue
        if c != "[":
            out.append(c)
            i += 1
            continue
        # a bracket expression: '[', optional '^', a leading ']' is literal
        out.append("[")
        i += 1
        if pat.startswith("^", i):
            out.append("^")
            i += 1
        if pat.startswith("]", i):
            out.append("\\]")
            i += 1
        while i < n and pat[i] != "]":
            ch = pat[i]
            if ch == "[" and (cls := _posix_class(pat, i)) is not None:
                out.append(cls[0])
                i = cls[1]
                continue
            if ch == "\\" and i + 1 < n:
                out.append(pat[i : i + 2])
                i += 2
                continue
            out.append("\\" + ch if ch in "[&~|" else ch)
            i += 1
        if i < n:
            out.append("]")
            i += 1
    return "".join(out)


_FIELD_VALUE_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+)(?:\[[^\]]*\])?")
_WARN_TRANSFORMERS = ("val", "tolower", "toupper", "b64", "basename", "len", "join", "concat")
_RGX_SPECIAL = frozenset(".+*?^$()[]{}|\\")


def _regex_is_plain(v: str) -> bool:
    """libsinsp's heuristic: no regex syntax apart from the ``^``/``$`` anchors and a leading
    or trailing ``.*``/``.+``/``.?``, so '=', 'contains', 'startswith' or 'endswith' would do."""
    n = len(v)
    i = 0
    while i < n:
        c = v[i]
        if (i == 0 and c == "^") or (i == n - 1 and c == "$"):
            i += 1
            continue
        if ((i == 0 and n > 1) or i == n - 2) and c == "." and i + 1 < n and v[i + 1] in "+*?":
            i += 2
            continue
        if c in _RGX_SPECIAL:
            return False
        i += 1
    return True


def _concat(sep: str, parts: tuple[Any, ...]) -> str | None:
    out: list[str] = []
    for p in parts:
        if p is None:
            return None
        if isinstance(p, (list, tuple)):
            out.extend(_as_str(x) for x in p)
        else:
            out.append(_as_str(p))
    return sep.join(out)


def _bytes_op(op: str, v: Any, raw: bytes) -> bool:
    b = v if isinstance(v, bytes) else _as_str(v).encode("utf-8", "surrogateescape")
    return raw in b if op == "bcontains" else b.startswith(raw)
