"""Rule output templates: ``%field``, ``%field[arg]``, ``%tolower(field)``, ``%20field``.

A ``%`` token takes the longest prefix that is a valid field (with an optional ``[arg]``) or
transformer expression; everything else is literal text. Missing values print ``<NA>`` (Falco
always formats rule outputs with the leading ``*``), list values print as ``(a,b)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stockade.engines.falco.ast import FieldRef, Transform
from stockade.engines.falco.compiler import _as_str, _tf
from stockade.engines.falco.fields import Schema, UnknownField
from stockade.engines.falco.parser import parse_operand


class OutputError(Exception):
    """An output template does not compile."""


_DEPRECATED_OUTPUT_FIELDS = (
    "evt.dir",
    "evt.latency",
    "evt.latency.s",
    "evt.latency.ns",
    "evt.latency.human",
    "evt.wait_latency",
)


def render_value(v: Any) -> str:
    """A field value as Falco prints it."""
    if v is None:
        return "<NA>"
    if isinstance(v, (list, tuple)):
        return "(" + ",".join(_as_str(x) for x in v) + ")"
    return _as_str(v)


class OutputFormat:
    """A compiled output template."""

    def __init__(self, text: str, schema: Schema) -> None:
        self.text = text
        self.warnings: list[str] = []
        self.parts: list[str | tuple[str, Callable[[Callable[[str], Any]], Any], int]] = []
        self.field_names: list[str] = []
        self._compile(schema)

    def _compile(self, schema: Schema) -> None:
        s = self.text
        if "%container.info" in s:
            self.warnings.append(
                "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "
                "The container plugin will automatically add required fields to the output message."
            )
            # Falco replaces the token by nothing (the blank before it stays)
            s = s.replace("%container.info", "")
        i, n = 0, len(s)
        lit: list[str] = []
        while i < n:
            c = s[i]
            if c != "%":
                lit.append(c)
                i += 1
                continue
            if i + 1 >= n:
                raise OutputError("invalid formatting syntax: formatting cannot end with a %")
            j = i + 1
            while j < n and s[j].isdigit():
                j += 1
            width = int(s[i + 1 : j]) if j > i + 1 else 0
            parsed = parse_operand(s, j)
            if parsed is None:
                raise OutputError(f"unknown filter: {s[j : j + 30]}")
            operand, end = parsed
            operand, end = self._fit(operand, s, j, end, schema)
            if lit:
                self.parts.append("".join(lit))
                lit = []
            token = s[j:end]
            getter = self._getter(operand) if isinstance(operand, FieldRef) else self._transform_getter(operand, schema)
            self.parts.append((token, getter, width))
            self.field_names.append(token)
            if isinstance(operand, FieldRef) and operand.name in _DEPRECATED_OUTPUT_FIELDS:
                self.warnings.append(f"field '{operand.name}' in output is deprecated")
            i = end
        if lit:
            self.parts.append("".join(lit))

    def _fit(
        self, operand: FieldRef | Transform, s: str, j: int, end: int, schema: Schema
    ) -> tuple[FieldRef | Transform, int]:
        """Shrink a field token to the longest prefix the schema knows (``%proc.name.`` etc.)."""
        if isinstance(operand, Transform):
            self._validate(operand, schema)
            return operand, end
        name = operand.name
        while True:
            try:
                schema.lookup(name, operand.arg if name == operand.name else None)
                if name == operand.name:
                    return operand, end
                return FieldRef(name), j + len(name)
            except UnknownField as e:
                if "." not in name or (name.count(".") < 2 and name != operand.name):
                    raise OutputError(f"unknown filter: {operand.key}") from e
                cut = name.rsplit(".", 1)[0]
                if "." not in cut:
                    raise OutputError(f"unknown filter: {operand.key}: {e}") from e
                name = cut

    def _validate(self, t: Transform, schema: Schema) -> None:
        for a in t.args:
            if isinstance(a, FieldRef):
                try:
                    schema.lookup(a.name, a.arg)
                except UnknownField as e:
                    raise OutputError(f"unknown filter: {a.key}") from e
            elif isinstance(a, Transform):
                self._validate(a, schema)

    def _transform_getter(self, t: Transform, schema: Schema) -> Callable[[Callable[[str], Any]], Any]:
        """A transformer token is computed exactly as in conditions (join/concat included)."""
        from stockade.engines.falco.compiler import CompileError, Compiler

        c = Compiler(schema)
        try:
            src, _ = c.operand(t)
        except CompileError as e:
            raise OutputError(f"unknown filter: {e}") from e
        # the source is generated from the parsed template only (no user text is executed)
        fn: Callable[[Callable[[str], Any]], Any] = eval(f"lambda g: {src}", c.ns)
        return fn

    def _getter(self, operand: FieldRef | Transform) -> Callable[[Callable[[str], Any]], Any]:
        if isinstance(operand, FieldRef):
            return _FieldGetter(operand.key)
        inner = operand.args[0] if operand.args else None
        name = operand.name
        if isinstance(inner, (FieldRef, Transform)):
            sub = self._getter(inner)
            return lambda g: _tf(name, sub(g))
        return lambda g: None

    def _prepare(self) -> Callable[[Callable[[str], Any]], tuple[str, dict[str, Any]]]:
        """Generate one function computing the text and the fields (values read once)."""
        ns: dict[str, Any] = {"_rv": render_value, "tuple": tuple, "list": list}
        lines = ["def _fmt(g):"]
        pieces: list[str] = []
        fields: list[str] = []
        i = 0
        for p in self.parts:
            if isinstance(p, str):
                pieces.append(repr(p))
                continue
            token, getter, width = p
            if isinstance(getter, _FieldGetter):
                lines.append(f"    v{i} = g({getter.key!r})")
            else:
                ns[f"_get{i}"] = getter
                lines.append(f"    v{i} = _get{i}(g)")
            text = f"(v{i} if type(v{i}) is str else _rv(v{i}))"
            if width:
                text = f"{text}[:{width}].ljust({width})"
            pieces.append(text)
            fields.append(f"{token!r}: (list(v{i}) if type(v{i}) is tuple else v{i})")
            i += 1
        lines.append(f"    return ''.join(({', '.join(pieces)},)), {{{', '.join(fields)}}}")
        # the source is generated from the parsed template only (no user text is executed)
        exec("\n".join(lines), ns)
        fn: Callable[[Callable[[str], Any]], tuple[str, dict[str, Any]]] = ns["_fmt"]
        self._fmt = fn
        return fn

    def evaluate(self, get: Callable[[str], Any]) -> tuple[str, dict[str, Any]]:
        """The output text and ``output_fields`` (token -> value, ``None`` when missing)."""
        fn = self.__dict__.get("_fmt") or self._prepare()
        return fn(get)

    def render(self, get: Callable[[str], Any]) -> str:
        """The output text for one event."""
        return self.evaluate(get)[0]

    def values(self, get: Callable[[str], Any]) -> dict[str, Any]:
        """``output_fields`` of Falco's JSON output: token -> value (``None`` when missing)."""
        return self.evaluate(get)[1]


class _FieldGetter:
    """Reads one field (kept as a class so the formatter can batch plain field reads)."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, g: Callable[[str], Any]) -> Any:
        return g(self.key)
