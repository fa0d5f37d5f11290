"""Upstream RBAC semantics on cases the conformance vectors do not cover.

Each test names the upstream rule it pins (kubernetes/kubernetes):

- evaluation_helpers.go: a verb, group or resource entry ``*`` matches anything; ``*/sub`` matches
  the subresource ``sub`` of any resource and nothing else; every other entry (``pods/*``, ``*/*``)
  is a literal; an empty ``resourceNames`` matches any name, a non-empty one only requests that
  carry one of the names (create and deletecollection never do); a non-resource entry ``*``
  matches every path, one ending in ``*`` is a prefix after all trailing ``*`` are stripped.
- rule.go (VisitRulesFor/appliesTo): ClusterRoleBindings apply to every request; RoleBindings
  only to requests whose namespace is theirs (never cluster-scoped, all-namespace or non-resource
  requests); a User matches by name (``apiGroup`` is ignored), a Group by membership, a
  ServiceAccount by ``system:serviceaccount:<ns>:<name>`` with ``<ns>`` defaulting to the
  RoleBinding's (a ClusterRoleBinding SA without namespace matches nobody); other kinds match
  nobody; a roleRef to a missing role grants nothing.
- clusterroleaggregation controller: selectors are OR-ed, each lists the other ClusterRoles it
  selects sorted by name, rules are de-duplicated; ``NotIn``/``DoesNotExist`` select unlabelled
  roles; a ``null`` selector decodes to the empty selector (everything); a selector that cannot be
  converted stops the sync, so the role keeps its stored rules; no selectors at all empties it.
- policy_comparator.go (Covers): atomic tuples; a named tuple is covered by an unnamed owner rule
  or one listing the name, an unnamed tuple only by an unnamed owner rule; servant wildcards are
  literals; owner ``*/sub`` covers ``x/sub``; URL coverage is exact or trailing-``*`` prefix.
- escalation_check.go + storage: system:masters, then ``escalate``/``bind``, then coverage in the
  object's namespace ("" for cluster objects); IsOnlyMutatingGCFields ignores ownerReferences,
  finalizers, selfLink and managedFields.
- impersonation filter + serviceaccount/util.go: a valid SA user name without groups gets
  ``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``; ``system:anonymous`` gets
  ``system:unauthenticated``, everyone else ``system:authenticated``.
- kubectl auth can-i: ``*`` is resource ``*`` in group ""; users and groups need no discovery;
  built-in groups win over CRDs for a bare name; ``--list`` breaks rules down, merges verbs per
  (group, resource, name), keeps every URL atom as a row, sorts by the Go string of the rule and
  writes ``resource.group/subresource``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stockade.cli.main import main
from stockade.engines.rbac import (
    Attributes,
    Authorizer,
    PolicyRule,
    RoleKey,
    UserInfo,
    check_escalation,
    covers,
    impersonate,
    rule_allows,
    uncovered,
)
from stockade.engines.rbac.requests import as_authorized, build_request, parse_needs, requests_from_audit
from stockade.engines.rbac.resources import ResourceCatalog
from stockade.engines.rbac.suggest import suggest_roles

G = "rbac.authorization.k8s.io"


def cr(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if labels:
        md["labels"] = labels
    return {"kind": "ClusterRole", "metadata": md, "rules": list(rules), **extra}


def role(name: str, ns: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": list(rules)}


def crb(name: str, role_name: str, *subjects: dict[str, Any], kind: str = "ClusterRole") -> dict[str, Any]:
    return {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def rb(name: str, ns: str, kind: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str, **extra: str) -> dict[str, str]:
    return {"kind": "User", "name": name, **extra}


def sa(name: str, ns: str | None = None) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": ns} if ns else {})}


PODS_GET = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


def R(verbs: str, groups: str = "", resources: str = "", names: str = "", urls: str = "") -> PolicyRule:
    """A rule from space-separated lists ("" group is written as '""')."""

    def split(text: str) -> tuple[str, ...]:
        return tuple("" if w == '""' else w for w in text.split())

    return PolicyRule(split(verbs), split(groups), split(resources), split(names), split(urls))


def req(verb: str, res: str, ns: str = "ns1", group: str = "", name: str = "") -> Attributes:
    resource, _, sub = res.partition("/")
    return Attributes(verb, ns, group, resource, sub, name)


# ---------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("rule_resources", "request_resource", "allowed"),
    [
        ("*/scale", "deployments/scale", True),
        ("*/scale", "statefulsets/scale", True),
        ("*/scale", "deployments", False),  # */sub needs a subresource
        ("*/scale", "deployments/status", False),
        ("*/scale", "scale", False),  # a resource literally named "scale" is not its subresource
        ("deployments/*", "deployments/scale", False),  # only */sub is a pattern
        ("deployments/*", "deployments", False),
        ("*/*", "deployments/scale", False),
        ("*", "deployments/scale", True),  # "*" covers subresources
        ("deployments", "deployments/scale", False),
        ("deployments/scale", "deployments/scale", True),
    ],
)
def test_resource_and_subresource_wildcards(rule_resources: str, request_resource: str, allowed: bool) -> None:
    rule = R("get update", "apps", rule_resources)
    assert rule_allows(rule, req("update", request_resource, group="apps")) is allowed


@pytest.mark.parametrize(
    ("verb", "res", "name", "allowed"),
    [
        ("get", "configmaps", "cm1", True),
        ("get", "configmaps", "cm2", False),
        ("get", "configmaps", "", False),
        ("list", "configmaps", "", False),  # a plain list names nothing
        ("list", "configmaps", "cm1", True),  # list with fieldSelector metadata.name=cm1
        ("watch", "configmaps", "cm1", True),
        ("create", "configmaps", "", False),  # a create request never carries a name
        ("deletecollection", "configmaps", "", False),
        ("delete", "configmaps", "cm1", True),
    ],
)
def test_resource_names_only_match_named_requests(verb: str, res: str, name: str, allowed: bool) -> None:
    rule = R("get list watch create delete deletecollection", '""', "configmaps", "cm1")
    assert rule_allows(rule, req(verb, res, name=name)) is allowed


def test_resource_names_with_subresource_create_carry_the_parent_name() -> None:
    rule = R("create", '""', "pods/exec", "debug-0")
    assert rule_allows(rule, req("create", "pods/exec", name="debug-0"))
    assert not rule_allows(rule, req("create", "pods/exec", name="web-0"))


@pytest.mark.parametrize(
    ("rule_url", "path", "allowed"),
    [
        ("/api/*", "/api", False),
        ("/api/*", "/api/", True),
        ("/api/*", "/api/v1/pods", True),
        ("/api/*", "/apis/apps", False),
        ("/api*", "/api", True),
        ("/api*", "/apis/apps", True),
        ("/api", "/api/", False),
        ("/api", "/api", True),
        ("*", "/anything/at/all", True),
        ("/healthz/*", "/healthz", False),
        ("/logs**", "/logs/kubelet.log", True),  # every trailing * is stripped
    ],
)
def test_non_resource_url_prefixes(rule_url: str, path: str, allowed: bool) -> None:
    assert rule_allows(R("get", urls=rule_url), Attributes("get", non_resource_url=path)) is allowed


def test_non_resource_rules_never_match_resource_requests_and_back() -> None:
    assert not rule_allows(R("get", urls="*"), req("get", "pods"))
    assert not rule_allows(R("get", "*", "*"), Attributes("get", non_resource_url="/api"))


@pytest.mark.parametrize("verb", ["escalate", "bind", "impersonate", "approve", "sign", "use", "deletecollection"])
def test_star_verb_matches_special_verbs(verb: str) -> None:
    rule = R("*", "*", "*")
    assert rule_allows(rule, Attributes(verb, "", G, "clusterroles", name="cluster-admin"))
    # A rule naming other verbs does not, and verbs are case-sensitive.
    assert not rule_allows(R("get list create update", "*", "*"), Attributes(verb, "", G, "clusterroles"))
    assert not rule_allows(R(verb.upper(), "*", "*"), Attributes(verb, "", G, "clusterroles"))


# ---------------------------------------------------------------------------------- binding scope


def test_rolebinding_to_clusterrole_grants_only_in_its_namespace() -> None:
    authz = Authorizer.from_objects(
        [
            cr(
                "everything",
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ),
            rb("ns-admin", "team-a", "ClusterRole", "everything", user("alice")),
        ],
        bootstrap=False,
    )
    alice = UserInfo("alice")
    assert authz.allows(alice, req("delete", "secrets", ns="team-a"))
    assert not authz.allows(alice, req("get", "secrets", ns="team-b"))
    assert not authz.allows(alice, req("list", "secrets", ns=""))  # across all namespaces
    assert not authz.allows(alice, req("get", "nodes", ns=""))  # cluster-scoped
    assert not authz.allows(alice, Attributes("get", non_resource_url="/metrics"))
    # The non-resource request ignores any namespace the caller might put on it.
    assert not authz.allows(alice, Attributes("get", namespace="team-a", non_resource_url="/metrics"))
    assert [sg.grant.binding.name for sg in authz.who_can(req("delete", "secrets", ns="team-a"))] == ["ns-admin"]
    assert authz.who_can(req("delete", "secrets", ns="team-b")) == []


def test_service_account_subject_namespace_defaulting() -> None:
    authz = Authorizer.from_objects(
        [
            cr("reader", PODS_GET),
            crb("cluster-nameless", "reader", sa("nameless")),  # matches nobody
            rb("local", "ml", "ClusterRole", "reader", sa("trainer")),  # ml/trainer
            rb("foreign", "ml", "ClusterRole", "reader", sa("ci", "tools")),  # tools/ci, in ml
        ],
        bootstrap=False,
    )

    def can(username: str, ns: str) -> bool:
        return authz.allows(UserInfo(username), req("get", "pods", ns=ns))

    assert not can("system:serviceaccount:default:nameless", "default")
    assert not can("system:serviceaccount::nameless", "default")
    assert can("system:serviceaccount:ml:trainer", "ml")
    assert not can("system:serviceaccount:ml:trainer", "default")
    assert not can("system:serviceaccount:default:trainer", "ml")
    assert can("system:serviceaccount:tools:ci", "ml")
    assert not can("system:serviceaccount:ml:ci", "ml")
    # who-can lists only subjects that can match someone, with their effective namespace.
    got = [
        (sg.subject.name, sg.subject_namespace, sg.grant.binding.name)
        for sg in authz.who_can(req("get", "pods", ns="ml"))
    ]
    assert got == [("trainer", "ml", "local"), ("ci", "tools", "foreign")]


def test_group_of_a_namespace_service_accounts() -> None:
    authz = Authorizer.from_objects(
        [
            cr("reader", PODS_GET),
            rb("all-ml-sas", "shared", "ClusterRole", "reader", {"kind": "Group", "name": "system:serviceaccounts:ml"}),
        ],
        bootstrap=False,
    )
    shared = req("get", "pods", ns="shared")
    assert authz.allows(impersonate("system:serviceaccount:ml:any"), shared)
    assert not authz.allows(impersonate("system:serviceaccount:dev:any"), shared)
    # Explicit groups replace the derived ones; the bare user name is not a member of anything.
    assert not authz.allows(impersonate("system:serviceaccount:ml:any", ["team"]), shared)
    assert not authz.allows(UserInfo("system:serviceaccount:ml:any"), shared)


def test_subject_kinds_and_api_group() -> None:
    authz = Authorizer.from_objects(
        [
            cr("reader", PODS_GET),
            crb("typed", "reader", user("alice", apiGroup=G)),
            crb("odd-group", "reader", user("bob", apiGroup="example.com")),  # apiGroup is not consulted
            crb("robot", "reader", {"kind": "Robot", "name": "carol"}),
            crb("lower", "reader", {"kind": "user", "name": "dave"}),
        ],
        bootstrap=False,
    )
    pods = req("get", "pods")
    assert authz.allows(UserInfo("alice"), pods)
    assert authz.allows(UserInfo("bob"), pods)
    assert not authz.allows(UserInfo("carol"), pods)
    assert not authz.allows(UserInfo("dave"), pods)
    assert sorted(sg.subject.name for sg in authz.who_can(pods)) == ["alice", "bob"]


def test_clusterrolebinding_to_a_role_and_missing_roles_grant_nothing() -> None:
    authz = Authorizer.from_objects(
        [
            role("r", "ns1", PODS_GET),
            crb("to-role", "r", user("u"), kind="Role"),
            crb("to-missing", "ghost", user("u")),
            rb("ok", "ns1", "Role", "r", user("u")),
        ],
        bootstrap=False,
    )
    d = authz.authorize(UserInfo("u"), req("get", "pods", ns="ns1"))
    assert d.allowed and [g.binding.name for g in d.matched] == ["ok"]
    assert len(d.errors) == 2
    assert d.reason == 'RBAC: allowed by RoleBinding "ok/ns1" of Role "r" to User "u"'
    assert not authz.allows(UserInfo("u"), req("get", "pods", ns="ns2"))


def test_allow_reason_names_service_accounts_name_slash_namespace() -> None:
    authz = Authorizer.from_objects(
        [cr("reader", PODS_GET), rb("b", "ml", "ClusterRole", "reader", sa("trainer"))], bootstrap=False
    )
    d = authz.authorize(impersonate("system:serviceaccount:ml:trainer"), req("get", "pods", ns="ml"))
    assert d.reason == 'RBAC: allowed by RoleBinding "b/ml" of ClusterRole "reader" to ServiceAccount "trainer/ml"'


# ---------------------------------------------------------------------------------- aggregation


def _aggregated(selectors: Any, *others: dict[str, Any], stored: tuple[dict[str, Any], ...] = ()) -> list[str]:
    objects = [cr("agg", *stored, aggregationRule={"clusterRoleSelectors": selectors}), *others]
    authz = Authorizer.from_objects(objects, bootstrap=False)
    return [str(r) for r in authz.roles[RoleKey("ClusterRole", "agg")].rules]


LABELLED = cr("a-labelled", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}, labels={"tier": "gold"})
PLAIN = cr("b-plain", PODS_GET)
OTHER = cr("c-other", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, labels={"tier": "tin"})
STALE = ({"apiGroups": ["x"], "resources": ["stale"], "verbs": ["get"]},)


@pytest.mark.parametrize(
    ("selectors", "want"),
    [
        ([{"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}], ["get pods [core]"]),
        (
            [{"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}],
            ["get pods [core]", "get secrets [core]"],
        ),
        (
            [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "tin"]}]}],
            ["get nodes [core]", "get secrets [core]"],
        ),
        ([{"matchExpressions": [{"key": "tier", "operator": "Exists"}]}], ["get nodes [core]", "get secrets [core]"]),
        (
            [
                {
                    "matchLabels": {"tier": "gold"},
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["tin"]}],
                }
            ],
            ["get nodes [core]"],
        ),
        # OR-ed selectors, rules in order of selector then role name, de-duplicated.
        ([{"matchLabels": {"tier": "tin"}}, {}], ["get secrets [core]", "get nodes [core]", "get pods [core]"]),
        ([None], ["get nodes [core]", "get pods [core]", "get secrets [core]"]),  # null = empty selector
        ([], []),  # an aggregationRule without selectors empties the role
        # Invalid selectors stop the controller: the stored rules stay.
        ([{"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]}], ["get stale [x]"]),
        ([{"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["gold"]}]}], ["get stale [x]"]),
        ([{}, {"matchExpressions": [{"key": "tier", "operator": "Gt", "values": ["1"]}]}], ["get stale [x]"]),
    ],
)
def test_aggregation_selectors(selectors: Any, want: list[str]) -> None:
    assert _aggregated(selectors, LABELLED, PLAIN, OTHER, stored=STALE) == want


def test_aggregated_role_never_selects_itself_and_chains_converge() -> None:
    # "agg" carries the label it selects on; it must not include its own (stale) rules.
    objs = [
        cr(
            "agg",
            *STALE,
            labels={"tier": "gold"},
            aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"tier": "gold"}}]},
        ),
        LABELLED,
        cr(
            "top",
            aggregationRule={
                "clusterRoleSelectors": [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}]
            },
        ),
    ]
    authz = Authorizer.from_objects(objs, bootstrap=False)
    assert [str(r) for r in authz.roles[RoleKey("ClusterRole", "agg")].rules] == ["get nodes [core]"]
    assert [str(r) for r in authz.roles[RoleKey("ClusterRole", "top")].rules] == ["get nodes [core]"]


# ---------------------------------------------------------------------------------- escalation coverage


@pytest.mark.parametrize(
    ("owner", "servant", "covered"),
    [
        (R("get", '""', "secrets"), R("get", '""', "secrets", "s1"), True),
        (R("get", '""', "secrets", "s1 s2"), R("get", '""', "secrets", "s1"), True),
        (R("get", '""', "secrets", "s1"), R("get", '""', "secrets", "s1 s2"), False),
        (R("get", '""', "secrets", "s1"), R("get", '""', "secrets"), False),
        (R("*", "*", "*"), R("get", '""', "secrets", "s1"), True),
        (R("get", '""', "*"), R("get", '""', "pods/log"), True),
        (R("get", "apps", "*/scale"), R("get", "apps", "deployments/scale"), True),
        (R("get", "apps", "*/scale"), R("get", "apps", "*/scale"), True),
        (R("get", "apps", "deployments/*"), R("get", "apps", "deployments/scale"), False),
        (R("get", "apps", "deployments"), R("get", "apps", "*/scale"), False),
        (R("get list", '""', "pods"), R("*", '""', "pods"), False),  # servant "*" is literal
        (R("get", '""', "pods"), R("get", "*", "pods"), False),
        (R("get", urls="/logs/*"), R("get", urls="/logs/x /logs/*"), True),
        (R("get", urls="/logs/*"), R("get", urls="/logs"), False),
        (R("get", urls="/logs*"), R("get", urls="/logs /logsearch"), True),
        (R("get", urls="*"), R("get", urls="/anything"), True),
        (R("get", urls="/api"), R("get", urls="*"), False),
        (R("get", "*", "*"), R("get", urls="/api"), False),  # resource rules never cover URLs
        (R("*", urls="*"), R("get", '""', "pods"), False),
        (R("get"), R("get", resources="pods"), True),  # no apiGroups: the servant breaks down to nothing
    ],
)
def test_escalation_coverage(owner: PolicyRule, servant: PolicyRule, covered: bool) -> None:
    assert covers([owner], [servant]) is covered


def test_uncovered_lists_atomic_tuples() -> None:
    missing = uncovered([R("get", '""', "secrets", "s1")], [R("get", '""', "secrets", "s1 s2")])
    assert missing == [R("get", '""', "secrets", "s2")]


def test_escalation_scopes_and_gc_only_updates() -> None:
    authz = Authorizer.from_objects(
        [
            cr("everything", {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
            rb("w-in-t", "t", "ClusterRole", "everything", user("w")),
        ],
        bootstrap=False,
    )
    w = UserInfo("w")
    # In "t", "*" on everything through the RoleBinding: escalate is held.
    assert check_escalation(authz, w, role("r", "t", PODS_GET)).reason == "escalate-verb"
    # Cluster objects are checked with namespace "": RoleBindings do not count.
    assert check_escalation(authz, w, cr("new", PODS_GET)).reason == "escalation"
    # A binding of a ClusterRole inside "t" needs bind in "t", which "*" holds.
    assert check_escalation(authz, w, rb("b", "t", "ClusterRole", "everything", user("x"))).reason == "bind-verb"
    assert check_escalation(authz, w, crb("b", "everything", user("x"))).reason == "escalation"
    # Only GC fields (and selfLink / managedFields) differ: allowed without coverage.
    old = crb("b", "everything", user("x"))
    new = json.loads(json.dumps(old))
    new["metadata"].update(
        ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "1"}],
        finalizers=["x/y"],
        managedFields=[{"manager": "kubectl", "operation": "Update"}],
        selfLink="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/b",
    )
    assert check_escalation(authz, w, new, "update", old).reason == "covered"
    new["subjects"] = [user("y")]
    assert check_escalation(authz, w, new, "update", old).reason == "escalation"


def test_escalation_for_anonymous_and_masters() -> None:
    authz = Authorizer.from_objects([], bootstrap=True)
    anon = impersonate("system:anonymous")
    assert check_escalation(authz, anon, cr("new", PODS_GET)).reason == "escalation"
    # system:anonymous may still create a role with what it holds (the public-info URLs).
    public = cr("public", {"nonResourceURLs": ["/version", "/healthz"], "verbs": ["get"]})
    assert check_escalation(authz, anon, public).reason == "covered"
    masters = impersonate("system:anonymous", ["system:masters"])
    assert check_escalation(authz, masters, cr("new", PODS_GET)).reason == "system:masters"


# ---------------------------------------------------------------------------------- identities


def test_impersonating_anonymous() -> None:
    anon = impersonate("system:anonymous")
    assert anon.groups == ("system:unauthenticated",)
    # Given groups are kept; system:unauthenticated is still added, never system:authenticated.
    assert impersonate("system:anonymous", ["system:authenticated"]).groups == (
        "system:authenticated",
        "system:unauthenticated",
    )
    assert impersonate("alice", ["system:unauthenticated"]).groups == ("system:unauthenticated",)
    authz = Authorizer.from_objects(
        [
            cr("reader", PODS_GET),
            rb("anon-read", "public", "ClusterRole", "reader", {"kind": "Group", "name": "system:unauthenticated"}),
        ]
    )
    assert authz.allows(anon, req("get", "pods", ns="public"))
    assert not authz.allows(impersonate("alice"), req("get", "pods", ns="public"))
    # The default policy: anonymous reads the public info endpoints, not discovery.
    assert authz.allows(anon, Attributes("get", non_resource_url="/version"))
    assert authz.allows(anon, Attributes("get", non_resource_url="/healthz"))
    assert not authz.allows(anon, Attributes("get", non_resource_url="/api"))
    assert authz.allows(impersonate("alice"), Attributes("get", non_resource_url="/api"))


@pytest.mark.parametrize(
    ("name", "groups"),
    [
        (
            "system:serviceaccount:ml:trainer",
            ("system:serviceaccounts", "system:serviceaccounts:ml", "system:authenticated"),
        ),
        ("system:serviceaccount:ML:trainer", ("system:authenticated",)),  # not a valid namespace
        ("system:serviceaccount:ml:a:b", ("system:authenticated",)),  # three parts
        ("system:serviceaccount:ml:", ("system:authenticated",)),
    ],
)
def test_impersonated_service_account_groups(name: str, groups: tuple[str, ...]) -> None:
    assert impersonate(name).groups == groups


# ---------------------------------------------------------------------------------- requests and can-i


CRDS = [
    {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "batch.volcano.sh",
            "scope": "Namespaced",
            "names": {"plural": "jobs", "kind": "Job", "shortNames": ["vcjob"]},
        },
    }
]


def test_can_i_resource_resolution() -> None:
    cat = ResourceCatalog.from_objects(CRDS)
    # A bare name resolves to the built-in group, as kubectl's RESTMapper prefers it.
    assert build_request(cat, "create", "jobs").attributes == Attributes("create", "default", "batch", "jobs")
    assert build_request(cat, "create", "vcjob").attributes.api_group == "batch.volcano.sh"
    assert build_request(cat, "create", "jobs.batch.volcano.sh").attributes.api_group == "batch.volcano.sh"
    # "*" is the resource "*" in the core group, namespaced (kubectl's isNamespaced says so).
    assert build_request(cat, "*", "*").attributes == Attributes("*", "default", "", "*")
    # Cluster-scoped resources default to no namespace: the namespace the real request carries.
    assert build_request(cat, "list", "nodes").attributes.namespace == ""
    assert build_request(cat, "get", "clusterroles").attributes.namespace == ""


@pytest.mark.parametrize(
    ("target", "group"),
    [("users", ""), ("groups", ""), ("uids", "authentication.k8s.io"), ("userextras", "authentication.k8s.io")],
)
def test_impersonation_resources_need_no_discovery_and_have_no_namespace(target: str, group: str) -> None:
    built = build_request(ResourceCatalog(), "impersonate", target, "someone")
    assert built.warnings == ()
    assert built.attributes == Attributes("impersonate", "", group, target, "", "someone")


def _write(tmp_path: Any, *objects: dict[str, Any]) -> str:
    path = tmp_path / "rbac.yaml"
    docs = [{"apiVersion": f"{G}/v1", **o} for o in objects]
    path.write_text("\n---\n".join(json.dumps(d) for d in docs))
    return str(path)


def test_can_i_cluster_scoped_resource_ignores_rolebindings_without_namespace(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    nodes = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}
    path = _write(tmp_path, cr("nodes", nodes), rb("n", "default", "ClusterRole", "nodes", user("u")))
    base = ["rbac", "can-i", "list", "nodes", "--user", "u", "--no-bootstrap", "-f", str(path)]
    assert main(base) == 1  # the real request (namespace "") is denied
    capsys.readouterr()
    # Asking inside "default", as kubectl's current-namespace check does, reaches the RoleBinding.
    assert main([*base, "-n", "default"]) == 0
    out, err = capsys.readouterr()
    assert out == "yes\n" and "not namespace scoped" in err


def test_can_i_list_table_matches_kubectl(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    rules = [
        {"apiGroups": ["apps"], "resources": ["deployments/scale", "deployments"], "verbs": ["update", "get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a", "b"], "verbs": ["get"]},
        {"nonResourceURLs": ["/metrics", "/healthz"], "verbs": ["get", "post"]},
    ]
    path = _write(tmp_path, cr("r", *rules), crb("b", "r", user("u")))
    assert main(["rbac", "can-i", "--list", "--user", "u", "--no-bootstrap", "-f", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Sorted by the Go string of the rule: verbs first, then groups ("" prints as []), resources...
    assert lines == [
        "Resources                Non-Resource URLs   Resource Names   Verbs",
        "                         [/healthz]          []               [get]",
        "                         [/metrics]          []               [get]",
        "configmaps               []                  [a]              [get]",
        "configmaps               []                  [b]              [get]",
        "                         [/healthz]          []               [post]",
        "                         [/metrics]          []               [post]",
        "deployments.apps         []                  []               [update get get]",
        "deployments.apps/scale   []                  []               [update get]",
    ]
    assert main(["rbac", "can-i", "--list", "--no-headers", "--user", "u", "--no-bootstrap", "-f", str(path)]) == 0
    # Without headers, kubectl's minimum cell width (6) shows.
    assert capsys.readouterr().out.splitlines()[2] == "configmaps               []           [a]   [get]"


def test_requests_as_the_authorizer_sees_them() -> None:
    cat = ResourceCatalog()
    assert as_authorized(Attributes("create", "ml", "", "configmaps", "", "cm1")).name == ""
    assert as_authorized(Attributes("deletecollection", "ml", "", "configmaps", "", "cm1")).name == ""
    assert as_authorized(Attributes("create", "ml", "", "pods", "exec", "web-0")).name == "web-0"
    assert as_authorized(Attributes("get", "ml", "", "configmaps", "", "cm1")).name == "cm1"
    needs = parse_needs(["create configmaps cm1 -n ml", "get configmaps cm1 -n ml"], cat)
    assert needs == [Attributes("create", "ml", "", "configmaps"), Attributes("get", "ml", "", "configmaps", "", "cm1")]
    # Audit events name the created object; the authorizer never saw that name.
    event = {
        "stage": "ResponseComplete",
        "verb": "create",
        "user": {"username": "u"},
        "objectRef": {"resource": "configmaps", "namespace": "ml", "name": "cm1"},
    }
    assert requests_from_audit([json.dumps(event)]) == [Attributes("create", "ml", "", "configmaps")]
    # So a suggested role never restricts create by name (such a rule would never allow it).
    [suggested] = suggest_roles(needs, "app")
    assert [r.to_dict() for r in suggested.rules] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cm1"], "verbs": ["get"]},
    ]


def test_named_namespace_requests_are_in_that_namespace() -> None:
    cat = ResourceCatalog()
    assert build_request(cat, "get", "namespaces", "ml").attributes == Attributes(
        "get", "ml", "", "namespaces", "", "ml"
    )
    assert build_request(cat, "list", "namespaces").attributes.namespace == ""
    assert build_request(cat, "update", "ns", "ml", subresource="finalize").attributes.namespace == "ml"
    # A RoleBinding in "ml" granting get on namespaces lets its subjects read Namespace "ml" only.
    authz = Authorizer.from_objects(
        [
            cr("ns-reader", {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}),
            rb("b", "ml", "ClusterRole", "ns-reader", user("u")),
        ],
        bootstrap=False,
    )
    assert authz.allows(UserInfo("u"), build_request(cat, "get", "namespaces", "ml").attributes)
    assert not authz.allows(UserInfo("u"), build_request(cat, "get", "namespaces", "dev").attributes)


def test_audit_requests_of_an_impersonated_identity() -> None:
    events = [
        {
            "verb": "get",
            "user": {"username": "admin"},
            "impersonatedUser": {"username": "system:serviceaccount:ml:trainer"},
            "objectRef": {"resource": "secrets", "namespace": "ml", "name": "s"},
        },
        {"verb": "list", "user": {"username": "admin"}, "objectRef": {"resource": "nodes"}},
    ]
    lines = [json.dumps(e) for e in events]
    assert requests_from_audit(lines, "system:serviceaccount:ml:trainer") == [
        Attributes("get", "ml", "", "secrets", "", "s")
    ]
    assert requests_from_audit(lines, "admin") == [Attributes("list", "", "", "nodes")]


def test_who_can_anywhere_skips_rolebindings_for_cluster_scoped_resources(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    reader = {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list"]}
    path = _write(
        tmp_path,
        cr("reader", reader),
        rb("in-ml", "ml", "ClusterRole", "reader", user("ml-user")),
        crb("everywhere", "reader", user("ops")),
    )

    def who(resource: str) -> list[str]:
        assert main(["rbac", "who-can", "list", resource, "-A", "--no-bootstrap", "-o", "json", "-f", path]) == 0
        return [row["subject"]["name"] for row in json.loads(capsys.readouterr().out)["subjects"]]

    assert who("pods") == ["ops", "ml-user"]
    assert who("nodes") == ["ops"]
