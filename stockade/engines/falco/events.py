"""Events the engine evaluates: a field getter per event, with values cached per event.

* :class:`FieldsEvent` - an event given as ``{field: value}`` (``--event-format fields``), where
  keys are Falco field names with their ``[arg]``; values are coerced to the field's type when
  the source has a field table.
* :class:`K8sAuditEvent` - a raw ``audit.k8s.io`` Event; ``ka.*``/``jevt.*`` fields are extracted
  on demand like the k8saudit and json plugins do (see :mod:`.k8saudit`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from stockade.engines.falco.fields import Schema

_MISSING = object()


class Event(Protocol):
    """What the engine needs from an event."""

    source: str

    def get(self, key: str) -> Any:
        """The value of field ``key`` (``name`` or ``name[arg]``), or ``None`` when missing."""
        ...

    def time_ns(self) -> int:
        """The event time in nanoseconds since the epoch."""
        ...


_ANCESTOR_FIELDS = {
    "proc.aname": ("proc.name", "proc.pname"),
    "proc.apid": ("proc.pid", "proc.ppid"),
    "proc.aexe": ("proc.exe", "proc.pexe"),
    "proc.aexepath": ("proc.exepath", "proc.pexepath"),
    "proc.acmdline": ("proc.cmdline", "proc.pcmdline"),
}


def _coerce(value: Any, typ: str) -> Any:
    if value is None:
        return None
    if typ in ("str", "anc"):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return value
    if typ == "num":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value, 0) if value.lower().startswith(("0x", "-0x")) else int(value)
            except ValueError:
                return value
        return value
    if typ == "bool":
        if isinstance(value, str):
            low = value.lower()
            if low in ("true", "1"):
                return True
            if low in ("false", "0"):
                return False
        if isinstance(value, int):
            return bool(value)
        return value
    if typ == "list":
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(v, "str") for v in value) or None
        return (_coerce(value, "str"),)
    return value


class _Values(dict):  # type: ignore[type-arg]
    """Field values; a field the event does not have reads as ``None``."""

    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        return None


class FieldsEvent:
    """An event that maps Falco field names to values (one JSON object per line)."""

    __slots__ = ("source", "values", "num", "ts", "get")

    def __init__(
        self, values: Mapping[str, Any], source: str, schema: Schema | None = None, num: int = 1
    ) -> None:
        self.source = source
        self.num = num
        vals: dict[str, Any] = _Values()
        for k, v in values.items():
            if schema is not None and not schema.lax:
                name, _, rest = k.partition("[")
                info = schema.fields.get(name)
                if info is not None:
                    typ = info.type
                    if typ == "anc" and rest:
                        typ = "str"
                    if typ == "anc" and not isinstance(v, (list, tuple)):
                        typ = "str"
                        v = (v,)
                    elif typ == "anc":
                        v = tuple(_coerce(x, "str") for x in v)
                        typ = "tuple"
                    v = _coerce(v, typ)
            elif isinstance(v, list):
                v = tuple(v) or None
            vals[k] = v
        if source == "syscall":
            # Event model defaults Falco always provides (docs §11.12): a positive event
            # number, and evt.dir '<' (the deprecated field that matches every event).
            vals.setdefault("evt.num", num)
            vals.setdefault("evt.dir", "<")
            for anc, (self_key, parent_key) in _ANCESTOR_FIELDS.items():
                if self_key in vals:
                    vals.setdefault(f"{anc}[0]", vals[self_key])
                if parent_key in vals:
                    vals.setdefault(f"{anc}[1]", vals[parent_key])
                if anc not in vals:
                    chain = []
                    i = 1
                    while f"{anc}[{i}]" in vals:
                        chain.append(vals[f"{anc}[{i}]"])
                        i += 1
                    if chain:
                        vals[anc] = tuple(chain)
        self.values = vals
        ts = vals.get("evt.rawtime")
        self.ts = ts if isinstance(ts, int) else time.time_ns()
        # ``get(key)``: the field's value, or None
        self.get = vals.__getitem__

    def time_ns(self) -> int:
        """The event time (``evt.rawtime`` when given, else when it was read)."""
        return self.ts
