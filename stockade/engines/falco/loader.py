"""Load Falco rules files the way Falco's rule loader does (docs/falco-language.md §1-§5, §9).

Files are read in sequence into one store of lists, macros and rules (the *collector*); after
each file everything loaded so far is compiled again (the *compiler*), and any error is
reported against the file just read. Reading stops at a file's first error; compiling stops at
the first error overall. Warnings never stop loading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stockade.engines.falco.ast import And, Check, MacroRef, Node, Not, Or, walk
from stockade.engines.falco.compiler import CompileError, Compiler, Predicate
from stockade.engines.falco.fields import K8S_AUDIT_SCHEMA, SYSCALL_SCHEMA, Schema
from stockade.engines.falco.output import OutputError, OutputFormat
from stockade.engines.falco.parser import LIST_OPS, NUM_OPS, STR_OPS, ParseError, parse

ENGINE_VERSION = (0, 57, 0)
# Plugins whose fields this engine provides, with the version we claim to be compatible with.
EMULATED_PLUGINS = {
    "container": (0, 4, 0),
    "k8saudit": (0, 18, 0),
    "k8saudit-aks": (0, 6, 0),
    "k8saudit-eks": (0, 12, 0),
    "k8saudit-gke": (0, 9, 0),
    "k8saudit-ovh": (0, 6, 0),
    "json": (0, 7, 0),
}

PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
_PRIORITY_BY_NAME = {p.lower(): i for i, p in enumerate(PRIORITIES)}
_PRIORITY_BY_NAME["info"] = 6

CODE_DESCRIPTIONS = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
    "LOAD_UNKNOWN_SOURCE": "Unknown rule source",
    "LOAD_UNSAFE_NA_CHECK": "Unsafe <NA> comparison in condition",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_COMPILE_CONDITION": "Warning in rule condition",
    "LOAD_UNKNOWN_KEY": "Unknown key",
}

_LIST_NAME_RE = re.compile(r"[^()\"'\s=,]+")
_MACRO_NAME_RE = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BLANKS = " \t\r\n"
_LIST_DELIMS = frozenset(" \t\r\n(),=")
_RULE_OVERRIDE_APPEND = ("condition", "output", "desc", "tags", "exceptions")
_RULE_OVERRIDE_REPLACE = (
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
)
_RULE_KEYS = frozenset((*_RULE_OVERRIDE_REPLACE, "rule", "source", "append", "override", "required_engine_version"))
# Exceptions accept every binary comparison operator of the condition language.
_EXCEPTION_COMPS = frozenset((*STR_OPS, *NUM_OPS, *LIST_OPS))


@dataclass(frozen=True)
class LoadMessage:
    """One error or warning from loading, with Falco's code and the item it concerns."""

    code: str
    message: str
    file: str
    line: int | None
    item_type: str
    item_name: str
    is_error: bool

    def describe(self) -> str:
        """One line: ``file:line: item 'name': CODE (description): message``."""
        where = self.file + (f":{self.line}" if self.line else "")
        item = self.item_type + (f" '{self.item_name}'" if self.item_name else "")
        desc = CODE_DESCRIPTIONS.get(self.code, "")
        return f"{where}: {item}: {self.code} ({desc}): {self.message}"


class LoadFailure(Exception):
    """Internal: stop reading a file (or compiling) at its first error."""

    def __init__(self, msg: LoadMessage) -> None:
        super().__init__(msg.message)
        self.msg = msg


