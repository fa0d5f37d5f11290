"""The rbac engine beyond the vectors: grants listed, who-can, rules-for, aggregation, escalation
edge cases, identities, resource resolution, suggestions and the graph."""

from __future__ import annotations

from typing import Any

import pytest

from stockade.engines.rbac import (
    Attributes,
    Authorizer,
    PolicyRule,
    UserInfo,
    authenticated,
    check_escalation,
    covers,
    impersonate,
    split_service_account,
)
from stockade.engines.rbac.bootstrap import BOOTSTRAP_FILES, PACKAGED_BOOTSTRAP
from stockade.engines.rbac.graph import build_graph, to_dot
from stockade.engines.rbac.requests import build_request, parse_needs, requests_from_audit
from stockade.engines.rbac.resources import ResourceCatalog
from stockade.engines.rbac.suggest import compare, suggest_roles
from stockade.errors import EngineError
from tests.conftest import shared_path

G = "rbac.authorization.k8s.io"


def cr(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if labels:
        md["labels"] = labels
    return {"kind": "ClusterRole", "metadata": md, "rules": list(rules), **extra}


def role(name: str, ns: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": list(rules)}


def crb(name: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def rb(name: str, ns: str, kind: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, str]:
    return {"apiGroup": G, "kind": "User", "name": name}


def sa(name: str, ns: str | None = None) -> dict[str, str]:
    d = {"kind": "ServiceAccount", "name": name}
    if ns:
        d["namespace"] = ns
    return d


PODS_GET = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


def test_packaged_bootstrap_is_the_shared_copy_byte_for_byte() -> None:
    for name in (*BOOTSTRAP_FILES, "SOURCES.md"):
        assert (PACKAGED_BOOTSTRAP / name).read_bytes() == shared_path(
            "conformance", "rbac", "bootstrap", name
        ).read_bytes(), name


def test_decision_lists_every_granting_rule_cluster_bindings_first() -> None:
    authz = Authorizer.from_objects(
        [
            role("r", "ns1", PODS_GET),
            rb("via-role", "ns1", "Role", "r", user("u")),
            cr("c", {"apiGroups": ["*"], "resources": ["pods"], "verbs": ["*"]}, PODS_GET),
            crb("via-cluster", "c", user("u")),
        ],
        bootstrap=False,
    )
    d = authz.authorize(UserInfo("u"), Attributes("get", "ns1", resource="pods", name="p"))
    assert d.allowed
    assert [(g.binding.name, g.rule_index) for g in d.matched] == [
        ("via-cluster", 0),
        ("via-cluster", 1),
        ("via-role", 0),
    ]
    assert d.reason == 'RBAC: allowed by ClusterRoleBinding "via-cluster" of ClusterRole "c" to User "u"'


def test_dangling_reference_is_reported_as_an_evaluation_error() -> None:
    authz = Authorizer.from_objects([rb("b", "ns1", "Role", "ghost", user("u"))], bootstrap=False)
    d = authz.authorize(UserInfo("u"), Attributes("get", "ns1", resource="pods"))
    assert not d.allowed and d.errors == ("RoleBinding/ns1/b: Role 'ghost' not found in namespace 'ns1'",)


def test_who_can_scopes_rolebindings_to_their_namespace() -> None:
    authz = Authorizer.from_objects(
        [
            cr("reader", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
            rb("a", "ns1", "ClusterRole", "reader", sa("bot")),
            rb("b", "ns2", "ClusterRole", "reader", user("eve")),
            crb("c", "reader", {"apiGroup": G, "kind": "Group", "name": "auditors"}),
        ],
        bootstrap=False,
    )
    got = [
        (s.subject.kind, s.subject.name, s.subject_namespace, s.grant.binding.name)
        for s in authz.who_can(Attributes("get", "ns1", resource="secrets", name="x"))
    ]
    assert got == [("Group", "auditors", "", "c"), ("ServiceAccount", "bot", "ns1", "a")]
    cluster_only = authz.who_can(Attributes("list", "", resource="secrets"))
    assert cluster_only == []  # the rule grants get, not list


def test_who_can_with_bootstrap_lists_system_masters_for_anything() -> None:
    authz = Authorizer.from_objects([], bootstrap=True)
    subjects = {
        (s.subject.kind, s.subject.name) for s in authz.who_can(Attributes("delete", "", resource="nodes", name="n"))
    }
    assert ("Group", "system:masters") in subjects


def test_rules_for_namespace_excludes_other_namespaces() -> None:
    authz = Authorizer.from_objects(
        [role("r", "ns1", PODS_GET), rb("b", "ns1", "Role", "r", user("u"))], bootstrap=False
    )
    assert authz.rules_for(UserInfo("u"), "ns1").rules == [PolicyRule(("get",), ("",), ("pods",))]
    assert authz.rules_for(UserInfo("u"), "ns2").rules == []
    assert authz.rules_for(UserInfo("u"), "").rules == []


def test_aggregation_reaches_a_fixed_point_through_chains_and_cycles() -> None:
    sel = lambda k: {"clusterRoleSelectors": [{"matchLabels": {k: "true"}}]}  # noqa: E731
    objs = [
        cr("top", aggregationRule=sel("to-top")),
        cr("mid", labels={"to-top": "true"}, aggregationRule=sel("to-mid")),
        cr("leaf", PODS_GET, labels={"to-mid": "true"}),
        # a cycle: a aggregates b, b aggregates a; the leaf feeds b.
        cr("a", labels={"to-b": "true"}, aggregationRule=sel("to-a")),
        cr("b", labels={"to-a": "true"}, aggregationRule=sel("to-b")),
        cr(
            "leaf2",
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
            labels={"to-b": "true"},
        ),
    ]
    authz = Authorizer.from_objects(objs, bootstrap=False)
    roles = {k.name: r for k, r in authz.roles.items()}
    assert roles["top"].rules == (PolicyRule(("get",), ("",), ("pods",)),)
    cm = PolicyRule(("get",), ("",), ("configmaps",))
    assert roles["a"].rules == (cm,) and roles["b"].rules == (cm,)


def test_aggregation_match_expressions() -> None:
    objs = [
        cr(
            "agg",
            aggregationRule={
                "clusterRoleSelectors": [
                    {
                        "matchExpressions": [
                            {"key": "tier", "operator": "In", "values": ["gold"]},
                            {"key": "off", "operator": "DoesNotExist"},
                        ]
                    }
                ]
            },
        ),
        cr("gold", PODS_GET, labels={"tier": "gold"}),
        cr(
            "gold-off",
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
            labels={"tier": "gold", "off": ""},
        ),
    ]
    authz = Authorizer.from_objects(objs, bootstrap=False)
    assert authz.roles[next(k for k in authz.roles if k.name == "agg")].rules == (
        PolicyRule(("get",), ("",), ("pods",)),
    )


def test_bootstrap_admin_edit_view_are_aggregated() -> None:
    authz = Authorizer.from_objects([], bootstrap=True)
    names = {k.name: r for k, r in authz.roles.items()}
    assert covers(names["admin"].rules, names["edit"].rules)
    assert covers(names["edit"].rules, names["view"].rules)
    assert not covers(names["view"].rules, names["edit"].rules)


def test_namespace_defaults_to_default_for_namespaced_rbac_objects() -> None:
    obj = {
        "kind": "RoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "c"},
        "subjects": [user("u")],
    }
    authz = Authorizer.from_objects([cr("c", PODS_GET), obj], bootstrap=False)
    assert authz.allows(UserInfo("u"), Attributes("get", "default", resource="pods"))


def test_non_rbac_objects_and_lists_are_handled() -> None:
    lst = {"apiVersion": "v1", "kind": "List", "items": [cr("c", PODS_GET), crb("b", "c", user("u"))]}
    other = {"apiVersion": "example.com/v1", "kind": "Role", "metadata": {"name": "x"}}
    authz = Authorizer.from_objects([lst, other, {"kind": "ConfigMap"}], bootstrap=False)
    assert authz.allows(UserInfo("u"), Attributes("get", "ns", resource="pods"))
    assert [k.name for k in authz.roles] == ["c"]


# ---------------------------------------------------------------------------------- escalation


def _u_holds_pods_get() -> Authorizer:
    return Authorizer.from_objects([cr("c", PODS_GET), crb("b", "c", user("u"))], bootstrap=False)


def test_escalation_update_with_gc_fields_only_is_allowed() -> None:
    authz = _u_holds_pods_get()
    old = role("r", "ns1", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["x"]}}
    assert check_escalation(authz, UserInfo("u"), new, "update", old).allowed
    assert not check_escalation(authz, UserInfo("u"), new, "create").allowed


def test_escalation_reports_missing_rules() -> None:
    r = check_escalation(
        _u_holds_pods_get(),
        UserInfo("u"),
        role("r", "ns1", {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]}),
    )
    assert (r.allowed, r.reason) == (False, "escalation")
    assert r.missing == (PolicyRule(("delete",), ("",), ("pods",)),)


def test_escalation_rejects_other_kinds_and_verbs() -> None:
    with pytest.raises(EngineError):
        check_escalation(_u_holds_pods_get(), UserInfo("u"), {"kind": "ConfigMap", "metadata": {"name": "x"}})
    with pytest.raises(EngineError):
        check_escalation(_u_holds_pods_get(), UserInfo("u"), role("r", "ns1"), "delete")


def test_binding_to_held_role_is_covered() -> None:
    r = check_escalation(_u_holds_pods_get(), UserInfo("u"), rb("x", "ns1", "ClusterRole", "c", user("v")))
    assert (r.allowed, r.reason) == (True, "covered")


# ---------------------------------------------------------------------------------- identities


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("system:serviceaccount:ns:sa", ("ns", "sa")),
        ("system:serviceaccount:ns:sa.with.dots", ("ns", "sa.with.dots")),
        ("system:serviceaccount:ns:", None),
        ("system:serviceaccount::sa", None),
        ("system:serviceaccount:a:b:c", None),
        ("system:serviceaccount:NS:sa", None),
        ("alice", None),
    ],
)
def test_split_service_account(name: str, want: tuple[str, str] | None) -> None:
    assert split_service_account(name) == want


