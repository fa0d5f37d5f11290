"""The escalation rules the API server applies when an RBAC object is created or updated.

This is not the authorization of the ``create``/``update`` verb itself (assumed to pass); it is
the RBAC registry's extra check, in this order:

1. ``system:masters`` members may write anything.
2. Roles and ClusterRoles: the ``escalate`` verb on ``roles``/``clusterroles`` in the object's
   namespace (name "" on create, since a create request carries no name). Bindings: the ``bind``
   verb on the referenced role (``roleRef.apiGroup``, ``roles``/``clusterroles``, name
   ``roleRef.name``) in the binding's namespace. Either allows the write without further checks;
   with ``bind`` the referenced role is never even resolved.
3. An update that only changes ``ownerReferences``/``finalizers`` (or ``selfLink``/``managedFields``)
   is allowed.
4. The writer's own rules in the object's namespace ("" for cluster objects, where RoleBindings
   never count) must cover every atomic tuple of the new rules: the object's rules for a role,
   all rules of the referenced role for a binding (which must then exist).
5. A ClusterRole whose new or old object has a non-empty ``aggregationRule`` also needs the
   writer to hold ``*`` on everything and on every non-resource URL.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.engines.rbac.authorizer import Authorizer, parse_binding, parse_role
from stockade.engines.rbac.matching import FULL_AUTHORITY, uncovered
from stockade.engines.rbac.model import MASTERS, RBAC_GROUP, Attributes, PolicyRule, UserInfo
from stockade.errors import EngineError

REASONS = (
    "system:masters",
    "escalate-verb",
    "bind-verb",
    "covered",
    "escalation",
    "role-not-found",
    "aggregation-requires-full-authority",
)
"""Every reason :func:`check_escalation` may give."""


@dataclass(frozen=True, slots=True)
class EscalationResult:
    """Whether the write is allowed, the reason word (one of :data:`REASONS`), and why."""

    allowed: bool
    reason: str
    message: str
    missing: tuple[PolicyRule, ...] = ()
    """Atomic rules the writer does not hold (for ``escalation`` and the aggregation reason)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "message": self.message,
            "missing": [r.to_dict() for r in self.missing],
        }


def _gc_only_change(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    def strip(body: Mapping[str, Any]) -> Any:
        b = copy.deepcopy(dict(body))
        md = dict(b.get("metadata") or {})
        # The fields IsOnlyMutatingGCFields copies over from the old object before comparing.
        for key in ("ownerReferences", "finalizers", "selfLink", "managedFields"):
            md.pop(key, None)
        b["metadata"] = md
        return b

    return bool(strip(new) == strip(old))


def _has_aggregation(body: Mapping[str, Any] | None) -> bool:
    if not body:
        return False
    agg = body.get("aggregationRule")
    return isinstance(agg, Mapping) and bool(agg.get("clusterRoleSelectors"))


def check_escalation(
    authorizer: Authorizer,
    user: UserInfo,
    obj: Mapping[str, Any],
    verb: str = "create",
    old: Mapping[str, Any] | None = None,
) -> EscalationResult:
    """Whether ``user`` may ``verb`` (create or update) the RBAC object ``obj``, and why."""
    if verb not in ("create", "update"):
        raise EngineError(f"escalation check: verb must be create or update, not {verb!r}")
    kind = obj.get("kind")
    md = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    name = str(md.get("name") or "")
    if kind not in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        raise EngineError(f"escalation check: {kind!r} is not a Role, ClusterRole or binding")
    namespace = str(md.get("namespace") or "default") if kind in ("Role", "RoleBinding") else ""
    label = f"{kind} {namespace + '/' if namespace else ''}{name}"

    if MASTERS in user.groups:
        return EscalationResult(True, "system:masters", f"{label}: {MASTERS} may write any RBAC object")

    if kind in ("Role", "ClusterRole"):
        attrs = Attributes(
            verb="escalate",
            namespace=namespace,
            api_group=RBAC_GROUP,
            resource="roles" if kind == "Role" else "clusterroles",
            name=name if verb == "update" else "",
        )
        d = authorizer.authorize(user, attrs)
        if d.allowed:
            return EscalationResult(True, "escalate-verb", f"{label}: the writer holds {attrs} ({d.reason})")
        if verb == "update" and old is not None and _gc_only_change(obj, old):
            return EscalationResult(True, "covered", f"{label}: only ownerReferences/finalizers change")
        role = parse_role(obj)
        owner = authorizer.rules_for(user, namespace).rules
        missing = uncovered(owner, role.rules)
        if missing:
            return EscalationResult(
                False,
                "escalation",
                f"{label}: attempt to grant extra privileges: {'; '.join(map(str, missing[:10]))}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""),
                tuple(missing),
            )
        if kind == "ClusterRole" and (_has_aggregation(obj) or _has_aggregation(old)):
            missing = uncovered(owner, FULL_AUTHORITY)
            if missing:
                return EscalationResult(
                    False,
                    "aggregation-requires-full-authority",
                    f"{label}: must hold * on every resource and non-resource URL to use an aggregationRule",
                    tuple(missing),
                )
        return EscalationResult(True, "covered", f"{label}: the writer already holds every rule it grants")

    binding = parse_binding(obj)
    ref = binding.role_ref
    # For bindings the registry looks at a GC-only update before the bind verb.
    if verb == "update" and old is not None and _gc_only_change(obj, old):
        return EscalationResult(True, "covered", f"{label}: only ownerReferences/finalizers change")
    if ref.kind in ("Role", "ClusterRole"):
        attrs = Attributes(
            verb="bind",
            namespace=namespace,
            api_group=ref.api_group,
            resource="roles" if ref.kind == "Role" else "clusterroles",
            name=ref.name,
        )
        d = authorizer.authorize(user, attrs)
        if d.allowed:
            return EscalationResult(True, "bind-verb", f"{label}: the writer holds {attrs} ({d.reason})")
    if ref.kind not in ("Role", "ClusterRole"):
        # The rule resolver cannot look such a reference up, so the write is forbidden.
        return EscalationResult(
            False, "role-not-found", f"{label}: roleRef.kind must be Role or ClusterRole, not {ref.kind!r}"
        )
    bound = authorizer.resolve(binding)
    if bound is None:
        where = f" in namespace {namespace!r}" if ref.kind == "Role" else ""
        return EscalationResult(False, "role-not-found", f"{label}: {ref.kind} {ref.name!r} not found{where}")
    owner = authorizer.rules_for(user, namespace).rules
    missing = uncovered(owner, bound.rules)
    if missing:
        return EscalationResult(
            False,
            "escalation",
            f"{label}: binding {bound} would grant privileges the writer does not hold: "
            + "; ".join(map(str, missing[:10]))
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""),
            tuple(missing),
        )
    return EscalationResult(True, "covered", f"{label}: the writer already holds every rule of {bound}")
