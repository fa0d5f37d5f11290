"""Least privilege from logs, checked with the RBAC engine: the generated roles allow every
request the identity made and nothing it did not (one attribute changed at a time)."""

from __future__ import annotations

import itertools

import pytest

from stockade.engines.audit.rbacgen import Permission, Subject, generate, parse_subject, permissions_of, verify
from stockade.engines.rbac import Attributes, Authorizer, UserInfo
from tests.audit.helpers import event, parsed

SA_USER = "system:serviceaccount:team-a:trainer"
KF = "kubeflow.org"

LOG = [
    event(SA_USER, "get", "configmaps", "team-a", "train-config"),
    event(SA_USER, "get", "secrets", "team-a", "hf-token"),
    event(SA_USER, "get", "secrets", "team-a", "s3-creds"),
    event(SA_USER, "list", "pods", "team-a"),
    event(SA_USER, "watch", "pods", "team-a"),
    event(SA_USER, "create", "pods", "team-a", "trainer-0"),  # name filled in after the fact
    event(SA_USER, "create", "pods", "team-a", "trainer-0", sub="exec"),
    event(SA_USER, "patch", "pytorchjobs", "team-a", "bert-ft", group=KF),
    event(SA_USER, "get", "pytorchjobs", "team-a", "bert-ft", group=KF),
    event(SA_USER, "update", "pytorchjobs", "team-a", "bert-ft", group=KF, sub="status"),
    event(SA_USER, "get", "configmaps", "shared-data", "datasets"),
    event(SA_USER, "get", "nodes", "", "gpu-node-1"),
    event(SA_USER, "list", "namespaces", ""),
    event(SA_USER, "get", "secrets", "team-a", "denied-one", code=403),
    event(SA_USER, "get", path="/metrics"),
    event("alice", "delete", "pods", "team-a", "trainer-0"),  # another identity: not learned
    event(SA_USER, "get", "pods", "team-b", "x", impersonatedUser={"username": "bob"}),  # acted as bob
]
OTHER_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def _attrs(p: Permission, **change: str) -> Attributes:
    if p.url:
        return Attributes(change.get("verb", p.verb), non_resource_url=change.get("url", p.url))
    res, _, sub = p.resource.partition("/")
    return Attributes(
        verb=change.get("verb", p.verb),
        namespace=change.get("namespace", p.namespace),
        api_group=p.api_group,
        resource=change.get("resource", res),
        subresource=sub,
        name=change.get("name", p.name),
    )


def _should_allow(perms: list[Permission], a: Attributes) -> bool:
    """What "exactly what the identity did" means, stated independently of the generator."""
    if not a.is_resource_request:
        return any(p.url == a.non_resource_url and p.verb == a.verb for p in perms)
    combined = a.resource + (f"/{a.subresource}" if a.subresource else "")
    same = [
        p
        for p in perms
        if not p.url
        and p.api_group == a.api_group
        and p.resource == combined
        and p.verb == a.verb
        and p.namespace in ("", a.namespace)
    ]
    by_scope: dict[str, list[Permission]] = {}
    for p in same:
        by_scope.setdefault(p.namespace, []).append(p)
    # Within one role, an unnamed request for (resource, verb) makes the permission name-free.
    return any(any(p.name == "" for p in ps) or a.name in {p.name for p in ps} for ps in by_scope.values())


@pytest.fixture(scope="module")
def learned() -> tuple[list[Permission], Authorizer, UserInfo]:
    subject = Subject("ServiceAccount", "trainer", "team-a")
    perms = permissions_of(parsed(*LOG), subject)
    authz = Authorizer.from_objects(generate(perms, subject), bootstrap=False)
    # No groups: only the generated bindings can grant anything.
    return perms, authz, UserInfo(SA_USER)


def test_permissions_learned_from_the_log(learned: tuple[list[Permission], Authorizer, UserInfo]) -> None:
    perms, _, _ = learned
    assert Permission("team-a", "", "pods", "create", "") in perms  # create is never name-bound
    assert Permission("team-a", "", "pods/exec", "create", "trainer-0") in perms
    assert Permission("team-a", "", "secrets", "get", "denied-one") in perms  # tried: it needs it
    assert not any(p.namespace == "team-b" for p in perms)  # made as bob: bob's permission, not ours
    assert Permission("", "", "users", "impersonate", "bob") in perms  # what impersonating bob needs
    assert not any(p.verb == "delete" for p in perms)  # alice's request not learned
    assert Permission("", "", "", "get", url="/metrics") in perms