def test_impersonation_keeps_explicit_authenticated_group_once() -> None:
    assert impersonate("bob", ["system:authenticated", "devs"]).groups == ("system:authenticated", "devs")
    assert authenticated("bob").groups == ()


# ---------------------------------------------------------------------------------- requests


def test_build_request_namespace_defaulting() -> None:
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "kueue.x-k8s.io",
            "scope": "Cluster",
            "names": {"plural": "clusterqueues", "kind": "ClusterQueue", "shortNames": ["cq"]},
        },
    }
    cat = ResourceCatalog.from_objects([crd])
    assert build_request(cat, "get", "pods").attributes.namespace == "default"
    assert build_request(cat, "get", "nodes").attributes.namespace == ""
    assert build_request(cat, "list", "cq").attributes == Attributes("list", "", "kueue.x-k8s.io", "clusterqueues")
    assert build_request(cat, "get", "pods", all_namespaces=True).attributes.namespace == ""
    b = build_request(cat, "get", "nodes", namespace="ns1")
    assert b.attributes.namespace == "ns1" and "not namespace scoped" in b.warnings[0]
    assert build_request(cat, "get", "deploy/scale").attributes == Attributes(
        "get", "default", "apps", "deployments", "scale"
    )
    assert build_request(cat, "get", "deployments.v1.apps").attributes.api_group == "apps"
    unknown = build_request(cat, "get", "widgets.example.com")
    assert unknown.attributes.api_group == "example.com" and unknown.attributes.namespace == "default"
    assert unknown.warnings
    assert build_request(cat, "get", "/healthz").attributes == Attributes("get", non_resource_url="/healthz")
    with pytest.raises(EngineError):
        build_request(cat, "get", "pods/log", subresource="exec")


