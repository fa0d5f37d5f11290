"""Helpers shared by the RBAC checks: one authorizer per scan, settings, severity by blast radius.

Settings (``rbac:`` in stockade.yaml)::

    rbac:
      break_glass_groups: [platform:break-glass]   # may hold cluster-admin (default: system:masters)
      bootstrap: true                              # add the default cluster policy as context
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from stockade.checks.registry import ScanContext
from stockade.engines.rbac import Binding, Subject
from stockade.errors import ConfigError
from stockade.model import CheckSpec, Finding, Reference, Severity

if TYPE_CHECKING:
    from stockade.engines.rbac.authorizer import Authorizer

K8S_DOCS = "https://kubernetes.io/docs"
RBAC_DOC = Reference("Using RBAC Authorization", f"{K8S_DOCS}/reference/access-authn-authz/rbac/")
GOOD_PRACTICES = Reference("RBAC Good Practices", f"{K8S_DOCS}/concepts/security/rbac-good-practices/")


def doc(title: str, anchor: str) -> Reference:
    """A reference to a section of the RBAC good-practices page."""
    return Reference(title, f"{K8S_DOCS}/concepts/security/rbac-good-practices/#{anchor}")


BROAD_GROUPS = {
    "system:unauthenticated": "every anonymous request",
    "system:authenticated": "every authenticated user and service account",
    "system:serviceaccounts": "every service account of the cluster",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``rbac`` section of the configuration."""

    break_glass_groups: tuple[str, ...] = ("system:masters",)
    bootstrap: bool = True

    @classmethod
    def of(cls, section: Mapping[str, Any], source: str = "stockade.yaml") -> Settings:
        """Validate the section; errors name the key."""
        groups = section.get("break_glass_groups", ["system:masters"])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{source}: rbac.break_glass_groups must be a list of strings")
        boot = section.get("bootstrap", True)
        if not isinstance(boot, bool):
            raise ConfigError(f"{source}: rbac.bootstrap must be true or false")
        return cls(tuple(groups), boot)


def settings(ctx: ScanContext) -> Settings:
    """This scan's RBAC settings."""
    return Settings.of(ctx.config.section("rbac"), ctx.config.source or "stockade.yaml")


def has_bindings(ctx: ScanContext) -> bool:
    """Whether the inputs bind any role: findings are about bindings, so without one there is
    nothing to report (and no need to load the bootstrap policy)."""
    return bool(ctx.inventory.kinds("RoleBinding", "ClusterRoleBinding"))


def authorizer(ctx: ScanContext) -> Authorizer:
    """The scan's authorizer (inputs + bootstrap policy), built once and shared by every check."""
    from stockade.engines.rbac.authorizer import Authorizer  # only when the inputs bind roles

    cached = ctx.cache.get("rbac.authorizer")
    if isinstance(cached, Authorizer):
        return cached
    authz = Authorizer.from_objects(ctx.inventory, bootstrap=settings(ctx).bootstrap)
    ctx.cache["rbac.authorizer"] = authz
    return authz


def reportable_bindings(authz: Authorizer) -> Iterator[Binding]:
    """The input bindings (not the bootstrap policy's) that come from an object a finding can name."""
    return (b for b in authz.input_bindings() if b.source is not None and hasattr(b.source, "ref"))


def bump(sev: Severity, steps: int = 1) -> Severity:
    """A severity raised by ``steps`` (capped at critical)."""
    return Severity(min(int(Severity.CRITICAL), int(sev) + steps))


def is_broad(subject: Subject) -> bool:
    """Subjects that stand for a crowd: everyone, every SA, every SA of a namespace."""
    return subject.kind == "Group" and (
        subject.name in BROAD_GROUPS or subject.name.startswith("system:serviceaccounts:")
    )


def subjects_text(b: Binding, subjects: Iterable[Subject] | None = None) -> str:
    """``User alice, ServiceAccount ml/trainer``."""
    subs = list(b.subjects if subjects is None else subjects)
    return ", ".join(s.display(b.namespace) for s in subs) or "no subjects"


def with_severity(ctx: ScanContext, finding: Finding, spec: CheckSpec, severity: Severity) -> Finding:
    """Apply a blast-radius severity unless the configuration overrides this check's severity."""
    if spec.id in ctx.config.severity_overrides:
        return finding
    return replace(finding, severity=severity)
