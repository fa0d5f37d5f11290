"""Read inputs (files, directories, standard input, kustomize directories) into objects.

Nothing is dropped silently: an input that cannot be read becomes an :class:`InputFailure`,
a document that is not a Kubernetes object becomes a :class:`Skipped`, and everything else is
still loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.loading.objects import Inventory, K8sObject, SourceDoc
from stockade.loading.validate import validate_object
from stockade.loading.yamlsource import (
    RawDoc,
    SplitList,
    YamlDocError,
    elide_crd_schema_text,
    parse_document,
    split_documents,
    split_list_items,
)
from stockade.model import InputFailure, Location, ObjectRef, Skipped

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_FILE_BYTES = 64 * 1024 * 1024
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv"})
# A line that is not blank, a comment, a bare document marker (perhaps commented) or a directive.
_CONTENT_LINE = re.compile(r"^(?![ \t]*(?:#|$)|---(?:[ \t]+#.*)?[ \t]*$|%)", re.MULTILINE)
_BUILD_INPUT_KINDS = frozenset({"Kustomization", "Component"})
_SCALAR_NAMES: dict[type, str] = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}


@dataclass
class LoadResult:
    """Everything read from the inputs."""

    inventory: Inventory = field(default_factory=Inventory)
    errors: list[InputFailure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0


def load_paths(
    paths: Iterable[str], *, render_kustomize: bool = True, stdin: Any = None, jobs: int | None = None
) -> LoadResult:
    """Load every object from files, directories (recursively) and ``-`` (standard input).

    ``jobs`` processes parse large directories (default: the CPUs, at most 4; 1 parses here)."""
    result = LoadResult()
    for raw in paths:
        if raw == "-":
            stream = stdin if stdin is not None else sys.stdin
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
            _load_bytes(result, "-", data if isinstance(data, bytes) else data.encode())
            continue
        path = Path(raw)
        if path.is_dir():
            _load_dir(result, path, render_kustomize, jobs)
        elif path.exists():
            _load_file(result, path)  # a regular file, or a pipe such as bash's <(helm template ...)
        else:
            result.errors.append(InputFailure(Location(raw), "no such file or directory"))
    return result


def _load_dir(result: LoadResult, root: Path, render_kustomize: bool, jobs: int | None) -> None:
    kubectl = shutil.which("kubectl") if render_kustomize else None
    walk: list[tuple[Path, list[str]]] = []

    def unreadable(e: OSError) -> None:
        # os.walk skips a directory it cannot list; an unscanned directory must fail the gate.
        result.errors.append(InputFailure(Location(e.filename or str(root)), f"cannot read directory: {e.strerror}"))

    # Symlinked directories are followed (manifests shared between repositories often are), each real
    # directory once, which also ends symlink loops.
    seen: set[str] = set()
    real_of = {str(root): os.path.realpath(root)}  # real paths, resolved only at symlinks (realpath is slow)
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        real = real_of.pop(dirpath, None) or os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for d in dirnames:
            child = os.path.join(dirpath, d)
            real_of[child] = os.path.realpath(child) if os.path.islink(child) else os.path.join(real, d)
        here = Path(dirpath)
        if "Chart.yaml" in filenames and "templates" in dirnames:
            dirnames.remove("templates")
            result.notes.append(
                f"{here}: Helm chart templates not scanned; render them with `helm template` and scan the output"
            )
        walk.append((here, sorted(filenames)))
    kdirs = [here for here, names in walk if any(f in names for f in KUSTOMIZATION_FILES)]
    rendered: dict[Path, bytes] = {}
    if kubectl:
        rendered = _render_all(result, kdirs, kubectl)
    elif render_kustomize:
        result.notes.extend(
            f"{d}: kustomization not rendered (kubectl not found); its files were scanned one by one" for d in kdirs
        )
    files: list[Path] = []
    covered = sorted(rendered)
    for here, names in walk:
        if here in rendered:
            files.append(here)  # placeholder: the rendered output goes where the directory was
        elif not any(_is_under(here, top) for top in covered):
            files.extend(here / name for name in names if name.endswith(MANIFEST_SUFFIXES))
    _load_files(result, files, rendered, jobs)


def _is_under(path: Path, top: Path) -> bool:
    return path != top and top in path.parents


def _render_all(result: LoadResult, kdirs: list[Path], kubectl: str) -> dict[Path, bytes]:
    """Render the top-most kustomizations, in parallel; where one fails, try the ones below it."""
    import concurrent.futures

    pending = set(kdirs)
    rendered: dict[Path, bytes] = {}
    frontier = [d for d in kdirs if not any(_is_under(d, other) for other in kdirs)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        while frontier:
            outcomes = list(pool.map(lambda d: (d, _run_kustomize(d, kubectl)), frontier))
            pending.difference_update(frontier)
            failed: list[Path] = []
            for directory, (output, problem) in outcomes:
                if output is not None:
                    rendered[directory] = output
                else:
                    # Often a remote base this offline machine cannot fetch: scanning the files still helps.
                    result.notes.append(
                        f"{directory}: kubectl kustomize failed ({problem}); its files were scanned one by one"
                    )
                    failed.append(directory)
            below = [d for d in pending if any(_is_under(d, f) for f in failed)]
            frontier = sorted(d for d in below if not any(_is_under(d, other) for other in below))
    return rendered


def _run_kustomize(directory: Path, kubectl: str) -> tuple[bytes | None, str]:
    try:
        proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if proc.returncode != 0:
        return None, " ".join(proc.stderr.decode("utf-8", "replace").split())[:300]
    return proc.stdout, ""


PARALLEL_MIN_BYTES = 8 * 1024 * 1024
"""Below this much input a second process costs more than it saves."""


def _load_files(
    result: LoadResult, files: list[Path], rendered: dict[Path, bytes] | None = None, jobs: int | None = None
) -> None:
    """Load files (and rendered kustomize output, listed by its directory), in several processes
    when there is enough input to gain from it; results are merged in input order."""
    rendered = rendered or {}
    plain = [f for f in files if f not in rendered]
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    total = 0
    for f in plain:
        with contextlib.suppress(OSError):
            total += f.stat().st_size
    parts: dict[str, LoadResult] = {}
    if workers < 2 or total < PARALLEL_MIN_BYTES or len(plain) < 2 * workers:
        if not rendered:
            for f in files:
                _load_file(result, f)
            return
        for name, sub in _load_chunk([str(f) for f in plain]):
            parts[name] = sub
    else:
        import concurrent.futures
        import multiprocessing

        # Interleave by size so each process gets a similar share of the bytes.
        ordered = sorted(plain, key=lambda f: f.stat().st_size if f.exists() else 0, reverse=True)
        chunks = [[str(f) for f in ordered[i :: workers * 4]] for i in range(workers * 4)]
        ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for part in pool.map(_load_chunk, chunks):
                parts.update(part)
    for f in files:
        if f in rendered:
            _load_bytes(result, f"{f}/ (kustomize build)", rendered[f])
            continue
        sub = parts[str(f)]
        result.files += sub.files
        result.errors.extend(sub.errors)
        result.skipped.extend(sub.skipped)
        result.notes.extend(sub.notes)
        for obj in sub.inventory.objects:
            result.inventory.add(obj)


def _load_chunk(paths: list[str]) -> list[tuple[str, LoadResult]]:
    out = []
    for p in paths:
        sub = LoadResult(inventory=Inventory())
        _load_file(sub, Path(p))
        out.append((p, sub))
    return out


def _load_file(result: LoadResult, path: Path) -> None:
    name = str(path)
    if name == "-":
        name = "./-"  # a file named "-", not standard input: say so in every report
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            result.errors.append(InputFailure(Location(name), f"file is {size / 1048576:.0f} MiB, over the limit"))
            return
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # bounded: a pipe reports no size
        if len(data) > MAX_FILE_BYTES:
            result.errors.append(InputFailure(Location(name), "input is over the 64 MiB limit"))
            return
    except OSError as e:
        result.errors.append(InputFailure(Location(name), f"cannot read: {e.strerror}"))
        return
    _load_bytes(result, name, data)


def _load_bytes(result: LoadResult, name: str, data: bytes) -> None:
    result.files += 1
    if b"\x00" in data[:8192]:
        result.errors.append(InputFailure(Location(name), "binary file, not YAML or JSON"))
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        result.errors.append(InputFailure(Location(name, line), "not valid UTF-8 text"))
        return
    stripped = text.lstrip()
    if name.endswith(".json") or (name == "-" and stripped[:1] in ("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            if name.endswith(".json"):
                result.errors.append(InputFailure(Location(name, e.lineno), f"invalid JSON: {e.msg}"))
                return
        else:
            _add_document(result, doc, RawDoc(1, text), name)
            return
    for raw in split_documents(text):
        if len(raw.text) > STREAM_LIST_BYTES:
            split = split_list_items(raw)
            if split is not None:
                _add_split_list(result, split, name)
                continue
        # Keep the blanked text: it is what locations are computed on, and far smaller.
        raw = RawDoc(raw.start_line, elide_crd_schema_text(raw.text))
        try:
            doc = parse_document(raw, elide_crd_schema=False)
        except YamlDocError as e:
            line = raw.start_line + e.line - 1 if e.line else raw.start_line
            result.errors.append(InputFailure(Location(name, line), e.message))
            continue
        _add_document(result, doc, raw, name)


STREAM_LIST_BYTES = 1024 * 1024
"""Lists larger than this are parsed item by item (cluster dumps)."""


def _add_split_list(result: LoadResult, split: SplitList, name: str) -> None:
    try:
        header = parse_document(split.header)
    except YamlDocError as e:
        line = split.header.start_line + e.line - 1 if e.line else split.header.start_line
        result.errors.append(InputFailure(Location(name, line), e.message))
        return
    header = header if isinstance(header, Mapping) else {}
    item_kind = str(header.get("kind", ""))[: -len("List")]
    for raw in split.items:
        raw = RawDoc(raw.start_line, elide_crd_schema_text(raw.text))
        try:
            item = parse_document(raw, elide_crd_schema=False)
        except YamlDocError as e:
            line = raw.start_line + e.line - 1 if e.line else raw.start_line
            result.errors.append(InputFailure(Location(name, line), e.message))
            continue
        if isinstance(item, Mapping) and item_kind and "kind" not in item:
            item = {"kind": item_kind, "apiVersion": header.get("apiVersion", ""), **item}
        _add_document(result, item, raw, name)


def _add_document(result: LoadResult, doc: Any, raw: RawDoc, name: str) -> None:
    if doc is None:
        return  # an empty document (comments only) holds no object
    loc = Location(name, _first_content_line(raw))
    if not isinstance(doc, Mapping):
        what = "a list" if isinstance(doc, list) else f"a scalar ({_SCALAR_NAMES.get(type(doc), 'a value')})"
        result.errors.append(InputFailure(loc, f"expected a Kubernetes object (a mapping), got {what}"))
        return
    source = SourceDoc(name, raw.start_line, raw.text)
    for obj_path, body in _expand_lists(doc, ""):
        _add_object(result, body, loc, source, obj_path)


def _expand_lists(doc: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """``kind: List`` and every ``*List`` kind with ``items`` expand to their items."""
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
        if items is None:
            return
        if not isinstance(items, list):
            yield prefix, doc  # reported by validation as a wrong type
            return
        item_kind = kind[: -len("List")]
        for i, item in enumerate(items):
            path = f"{prefix}items[{i}]"
            if isinstance(item, Mapping) and item_kind and "kind" not in item:
                # Typed lists (RoleList) may leave kind/apiVersion to the list.
                item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", ""), **item}
            if isinstance(item, Mapping):
                yield from _expand_lists(item, path + ".")
            else:
                yield path, item
        return
    yield prefix.rstrip("."), doc


def _add_object(result: LoadResult, body: Any, doc_loc: Location, source: SourceDoc, list_path: str) -> None:
    if not isinstance(body, Mapping):
        result.errors.append(InputFailure(doc_loc, f"{list_path}: expected an object (a mapping)"))
        return
    api_version, kind = body.get("apiVersion"), body.get("kind")
    md = body.get("metadata")
    name = md.get("name") if isinstance(md, Mapping) else None
    namespace = md.get("namespace") if isinstance(md, Mapping) else None
    ref = ObjectRef(
        kind=str(kind) if kind is not None else "",
        name=str(name if name is not None else (md.get("generateName", "") if isinstance(md, Mapping) else "")),
        namespace=str(namespace) if namespace not in (None, "") else None,
        api_version=str(api_version) if api_version is not None else "",
    )
    location = doc_loc
    if list_path:
        location = Location(doc_loc.file, _line_in(source, list_path) or doc_loc.line)
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        result.skipped.append(Skipped(ref, location, "not a Kubernetes object (no apiVersion and kind)"))
        return
    obj = K8sObject(ref, body, location, source, list_path)
    try:
        problems = validate_object(obj)
    except Exception as e:  # a shape nobody foresaw must not stop the scan
        problems = [f"cannot analyse this object ({type(e).__name__}); please report it"]
    if problems:
        result.errors.append(InputFailure(location, problems[0], ref))
        return
    if kind in _BUILD_INPUT_KINDS and "kustomize" in api_version:
        result.skipped.append(Skipped(ref, location, "kustomize build input, not a cluster object"))
        return
    result.inventory.add(obj)


def _line_in(source: SourceDoc, path: str) -> int | None:
    from stockade.loading.yamlsource import locate

    return locate(source, path)


def _first_content_line(raw: RawDoc) -> int:
    """The first line of a document that is not a marker, blank or comment."""
    m = _CONTENT_LINE.search(raw.text)
    return raw.start_line + (raw.text.count("\n", 0, m.start()) if m else 0)
