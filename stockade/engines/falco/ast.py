"""Syntax tree of a Falco condition (what :mod:`stockade.engines.falco.parser` produces)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldRef:
    """A field, with its ``[arg]`` when given (``proc.aname[2]``)."""

    name: str
    arg: str | None = None

    @property
    def key(self) -> str:
        """The field as written, ``name`` or ``name[arg]``: the key of a field-format event."""
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass(frozen=True)
class Literal:
    """A constant value: a quoted string, a bare word, or a number (kept as text)."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class ListValue:
    """A parenthesised list of constants ``(a, "b c", d)``."""

    items: tuple[Literal, ...]


@dataclass(frozen=True)
class Transform:
    """A transformer applied to values: ``tolower(proc.name)``; ``val(f)`` uses name ``val``."""

    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class OperandList:
    """A parenthesised list inside a transformer, whose items may be fields, transformers or
    constants: the second argument of ``join(",", (proc.name, "x", toupper(fd.name)))``."""

    items: tuple[Operand, ...]


Operand = FieldRef | Transform | Literal | ListValue | OperandList


@dataclass(frozen=True)
class Check:
    """``lhs op rhs`` or ``lhs exists``; ``modifier`` is ``oneof``/``anyof``/``allof`` when used."""

    lhs: FieldRef | Transform
    op: str
    rhs: Literal | ListValue | Transform | FieldRef | None = None
    modifier: str | None = None


@dataclass(frozen=True)
class MacroRef:
    """A bare identifier: a macro reference, replaced by the macro's tree before compiling."""

    name: str


@dataclass(frozen=True)
class Not:
    """Logical negation."""

    child: Node


@dataclass(frozen=True)
class And:
    """Logical conjunction of two or more children."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Logical disjunction of two or more children."""

    children: tuple[Node, ...]


Node = Check | MacroRef | Not | And | Or


def walk(node: Node) -> list[Node]:
    """Every node of a tree, parents before children."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        cur = stack.pop()
        out.append(cur)
        if isinstance(cur, Not):
            stack.append(cur.child)
        elif isinstance(cur, (And, Or)):
            stack.extend(reversed(cur.children))
    return out
