"""Least privilege: the narrowest roles that allow a declared (or observed) list of requests.

Requests are grouped by scope: a namespace becomes a Role in that namespace; cluster-scoped
requests, lists across all namespaces and non-resource URLs become one ClusterRole. A rule keeps
``resourceNames`` only when every request for that verb and resource carries a name (create,
list, watch and deletecollection normally do not, and a named rule would never allow them).
Verbs are not widened to ``*`` and resources never to ``*``: the result grants exactly what was
asked, and each proposed role is verified against the requests with the authorizer itself.

Comparing with what an identity already holds gives the unused grants (rules no request needs)
and the requests it cannot make today.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stockade.engines.rbac.authorizer import Authorizer
from stockade.engines.rbac.matching import rule_allows
from stockade.engines.rbac.model import RBAC_GROUP, Attributes, Grant, PolicyRule, UserInfo
from stockade.errors import EngineError


@dataclass(frozen=True, slots=True)
class SuggestedRole:
    """A proposed Role (``namespace`` set) or ClusterRole."""

    kind: str
    name: str
    namespace: str
    rules: tuple[PolicyRule, ...]

    def manifest(self) -> dict[str, Any]:
        """The role as a manifest."""
        md: dict[str, Any] = {"name": self.name}
        if self.namespace:
            md["namespace"] = self.namespace
        return {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": self.kind,
            "metadata": md,
            "rules": [r.to_dict() for r in self.rules],
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """What an identity holds against what it needs."""

    unused: tuple[Grant, ...]
    """Held rules that allow none of the needed requests."""
    missing: tuple[Attributes, ...]
    """Needed requests the identity cannot make today."""


def _rules_for_scope(requests: Sequence[Attributes]) -> tuple[PolicyRule, ...]:
    # (group, resource) -> verb -> set of names, or None when some request carries no name.
    res: dict[tuple[str, str], dict[str, set[str] | None]] = defaultdict(dict)
    urls: dict[str, set[str]] = defaultdict(set)
    for a in requests:
        if not a.is_resource_request:
            assert a.non_resource_url is not None
            urls[a.non_resource_url].add(a.verb)
            continue
        key = (a.api_group, f"{a.resource}/{a.subresource}" if a.subresource else a.resource)
        verbs = res[key]
        if a.verb in verbs and verbs[a.verb] is None:
            continue
        if not a.name:
            verbs[a.verb] = None
        else:
            names = verbs.get(a.verb, set())
            assert names is not None
            names.add(a.name)
            verbs[a.verb] = names
    # (group, resource, names) -> verbs; then merge resources sharing (group, names, verbs).
    by_target: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (group, resource), verbs in res.items():
        for verb, names in verbs.items():
            by_target[(group, resource, tuple(sorted(names)) if names else ())].add(verb)
    merged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource, name_key), verb_set in by_target.items():
        merged[(group, name_key, tuple(sorted(verb_set)))].append(resource)
    rules = [
        PolicyRule(verbs=vs, api_groups=(group,), resources=tuple(sorted(resources)), resource_names=nk)
        for (group, nk, vs), resources in merged.items()
    ]
    url_by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for url, verb_set in urls.items():
        url_by_verbs[tuple(sorted(verb_set))].append(url)
    rules += [PolicyRule(verbs=verbs, non_resource_urls=tuple(sorted(u))) for verbs, u in url_by_verbs.items()]
    rules.sort(key=lambda r: (bool(r.non_resource_urls), r.api_groups, r.resources, r.resource_names, r.verbs))
    return tuple(rules)


def suggest_roles(requests: Iterable[Attributes], name: str) -> list[SuggestedRole]:
    """The narrowest roles allowing every request: one Role per namespace, one ClusterRole for
    cluster-scope requests (sorted: ClusterRole first, then namespaces)."""
    by_ns: dict[str, list[Attributes]] = defaultdict(list)
    for a in requests:
        if not a.verb:
            raise EngineError(f"suggest: request {a} has no verb")
        by_ns[a.namespace if a.is_resource_request else ""].append(a)
    out: list[SuggestedRole] = []
    for ns in sorted(by_ns):
        out.append(SuggestedRole("Role" if ns else "ClusterRole", name, ns, _rules_for_scope(by_ns[ns])))
    verify(out, [a for lst in by_ns.values() for a in lst])
    return out


def binding_manifests(roles: Sequence[SuggestedRole], subject: Mapping[str, str]) -> list[dict[str, Any]]:
    """A RoleBinding (or ClusterRoleBinding) of each suggested role to one subject."""
    out: list[dict[str, Any]] = []
    for r in roles:
        md: dict[str, Any] = {"name": r.name}
        if r.namespace:
            md["namespace"] = r.namespace
        out.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "RoleBinding" if r.namespace else "ClusterRoleBinding",
                "metadata": md,
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": r.kind, "name": r.name},
                "subjects": [dict(subject)],
            }
        )
    return out


def verify(roles: Sequence[SuggestedRole], requests: Sequence[Attributes]) -> None:
    """Check with the authorizer that the roles allow every request (a bug guard)."""
    objects: list[dict[str, Any]] = [r.manifest() for r in roles]
    subject = {"kind": "User", "name": "stockade:suggest", "apiGroup": RBAC_GROUP}
    objects += binding_manifests(roles, subject)
    authz = Authorizer.from_objects(objects, bootstrap=False)
    user = UserInfo("stockade:suggest")
    for a in requests:
        if not authz.allows(user, a):
            raise EngineError(f"suggest: the proposed roles do not allow {a}")


def compare(authorizer: Authorizer, user: UserInfo, requests: Sequence[Attributes]) -> Comparison:
    """Unused grants of ``user`` in every namespace the requests touch, and missing requests.

    Grants of the bootstrap policy (what every cluster gives, e.g. discovery) are never "unused".
    """
    namespaces = sorted({a.namespace for a in requests if a.is_resource_request} | {""})
    seen: set[tuple[int, int]] = set()
    unused: list[Grant] = []
    for ns in namespaces:
        for g in authorizer.rules_for(user, ns).grants:
            k = (id(g.binding), g.rule_index)
            if k in seen or g.binding.bootstrap:
                continue
            seen.add(k)
            scope_ok = [a for a in requests if not g.binding.namespace or a.namespace == g.binding.namespace]
            if not any(rule_allows(g.rule, a) for a in scope_ok):
                unused.append(g)
    missing = tuple(a for a in requests if not authorizer.allows(user, a))
    return Comparison(tuple(unused), missing)
