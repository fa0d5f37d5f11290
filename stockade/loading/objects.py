"""A Kubernetes object as read from an input, and the inventory that indexes them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stockade.model import Location, ObjectRef


@dataclass(frozen=True, slots=True, eq=False)
class SourceDoc:
    """The text of the YAML document an object came from, kept to find field lines lazily."""

    file: str
    start_line: int
    """1-based line of the document's first line in ``file``."""
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class K8sObject:
    """One object with its raw body (what the API server would store) and where it came from."""

    ref: ObjectRef
    body: Mapping[str, Any]
    location: Location
    source: SourceDoc | None = None
    list_path: str = ""
    """Field path prefix when the object came out of a ``kind: List`` (``items[3]``)."""

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def namespace(self) -> str | None:
        return self.ref.namespace

    @property
    def api_group(self) -> str:
        """The API group ("" for the core group)."""
        av = self.ref.api_version
        return av.split("/", 1)[0] if "/" in av else ""

    @property
    def metadata(self) -> Mapping[str, Any]:
        md = self.body.get("metadata")
        return md if isinstance(md, Mapping) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def annotations(self) -> Mapping[str, str]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, Mapping) else {}

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    def line_of(self, path: str) -> int | None:
        """Best line for a field path: the deepest existing node on it, else the object's line."""
        if self.source is None:
            return self.location.line
        from stockade.loading.yamlsource import locate  # lazy: only reports with findings need it

        full = f"{self.list_path}.{path}" if self.list_path and path else (self.list_path or path)
        return locate(self.source, full) or self.location.line


def _kind_index() -> defaultdict[str, list[K8sObject]]:
    return defaultdict(list)


@dataclass(slots=True)
class Inventory:
    """Objects indexed by kind, namespace and name."""

    objects: list[K8sObject] = field(default_factory=list)
    _by_kind: defaultdict[str, list[K8sObject]] = field(default_factory=_kind_index)
    _by_key: dict[tuple[str, str | None, str], K8sObject] = field(default_factory=dict)

    @classmethod
    def of(cls, objects: Iterable[K8sObject]) -> Inventory:
        inv = cls()
        for obj in objects:
            inv.add(obj)
        return inv

    def add(self, obj: K8sObject) -> None:
        self.objects.append(obj)
        self._by_kind[obj.kind].append(obj)
        self._by_key.setdefault((obj.kind, obj.namespace or None, obj.name), obj)  # the first one wins

    def __iter__(self) -> Iterator[K8sObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def kinds(self, *kinds: str) -> list[K8sObject]:
        """Objects of any of the given kinds, in input order."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], ()))
        wanted = set(kinds)
        return [o for o in self.objects if o.kind in wanted]

    def get(self, kind: str, name: str, namespace: str | None = None) -> K8sObject | None:
        """The object with that kind, name and namespace, if present."""
        return self._by_key.get((kind, namespace or None, name))

    def namespaces(self) -> dict[str, K8sObject]:
        """Namespace objects by name."""
        return {o.name: o for o in self._by_kind.get("Namespace", ())}
