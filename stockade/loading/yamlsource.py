"""YAML and JSON documents read with the values the API server would store.

The API server (through ``sigs.k8s.io/yaml`` over go-yaml v2) reads YAML 1.1: ``yes``/``on``/``y``
are booleans, ``0400`` is octal, ``<<`` merges apply, timestamps stay strings, and non-string keys
become strings. PyYAML's own resolver differs (no ``y``/``n``, sexagesimal ints, no ``1e3``
floats), so this module declares go-yaml's resolution rules on libyaml's C parser.

Documents are split on their ``---`` markers before parsing, so one broken document does not hide
the others and each object knows its first line. CustomResourceDefinition schemas, which are
over 90% of the bytes of a typical platform repository and which no check reads, are blanked out
before parsing (line numbers are kept).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

try:
    from yaml._yaml import CParser

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML wheels ship libyaml
    HAVE_LIBYAML = False
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from stockade.loading.objects import SourceDoc

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""Larger documents are refused: the API server takes 3 MiB a request and etcd 1.5 MiB an object."""
MAX_EXPANDED_NODES = 1_000_000
"""Alias expansion bound (billion-laughs documents)."""
MAX_DEPTH = 200


class YamlDocError(Exception):
    """A document that cannot be read; ``line`` is relative to the document text (1-based)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# --- go-yaml v2 resolution -------------------------------------------------------------------

_BOOL_TRUE = frozenset(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])
_BOOL_FALSE = frozenset(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"])
_INT = re.compile(r"^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o[0-7_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) after go-yaml removes underscores; None if not an int."""
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    if not body:
        return None
    try:
        if body[:2] in ("0x", "0X"):
            return sign * int(body[2:], 16)
        if body[:2] in ("0b", "0B"):
            return sign * int(body[2:], 2)
        if body[:2] in ("0o", "0O"):
            return sign * int(body[2:], 8)
        if len(body) > 1 and body[0] == "0":
            return sign * int(body, 8)  # leading zero: octal, as in Go
        return sign * int(body, 10)
    except ValueError:
        return None


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = _BOOL_TRUE | _BOOL_FALSE
_NUMBER_START = frozenset("-+.0123456789")


class _Resolver(BaseResolver):
    """Implicit tags exactly where go-yaml v2 gives them: YAML 1.1 booleans (``y``, ``on`` ...),
    nulls, Go integers and floats, merge keys; no timestamps and no sexagesimal numbers.

    Written as one function rather than PyYAML's regex table: it runs for every node, and most
    scalars of a manifest are words that it settles on their first character.
    """

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is MappingNode:
            return _MAP_TAG
        if kind is SequenceNode:
            return _SEQ_TAG
        if not implicit[0]:
            return _STR_TAG  # quoted: always a string
        if value in _NULLS:
            return _NULL_TAG
        first = value[0]
        if first in _NUMBER_START:
            plain = value.replace("_", "")
            if _INT.match(plain):
                return _INT_TAG
            if _FLOAT.match(plain) or value in _SPECIAL_FLOATS:
                return _FLOAT_TAG
            return _STR_TAG
        if value in _BOOLS:
            return _BOOL_TAG
        if value == "<<":
            return _MERGE_TAG
        return _STR_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers are registered: skip the per-node bookkeeping

    def ascend_resolver(self) -> None:
        pass


class _Constructor(SafeConstructor):
    """Builds JSON-compatible values the way sigs.k8s.io/yaml converts YAML to JSON."""

    def construct_yaml_bool(self, node: Node) -> bool:
        value = self.construct_scalar(node)  # type: ignore[arg-type]
        return value in _BOOL_TRUE

    def construct_yaml_int(self, node: Node) -> int | float | str:  # type: ignore[override]
        text = str(self.construct_scalar(node))  # type: ignore[arg-type]
        value = _go_int(text)
        if value is not None:
            return value
        if _FLOAT.match(text.replace("_", "")):
            return _as_number(float(text.replace("_", "")))  # "08": not octal, Go falls back to float
        return text

    def construct_yaml_float(self, node: Node) -> float | int:
        text = str(self.construct_scalar(node))  # type: ignore[arg-type]
        if text in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[text]
        return _as_number(float(text))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        # Keys become JSON strings before insertion: in Python 1 == True would merge two keys.
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                if isinstance(key, (list, dict)):
                    raise ConstructorError(None, None, "a mapping key must be a scalar", key_node.start_mark)
                key = _json_key(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_binary(self, node: Node) -> str:  # type: ignore[override]
        # go-yaml v2 decodes !!binary (Go's StdEncoding: padding required, only CR/LF skipped) into a
        # Go string; JSON then carries those bytes as text, invalid UTF-8 replaced.
        import base64
        import binascii

        text = str(self.construct_scalar(node)).replace("\r", "").replace("\n", "")  # type: ignore[arg-type]
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ConstructorError(None, None, "!!binary value contains invalid base64 data", node.start_mark) from None
        return data.decode("utf-8", "replace")

    def construct_undefined(self, node: Node) -> Any:
        # go-yaml ignores unknown local tags (e.g. "!Ref"): the value is what the node holds.
        if isinstance(node, ScalarNode):
            return self.construct_scalar(node)
        if isinstance(node, SequenceNode):
            return self.construct_sequence(node, deep=True)
        if isinstance(node, MappingNode):
            return self.construct_mapping(node, deep=True)
        raise ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)