def test_parse_needs_strings_and_mappings() -> None:
    cat = ResourceCatalog()
    got = parse_needs(
        [
            "get pods -n ml",
            "list nodes",
            {"verb": "get", "resource": "secrets", "name": "s", "namespace": "ml"},
            "get /metrics",
        ],
        cat,
    )
    assert got == [
        Attributes("get", "ml", "", "pods"),
        Attributes("list", "", "", "nodes"),
        Attributes("get", "ml", "", "secrets", name="s"),
        Attributes("get", non_resource_url="/metrics"),
    ]
    with pytest.raises(EngineError, match="entry 0"):
        parse_needs([{"resource": "pods"}], cat)


def test_requests_from_audit_log() -> None:
    lines = [
        '{"stage":"ResponseStarted","verb":"watch","user":{"username":"u"},"objectRef":{"resource":"pods"}}',
        '{"stage":"ResponseComplete","verb":"get","user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"ml","name":"p"}}',
        '{"stage":"ResponseComplete","verb":"get","user":{"username":"other"},"objectRef":{"resource":"secrets","namespace":"ml"}}',
        '{"stage":"ResponseComplete","verb":"get","user":{"username":"u"},"requestURI":"/healthz?verbose"}',
        "",
    ]
    assert requests_from_audit(lines, "u") == [
        Attributes("get", "ml", "", "pods", name="p"),
        Attributes("get", non_resource_url="/healthz"),
    ]