def test_generated_manifests_are_narrow() -> None:
    subject = Subject("ServiceAccount", "trainer", "team-a")
    docs = generate(permissions_of(parsed(*LOG), subject), subject)
    kinds = [(d["kind"], d["metadata"].get("namespace", "")) for d in docs]
    assert kinds == [
        ("ClusterRole", ""),
        ("ClusterRoleBinding", ""),
        ("Role", "shared-data"),
        ("RoleBinding", "shared-data"),
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
    ]
    team_a = docs[4]["rules"]
    assert {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["denied-one", "hf-token", "s3-creds"],
        "verbs": ["get"],
    } in team_a
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "list", "watch"]} in team_a
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "trainer", "namespace": "team-a"}]
    assert {"nonResourceURLs": ["/metrics"], "verbs": ["get"]} in docs[0]["rules"]


def test_every_logged_request_is_allowed(learned: tuple[list[Permission], Authorizer, UserInfo]) -> None:
    perms, authz, user = learned
    for p in perms:
        assert authz.allows(user, _attrs(p)), p


def test_nothing_else_is_allowed(learned: tuple[list[Permission], Authorizer, UserInfo]) -> None:
    perms, authz, user = learned
    checked = 0
    for p in perms:
        changes: list[dict[str, str]] = [{"verb": v} for v in OTHER_VERBS if v != p.verb]
        if p.url:
            changes += [{"url": "/healthz"}, {"url": "/metrics/extra"}]
        else:
            changes += [{"namespace": ns} for ns in ("team-b", "kube-system", "")]
            changes += [{"name": "other"}, {"resource": "deployments"}]
        for change in itertools.chain(changes, ({"verb": v, "name": "x"} for v in ("get", "delete"))):
            a = _attrs(p, **change)
            assert authz.allows(user, a) == _should_allow(perms, a), f"{a} (from {p})"
            checked += 1
    assert checked > 150


def test_user_subject_binds_as_user() -> None:
    subject = parse_subject("alice@example.com", None)
    perms = permissions_of(parsed(event("alice@example.com", "get", "pods", "a", "p")), subject)
    docs = generate(perms, subject, name="alice-least")
    assert docs[1]["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"}
    ]
    assert docs[0]["metadata"]["name"] == "alice-least"
    authz = Authorizer.from_objects(docs, bootstrap=False)
    assert authz.allows(UserInfo("alice@example.com"), Attributes("get", "a", resource="pods", name="p"))
    assert not authz.allows(UserInfo("alice@example.com"), Attributes("get", "a", resource="pods", name="q"))


@pytest.mark.parametrize(("user", "sa"), [(None, None), ("a", "b:c"), (None, "nocolon"), (None, "a:b:c")])
def test_subject_flags_are_validated(user: str | None, sa: str | None) -> None:
    with pytest.raises(ValueError):
        parse_subject(user, sa)


def test_requests_made_as_the_subject_through_impersonation_are_learned() -> None:
    subject = parse_subject("bob", None)
    log = [
        event("alice", "get", "pods", "team-b", "x", impersonatedUser={"username": "bob"}),
        event("bob", "list", "configmaps", "team-b"),
        event(
            "bob", "get", "secrets", "team-b", "s", impersonatedUser={"username": "system:serviceaccount:ml:trainer"}
        ),
    ]
    perms = permissions_of(parsed(*log), subject)
    assert perms == [
        Permission("ml", "", "serviceaccounts", "impersonate", "trainer"),
        Permission("team-b", "", "configmaps", "list", ""),
        Permission("team-b", "", "pods", "get", "x"),
    ]
    docs = generate(perms, subject)
    assert verify(docs, perms, subject) == []
    authz = Authorizer.from_objects(docs, bootstrap=False)
    assert authz.allows(UserInfo("bob"), Attributes("impersonate", "ml", resource="serviceaccounts", name="trainer"))
    assert not authz.allows(UserInfo("bob"), Attributes("get", "team-b", resource="secrets", name="s"))


def test_verify_reports_what_the_manifests_miss() -> None:
    subject = parse_subject("bob", None)
    perms = [Permission("a", "", "pods", "get", "p"), Permission("a", "", "pods", "delete", "p")]
    docs = generate(perms[:1], subject)
    assert verify(docs, perms, subject) == [perms[1]]