@dataclass
class _Item:
    kind: str
    name: str
    index: int
    visibility: int
    file: str
    line: int | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate."""

    name: str
    desc: str
    priority: int
    source: str
    tags: tuple[str, ...]
    enabled: bool
    condition: str
    predicate: Predicate
    output: OutputFormat
    index: int
    dispatch: tuple[frozenset[str] | None, ...]
    file: str
    line: int | None

    @property
    def priority_name(self) -> str:
        """The long priority name Falco prints (``Warning``, ``Informational``...)."""
        return PRIORITIES[self.priority]


def parse_priority(text: str) -> int | None:
    """A priority's rank (0 = Emergency) or ``None`` when it is not one of Falco's names."""
    return _PRIORITY_BY_NAME.get(text.strip().lower())


def _parse_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if not isinstance(v, str):
        return None
    # yaml-cpp's convert<bool>: y/yes/true/on and n/no/false/off, written all lower case, all
    # upper case or capitalised ("True", "TRUE"; not "tRUE")
    if not (v.islower() or v.isupper() or (v[:1].isupper() and v[1:].islower()) or len(v) == 1):
        return None
    low = v.lower()
    if low in ("true", "yes", "on", "y"):
        return True
    if low in ("false", "no", "off", "n"):
        return False
    return None


def _parse_version(text: str) -> tuple[int, int, int] | None:
    # Falco reads it with sscanf("%u.%u.%u"): three numbers, anything after them is ignored
    m = re.match(r"\s*\+?(\d+)\.\+?(\d+)\.\+?(\d+)", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _yaml_uint(text: str) -> int | None:
    """yaml-cpp's unsigned-integer decoding: the C++ stream picks the base from the prefix
    (``0x`` hex, a leading ``0`` octal), an optional ``+``, and nothing may follow."""
    m = re.fullmatch(r"\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if m is None:
        return None
    digits = m.group(1)
    if digits[:2] in ("0x", "0X"):
        return int(digits, 16)
    if len(digits) > 1 and digits[0] == "0":
        return int(digits, 8)
    return int(digits)


def _vstr(v: tuple[int, int, int]) -> str:
    return ".".join(str(x) for x in v)


class _LineLoader(yaml.BaseLoader):
    """Keeps every scalar as text (like yaml-cpp) and remembers each mapping's line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[int, int] = {}

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:
        # yaml-cpp sees a plain empty/~/null scalar as a null node, not as text
        if node.style is None and node.value in ("", "~", "null", "Null", "NULL"):
            return None
        return super().construct_scalar(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        m = super().construct_mapping(node, deep=True)
        self.lines[id(m)] = node.start_mark.line + 1
        return m


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    return loader.construct_mapping(node)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def substitute_list(text: str, name: str, items: list[str]) -> str:
    """Falco's text substitution of a list name by its items (docs §5), quirks included."""
    start = text.find(name)
    if start < 0:
        return text
    sub = ", ".join(_quote_value(i) for i in items)
    n = len(name)
    while start >= 0:
        end = start + n
        if (start == 0 or text[start - 1] in _LIST_DELIMS) and (end >= len(text) or text[end] in _LIST_DELIMS):
            while start > 0 and text[start - 1] in _BLANKS:
                start -= 1
            while end < len(text) and text[end] in _BLANKS:
                end += 1
            if not sub:
                # an empty list also takes one neighbouring comma with it
                if start > 0 and text[start - 1] == ",":
                    start -= 1
                elif end < len(text) and text[end] == ",":
                    end += 1
            text = (text[:start] + " " if start > 0 else "") + sub + " " + text[end:]
            start += len(sub) + 1
        start = text.find(name, start + 1)
    return text


class RuleSet:
    """Lists, macros and rules loaded from one or more rules files, compiled for evaluation."""

    def __init__(self, schemas: dict[str, Schema] | None = None) -> None:
        self.schemas: dict[str, Schema] = (
            dict(schemas) if schemas is not None else {"syscall": SYSCALL_SCHEMA, "k8s_audit": K8S_AUDIT_SCHEMA}
        )
        self.lists: dict[str, _Item] = {}
        self.macros: dict[str, _Item] = {}
        self.rules: dict[str, _Item] = {}
        self.counter = 0
        self.required_engine: tuple[int, int, int] = (0, 0, 0)
        self.plugin_requirements: list[tuple[str, list[tuple[str, tuple[int, int, int]]]]] = []
        self.errors: list[LoadMessage] = []
        self.warnings: list[LoadMessage] = []
        self._warn_seen: set[tuple[str, str, str, str]] = set()
        self.compiled: list[CompiledRule] = []
        self._parse_cache: dict[str, Node | ParseError] = {}
        self._pred_cache: dict[tuple[str, Node], Predicate] = {}
        self._used_macros: set[str] = set()
        self._used_lists: set[str] = set()
        self.files: list[str] = []

    # -- public API ------------------------------------------------------------------------
    def load_file(self, path: str | Path) -> bool:
        """Read one rules file, then compile; ``False`` (and :attr:`errors`) on failure.

        A directory loads every file in it, in alphabetical order (as Falco's ``-r DIR``).
        """
        p = str(path)
        if Path(path).is_dir():
            files = [c for c in sorted(Path(path).iterdir()) if c.is_file()]
            return all(self.load_file(c) for c in files)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            # the reason without Python's repeat of the path (the message already names the file)
            if isinstance(e, UnicodeDecodeError):
                why = f"not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
            else:
                why = e.strerror or str(e)
            self.errors.append(
                LoadMessage("LOAD_ERR_FILE_READ", f"Could not read file: {why}", p, None, "rules content", "", True)
            )
            return False
        return self.load_text(text, p)

    def load_text(self, text: str, name: str = "<rules>") -> bool:
        """Read rules content (YAML text); ``name`` is the file it is reported as."""
        self.files.append(name)
        try:
            self._read(text, name)
            self._compile(name)
        except LoadFailure as f:
            self.errors.append(f.msg)
            return False
        return True

    def load_items(self, items: list[Any], name: str = "<rules>") -> bool:
        """Read already-parsed items; numbers and booleans are taken as their YAML text."""
        self.files.append(name)
        try:
            self._read_items(_as_text(items), name, {})
            self._compile(name)
        except LoadFailure as f:
            self.errors.append(f.msg)
            return False
        return True

    def finish(self) -> None:
        """Kept for callers: unused-item warnings are produced by each compile pass."""

    def _unused_warnings(self) -> None:
        for m in self.macros.values():
            if m.name not in self._used_macros:
                self._warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", m)
        for li in self.lists.values():
            if li.name not in self._used_lists:
                self._warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", li)

    @property
    def ok(self) -> bool:
        """No error so far."""
        return not self.errors

    # -- messages --------------------------------------------------------------------------
    def _fail(self, code: str, message: str, file: str, line: int | None, itype: str, iname: str) -> LoadFailure:
        return LoadFailure(LoadMessage(code, message, file, line, itype, iname, True))

    def _warn(
        self,
        code: str,
        message: str,
        item: _Item | None = None,
        file: str = "",
        line: int | None = None,
        itype: str = "",
        iname: str = "",
    ) -> None:
        if item is not None:
            file, line, itype, iname = item.file, item.line, item.kind, item.name
        key = (code, itype, iname, message)
        if key in self._warn_seen:
            return
        self._warn_seen.add(key)
        self.warnings.append(LoadMessage(code, message, file, line, itype, iname, False))

    # -- reading (the collector) -----------------------------------------------------------
    def _read(self, text: str, file: str) -> None:
        try:
            loader = _LineLoader(text)
            docs = []
            try:
                while loader.check_data():  # type: ignore[no-untyped-call]
                    docs.append(loader.get_data())
            finally:
                loader.dispose()
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            col = mark.column + 1 if mark is not None else None
            problem = getattr(e, "problem", None) or str(e)
            raise self._fail(
                "LOAD_ERR_YAML_PARSE",
                f"yaml: error at line {line}, column {col}: {problem}",
                file,
                line,
                "rules content",
                "",
            ) from e
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, list):
                msg = (
                    "Rules content is not yaml array of objects"
                    if isinstance(doc, dict)
                    else "Rules content is not yaml"
                )
                raise self._fail("LOAD_ERR_YAML_VALIDATE", msg, file, None, "rules content", "")
            self._read_items(doc, file, loader.lines)

    def _read_items(self, items: list[Any], file: str, lines: dict[int, int]) -> None:
        for el in items:
            if el is None:
                continue
            if not isinstance(el, dict):
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    "Unexpected element type. Each element should be a yaml associative array.",
                    file,
                    None,
                    "rules content item",
                    "",
                )
            line = lines.get(id(el))
            if "required_engine_version" in el:
                self._read_engine_version(el, file, line)
            elif "required_plugin_versions" in el:
                self._read_plugin_versions(el, file, line)
            elif "list" in el:
                self._read_list(el, file, line)
            elif "macro" in el:
                self._read_macro(el, file, line)
            elif "rule" in el:
                self._read_rule(el, file, line)
            else:
                self._warn("LOAD_UNKNOWN_ITEM", "Unknown top level item", None, file, line, "rules content item", "")

    def _scalar(
        self, el: dict[str, Any], key: str, file: str, line: int | None, itype: str, iname: str, required: bool = True
    ) -> str | None:
        if key not in el:
            if required:
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE", f"Item has no mapping for key '{key}'", file, line, itype, iname
                )
            return None
        v = el[key]
        if v is None:
            raise self._fail("LOAD_ERR_YAML_VALIDATE", f"Mapping for key '{key}' is empty", file, line, itype, iname)
        if not isinstance(v, str):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value is not a scalar value", file, line, itype, iname)
        if v == "":
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", file, line, itype, iname)
        return v

    def _bool(self, el: dict[str, Any], key: str, file: str, line: int | None, itype: str, iname: str) -> bool | None:
        if key not in el:
            return None
        if el[key] is None:
            raise self._fail("LOAD_ERR_YAML_VALIDATE", f"Mapping for key '{key}' is empty", file, line, itype, iname)
        if el[key] == "":
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", file, line, itype, iname)
        b = _parse_bool(el[key])
        if b is None:
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", file, line, itype, iname)
        return b

    def _unknown_keys(
        self, el: dict[str, Any], allowed: Iterable[str], file: str, line: int | None, itype: str, iname: str
    ) -> None:
        allowed_set = set(allowed)
        for k in el:
            if k not in allowed_set:
                self._warn(
                    "LOAD_UNKNOWN_KEY", f"Unknown key '{k}'. The key will be ignored.", None, file, line, itype, iname
                )

    def _read_engine_version(self, el: dict[str, Any], file: str, line: int | None) -> None:
        v = el["required_engine_version"]
        itype = "required_engine_version"
        if not isinstance(v, str) or not v.strip():
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", file, line, itype, "")
        text = v.strip()
        minor = _yaml_uint(v)
        if minor is not None:
            req = (0, minor, 0)
        else:
            parsed = _parse_version(text)
            if parsed is None:
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    f"Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format.",
                    file,
                    line,
                    itype,
                    "",
                )
            req = parsed
        if req[0] != ENGINE_VERSION[0] or req > ENGINE_VERSION:
            raise self._fail(
                "LOAD_ERR_VALIDATE",
                f"Rules require engine version {_vstr(req)}, but engine version is {_vstr(ENGINE_VERSION)}",
                file,
                line,
                itype,
                "",
            )
        self.required_engine = max(self.required_engine, req)

    def _read_plugin_versions(self, el: dict[str, Any], file: str, line: int | None) -> None:
        itype = "required_plugin_versions"
        reqs = el["required_plugin_versions"]
        # messages as in rule_loader_reader.cpp
        if not isinstance(reqs, list):
            raise self._fail(
                "LOAD_ERR_YAML_VALIDATE", "Value of required_plugin_versions must be a sequence", file, line, itype, ""
            )
        for r in reqs:
            if not isinstance(r, dict):
                raise self._fail("LOAD_ERR_YAML_VALIDATE", "Plugin version must be a mapping", file, line, itype, "")
            name = self._scalar(r, "name", file, line, itype, "")
            assert name is not None
            alts: list[tuple[str, tuple[int, int, int]]] = []
            more = r.get("alternatives", [])
            if not isinstance(more, list):
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    "Value of plugin version alternatives must be a sequence",
                    file,
                    line,
                    itype,
                    name,
                )
            entries = [r, *more]
            seen: set[str] = set()
            for k, a in enumerate(entries):
                if not isinstance(a, dict):
                    raise self._fail(
                        "LOAD_ERR_YAML_VALIDATE",
                        "Plugin version alternative must be a mapping" if k else "Plugin version must be a mapping",
                        file,
                        line,
                        itype,
                        name,
                    )
                an = self._scalar(a, "name", file, line, itype, name)
                av = self._scalar(a, "version", file, line, itype, name)
                assert an is not None and av is not None
                ver = _parse_version(av)
                if ver is None:
                    raise self._fail(
                        "LOAD_ERR_YAML_VALIDATE",
                        f"Invalid required version '{av}' for plugin '{an}'",
                        file,
                        line,
                        itype,
                        name,
                    )
                if an in seen:
                    raise self._fail(
                        "LOAD_ERR_YAML_VALIDATE",
                        f"Defined multiple alternative version requirements for plugin '{an}'",
                        file,
                        line,
                        itype,
                        name,
                    )
                seen.add(an)
                alts.append((an, ver))
            self.plugin_requirements.append((name, alts))
            if not any(an in EMULATED_PLUGINS for an, _ in alts):
                # A plugin we do not emulate: its rules have a source we do not load and are
                # skipped (LOAD_UNKNOWN_SOURCE), so the file still loads, as the issue requires.
                self._warn(
                    "LOAD_UNKNOWN_SOURCE",
                    f"Plugin '{name}' is not emulated by this engine; rules of its source are skipped unless "
                    "that source is given with field-format events",
                    None,
                    file,
                    line,
                    itype,
                    name,
                )
            elif not any(
                an in EMULATED_PLUGINS and EMULATED_PLUGINS[an][0] == ver[0] and EMULATED_PLUGINS[an] >= ver
                for an, ver in alts
            ):
                wanted = ", ".join(f"{an} (>= {_vstr(ver)})" for an, ver in alts)
                raise self._fail(
                    "LOAD_ERR_VALIDATE",
                    f"Plugin requirement not satisfied, must load one of: {wanted}",
                    file,
                    line,
                    itype,
                    name,
                )

    def _override(
        self,
        el: dict[str, Any],
        file: str,
        line: int | None,
        itype: str,
        iname: str,
        can_append: tuple[str, ...],
        can_replace: tuple[str, ...],
    ) -> dict[str, str] | None:
        ov = el.get("override")
        append = self._bool(el, "append", file, line, itype, iname)
        if ov is None:
            return None
        if not isinstance(ov, dict):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value is not a map", file, line, itype, iname)
        ops: dict[str, str] = {}
        for k, op in ov.items():
            if op == "append":
                if k not in can_append:
                    raise self._fail(
                        "LOAD_ERR_YAML_VALIDATE",
                        f"Key '{k}' cannot be appended to, use 'replace' instead",
                        file,
                        line,
                        itype,
                        iname,
                    )
            elif op == "replace":
                if k not in can_replace:
                    raise self._fail(
                        "LOAD_ERR_YAML_VALIDATE", f"Key '{k}' cannot be replaced", file, line, itype, iname
                    )
            else:
                allowed = ("append " if k in can_append else "") + ("replace " if k in can_replace else "")
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    f"Invalid override operation for key '{k}': '{op}'. Allowed values are: {allowed}",
                    file,
                    line,
                    itype,
                    iname,
                )
            ops[k] = op
        if append and ops:
            raise self._fail(
                "LOAD_ERR_YAML_VALIDATE",
                "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
                "(e.g. 'condition: append') under 'override' instead.",
                file,
                line,
                itype,
                iname,
            )
        if itype == "rule" and ops:
            # every overridable key present must be named under override, and vice versa
            expected = {k for k in (*can_append, *can_replace) if k in el}
            for op_kind, keys in (("append", can_append), ("replace", can_replace)):
                for k in keys:
                    if ops.get(k) != op_kind:
                        continue
                    if k not in expected:
                        raise self._fail(
                            "LOAD_ERR_YAML_VALIDATE",
                            f"An {op_kind} override for '{k}' was specified but '{k}' is not defined",
                            file,
                            line,
                            itype,
                            iname,
                        )
                    expected.discard(k)
            for k in sorted(expected):
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    f"Unexpected key '{k}': no corresponding entry under 'override' is defined.",
                    file,
                    line,
                    itype,
                    iname,
                )
        return ops or None

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _item_name(
        self, el: dict[str, Any], itype: str, body_key: str, name_re: re.Pattern[str], file: str, line: int | None
    ) -> str:
        """Read the name of a list or macro, warning on unknown keys and on a name Falco calls invalid."""
        name = self._scalar(el, itype, file, line, itype, "")
        assert name is not None
        self._unknown_keys(el, (itype, body_key, "append", "override"), file, line, itype, name)
        if not name_re.fullmatch(name):
            label = itype.capitalize()
            self._warn(
                f"LOAD_INVALID_{itype.upper()}_NAME",
                f"{label} has an invalid name. {label} names should match a regular expression: {name_re.pattern}",
                None,
                file,
                line,
                itype,
                name,
            )
        return name

    def _deprecated_append(self, el: dict[str, Any], file: str, line: int | None, itype: str, name: str) -> bool:
        """Read the ``append: true`` flag, warning that it is deprecated when it is set."""
        append = bool(self._bool(el, "append", file, line, itype, name))
        if append:
            self._warn(
                "LOAD_DEPRECATED_ITEM",
                "The 'append' key is deprecated. Use 'override' instead.",
                None,
                file,
                line,
                itype,
                name,
            )
        return append

    def _no_append_target(self, itype: str, key: str, file: str, line: int | None, name: str) -> LoadFailure:
        return self._fail(
            "LOAD_ERR_VALIDATE",
            f"{itype.capitalize()} uses 'append' or 'override.{key}: append' "
            f"but no {itype} by that name already exists",
            file,
            line,
            itype,
            name,
        )

    def _read_list(self, el: dict[str, Any], file: str, line: int | None) -> None:
        name = self._item_name(el, "list", "items", _LIST_NAME_RE, file, line)
        if "items" not in el:
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'items'", file, line, "list", name)
        items = el["items"]
        if not isinstance(items, list):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value is not a sequence", file, line, "list", name)
        values: list[str] = []
        for it in items:
            if not isinstance(it, str):
                raise self._fail("LOAD_ERR_YAML_VALIDATE", "sequence value is not scalar", file, line, "list", name)
            values.append(it)
        ops = self._override(el, file, line, "list", name, ("items",), ("items",))
        append = self._deprecated_append(el, file, line, "list", name)
        if append or (ops and ops.get("items") == "append"):
            prev = self.lists.get(name)
            if prev is None:
                raise self._no_append_target("list", "items", file, line, name)
            prev.data["items"] = prev.data["items"] + values
            prev.visibility = self._next()
            return
        self._define(self.lists, "list", name, {"items": values}, file, line)

    def _define(
        self, store: dict[str, _Item], kind: str, name: str, data: dict[str, Any], file: str, line: int | None
    ) -> _Item:
        prev = store.get(name)
        n = self._next()
        if prev is None:
            item = _Item(kind, name, n, n, file, line, data)
            store[name] = item
            return item
        prev.data = data
        prev.visibility = n
        prev.file, prev.line = file, line
        return prev

    def _read_macro(self, el: dict[str, Any], file: str, line: int | None) -> None:
        name = self._item_name(el, "macro", "condition", _MACRO_NAME_RE, file, line)
        cond = self._scalar(el, "condition", file, line, "macro", name)
        assert cond is not None
        ops = self._override(el, file, line, "macro", name, ("condition",), ("condition",))
        append = self._deprecated_append(el, file, line, "macro", name)
        if append or (ops and ops.get("condition") == "append"):
            prev = self.macros.get(name)
            if prev is None:
                raise self._no_append_target("macro", "condition", file, line, name)
            prev.data["condition"] = prev.data["condition"] + " " + cond
            prev.visibility = self._next()
            return
        self._define(self.macros, "macro", name, {"condition": cond}, file, line)

    def _read_exceptions(
        self, el: dict[str, Any], file: str, line: int | None, name: str, require_fields: bool
    ) -> list[dict[str, Any]]:
        raw = el.get("exceptions")
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Rule exceptions must be a sequence", file, line, "rule", name)
        out: list[dict[str, Any]] = []
        names: set[str] = set()
        for ex in raw:
            if not isinstance(ex, dict):
                raise self._fail("LOAD_ERR_YAML_VALIDATE", "Rule exception must be a mapping", file, line, "rule", name)
            ename = self._scalar(ex, "name", file, line, "exception", "")
            assert ename is not None
            if ename in names:
                self._warn(
                    "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
                    f"Multiple definitions of exception '{ename}' in the same rule",
                    None,
                    file,
                    line,
                    "rule",
                    name,
                )
            names.add(ename)
            if require_fields and "fields" not in ex:
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE",
                    "Rule exception item must have fields property with a list of fields",
                    file,
                    line,
                    "exception",
                    ename,
                )
            values = ex.get("values")
            # a present but empty ``values:`` is a null node, which is not a sequence either
            if ("values" in ex and values is None) or (values is not None and not isinstance(values, list)):
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE", "Rule exception values must be a sequence", file, line, "exception", ename
                )
            out.append(
                {
                    "name": ename,
                    "fields": ex.get("fields"),
                    "comps": ex.get("comps"),
                    "values": list(values or []),
                    "has_values": "values" in ex,
                    "line": line,
                    "file": file,
                }
            )
        return out

    def _read_rule(self, el: dict[str, Any], file: str, line: int | None) -> None:
        name = self._scalar(el, "rule", file, line, "rule", "")
        assert name is not None
        self._unknown_keys(el, _RULE_KEYS, file, line, "rule", name)
        ops = self._override(el, file, line, "rule", name, _RULE_OVERRIDE_APPEND, _RULE_OVERRIDE_REPLACE)
        append = self._deprecated_append(el, file, line, "rule", name)
        prev = self.rules.get(name)
        if append:
            if prev is None:
                raise self._no_append_target("rule", "<key>", file, line, name)
            if "condition" not in el and "exceptions" not in el:
                raise self._fail(
                    "LOAD_ERR_VALIDATE",
                    "Appended rule must have exceptions or condition property",
                    file,
                    line,
                    "rule",
                    name,
                )
            if "condition" in el:
                cond = self._scalar(el, "condition", file, line, "rule", name)
                prev.data["condition"] = prev.data["condition"] + " " + str(cond)
            self._merge_exceptions(prev, self._read_exceptions(el, file, line, name, False), file, line)
            if "enabled" in el:
                prev.data["enabled"] = self._bool(el, "enabled", file, line, "rule", name)
            prev.visibility = self._next()
            return
        if ops is not None:
            if prev is None:
                first_append = next((k for k, o in ops.items() if o == "append"), None)
                if first_append is not None:
                    raise self._no_append_target("rule", "<key>", file, line, name)
                k = next(iter(ops), "condition")
                raise self._fail(
                    "LOAD_ERR_VALIDATE",
                    f"An 'override.{k}: replace' to a rule was requested but no rule by that name already exists",
                    file,
                    line,
                    "rule",
                    name,
                )
            d = prev.data
            for k, op in ops.items():
                if k in ("condition", "output", "desc"):
                    v = self._scalar(el, k, file, line, "rule", name)
                    assert v is not None
                    d[k] = (d[k] + " " + v) if op == "append" else v
                    if k == "output":
                        d[k] = d[k].strip()
                elif k == "priority":
                    d[k] = self._priority(el, file, line, name)
                elif k == "tags":
                    tags = self._tags(el, file, line, name)
                    d["tags"] = (d["tags"] | tags) if op == "append" else tags
                elif k == "exceptions":
                    exs = self._read_exceptions(el, file, line, name, op == "replace")
                    if op == "append":
                        self._merge_exceptions(prev, exs, file, line)
                    else:
                        d["exceptions"] = exs
                elif k in ("enabled", "capture", "warn_evttypes", "skip-if-unknown-filter"):
                    d[k] = self._bool(el, k, file, line, "rule", name)
                else:
                    d[k] = el[k]
            prev.visibility = self._next()
            return
        core = [k for k in ("condition", "output", "desc", "priority") if k in el]
        if not core:
            if "enabled" not in el:
                raise self._fail(
                    "LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'enabled'", file, line, "rule", name
                )
            self._warn(
                "LOAD_DEPRECATED_ITEM",
                "The standalone 'enabled' key usage is deprecated. The correct approach requires also a "
                "'replace' entry under the 'override' key (i.e. 'enabled: replace').",
                None,
                file,
                line,
                "rule",
                name,
            )
            if prev is None:
                raise self._fail(
                    "LOAD_ERR_VALIDATE",
                    "Rule has 'enabled' key but no rule by that name already exists",
                    file,
                    line,
                    "rule",
                    name,
                )
            prev.data["enabled"] = self._bool(el, "enabled", file, line, "rule", name)
            prev.visibility = self._next()
            return
        cond = self._scalar(el, "condition", file, line, "rule", name)
        output = self._scalar(el, "output", file, line, "rule", name)
        desc = self._scalar(el, "desc", file, line, "rule", name)
        priority = self._priority(el, file, line, name)
        source = self._scalar(el, "source", file, line, "rule", name, required=False)
        # like Falco, a rule without 'source' is a syscall rule, also when redefining one
        source = source if source is not None else "syscall"
        if prev is not None and source != prev.data["source"]:
            raise self._fail(
                "LOAD_ERR_VALIDATE", "Rule has been re-defined with a different source", file, line, "rule", name
            )
        enabled = self._bool(el, "enabled", file, line, "rule", name)
        data = {
            "condition": cond,
            "output": str(output).strip(),
            "desc": desc,
            "priority": priority,
            "source": source,
            "enabled": True if enabled is None else enabled,
            "tags": self._tags(el, file, line, name),
            "exceptions": self._read_exceptions(el, file, line, name, True),
            "warn_evttypes": self._bool(el, "warn_evttypes", file, line, "rule", name) is not False,
            "skip-if-unknown-filter": bool(self._bool(el, "skip-if-unknown-filter", file, line, "rule", name)),
        }
        self._define(self.rules, "rule", name, data, file, line)

    def _priority(self, el: dict[str, Any], file: str, line: int | None, name: str) -> int:
        text = self._scalar(el, "priority", file, line, "rule", name)
        assert text is not None
        p = parse_priority(text)
        if p is None:
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Invalid priority", file, line, "rule", name)
        return p

    def _tags(self, el: dict[str, Any], file: str, line: int | None, name: str) -> frozenset[str]:
        if "tags" not in el:
            return frozenset()
        tags = el["tags"]
        # like decode_seq in rule_loader_reader.cpp: a present 'tags:' must be a sequence
        # (an empty 'tags:' is a null node, not a sequence) of scalars
        if not isinstance(tags, list):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "Value is not a sequence", file, line, "rule", name)
        if not all(isinstance(t, str) for t in tags):
            raise self._fail("LOAD_ERR_YAML_VALIDATE", "sequence value is not scalar", file, line, "rule", name)
        return frozenset(tags)

    def _merge_exceptions(self, prev: _Item, new: list[dict[str, Any]], file: str, line: int | None) -> None:
        # rule_loader_reader.cpp warns when an appended exception has no 'values' key;
        # rule_loader_collector.cpp then only lets an existing exception gain values, and
        # requires fields and non-empty values of a new one
        existing = {e["name"]: e for e in prev.data["exceptions"]}
        for ex in new:
            if not ex.get("has_values", bool(ex["values"])):
                self._warn(
                    "LOAD_APPEND_NO_VALUES",
                    "Overriding/appending exception with no values",
                    None,
                    file,
                    line,
                    "exception",
                    ex["name"],
                )
            old = existing.get(ex["name"])
            if old is not None:
                for key in ("fields", "comps"):
                    if ex[key] is not None:
                        raise self._fail(
                            "LOAD_ERR_VALIDATE",
                            f"Can not append exception {key} to existing exception, only values",
                            file,
                            line,
                            "exception",
                            ex["name"],
                        )
                old["values"] = old["values"] + ex["values"]
            else:
                if ex["fields"] is None:
                    raise self._fail(
                        "LOAD_ERR_VALIDATE",
                        "Rule exception must have fields property with a list of fields",
                        file,
                        line,
                        "exception",
                        ex["name"],
                    )
                if not ex["values"]:
                    raise self._fail(
                        "LOAD_ERR_VALIDATE",
                        "Rule exception must have values property with a list of values",
                        file,
                        line,
                        "exception",
                        ex["name"],
                    )
                prev.data["exceptions"].append(ex)
                existing[ex["name"]] = ex

    # -- compiling -------------------------------------------------------------------------
    def _expanded_lists(self) -> list[tuple[str, list[str]]]:
        # An item naming a list defined before this list's last change is replaced by that
        # list's own items, one level deep (deeper names are left to the text substitution).
        out: list[tuple[str, list[str]]] = []
        for li in sorted(self.lists.values(), key=lambda i: i.index):
            items: list[str] = []
            for it in li.data["items"]:
                ref = self.lists.get(it)
                if ref is not None and ref.index < li.visibility:
                    self._used_lists.add(it)
                    items.extend(ref.data["items"])
                else:
                    items.append(it)
            out.append((li.name, items))
        return out

    def _subst(self, text: str, lists: list[tuple[str, list[str]]]) -> str:
        for name, items in lists:
            if name in text:
                new = substitute_list(text, name, items)
                if new != text:
                    self._used_lists.add(name)
                    text = new
        return text

    def _parse(self, text: str) -> Node:
        r = self._parse_cache.get(text)
        if r is None:
            try:
                r = parse(text)
            except ParseError as e:
                r = e
            self._parse_cache[text] = r
        if isinstance(r, ParseError):
            raise r
        return r

    def _compile(self, file: str) -> None:
        self._used_macros = set()
        self._used_lists = set()
        lists = self._expanded_lists()
        macros = sorted(self.macros.values(), key=lambda i: i.index)
        parsed: dict[str, Node] = {}
        for m in macros:
            text = self._subst(m.data["condition"], lists)
            try:
                parsed[m.name] = self._parse(text)
            except ParseError as e:
                raise self._fail("LOAD_ERR_COMPILE_CONDITION", str(e), file, m.line, "macro", m.name) from e
        # Like Falco, macros are resolved in definition order and in place: a macro sees the
        # macros first defined before its last change; one already resolved is substituted
        # as is, one not yet resolved is expanded with the visibility of the macro at hand.
        done: set[str] = set()
        for m in macros:

            def visible(ref: str, m: _Item = m) -> bool:
                other = self.macros.get(ref)
                return other is not None and other.index < m.visibility

            try:
                parsed[m.name] = self._resolve(parsed[m.name], visible, parsed, done, ())
            except _Undefined as u:
                raise self._fail(
                    "LOAD_ERR_VALIDATE", f"Undefined macro '{u.name}' used in filter.", file, m.line, "macro", m.name
                ) from None
            except _Loop as lp:
                raise self._fail(
                    "LOAD_ERR_VALIDATE", f"reference loop in macro '{lp.name}'", file, m.line, "macro", m.name
                ) from None
            done.add(m.name)

        def rule_lookup(ref: str) -> Node | None:
            return parsed.get(ref)

        compiled: list[CompiledRule] = []
        for r in sorted(self.rules.values(), key=lambda i: i.index):
            cr = self._compile_rule(r, lists, rule_lookup, file)
            if cr is not None:
                compiled.append(cr)
        self.compiled = compiled
        self._unused_warnings()

    def _resolve(
        self,
        node: Node,
        visible: Any,
        asts: dict[str, Node],
        done: set[str],
        stack: tuple[str, ...],
    ) -> Node:
        if isinstance(node, MacroRef):
            name = node.name
            if not visible(name):
                raise _Undefined(name)
            if name in stack:
                raise _Loop(name)
            self._used_macros.add(name)
            if name in done:
                return asts[name]
            return self._resolve(asts[name], visible, asts, done, (*stack, name))
        if isinstance(node, Not):
            return Not(self._resolve(node.child, visible, asts, done, stack))
        if isinstance(node, And):
            return And(tuple(self._resolve(c, visible, asts, done, stack) for c in node.children))
        if isinstance(node, Or):
            return Or(tuple(self._resolve(c, visible, asts, done, stack) for c in node.children))
        return node

    def _expand(self, node: Node, lookup: Any) -> Node:
        if isinstance(node, MacroRef):
            sub = lookup(node.name)
            if sub is None:
                raise _Undefined(node.name)
            self._used_macros.add(node.name)
            return sub  # type: ignore[no-any-return]
        if isinstance(node, Not):
            return Not(self._expand(node.child, lookup))
        if isinstance(node, And):
            return And(tuple(self._expand(c, lookup) for c in node.children))
        if isinstance(node, Or):
            return Or(tuple(self._expand(c, lookup) for c in node.children))
        return node

    def _exception_text(self, r: _Item, schema: Schema, file: str) -> str:
        """The rule condition with its exceptions appended as text, the way Falco renders them."""
        cond = f"({r.data['condition']})"
        for ex in r.data["exceptions"]:
            ename = ex["name"]
            fields = ex["fields"]
            comps = ex["comps"]
            values = ex["values"]
            icond = ""
            if isinstance(fields, str):
                comp = comps if isinstance(comps, str) else "in"
                if comp not in LIST_OPS and not _is_modifier_comp(comp):
                    raise self._fail(
                        "LOAD_ERR_VALIDATE",
                        f"'{comp}' is not a supported comparison operator for a single field exception",
                        file,
                        r.line,
                        "exception",
                        ename,
                    )
                self._check_exception_field(fields, schema, file, r, ename)
                for v in values:
                    if not isinstance(v, str):
                        raise self._fail(
                            "LOAD_ERR_VALIDATE",
                            "Expected values array to contain a list of strings",
                            file,
                            r.line,
                            "exception",
                            ename,
                        )
                    icond += f"({fields} {comp} (" if not icond else ", "
                    icond += _quote_value(v)
                icond += "))" if icond else ""
            else:
                if not isinstance(fields, list):
                    raise self._fail(
                        "LOAD_ERR_VALIDATE",
                        "Rule exception fields must be a string or a sequence",
                        file,
                        r.line,
                        "exception",
                        ename,
                    )
                if comps is None:
                    comps = ["="] * len(fields)
                if not isinstance(comps, list):
                    raise self._fail(
                        "LOAD_ERR_VALIDATE", "Rule exception comps must be a sequence", file, r.line, "exception", ename
                    )
                if len(comps) != len(fields):
                    raise self._fail(
                        "LOAD_ERR_VALIDATE",
                        "Fields and comps lists must have equal length",
                        file,
                        r.line,
                        "exception",
                        ename,
                    )
                for c in comps:
                    if not isinstance(c, str) or (c not in _EXCEPTION_COMPS and not _is_modifier_comp(c)):
                        raise self._fail(
                            "LOAD_ERR_VALIDATE",
                            f"'{c}' is not a supported comparison operator",
                            file,
                            r.line,
                            "exception",
                            ename,
                        )
                for f in fields:
                    self._check_exception_field(f, schema, file, r, ename)
                icond = "("
                for tup in values:
                    if not isinstance(tup, list) or len(tup) != len(fields):
                        raise self._fail(
                            "LOAD_ERR_VALIDATE",
                            "Fields and values lists must have equal length",
                            file,
                            r.line,
                            "exception",
                            ename,
                        )
                    icond += "" if icond == "(" else " or "
                    icond += "("
                    for k, (f, c, v) in enumerate(zip(fields, comps, tup, strict=True)):
                        icond += "" if k == 0 else " and "
                        if isinstance(v, list):
                            istr = "(" + ", ".join(_quote_value(x) for x in v if isinstance(x, str)) + ")"
                        elif c in LIST_OPS or _is_modifier_comp(c):
                            istr = v if v.startswith("(") else f"({v})"
                        else:
                            istr = _quote_value(v)
                        icond += f" {f} {c} {istr}"
                    icond += ")"
                icond += ")"
                if icond == "()":
                    icond = ""
            if icond:
                cond += " and not " + icond
        return cond

    def _check_exception_field(self, f: Any, schema: Schema, file: str, r: _Item, ename: str) -> None:
        if not isinstance(f, str):
            raise self._fail(
                "LOAD_ERR_VALIDATE", "Rule exception fields must be strings", file, r.line, "exception", ename
            )
        name = f.split("[", 1)[0]
        if not schema.lax and not schema.knows(name):
            raise self._fail(
                "LOAD_ERR_VALIDATE", f"'{f}' is not a supported filter field", file, r.line, "exception", ename
            )

    def _compile_rule(
        self, r: _Item, lists: list[tuple[str, list[str]]], lookup: Any, file: str
    ) -> CompiledRule | None:
        d = r.data
        schema = self.schemas.get(d["source"])
        if schema is None:
            self._warn("LOAD_UNKNOWN_SOURCE", f"Unknown source {d['source']}, skipping", r)
            return None
        text = self._exception_text(r, schema, file) if d["exceptions"] else d["condition"]
        # Falco validates the output before compiling the condition
        try:
            fmt = OutputFormat(d["output"], schema)
        except OutputError as e:
            if d.get("skip-if-unknown-filter") and "unknown filter" in str(e):
                self._warn("LOAD_UNKNOWN_FILTER", str(e), r)
                return None
            raise self._fail("LOAD_ERR_COMPILE_OUTPUT", str(e), file, r.line, "rule", r.name) from e
        for w in fmt.warnings:
            self._warn("LOAD_DEPRECATED_ITEM", w, r)
        text = self._subst(text, lists)
        try:
            ast = self._parse(text)
        except ParseError as e:
            raise self._fail("LOAD_ERR_COMPILE_CONDITION", str(e), file, r.line, "rule", r.name) from e
        try:
            ast = self._expand(ast, lookup)
        except _Undefined as u:
            raise self._fail(
                "LOAD_ERR_VALIDATE", f"Undefined macro '{u.name}' used in filter.", file, r.line, "rule", r.name
            ) from None
        key = (schema.source, ast)
        pred = self._pred_cache.get(key)
        if pred is None:
            comp = Compiler(schema)
            try:
                pred = comp.compile(ast)
            except CompileError as e:
                if d.get("skip-if-unknown-filter") and (
                    "nonexistent field" in str(e) or "unknown event type" in str(e)
                ):
                    self._warn("LOAD_UNKNOWN_FILTER", str(e), r)
                    return None
                raise self._fail("LOAD_ERR_COMPILE_CONDITION", str(e), file, r.line, "rule", r.name) from e
            for w in comp.warnings:
                self._warn("LOAD_COMPILE_CONDITION", w, r)
            for w in comp.deprecations:
                self._warn("LOAD_DEPRECATED_ITEM", w, r)
            self._pred_cache[key] = pred
            self._na_warnings(ast, r)
        from stockade.engines.falco.fields import DISPATCH_FIELDS

        dispatch = tuple(required_values(ast, f) for f in DISPATCH_FIELDS.get(schema.source, ()))
        if schema.source == "syscall" and not schema.lax and d.get("warn_evttypes", True) and _too_many_evttypes(ast):
            self._warn(
                "LOAD_NO_EVTTYPE",
                "Rule matches too many evt.type values. This has a significant performance penalty.",
                r,
            )
        return CompiledRule(
            name=r.name,
            desc=d["desc"],
            priority=d["priority"],
            source=d["source"],
            tags=tuple(sorted(d["tags"])),
            enabled=bool(d["enabled"]),
            condition=text,
            predicate=pred,
            output=fmt,
            index=r.index,
            dispatch=dispatch,
            file=r.file,
            line=r.line,
        )

    def _na_warnings(self, ast: Node, r: _Item) -> None:
        from stockade.engines.falco.ast import FieldRef, ListValue, Literal

        for n in walk(ast):
            if not isinstance(n, Check) or not isinstance(n.lhs, FieldRef):
                continue
            if not n.lhs.name.startswith(("ka.", "jevt.")) or n.op not in (
                "=",
                "==",
                "!=",
                "in",
                "intersects",
                "pmatch",
            ):
                continue
            vals = n.rhs.items if isinstance(n.rhs, ListValue) else (n.rhs,) if isinstance(n.rhs, Literal) else ()
            if any(isinstance(v, Literal) and v.text == "<NA>" for v in vals):
                self._warn(
                    "LOAD_UNSAFE_NA_CHECK",
                    "This rule contains a comparison with '<NA>' which is unsafe; use 'exists' instead",
                    r,
                )