# ---------------------------------------------------------------------------------- suggest


def test_suggest_narrowest_roles() -> None:
    reqs = [
        Attributes("get", "ml", resource="pods"),
        Attributes("list", "ml", resource="pods"),
        Attributes("get", "ml", resource="configmaps", name="cfg"),
        Attributes("get", "ml", resource="configmaps", name="other"),
        Attributes("get", "ml", resource="pods", subresource="log", name="p"),
        Attributes("list", "", api_group="kueue.x-k8s.io", resource="clusterqueues"),
        Attributes("get", non_resource_url="/metrics"),
    ]
    roles = suggest_roles(reqs, "narrow")
    assert [(r.kind, r.namespace) for r in roles] == [("ClusterRole", ""), ("Role", "ml")]
    assert roles[0].rules == (
        PolicyRule(("list",), ("kueue.x-k8s.io",), ("clusterqueues",)),
        PolicyRule(("get",), non_resource_urls=("/metrics",)),
    )
    assert roles[1].rules == (
        PolicyRule(("get",), ("",), ("configmaps",), ("cfg", "other")),
        PolicyRule(("get", "list"), ("",), ("pods",)),
        PolicyRule(("get",), ("",), ("pods/log",), ("p",)),
    )
    assert roles[1].manifest()["metadata"] == {"name": "narrow", "namespace": "ml"}


def test_suggest_drops_names_when_one_request_is_unnamed() -> None:
    roles = suggest_roles(
        [Attributes("get", "ml", resource="secrets", name="a"), Attributes("get", "ml", resource="secrets")],
        "x",
    )
    assert roles[0].rules == (PolicyRule(("get",), ("",), ("secrets",)),)


def test_compare_lists_unused_grants_and_missing_requests() -> None:
    authz = Authorizer.from_objects(
        [
            role("r", "ml", PODS_GET, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
            rb("b", "ml", "Role", "r", sa("bot", "ml")),
        ],
        bootstrap=True,
    )
    who = impersonate("system:serviceaccount:ml:bot")
    c = compare(authz, who, [Attributes("get", "ml", resource="pods"), Attributes("create", "ml", resource="pods")])
    assert [(g.binding.name, g.rule_index) for g in c.unused] == [("b", 1)]
    assert c.missing == (Attributes("create", "ml", resource="pods"),)


# ---------------------------------------------------------------------------------- graph


def test_graph_edges_and_missing_roles() -> None:
    authz = Authorizer.from_objects(
        [cr("c", PODS_GET), crb("b", "c", user("u")), rb("d", "ns", "Role", "ghost", sa("s"))], bootstrap=True
    )
    g = build_graph(authz)
    assert {"from": "User:u", "to": "ClusterRoleBinding:b", "type": "bound-by"} in g["edges"]
    assert {"from": "ServiceAccount:ns/s", "to": "RoleBinding:ns/d", "type": "bound-by"} in g["edges"]
    ghost = next(r for r in g["roles"] if r["name"] == "ghost")
    assert ghost["exists"] is False and ghost["namespace"] == "ns"
    assert [b["name"] for b in g["bindings"]] == ["b", "d"]  # bootstrap bindings left out
    dot = to_dot(g)
    assert dot.startswith("digraph rbac {") and '"User:u" -> "ClusterRoleBinding:b"' in dot


def test_non_resource_url_matching_strips_every_trailing_star() -> None:
    from stockade.engines.rbac import rule_allows

    rule = PolicyRule(verbs=("get",), non_resource_urls=("/logs**",))
    assert rule_allows(rule, Attributes("get", non_resource_url="/logs/kubelet"))
    # Coverage (escalation) strips them all too; "/logs/*" does not cover "/logs".
    assert covers([rule], [PolicyRule(verbs=("get",), non_resource_urls=("/logs/x",))])
    owner = PolicyRule(verbs=("get",), non_resource_urls=("/logs/*",))
    assert not covers([owner], [PolicyRule(verbs=("get",), non_resource_urls=("/logs",))])


def test_with_objects_adds_and_replaces() -> None:
    authz = _u_holds_pods_get()
    more = authz.with_objects([role("r", "ns1", PODS_GET), rb("b2", "ns1", "Role", "r", user("v"))])
    assert more.allows(UserInfo("v"), Attributes("get", "ns1", resource="pods"))
    assert not authz.allows(UserInfo("v"), Attributes("get", "ns1", resource="pods"))
    assert {b.name for b in more.input_bindings()} == {"b", "b2"}