def _as_number(value: float) -> float | int:
    # JSON numbers: an integral float is the same number the API server stores as an int.
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


_Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:binary", _Constructor.construct_yaml_binary)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)  # type: ignore[type-var]
_Constructor.add_constructor(None, _Constructor.construct_undefined)  # type: ignore[type-var]


if HAVE_LIBYAML:

    class K8sLoader(CParser, _Constructor, _Resolver):
        """libyaml's parser with go-yaml v2 value resolution."""

        def __init__(self, stream: str | bytes) -> None:
            CParser.__init__(self, stream)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

else:  # PyYAML built without libyaml: same semantics, pure Python (several times slower)
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class K8sLoader(Reader, Scanner, Parser, Composer, _Constructor, _Resolver):  # type: ignore[no-redef]
        """The pure-Python parser with go-yaml v2 value resolution."""

        def __init__(self, stream: str | bytes) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)


# --- documents --------------------------------------------------------------------------------

_CRD_KIND = re.compile(r"^kind:[ \t]*[\"']?CustomResourceDefinition[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RawDoc:
    """One document's text and the 1-based line it starts on."""

    start_line: int
    text: str


def _marker_at(text: str, pos: int) -> str | None:
    """``---`` or ``...`` when the line at ``pos`` is a document marker."""
    head = text[pos : pos + 3]
    if head == "---":
        nxt = text[pos + 3 : pos + 4]
        return "---" if nxt in ("", " ", "\t", "\r", "\n") else None
    if head == "...":
        end = text.find("\n", pos)
        return "..." if not text[pos + 3 : end if end >= 0 else len(text)].strip() else None
    return None


def _directives_only(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is only ``%YAML``/``%TAG`` directives (with blanks and comments):
    they belong to the document whose ``---`` follows, not to a document of their own."""
    if text[start] != "%" and text.find("\n%", start, end) < 0:
        return False
    return all(not ln.strip() or ln.lstrip().startswith(("#", "%")) for ln in text[start:end].split("\n"))


def split_documents(text: str) -> Iterator[RawDoc]:
    """Split a stream on ``---`` lines (the document markers of block YAML) and ``...`` ends."""
    start, start_line = 0, 1
    counted, line = 0, 1
    pos = 0
    n = len(text)
    next_dash = next_dot = -1
    while pos < n:
        if text[pos] in "-.":
            marker = _marker_at(text, pos)
            if marker is not None:
                line += text.count("\n", counted, pos)
                counted = pos
                if marker == "---":
                    if pos > start and not _directives_only(text, start, pos):
                        yield RawDoc(start_line, text[start:pos])
                        start, start_line = pos, line
                    elif pos == start:
                        start, start_line = pos, line
                else:
                    yield RawDoc(start_line, text[start:pos])
                    nl = text.find("\n", pos)
                    start, start_line = (n, line) if nl < 0 else (nl + 1, line + 1)
        # Markers only start lines: jump to the next line that starts with one of their
        # characters (each search result is reused until passed, so the scan stays linear).
        if next_dash < pos:
            next_dash = text.find("\n-", pos)
            next_dash = n if next_dash < 0 else next_dash
        if next_dot < pos:
            next_dot = text.find("\n.", pos)
            next_dot = n if next_dot < 0 else next_dot
        nxt = min(next_dash, next_dot)
        pos = nxt + 1 if nxt < n else n
    if start < n:
        yield RawDoc(start_line, text[start:])


_SCHEMA_LINE = re.compile(r"^([ \t]*)(?:- )?openAPIV3Schema:[^\n]*$", re.MULTILINE)


def _blank_crd_schemas(text: str) -> str:
    """Replace each ``openAPIV3Schema`` subtree with ``{}``, keeping the line count."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _SCHEMA_LINE.search(text, pos)
        if m is None:
            parts.append(text[pos:])
            return "".join(parts)
        indent = len(m.group(1))
        key_end = text.index("openAPIV3Schema:", m.start()) + len("openAPIV3Schema:")
        parts.append(text[pos:key_end] + " {}")
        # The subtree ends at the first later line indented no deeper than the key that is not
        # blank or a comment.
        end = re.compile(rf"\n[ ]{{0,{indent}}}(?=[^ \n#\r])").search(text, m.end())
        stop = end.start() if end else len(text)
        parts.append("\n" * text.count("\n", m.end(), stop))
        pos = stop


def _expanded_size(node: Node) -> int:
    """Nodes after alias expansion, memoised, stopping at the bound; rejects recursive aliases."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Node, depth: int) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:
            raise YamlDocError("recursive alias (an anchor that contains itself)", n.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise YamlDocError(f"nesting deeper than {MAX_DEPTH} levels", n.start_mark.line + 1)
        active.add(key)
        total = 1
        if isinstance(n, SequenceNode):
            for child in n.value:
                total += size(child, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(n, MappingNode):
            for k, v in n.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        active.discard(key)
        memo[key] = total
        return total

    return size(node, 0)


class _Builder:
    """Node graph -> JSON-compatible values, straight recursion (PyYAML's generic constructor
    with its generator protocol costs twice as much). Tags resolve exactly as in
    :class:`_Constructor`, which still handles the rare tags this does not."""

    __slots__ = ("constructor", "memo", "merges")

    def __init__(self, constructor: _Constructor, merges: bool = True) -> None:
        self.constructor = constructor
        self.memo: dict[int, Any] = {}
        self.merges = merges
        """Whether the document may hold ``<<`` merge keys (they need PyYAML's flattening)."""

    def build(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        key = id(node)
        if key in self.memo:  # an alias: the same node object again
            return self.memo[key]
        if tag == _MAP_TAG:
            out: dict[str, Any] = {}
            self.memo[key] = out
            if self.merges:
                self.constructor.flatten_mapping(node)  # type: ignore[arg-type]
            build = self.build
            for k_node, v_node in node.value:
                k = k_node.value if k_node.tag == _STR_TAG else build(k_node)
                if not isinstance(k, str):
                    if isinstance(k, (list, dict)):
                        raise ConstructorError(None, None, "a mapping key must be a scalar", k_node.start_mark)
                    k = _json_key(k)
                # Plain strings, most values, need no call (and no memo: equal either way).
                out[k] = v_node.value if v_node.tag == _STR_TAG else build(v_node)
            return out
        if tag == _SEQ_TAG:
            seq: list[Any] = []
            self.memo[key] = seq
            build = self.build
            seq.extend(c.value if c.tag == _STR_TAG else build(c) for c in node.value)
            return seq
        value = self.constructor.construct_object(node, deep=True)
        self.memo[key] = value
        return value


_LIST_KIND = re.compile(r"^kind:[ \t]*[\"']?(\w*List)[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)
_ITEMS_KEY = re.compile(r"^items:[ \t]*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SplitList:
    """A block-style ``*List`` document cut into its items, each parsed on its own."""

    header: RawDoc
    """The document without its items (``items: []``), for the list's kind and apiVersion."""
    items: list[RawDoc]
    """Each item's text, dedented, starting on the item's own line."""


def split_list_items(doc: RawDoc) -> SplitList | None:
    """Cut a large ``kubectl get -o yaml`` style List into items; None if the text is not that shape.

    A dump of a big cluster is one document of tens of megabytes; parsed whole it would take
    gigabytes of memory and break the per-document bound, parsed item by item it costs what the
    largest item costs. The items of a block sequence are the lines starting with ``- `` at the
    sequence's column; everything more indented belongs to the item above.
    """
    text = doc.text
    if not _LIST_KIND.search(text):
        return None
    m = _ITEMS_KEY.search(text)
    if m is None:
        return None
    lines = text.split("\n")
    first = text.count("\n", 0, m.start()) + 1  # index of the line after "items:"
    col = -1
    items: list[tuple[int, int]] = []  # (first line index, end line index) per item
    end = len(lines)
    for i in range(first, len(lines)):
        line = lines[i]
        body = line.lstrip(" ")
        if not body.strip() or body.startswith("#"):
            continue
        indent = len(line) - len(body)
        if col < 0:
            if not body.startswith("- "):
                return None  # flow style (items: [...]) or something else: parse it whole
            col = indent
        if indent == col and body.startswith("- "):
            if items:
                items[-1] = (items[-1][0], i)
            items.append((i, len(lines)))
        elif indent <= col and not (indent == col and body.startswith("-")):
            end = i  # the next top-level key (kubectl writes kind and metadata after the items)
            break
    if not items:
        return None
    items[-1] = (items[-1][0], end)
    cut = col + 2
    out: list[RawDoc] = []
    for start, stop in items:
        block = lines[start:stop]
        if any(line.strip() and len(line) - len(line.lstrip(" ")) < cut for line in block[1:]):
            return None  # an item line left of its content column: not the plain shape
        out.append(RawDoc(doc.start_line + start, "\n".join(line[cut:] for line in block) + "\n"))
    header_lines = [*lines[: first - 1], "items: []", *lines[end:]]
    header = RawDoc(doc.start_line, "\n".join(header_lines))
    return SplitList(header, out)


def elide_crd_schema_text(text: str) -> str:
    """A CustomResourceDefinition's text with its schemas blanked (other documents unchanged)."""
    if "openAPIV3Schema" in text and _CRD_KIND.search(text):
        return _blank_crd_schemas(text)
    return text


def parse_document(doc: RawDoc, *, elide_crd_schema: bool = True) -> Any:
    """Parse one document into JSON-compatible values; raises :class:`YamlDocError`."""
    text = doc.text
    if len(text) > MAX_DOCUMENT_BYTES:  # characters approximate bytes closely enough for a bound
        raise YamlDocError(
            f"document is {len(text) / 1048576:.1f} MiB, over the {MAX_DOCUMENT_BYTES // 1048576} MiB limit"
            " (the API server accepts at most 3 MiB a request)"
        )
    if elide_crd_schema:
        text = elide_crd_schema_text(text)
    loader = K8sLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text and "&" in text and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise YamlDocError(f"alias expansion exceeds {MAX_EXPANDED_NODES:,} nodes (a billion-laughs document?)")
        return _Builder(loader, merges="<<" in text).build(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        raise YamlDocError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise YamlDocError(f"invalid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise YamlDocError(f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


# --- locating a field path --------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]""")


def parse_path(path: str) -> list[str | int]:
    """``spec.containers[0].env[2]`` -> ``["spec", "containers", 0, "env", 2]``;
    keys with dots are written ``metadata.labels["app.kubernetes.io/name"]``."""
    out: list[str | int] = []
    for m in _PATH_TOKEN.finditer(path):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(3))
    return out


@lru_cache(maxsize=256)
def _compose(source: SourceDoc) -> Node | None:
    try:
        return yaml.compose(source.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None


@dataclass(frozen=True, slots=True)
class _LineIndex:
    lines: list[str]
    indents: list[int]
    """Indentation of each line; -1 for blank and comment lines."""
    at: dict[int, list[int]]
    """Indentation -> the content lines with it, in order."""
    blocks: dict[tuple[int, int, int, int], tuple[list[int], list[int], list[int]]] = field(default_factory=dict)
    """(start, end, col, item line) -> the block's content lines, key lines and ``-`` item lines,
    computed once: locating every item of a 20,000-item List must not rescan the list each time."""


@lru_cache(maxsize=4096)
def _line_index(source: SourceDoc) -> _LineIndex:
    lines = source.text.split("\n")
    indents = []
    at: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        body = line.lstrip(" ")
        s = body.strip()
        d = -1 if not s or s.startswith("#") or s == "---" else len(line) - len(body)
        indents.append(d)
        if d >= 0:
            at.setdefault(d, []).append(i)
    return _LineIndex(lines, indents, at)


def _is_dash(line: str, col: int) -> bool:
    return line[col : col + 1] == "-" and line[col + 1 : col + 2] in ("", " ", "\t", "\r")


_ABSENT = -1
"""The path does not exist in the text."""
_UNKNOWN = -2
"""The text has a shape the indentation walk does not understand (flow collections, quoted keys)."""


def _text_locate(source: SourceDoc, tokens: list[str | int]) -> int:
    """Follow ``tokens`` through block-style YAML by indentation alone: the line (0-based), or
    :data:`_ABSENT`, or :data:`_UNKNOWN` when the caller must parse the document instead.

    Inside a block, the keys (or ``-`` items) of one collection are exactly the content lines at
    the block's indentation, so only those lines are visited.
    """
    idx = _line_index(source)
    lines, indents = idx.lines, idx.indents
    start, end = 0, len(lines)
    while start < end and indents[start] < 0:
        start += 1
    if start == end:
        return _ABSENT
    col = indents[start]
    item_line = -1  # the "- " line of the current sequence item: its content starts at `col`

    def block() -> tuple[list[int], list[int], list[int]]:
        """Content lines of the current block at its indentation (the item line counts), and of
        those the key lines and the ``-`` item lines."""
        key = (start, end, col, item_line)
        cached = idx.blocks.get(key)
        if cached is not None:
            return cached
        row = idx.at.get(col, [])
        found = row[bisect_left(row, start) : bisect_left(row, end)]
        if item_line >= 0 and (not found or found[0] != item_line):
            found = [item_line, *found]
        keys = [i for i in found if i == item_line or not _is_dash(lines[i], col)]
        items = [i for i in found if _is_dash(lines[i], col)]
        idx.blocks[key] = (found, keys, items)
        return found, keys, items

    found = start
    last = len(tokens) - 1
    for n, token in enumerate(tokens):
        cands, keys, items = block()
        if isinstance(token, str):
            hit = -1
            rest = ""
            spellings = (token, f'"{token}"', f"'{token}'")
            for pos, i in enumerate(keys):
                body = lines[i][col:]
                for key in spellings:
                    after = body[len(key) : len(key) + 2]
                    if body.startswith(key) and after[:1] == ":" and after[1:2] in ("", " ", "\t", "\r"):
                        hit, rest = i, body[len(key) + 1 :].strip()
                        break
                if hit >= 0:
                    stop = keys[pos + 1] if pos + 1 < len(keys) else end
                    break
            if hit < 0:
                odd = any(lines[i][col : col + 1] in ('"', "'", "?", "{", "[") for i in keys)
                return _UNKNOWN if odd else _ABSENT
            found = hit
            if rest and not rest.startswith(("#", "|", ">", "&", "!")):
                if n == last:
                    return found
                return _UNKNOWN if rest[0] in "{[*" else _ABSENT  # flow collection, alias, or scalar
            nxt = hit + 1
            while nxt < stop and indents[nxt] < 0:
                nxt += 1
            if nxt >= stop:
                return found if n == last else _ABSENT
            start, end, col, item_line = nxt, stop, indents[nxt], -1
        else:
            if token >= len(items):
                return _ABSENT if items or not cands else _UNKNOWN
            found = items[token]
            stop = items[token + 1] if token + 1 < len(items) else end
            after = lines[found][col + 1 :]
            content = after.lstrip(" ")
            if content.strip() and not content.startswith("#"):
                start, end, item_line = found, stop, found
                col = col + 1 + (len(after) - len(content))
            else:
                nxt = found + 1
                while nxt < stop and indents[nxt] < 0:
                    nxt += 1
                if nxt >= stop:
                    return found if n == last else _ABSENT
                start, end, col, item_line = nxt, stop, indents[nxt], -1
    return found


def locate(source: SourceDoc, path: str) -> int | None:
    """The line of the deepest node that exists on ``path`` (None if the document has none)."""
    tokens = parse_path(path)
    while tokens:
        hit = _text_locate(source, tokens)
        if hit >= 0:
            return source.start_line + hit
        if hit == _UNKNOWN:
            return _node_locate(source, path)
        tokens = tokens[:-1]  # the field does not exist: point at its deepest parent
    return None


def _node_locate(source: SourceDoc, path: str) -> int | None:
    node = _compose(source)
    if node is None:
        return None
    line = node.start_mark.line
    for token in parse_path(path):
        nxt: Node | None = None
        if isinstance(token, int) and isinstance(node, SequenceNode):
            if token < len(node.value):
                nxt = node.value[token]
        elif isinstance(token, str) and isinstance(node, MappingNode):
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == token:
                    line = k.start_mark.line
                    nxt = v
                    break
        if nxt is None:
            break
        node = nxt
        if not isinstance(node, ScalarNode) or isinstance(token, int):
            line = node.start_mark.line if isinstance(token, int) else line
    return source.start_line + line