class _Loop(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Undefined(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _as_text(v: Any) -> Any:
    """Scalars as yaml-cpp keeps them (text), for items built by code or a typed YAML loader."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return [_as_text(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _as_text(x) for k, x in v.items()}
    return v


def _is_modifier_comp(c: Any) -> bool:
    return isinstance(c, str) and re.fullmatch(r"\S+ (oneof|anyof|allof)", c) is not None


def _quote_value(v: str) -> str:
    if " " in v and v[:1] not in ("'", '"'):
        return f'"{v}"'
    return v


def _evttypes(node: Node) -> frozenset[str]:
    """The syscall event types a condition can match (like libsinsp's ppm_event_codes)."""
    from stockade.engines.falco.ast import FieldRef, ListValue, Literal
    from stockade.engines.falco.evttypes import SYSCALL_EVENT_TYPES

    if isinstance(node, Check):
        if isinstance(node.lhs, FieldRef) and node.lhs.name == "evt.type" and node.modifier is None:
            vals = (
                frozenset(i.text for i in node.rhs.items)
                if isinstance(node.rhs, ListValue)
                else frozenset((node.rhs.text,))
                if isinstance(node.rhs, Literal)
                else None
            )
            if vals is not None:
                if node.op in ("=", "==", "in", "intersects"):
                    return vals & SYSCALL_EVENT_TYPES
                if node.op == "!=":
                    return SYSCALL_EVENT_TYPES - vals
        return SYSCALL_EVENT_TYPES
    if isinstance(node, And):
        acc = SYSCALL_EVENT_TYPES
        for c in node.children:
            acc = acc & _evttypes(c)
        return acc
    if isinstance(node, Or):
        out: frozenset[str] = frozenset()
        for c in node.children:
            out = out | _evttypes(c)
        return out
    if isinstance(node, Not):
        inner = node.child
        # only a negated event-type check restricts anything; any other negation may match all
        if isinstance(inner, Check) and isinstance(inner.lhs, FieldRef) and inner.lhs.name == "evt.type":
            return SYSCALL_EVENT_TYPES - _evttypes(inner)
        return SYSCALL_EVENT_TYPES
    return SYSCALL_EVENT_TYPES


def _too_many_evttypes(ast: Node) -> bool:
    n = len(_evttypes(ast))
    return n == 0 or n > 100


def required_values(node: Node, fld: str) -> frozenset[str] | None:
    """Values ``fld`` must have for ``node`` to be true (``None``: any value may match).

    Used to index rules: ``evt.type in (open, openat) and ...`` can only match open/openat.
    """
    from stockade.engines.falco.ast import FieldRef, ListValue, Literal

    if isinstance(node, Check):
        if isinstance(node.lhs, FieldRef) and node.lhs.name == fld and node.lhs.arg is None and node.modifier is None:
            if node.op in ("=", "==") and isinstance(node.rhs, Literal):
                return frozenset((node.rhs.text,))
            if node.op in ("in", "intersects") and isinstance(node.rhs, ListValue):
                return frozenset(i.text for i in node.rhs.items)
        return None
    if isinstance(node, And):
        acc: frozenset[str] | None = None
        for c in node.children:
            v = required_values(c, fld)
            if v is not None:
                acc = v if acc is None else acc & v
        return acc
    if isinstance(node, Or):
        out: set[str] = set()
        for c in node.children:
            v = required_values(c, fld)
            if v is None:
                return None
            out |= v
        return frozenset(out)
    return None
