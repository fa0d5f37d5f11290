"""The ``stockade.yaml`` configuration file.

Example::

    checks:
      disable: [workload.image-not-pinned]      # never run these
      severity: {workload.default-service-account: high}
    images:
      allowed_registries: [registry.ml.example.com, ghcr.io/example]
    gpu:
      namespaces: [gpu-training, serving]     # namespaces allowed to request GPUs
      resources: [nvidia.com/gpu, amd.com/gpu]

Every other top-level mapping is an area section (``pss``, ``rbac``, ``netpol`` ...) that the
area documents; :meth:`Config.section` returns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.errors import ConfigError
from stockade.model import Severity

DEFAULT_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
CONFIG_FILE_NAMES = ("stockade.yaml", ".stockade.yaml")
AREA_SECTIONS = frozenset({"pss", "rbac", "netpol", "audit"})
"""Areas that read a section of their own (documented in docs/<area>.md)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Validated settings; the defaults are what a fresh platform should start with."""

    disabled_checks: frozenset[str] = frozenset()
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    allowed_registries: tuple[str, ...] = ()
    """Registries (optionally with a path prefix) images may come from; empty means any."""
    gpu_namespaces: tuple[str, ...] | None = None
    """Namespaces allowed to request GPUs; ``None`` means not configured (any namespace)."""
    gpu_resources: tuple[str, ...] = DEFAULT_GPU_RESOURCES
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""

    def section(self, name: str) -> Mapping[str, Any]:
        """An area's own settings (empty when absent)."""
        return self.sections.get(name, {})

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read and validate a configuration file; errors name the file and the key."""
        import yaml

        p = Path(path)
        try:
            data = yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except OSError as e:
            raise ConfigError(f"{p}: cannot read configuration: {e.strerror}") from e
        except UnicodeDecodeError:
            raise ConfigError(f"{p}: not valid UTF-8 text") from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f"{p}:{mark.line + 1}" if mark else str(p)
            raise ConfigError(f"{where}: invalid YAML: {e.problem or e.context}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: invalid YAML: {' '.join(str(e).split())}") from None
        return cls.from_mapping(data or {}, source=str(p))

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<config>") -> Config:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: the configuration must be a mapping")

        def strings(value: Any, key: str) -> tuple[str, ...]:
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of strings")
            return tuple(value)

        def mapping(value: Any, key: str) -> Mapping[str, Any]:
            if value is None:
                return {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {key} must be a mapping")
            return value

        def only(value: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
            # A misspelt setting (`disabled:`) silently doing nothing is worse than an error.
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise ConfigError(
                    f"{source}: {key}: unknown setting(s) {', '.join(unknown)} (expected: {', '.join(allowed)})"
                )
            return value

        checks = only(mapping(data.get("checks"), "checks"), "checks", ("disable", "severity"))
        overrides: dict[str, Severity] = {}
        for check_id, sev in mapping(checks.get("severity"), "checks.severity").items():
            try:
                overrides[str(check_id)] = Severity.parse(str(sev))
            except ValueError as e:
                raise ConfigError(f"{source}: checks.severity.{check_id}: {e}") from None
        images = only(mapping(data.get("images"), "images"), "images", ("allowed_registries",))
        gpu = only(mapping(data.get("gpu"), "gpu"), "gpu", ("namespaces", "resources"))
        gpu_ns = gpu.get("namespaces")
        known = {"checks", "images", "gpu"}
        unknown = sorted(str(k) for k in data if k not in known and k not in AREA_SECTIONS)
        if unknown:
            choices = ", ".join(sorted(known | AREA_SECTIONS))
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)} (expected {choices})")
        sections = {str(k): mapping(v, str(k)) for k, v in data.items() if k not in known}
        return cls(
            disabled_checks=frozenset(strings(checks.get("disable"), "checks.disable")),
            severity_overrides=overrides,
            allowed_registries=strings(images.get("allowed_registries"), "images.allowed_registries"),
            gpu_namespaces=None if gpu_ns is None else strings(gpu_ns, "gpu.namespaces"),
            gpu_resources=strings(gpu.get("resources"), "gpu.resources") or DEFAULT_GPU_RESOURCES,
            sections=sections,
            source=source,
        )
