"""The RBAC authorizer: "may this identity do this?", "who may?", "what may it do here?".

Evaluation is the API server's: ClusterRoleBindings apply everywhere; RoleBindings apply only to
requests in their own namespace (never to cluster-scoped requests, lists across all namespaces or
non-resource URLs, whose namespace is ""). A RoleBinding may reference a ClusterRole, whose rules
then apply inside the binding's namespace only. A reference to a role that does not exist grants
nothing and does not stop other bindings from allowing. ClusterRoles are aggregated first.

Subjects match as upstream: a User by exact name, a Group by membership, a ServiceAccount by the
user name ``system:serviceaccount:<ns>:<name>`` (its namespace defaults to the RoleBinding's).
RBAC adds no group: the identity given is the one evaluated.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.engines.rbac.aggregation import aggregate
from stockade.engines.rbac.identity import service_account_username
from stockade.engines.rbac.matching import rule_allows
from stockade.engines.rbac.model import (
    BINDING_KINDS,
    ROLE_KINDS,
    Attributes,
    Binding,
    Decision,
    Grant,
    LabelSelector,
    PolicyRule,
    Role,
    RoleKey,
    RoleRef,
    Subject,
    SubjectGrant,
    UserInfo,
)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building large acyclic structures.

    Building tens of thousands of small frozen values otherwise triggers repeated full collections
    that traverse every object already loaded, which costs more than the build itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


ObjectLike = Mapping[str, Any] | Any
"""A raw manifest mapping, or any object with a ``body`` mapping (a loader ``K8sObject``)."""


def _body(obj: ObjectLike) -> Mapping[str, Any] | None:
    if isinstance(obj, Mapping):
        return obj
    body = getattr(obj, "body", None)
    return body if isinstance(body, Mapping) else None


def _flatten(objects: Iterable[ObjectLike]) -> Iterator[tuple[Mapping[str, Any], ObjectLike]]:
    for obj in objects:
        body = _body(obj)
        if body is None:
            continue
        if body.get("kind") == "List" and isinstance(body.get("items"), list):
            for item in body["items"]:
                if isinstance(item, Mapping):
                    yield item, item
        else:
            yield body, obj


def _is_rbac(body: Mapping[str, Any]) -> bool:
    api = body.get("apiVersion")
    # apiVersion may be omitted in hand-written fixtures; any other group is not RBAC.
    return api is None or (isinstance(api, str) and api.startswith("rbac.authorization.k8s.io/"))


def parse_role(body: Mapping[str, Any], source: Any = None, bootstrap: bool = False) -> Role:
    """A Role or ClusterRole from its stored body."""
    md = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    kind = str(body.get("kind"))
    rules = body.get("rules")
    labels = md.get("labels")
    agg = body.get("aggregationRule")
    aggregation: tuple[LabelSelector | None, ...] | None = None
    if kind == "ClusterRole" and isinstance(agg, Mapping):
        sels = agg.get("clusterRoleSelectors")
        aggregation = tuple(LabelSelector.from_dict(s) for s in (sels if isinstance(sels, list) else ()))
    return Role(
        kind=kind,
        name=str(md.get("name") or ""),
        # A namespaced object without a namespace lands in "default" (what `kubectl apply` does).
        namespace=str(md.get("namespace") or "default") if kind == "Role" else "",
        rules=tuple(
            PolicyRule.from_dict(r) for r in (rules if isinstance(rules, list) else ()) if isinstance(r, Mapping)
        ),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
        aggregation=aggregation,
        source=source,
        bootstrap=bootstrap,
    )


def parse_binding(body: Mapping[str, Any], source: Any = None, bootstrap: bool = False) -> Binding:
    """A RoleBinding or ClusterRoleBinding from its stored body."""
    md = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    kind = str(body.get("kind"))
    ref = body.get("roleRef") if isinstance(body.get("roleRef"), Mapping) else {}
    assert isinstance(ref, Mapping)
    subjects = body.get("subjects")
    return Binding(
        kind=kind,
        name=str(md.get("name") or ""),
        namespace=str(md.get("namespace") or "default") if kind == "RoleBinding" else "",
        role_ref=RoleRef(str(ref.get("apiGroup") or ""), str(ref.get("kind") or ""), str(ref.get("name") or "")),
        subjects=tuple(
            Subject.from_dict(s) for s in (subjects if isinstance(subjects, list) else ()) if isinstance(s, Mapping)
        ),
        source=source,
        bootstrap=bootstrap,
    )


def parse_objects(objects: Iterable[ObjectLike], bootstrap: bool = False) -> tuple[list[Role], list[Binding]]:
    """The roles and bindings among ``objects`` (other kinds are ignored; ``List`` is expanded)."""
    roles: list[Role] = []
    bindings: list[Binding] = []
    for body, src in _flatten(objects):
        kind = body.get("kind")
        if kind in ROLE_KINDS and _is_rbac(body):
            roles.append(parse_role(body, src, bootstrap))
        elif kind in BINDING_KINDS and _is_rbac(body):
            bindings.append(parse_binding(body, src, bootstrap))
    return roles, bindings


@dataclass(frozen=True, slots=True)
class RuleSet:
    """What an identity may do in one namespace: every rule reached, with its binding."""

    grants: tuple[Grant, ...]
    errors: tuple[str, ...]
    """Role references that did not resolve (they grant nothing)."""

    @property
    def rules(self) -> list[PolicyRule]:
        """The rules alone, in evaluation order."""
        return [g.rule for g in self.grants]


class _SubjectIndex:
    """Bindings by the identity facts that select them: user name (incl. SA user names), group."""

    def __init__(self) -> None:
        self.by_user: dict[str, list[Binding]] = defaultdict(list)
        self.by_group: dict[str, list[Binding]] = defaultdict(list)

    def add(self, b: Binding) -> None:
        for s in b.subjects:
            if s.kind == "User":
                self.by_user[s.name].append(b)
            elif s.kind == "Group":
                self.by_group[s.name].append(b)
            elif s.kind == "ServiceAccount":
                ns = s.effective_namespace(b.namespace)
                if ns:  # a ClusterRoleBinding SA subject without namespace matches nobody
                    self.by_user[service_account_username(ns, s.name)].append(b)

    def lookup(self, user: UserInfo) -> list[Binding]:
        found: dict[int, Binding] = {}
        for b in self.by_user.get(user.name, ()):
            found[id(b)] = b
        for g in user.groups:
            for b in self.by_group.get(g, ()):
                found[id(b)] = b
        return list(found.values())


def subject_applies(subject: Subject, user: UserInfo, binding_namespace: str) -> bool:
    """Whether one binding subject selects the identity."""
    if subject.kind == "User":
        return user.name == subject.name
    if subject.kind == "Group":
        return subject.name in user.groups
    if subject.kind == "ServiceAccount":
        ns = subject.effective_namespace(binding_namespace)
        return bool(ns) and user.name == service_account_username(ns, subject.name)
    return False


def _go_quote(text: str) -> str:
    # Go's %q for the printable names RBAC objects have.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe_grant(binding: Binding, subject: Subject | None) -> str:
    """The API server's description of a granting binding, as in its "RBAC: allowed by ..." reason:
    ``ClusterRoleBinding "b" of ClusterRole "r" to User "u"`` or ``RoleBinding "b/ns" of Role "r" to
    ServiceAccount "sa/ns"`` (a ServiceAccount is written name/namespace)."""
    name = binding.name + (f"/{binding.namespace}" if binding.kind == "RoleBinding" else "")
    text = f"{binding.kind} {_go_quote(name)} of {binding.role_ref.kind} {_go_quote(binding.role_ref.name)}"
    if subject is None:
        return text
    who = subject.name
    if subject.kind == "ServiceAccount":
        who += "/" + subject.effective_namespace(binding.namespace)
    return f"{text} to {subject.kind} {_go_quote(who)}"


class Authorizer:
    """An RBAC authorizer over a fixed set of roles and bindings.

    Build it with :meth:`from_objects` (manifests or loader objects, plus the bootstrap policy
    unless disabled) or directly from parsed :class:`Role` and :class:`Binding` values.
    """

    def __init__(self, roles: Iterable[Role], bindings: Iterable[Binding]) -> None:
        cluster: dict[str, Role] = {}
        namespaced: dict[RoleKey, Role] = {}
        for r in roles:
            # A later object with the same identity replaces an earlier one, as `kubectl apply` would.
            if r.kind == "ClusterRole":
                cluster[r.name] = r
            else:
                namespaced[r.key] = r
        self.declared_roles: dict[RoleKey, Role] = {r.key: r for r in (*cluster.values(), *namespaced.values())}
        """Roles as written (aggregated ClusterRoles with their stored rules)."""
        aggregated = aggregate(cluster)
        self.roles: dict[RoleKey, Role] = {r.key: r for r in aggregated.values()}
        """Effective roles (after aggregation) by key."""
        self.roles.update(namespaced)
        uniq: dict[tuple[str, str, str], Binding] = {}
        for b in bindings:
            uniq.pop(b.key, None)
            uniq[b.key] = b
        self.bindings: list[Binding] = list(uniq.values())
        self._order = {id(b): i for i, b in enumerate(self.bindings)}
        self._cluster_idx = _SubjectIndex()
        self._ns_idx: dict[str, _SubjectIndex] = defaultdict(_SubjectIndex)
        self.bindings_by_role: dict[RoleKey, list[Binding]] = defaultdict(list)
        for b in self.bindings:
            if b.kind == "ClusterRoleBinding":
                self._cluster_idx.add(b)
            else:
                self._ns_idx[b.namespace].add(b)
            self.bindings_by_role[b.role_key].append(b)
        self._rule_index: dict[tuple[str, str, str], list[tuple[Role, int]]] | None = None
        self._url_rules: list[tuple[Role, int]] = []

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_objects(cls, objects: Iterable[ObjectLike], *, bootstrap: bool | str | Path = True) -> Authorizer:
        """Build from manifests. ``bootstrap`` True adds the packaged default cluster policy, a path
        adds the one in that directory, False adds nothing. Inputs override bootstrap objects of
        the same identity."""
        roles: list[Role] = []
        bindings: list[Binding] = []
        with _gc_paused():
            if bootstrap is not False:
                from stockade.engines.rbac.bootstrap import load_bootstrap_objects

                directory = None if bootstrap is True else str(bootstrap)
                roles, bindings = parse_objects(load_bootstrap_objects(directory), bootstrap=True)
            r2, b2 = parse_objects(objects)
            return cls([*roles, *r2], [*bindings, *b2])

    # ------------------------------------------------------------------ lookups

    def resolve(self, binding: Binding) -> Role | None:
        """The effective role a binding references, or ``None`` if it does not resolve."""
        if binding.role_ref.kind not in ROLE_KINDS:
            return None
        return self.roles.get(binding.role_key)

    def _unresolved(self, b: Binding) -> str:
        return f"{b}: {b.role_ref.kind} {b.role_ref.name!r} not found" + (
            f" in namespace {b.namespace!r}" if b.role_ref.kind == "Role" else ""
        )

    def bindings_for(self, user: UserInfo, namespace: str) -> list[Binding]:
        """Bindings that apply to the identity for a request in ``namespace`` (evaluation order:
        ClusterRoleBindings, then RoleBindings of that namespace)."""
        found = sorted(self._cluster_idx.lookup(user), key=lambda b: self._order[id(b)])
        if namespace:
            idx = self._ns_idx.get(namespace)
            if idx is not None:
                found += sorted(idx.lookup(user), key=lambda b: self._order[id(b)])
        return found

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        """Every rule the identity holds for requests in ``namespace`` ("" = cluster scope only)."""
        grants: list[Grant] = []
        errors: list[str] = []
        for b in self.bindings_for(user, namespace):
            role = self.resolve(b)
            if role is None:
                errors.append(self._unresolved(b))
                continue
            grants.extend(Grant(b, role, rule, i) for i, rule in enumerate(role.rules))
        return RuleSet(tuple(grants), tuple(errors))

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        """Allow, or no opinion, exactly as the RBAC authorizer; lists every granting rule."""
        ns = attrs.namespace if attrs.is_resource_request else ""
        rs = self.rules_for(user, ns)
        matched = tuple(g for g in rs.grants if rule_allows(g.rule, attrs))
        if matched:
            g = matched[0]
            subj = next((s for s in g.binding.subjects if subject_applies(s, user, g.binding.namespace)), None)
            reason = f"RBAC: allowed by {describe_grant(g.binding, subj)}"
            return Decision(True, reason, matched, rs.errors)
        return Decision(False, "no RBAC policy matched", (), rs.errors)

    def allows(self, user: UserInfo, attrs: Attributes) -> bool:
        """Shortcut for ``authorize(...).allowed``."""
        ns = attrs.namespace if attrs.is_resource_request else ""
        for b in self.bindings_for(user, ns):
            role = self.resolve(b)
            if role is not None and any(rule_allows(r, attrs) for r in role.rules):
                return True
        return False

    # ------------------------------------------------------------------ who-can

    def _build_rule_index(self) -> dict[tuple[str, str, str], list[tuple[Role, int]]]:
        # Keyed by (role namespace, resource entry, verb entry): a query only looks at the
        # buckets its resource and verb can match, and at Roles of its own namespace.
        idx: dict[tuple[str, str, str], list[tuple[Role, int]]] = defaultdict(list)
        urls: list[tuple[Role, int]] = []
        for role in self.roles.values():
            for i, rule in enumerate(role.rules):
                for res in set(rule.resources):
                    for verb in set(rule.verbs):
                        idx[(role.namespace, res, verb)].append((role, i))
                if rule.non_resource_urls:
                    urls.append((role, i))
        self._url_rules = urls
        return idx

    def build_index(self) -> dict[tuple[str, str, str], list[tuple[Role, int]]]:
        """Build (once) the rule index :meth:`who_can` uses; call it to pay the cost up front."""
        if self._rule_index is None:
            with _gc_paused():
                self._rule_index = self._build_rule_index()
        return self._rule_index

    def roles_allowing(self, attrs: Attributes) -> dict[RoleKey, list[int]]:
        """Effective roles that can serve the request with at least one allowing rule (rule
        indexes by role key): ClusterRoles, and Roles of the request's namespace."""
        index = self.build_index()
        if attrs.is_resource_request:
            resources = [
                "*",
                f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource,
            ]
            if attrs.subresource:
                resources.append(f"*/{attrs.subresource}")
            verbs = ["*"] if attrs.verb == "*" else ["*", attrs.verb]
            scopes = [""] + ([attrs.namespace] if attrs.namespace else [])
            candidates = [c for sc in scopes for r in resources for v in verbs for c in index.get((sc, r, v), ())]
        else:
            candidates = [c for c in self._url_rules if not c[0].namespace]
        out: dict[RoleKey, list[int]] = {}
        for role, i in candidates:
            if rule_allows(role.rules[i], attrs):
                lst = out.setdefault(role.key, [])
                if i not in lst:
                    lst.append(i)
        for lst in out.values():
            lst.sort()
        return out

    def who_can(self, attrs: Attributes) -> list[SubjectGrant]:
        """Every (subject, binding rule) that allows the request, ClusterRoleBindings first."""
        ns = attrs.namespace if attrs.is_resource_request else ""
        out: list[tuple[int, SubjectGrant]] = []
        for key, idxs in self.roles_allowing(attrs).items():
            role = self.roles[key]
            for b in self.bindings_by_role.get(key, ()):
                if b.kind == "RoleBinding" and (not ns or b.namespace != ns):
                    continue
                if b.role_ref.kind not in ROLE_KINDS:
                    continue
                for s in b.subjects:
                    if not s.can_match(b.namespace):
                        continue  # grants nobody anything
                    for i in idxs[:1]:
                        out.append((self._order[id(b)], SubjectGrant(s, Grant(b, role, role.rules[i], i))))
        out.sort(key=lambda t: (t[1].grant.binding.kind != "ClusterRoleBinding", t[0]))
        return [sg for _, sg in out]

    # ------------------------------------------------------------------ helpers for other areas

    def with_objects(self, objects: Iterable[ObjectLike]) -> Authorizer:
        """A new authorizer with extra objects added (same identity replaces)."""
        roles, bindings = parse_objects(objects)
        return Authorizer([*self.declared_roles.values(), *roles], [*self.bindings, *bindings])

    def input_bindings(self) -> list[Binding]:
        """Bindings that came from the inputs (not the bootstrap policy)."""
        return [b for b in self.bindings if not b.bootstrap]

    def input_roles(self) -> list[Role]:
        """Effective roles that came from the inputs."""
        return [r for r in self.roles.values() if not r.bootstrap]


__all__ = [
    "Authorizer",
    "RuleSet",
    "parse_binding",
    "parse_objects",
    "parse_role",
    "subject_applies",
]
