"""The check registry: each check is declared once, as a :class:`CheckSpec` next to its logic.

A check is a function that receives the :class:`ScanContext` and yields findings::

    SPEC = CheckSpec(id="workload.image-latest-tag", ...)

    @register(SPEC)
    def check(ctx: ScanContext) -> Iterator[Finding]:
        for pod in ctx.pod_specs():
            ...
            yield ctx.finding(SPEC, pod.obj, path, "image uses the latest tag", detail=...)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stockade.model import CheckSpec, Finding, Location

if TYPE_CHECKING:
    from stockade.config import Config
    from stockade.loading.objects import Inventory, K8sObject
    from stockade.loading.podspecs import PodSpecRef

CheckFn = Callable[["ScanContext"], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """A check's declaration and the function that produces its findings.

    Several specs may share one function (one engine pass yields findings for each); they are
    declared in the same module, and the function runs once when any of them is selected.
    """

    spec: CheckSpec
    group: str
    """The module that declares it: checks of one group share their functions."""

    def run(self, ctx: ScanContext) -> Iterator[Finding]:
        """Every finding of this check's group (the specs declared with it included)."""
        for fn in _RUNNERS.get(self.group, ()):
            yield from fn(ctx)


_REGISTRY: dict[str, RegisteredCheck] = {}
_RUNNERS: dict[str, list[CheckFn]] = {}


def _caller_module(depth: int = 2) -> str:
    return str(sys._getframe(depth).f_globals.get("__name__", "?"))


def _add(spec: CheckSpec, group: str) -> None:
    if spec.id in _REGISTRY:
        raise RuntimeError(f"check id {spec.id!r} registered twice")
    _REGISTRY[spec.id] = RegisteredCheck(spec, group)


def register(spec: CheckSpec) -> Callable[[CheckFn], CheckFn]:
    """Decorator that registers a check; a duplicate id is a programming error."""
    group = _caller_module()

    def deco(fn: CheckFn) -> CheckFn:
        _add(spec, group)
        _RUNNERS.setdefault(group, []).append(fn)
        return fn

    return deco


def declare(spec: CheckSpec) -> CheckSpec:
    """Register a spec whose findings come from a ``@register``-ed function of the same module."""
    _add(spec, _caller_module())
    return spec


def all_checks() -> list[RegisteredCheck]:
    """Every registered check, sorted by id (imports every area first)."""
    import stockade.checks  # noqa: F401  (registers every area)

    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def runners(checks: Iterable[RegisteredCheck]) -> list[tuple[str, CheckFn]]:
    """The functions to call for these checks, each once, with the group it belongs to."""
    out: list[tuple[str, CheckFn]] = []
    seen: set[str] = set()
    for c in checks:
        if c.group not in seen:
            seen.add(c.group)
            out.extend((c.group, fn) for fn in _RUNNERS.get(c.group, ()))
    return out


def get(check_id: str) -> CheckSpec | None:
    """The spec of a check id, if registered."""
    import stockade.checks  # noqa: F401

    entry = _REGISTRY.get(check_id)
    return entry.spec if entry else None


class ScanContext:
    """What a check sees: the inventory, the configuration, and helpers to build findings."""

    def __init__(self, inventory: Inventory, config: Config) -> None:
        self.inventory = inventory
        self.config = config
        self._pod_specs: list[PodSpecRef] | None = None
        self.cache: dict[str, Any] = {}
        """Per-scan memo for engines shared by several checks (e.g. the RBAC authorizer)."""

    def pod_specs(self) -> list[PodSpecRef]:
        """Every pod spec in the inventory: pods, workload templates and ML custom resources."""
        if self._pod_specs is None:
            from stockade.loading.podspecs import find_pod_specs

            self._pod_specs = [ps for obj in self.inventory for ps in find_pod_specs(obj)]
        return self._pod_specs

    def finding(
        self,
        spec: CheckSpec,
        obj: K8sObject,
        path: str,
        message: str,
        detail: str = "",
        evidence: Iterable[tuple[str, Any]] = (),
    ) -> Finding:
        """A finding on ``obj`` at field ``path``, located at that field's line."""
        return Finding(
            check_id=spec.id,
            severity=self.config.severity_overrides.get(spec.id, spec.severity),
            subject=obj.ref,
            location=Location(obj.location.file, obj.line_of(path)),
            path=path,
            message=message,
            detail=detail,
            evidence=tuple(evidence),
            object_line=obj.location.line,
        )


def iter_specs() -> Iterator[CheckSpec]:
    """Every registered spec, sorted by id."""
    for entry in all_checks():
        yield entry.spec
