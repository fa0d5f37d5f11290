"""Least-privilege RBAC from audit logs: the narrowest roles that allow what an identity did.

Like audit2rbac: every allowed request of the identity becomes a permission; requests in one
namespace go into a Role of that namespace, cluster-scoped requests, all-namespace lists and
non-resource URLs into a ClusterRole. A permission names objects (``resourceNames``) when every
request for that (group, resource, verb) named one; a verb used without a name (list, watch,
create, deletecollection) cannot be narrowed by name, as RBAC matches the request's name.

Rules are then merged where that grants nothing more: verbs of the same (group, resource,
names), then resources of the same (group, verbs, names).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stockade.engines.audit.events import AuditEvent

_FINAL = frozenset({"ResponseComplete", "ResponseStarted", "Panic", ""})


@dataclass(frozen=True, slots=True)
class Subject:
    """The identity to learn: a user or a service account."""

    kind: str
    """``User`` or ``ServiceAccount``."""
    name: str
    namespace: str = ""

    @property
    def username(self) -> str:
        """The user name the API server authenticates this subject as."""
        if self.kind == "ServiceAccount":
            return f"system:serviceaccount:{self.namespace}:{self.name}"
        return self.name

    def to_rbac(self) -> dict[str, Any]:
        """The ``subjects[]`` entry of a binding."""
        if self.kind == "ServiceAccount":
            return {"kind": "ServiceAccount", "name": self.name, "namespace": self.namespace}
        return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": self.name}


@dataclass(frozen=True, slots=True)
class Permission:
    """One thing the identity did, as RBAC sees it."""

    namespace: str
    """``""`` for cluster scope (cluster-scoped objects, all-namespace requests, URLs)."""
    api_group: str
    resource: str
    """``resource`` or ``resource/subresource``; empty for non-resource requests."""
    verb: str
    name: str = ""
    url: str = ""


def permissions_of(events: Iterable[AuditEvent], subject: Subject, include_denied: bool = True) -> list[Permission]:
    """Every distinct permission the subject's requests needed.

    Requests made *as* the subject through impersonation count as the subject's (the API server
    authorizes them as the impersonated identity); requests the subject made while impersonating
    someone else need only the ``impersonate`` permission on that user or service account.
    Denied requests count by default (the identity tried them: it needs them); pass
    ``include_denied=False`` to learn only what it was allowed.
    """
    user = subject.username
    seen: set[Permission] = set()
    for ev in events:
        # A RequestReceived event still shows the request (a policy may omit the later stages),
        # but not whether it was allowed: it counts only when denied requests count too.
        if ev.stage not in _FINAL and (ev.stage != "RequestReceived" or not include_denied):
            continue
        acting = ev.impersonated_user or ev.user
        if acting != user and ev.user != user:
            continue
        if not include_denied and ev.code in (401, 403):
            continue
        if acting != user:
            # The subject impersonated someone: impersonating is all this request needs of it (the
            # request itself is authorized as the impersonated identity).
            seen.update(_impersonation(ev))
            continue
        if ev.resource_request:
            name = "" if ev.verb == "create" and not ev.subresource else ev.name
            seen.add(Permission(ev.namespace, ev.api_group, ev.combined_resource, ev.verb, name))
        else:
            seen.add(Permission("", "", "", ev.verb, url=ev.request_uri.split("?", 1)[0]))
    return sorted(seen, key=lambda p: (p.namespace, p.api_group, p.resource, p.verb, p.name, p.url))


VERB_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "watch": ("get", "list"),
    "list": ("get", "watch"),
    "update": ("get", "patch"),
    "patch": ("get", "update"),
}
"""Verbs audit2rbac grants alongside the one seen (a client that lists usually also watches)."""


def generalise(perms: Iterable[Permission]) -> list[Permission]:
    """Broaden permissions the way audit2rbac does by default (opt-in: this grants more than was used).

    For one (API group, resource, verb): requests in several namespaces become one cluster-wide
    permission (a ClusterRole), and requests naming several objects become one for any name;
    each verb brings its related verbs (:data:`VERB_EXPANSIONS`). Non-resource URLs and
    ``impersonate`` permissions are kept as they are.
    """
    plist = list(perms)
    namespaces: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    names: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for p in plist:
        if p.url or p.verb == "impersonate":
            continue
        key = (p.api_group, p.resource, p.verb)
        if p.namespace:
            namespaces[key].add(p.namespace)
        if p.name:
            names[key].add(p.name)
    out: set[Permission] = set()
    for p in plist:
        if p.url or p.verb == "impersonate":
            out.add(p)
            continue
        key = (p.api_group, p.resource, p.verb)
        ns = "" if p.namespace and len(namespaces[key]) > 1 else p.namespace
        name = "" if p.name and len(names[key]) > 1 else p.name
        for verb in (p.verb, *VERB_EXPANSIONS.get(p.verb, ())):
            out.add(Permission(ns, p.api_group, p.resource, verb, name))
    return sorted(out, key=lambda p: (p.namespace, p.api_group, p.resource, p.verb, p.name, p.url))


_AUTHN_GROUP = "authentication.k8s.io"


def _impersonation(ev: AuditEvent) -> list[Permission]:
    """``impersonate`` permissions the impersonating request needed, as the API server checks them.

    The user (or service account), every requested group, the uid and each extra value are
    checked separately. Groups the API server adds itself (``system:authenticated``, and for a
    service account its two service account groups, ``system:unauthenticated`` for anonymous) are
    not requested, so they need nothing.
    """
    target = ev.impersonated_user
    parts = target.split(":")
    perms: list[Permission] = []
    auto = {"system:authenticated"}
    if target.startswith("system:serviceaccount:") and len(parts) == 4:
        perms.append(Permission(parts[2], "", "serviceaccounts", "impersonate", parts[3]))
        auto |= {"system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"}
    else:
        perms.append(Permission("", "", "users", "impersonate", target))
        if target == "system:anonymous":
            auto.add("system:unauthenticated")
    perms.extend(Permission("", "", "groups", "impersonate", g) for g in ev.impersonated_groups if g not in auto)
    if ev.impersonated_uid:
        perms.append(Permission("", _AUTHN_GROUP, "uids", "impersonate", ev.impersonated_uid))
    perms.extend(Permission("", _AUTHN_GROUP, f"userextras/{k}", "impersonate", v) for k, v in ev.impersonated_extra)
    return perms


def verify(docs: list[dict[str, Any]], perms: list[Permission], subject: Subject) -> list[Permission]:
    """Permissions the generated manifests do NOT allow, judged by the RBAC engine (empty = good)."""
    from stockade.engines.rbac import Attributes, Authorizer, UserInfo

    authz = Authorizer.from_objects(docs, bootstrap=False)
    who = UserInfo(subject.username)
    missing = []
    for p in perms:
        if p.url:
            attrs = Attributes(p.verb, non_resource_url=p.url)
        else:
            res, _, sub = p.resource.partition("/")
            attrs = Attributes(p.verb, p.namespace, p.api_group, res, sub, p.name)
        if not authz.allows(who, attrs):
            missing.append(p)
    return missing


def _rules(perms: list[Permission]) -> list[dict[str, Any]]:
    # (group, resource, verb) -> names (None once any request was unnamed)
    named: dict[tuple[str, str, str], set[str] | None] = {}
    urls: dict[str, set[str]] = defaultdict(set)
    for p in perms:
        if p.url:
            urls[p.url].add(p.verb)
            continue
        key = (p.api_group, p.resource, p.verb)
        if not p.name:
            named[key] = None
        elif key not in named:
            named[key] = {p.name}
        else:
            cur = named[key]
            if cur is not None:
                cur.add(p.name)
    # merge verbs with the same (group, resource, names)
    by_res: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (g, r, v), name_set in named.items():
        by_res[(g, r, tuple(sorted(name_set)) if name_set else ())].add(v)
    # merge resources with the same (group, verbs, names)
    by_verbs: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (g, r, name_key), verb_set in by_res.items():
        by_verbs[(g, tuple(sorted(verb_set)), name_key)].add(r)
    rules: list[dict[str, Any]] = []
    for (g, verb_key, name_key), res in sorted(by_verbs.items()):
        rule: dict[str, Any] = {"apiGroups": [g], "resources": sorted(res)}
        if name_key:
            rule["resourceNames"] = list(name_key)
        rule["verbs"] = list(verb_key)
        rules.append(rule)
    by_url_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for url, url_verbs in sorted(urls.items()):
        by_url_verbs[tuple(sorted(url_verbs))].append(url)
    for verb_key2, url_list in sorted(by_url_verbs.items()):
        rules.append({"nonResourceURLs": url_list, "verbs": list(verb_key2)})
    return rules


def generate(perms: list[Permission], subject: Subject, name: str = "") -> list[dict[str, Any]]:
    """Role/ClusterRole objects and their bindings (a list of manifests, in apply order)."""
    base = name or default_name(subject)
    by_ns: dict[str, list[Permission]] = defaultdict(list)
    for p in perms:
        by_ns[p.namespace].append(p)
    out: list[dict[str, Any]] = []
    labels = {"app.kubernetes.io/managed-by": "stockade-audit-rbac"}
    if by_ns.get(""):
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": base, "labels": labels},
                "rules": _rules(by_ns[""]),
            }
        )
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": base, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": base},
                "subjects": [subject.to_rbac()],
            }
        )
    for ns in sorted(k for k in by_ns if k):
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": base, "namespace": ns, "labels": labels},
                "rules": _rules(by_ns[ns]),
            }
        )
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": base, "namespace": ns, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": base},
                "subjects": [subject.to_rbac()],
            }
        )
    return out


def default_name(subject: Subject) -> str:
    """``audit2rbac:<name>`` as audit2rbac names its output.

    A service account is named by its account name, except ``default`` (too common to tell
    apart), which keeps the whole user name. The name is lower-cased and every character other
    than a letter, digit or ``:`` becomes ``-``, so it is a valid object name whatever the user
    name holds (``/`` and ``%`` are not allowed in RBAC object names).
    """
    who = subject.name if subject.kind == "ServiceAccount" and subject.name != "default" else subject.username
    return "audit2rbac:" + re.sub(r"[^a-z0-9:]", "-", who.lower())


def parse_subject(user: str | None, service_account: str | None) -> Subject:
    """``--user U`` or ``--serviceaccount NS:NAME`` to a :class:`Subject` (ValueError when malformed)."""
    if bool(user) == bool(service_account):
        raise ValueError("give exactly one of --user or --serviceaccount")
    if user:
        return Subject("User", user)
    assert service_account is not None
    ns, sep, name = service_account.partition(":")
    if not sep or not ns or not name or ":" in name:
        raise ValueError(f"--serviceaccount {service_account!r} must be NAMESPACE:NAME")
    return Subject("ServiceAccount", name, ns)
