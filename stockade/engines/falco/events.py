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
    """Field values; a field the event does not have reads as ``None``.

    Ancestor fields are derived on first use: ``proc.aname[0]`` is ``proc.name``,
    ``proc.aname[1]`` is ``proc.pname``, and bare ``proc.aname`` is the chain ``[1], [2], ...``.
    """

    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        if key.startswith("evt.") and key in _EVT_TIME_FIELDS:
            t = dict.get(self, "evt.rawtime")
            if not isinstance(t, int):
                return None
            from stockade.engines.falco.k8saudit import format_time

            text = format_time(t, iso=key == "evt.time.iso8601")
            self[key] = text
            return text
        if not key.startswith("proc.a"):
            return None
        name, _, arg = key.partition("[")
        pair = _ANCESTOR_FIELDS.get(name)
        if pair is None:
            return None
        get = dict.get
        v: Any
        if arg == "0]":
            v = get(self, pair[0])
        elif arg:
            # proc.aname[N]: the Nth ancestor, from the parent field or from a given chain
            n = int(arg[:-1]) if arg[:-1].isdigit() else -1
            chain_given = get(self, name)
            if isinstance(chain_given, (list, tuple)) and 0 < n <= len(chain_given):
                v = chain_given[n - 1]
            elif n == 1:
                v = get(self, pair[1])
            else:
                v = None
        else:
            chain = []
            first = get(self, f"{name}[1]", get(self, pair[1]))
            if first is not None:
                chain.append(first)
                i = 2
                while True:
                    nxt = get(self, f"{name}[{i}]")
                    if nxt is None:
                        break
                    chain.append(nxt)
                    i += 1
            v = tuple(chain) or None
        self[key] = v
        return v


_EVT_TIME_FIELDS = frozenset(("evt.time", "evt.time.iso8601"))
_TYPE_MAPS: dict[int, dict[str, str]] = {}
_PY_TYPES = {"str": str, "num": int, "bool": bool}


def _type_for(schema: Schema, key: str) -> str:
    """The value type of a field key ('' when the schema does not know the field)."""
    name, _, rest = key.partition("[")
    info = schema.fields.get(name)
    typ = "" if info is None else info.type
    if typ == "anc" and rest:
        typ = "str"
    elif typ == "ancn" and rest:
        typ = "num"
    return typ


class FieldsEvent:
    """An event that maps Falco field names to values (one JSON object per line)."""

    __slots__ = ("get", "num", "source", "ts", "values")

    def __init__(self, values: Mapping[str, Any], source: str, schema: Schema | None = None, num: int = 1) -> None:
        self.source = source
        self.num = num
        vals: dict[str, Any] = _Values(values)
        if schema is not None and not schema.lax:
            types = _TYPE_MAPS.get(id(schema))
            if types is None:
                types = _TYPE_MAPS[id(schema)] = {}
            for k, v in values.items():
                typ = types.get(k)
                if typ is None:
                    typ = _type_for(schema, k)
                    if len(types) < 50_000:
                        types[k] = typ
                if not typ or type(v) is _PY_TYPES.get(typ):
                    continue
                if typ in ("anc", "ancn"):
                    # an ancestor chain: strings, or numbers for proc.apid
                    et = "str" if typ == "anc" else "num"
                    vals[k] = tuple(_coerce(x, et) for x in v) if isinstance(v, (list, tuple)) else (_coerce(v, et),)
                else:
                    vals[k] = _coerce(v, typ)
        else:
            for k, v in values.items():
                if type(v) is list:
                    vals[k] = tuple(v) or None
        if source == "syscall":
            # Event model defaults Falco always provides (docs §11.12): a positive event
            # number, and evt.dir '<' (the deprecated field that matches every event).
            if "evt.num" not in vals:
                vals["evt.num"] = num
            if "evt.dir" not in vals:
                vals["evt.dir"] = "<"
        self.values = vals
        ts = vals.get("evt.rawtime")
        if not isinstance(ts, int):
            given = values.get("evt.time")
            if type(given) is int and given > 0:
                # Falco's JSON alerts carry evt.time as ns since the epoch: replay keeps that time
                ts = given
                del vals["evt.time"]
            else:
                ts = time.time_ns()
            if source == "syscall":
                vals["evt.rawtime"] = ts
        self.ts = ts
        # ``get(key)``: the field's value, or None
        self.get = vals.__getitem__

    def time_ns(self) -> int:
        """The event time (``evt.rawtime`` when given, else when it was read)."""
        return self.ts
