"""Edge cases of upstream semantics the conformance vectors leave open.

Policy evaluation follows k8s.io/apiserver ``pkg/audit/policy`` (checker.go) and validation
(``pkg/apis/audit/validation``); event attributes follow the audit filter, which runs after
authentication and before impersonation; ``audit rbac`` follows audit2rbac's choice of identity
(the impersonated user when there is one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stockade.compliance.controls import CIS, all_frameworks
from stockade.engines.audit.analyze import AnalyzeOptions, Analyzer
from stockade.engines.audit.policy import AuditRequest, Level, Policy
from stockade.engines.audit.rbacgen import Permission, Subject, generate, permissions_of, verify
from stockade.engines.rbac import Attributes, Authorizer, UserInfo
from stockade.errors import InputError
from tests.audit.helpers import event, parsed

ALICE = ("alice", ("system:authenticated", "ml-engineers"))


def _policy(*rules: dict[str, Any], **top: Any) -> Policy:
    return Policy.from_dict({"rules": list(rules), **top}, source="policy.yaml")


def _res(
    verb: str,
    resource: str,
    namespace: str = "",
    name: str = "",
    *,
    group: str = "",
    sub: str = "",
    user: tuple[str, tuple[str, ...]] | None = ALICE,
) -> AuditRequest:
    u, gs = user if user is not None else (None, ())
    return AuditRequest(u, gs, verb, True, group, resource, sub, name, namespace)


def _url(verb: str, path: str, user: tuple[str, tuple[str, ...]] | None = ALICE) -> AuditRequest:
    u, gs = user if user is not None else (None, ())
    return AuditRequest(u, gs, verb, False, path=path)


def _level(p: Policy, req: AuditRequest) -> Level:
    got = p.evaluate(req)
    # The memoised path, the uncached path and the reference matcher must agree.
    assert p.evaluate_uncached(req) == got
    first = p.matching_rules(req)
    assert got.rule_index == (first[0] if first else None)
    return got.level


# ------------------------------------------------------------------ resources and groups


def test_core_group_entry_without_resources_matches_every_core_resource_only() -> None:
    p = _policy({"level": "Request", "resources": [{"group": ""}]})
    assert _level(p, _res("get", "pods", "ml", "p")) is Level.REQUEST
    assert _level(p, _res("get", "pods", "ml", "p", sub="log")) is Level.REQUEST  # subresources too
    assert _level(p, _res("get", "nodes", name="n1")) is Level.REQUEST
    assert _level(p, _res("get", "deployments", "ml", "d", group="apps")) is Level.NONE
    assert _level(p, _url("get", "/api/v1")) is Level.NONE  # never a non-resource request


def test_omitted_group_is_the_core_group_and_star_is_any_group() -> None:
    omitted = _policy({"level": "Request", "resources": [{"resources": ["deployments"]}]})
    assert _level(omitted, _res("get", "deployments", "ml", "d", group="apps")) is Level.NONE
    assert _level(omitted, _res("get", "deployments", "ml", "d")) is Level.REQUEST  # core "deployments"
    star = _policy({"level": "Request", "resources": [{"group": "*", "resources": ["deployments"]}]})
    assert _level(star, _res("get", "deployments", "ml", "d", group="apps")) is Level.REQUEST
    assert _level(star, _res("get", "deployments", "ml", "d")) is Level.REQUEST
    assert _level(star, _res("get", "deployments", "ml", "d", group="apps", sub="scale")) is Level.NONE


def test_a_later_entry_of_the_same_group_is_still_tried() -> None:
    # The first entry matches the group but not the resource; matching goes on to the next entry.
    p = _policy({"level": "Request", "resources": [{"group": "", "resources": ["pods"]}, {"group": ""}]})
    assert _level(p, _res("get", "secrets", "ml", "s")) is Level.REQUEST


@pytest.mark.parametrize(
    ("spec", "resource", "sub", "matches"),
    [
        ("pods", "pods", "", True),
        ("pods", "pods", "log", False),
        ("pods/log", "pods", "log", True),
        ("pods/log", "pods", "", False),
        ("pods/*", "pods", "", True),
        ("pods/*", "pods", "exec", True),
        ("pods/*", "deployments", "scale", False),
        ("*/status", "deployments", "status", True),
        ("*/status", "status", "", False),  # needs a subresource
        ("*", "pods", "", True),
        ("*", "pods", "log", True),
        ("*/*", "pods", "log", False),  # no such form: literal
        ("pods/", "pods", "", False),
    ],
)
def test_resource_string_forms(spec: str, resource: str, sub: str, matches: bool) -> None:
    p = _policy({"level": "Metadata", "resources": [{"group": "", "resources": [spec]}]})
    assert _level(p, _res("get", resource, "ml", "x", sub=sub)) is (Level.METADATA if matches else Level.NONE)


def test_resource_names_never_match_unnamed_requests() -> None:
    p = _policy({"level": "Request", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["a"]}]})
    assert _level(p, _res("get", "configmaps", "ml", "a")) is Level.REQUEST
    assert _level(p, _res("get", "configmaps", "ml", "b")) is Level.NONE
    assert _level(p, _res("list", "configmaps", "ml")) is Level.NONE
    assert _level(p, _res("watch", "configmaps", "ml")) is Level.NONE
    # A list/watch with fieldSelector=metadata.name=a carries that name in its attributes.
    assert _level(p, _res("watch", "configmaps", "ml", "a")) is Level.REQUEST
    # The memo must not confuse two names of the same request shape.
    assert p.evaluate(_res("get", "configmaps", "ml", "b")).level is Level.NONE


def test_resource_names_apply_to_subresources_of_the_named_object() -> None:
    p = _policy({"level": "Request", "resources": [{"group": "", "resources": ["pods/*"], "resourceNames": ["p1"]}]})
    assert _level(p, _res("create", "pods", "ml", "p1", sub="exec")) is Level.REQUEST
    assert _level(p, _res("create", "pods", "ml", "p2", sub="exec")) is Level.NONE


# ------------------------------------------------------------------ namespaces


def test_empty_namespace_matches_cluster_scoped_and_all_namespace_requests() -> None:
    p = _policy({"level": "Request", "namespaces": [""]})
    assert _level(p, _res("get", "nodes", name="n1")) is Level.REQUEST
    assert _level(p, _res("list", "pods")) is Level.REQUEST  # across all namespaces
    assert _level(p, _res("list", "pods", "ml")) is Level.NONE
    assert _level(p, _url("get", "/healthz")) is Level.NONE  # namespaces make it a resource rule


def test_namespaces_and_resources_are_both_required() -> None:
    p = _policy({"level": "Request", "namespaces": [""], "resources": [{"group": "", "resources": ["nodes"]}]})
    assert _level(p, _res("get", "nodes", name="n1")) is Level.REQUEST
    assert _level(p, _res("list", "pods")) is Level.NONE
    assert _level(p, _res("get", "nodes", "ml", "n1")) is Level.NONE


def test_a_namespace_get_is_in_its_own_namespace() -> None:
    # GET /api/v1/namespaces/ml: the request's namespace is "ml" (the object's own name).
    p = _policy({"level": "Request", "namespaces": ["ml"], "resources": [{"group": "", "resources": ["namespaces"]}]})
    ev = parsed(event("alice", "get", "namespaces", "ml", "ml"))[0]
    assert _level(p, ev.to_request()) is Level.REQUEST


# ------------------------------------------------------------------ non-resource URLs


def test_non_resource_urls_never_match_resource_requests() -> None:
    p = _policy({"level": "Request", "nonResourceURLs": ["*"]})
    assert _level(p, _res("get", "pods", "ml", "p")) is Level.NONE
    assert _level(p, _url("get", "/anything")) is Level.REQUEST


@pytest.mark.parametrize(
    ("spec", "path", "matches"),
    [
        ("/healthz*", "/healthz", True),
        ("/healthz*", "/healthz/etcd", True),
        ("/healthz*", "/healthzfoo", True),  # a string prefix, not a path segment
        ("/api/*", "/api", False),
        ("/api/*", "/api/v1", True),
        ("/metrics", "/metrics/cadvisor", False),
    ],
)
def test_non_resource_url_forms(spec: str, path: str, matches: bool) -> None:
    p = _policy({"level": "Metadata", "nonResourceURLs": [spec]})
    assert _level(p, _url("get", path)) is (Level.METADATA if matches else Level.NONE)


def test_rule_without_request_kind_fields_matches_both_kinds() -> None:
    p = _policy({"level": "Metadata", "verbs": ["get"]})
    assert _level(p, _res("get", "pods", "ml", "p")) is Level.METADATA
    assert _level(p, _url("get", "/version")) is Level.METADATA
    assert _level(p, _url("post", "/version")) is Level.NONE


def test_event_path_drops_the_query_string() -> None:
    p = _policy({"level": "Request", "nonResourceURLs": ["/metrics"]})
    ev = parsed(event("prometheus", "get", path="/metrics?timeout=10s"))[0]
    assert _level(p, ev.to_request()) is Level.REQUEST


# ------------------------------------------------------------------ users, groups, verbs


def test_users_and_user_groups_are_both_required() -> None:
    p = _policy({"level": "Request", "users": ["alice"], "userGroups": ["admins"]})
    assert _level(p, _res("get", "pods", "ml", "p", user=("alice", ("admins",)))) is Level.REQUEST
    assert _level(p, _res("get", "pods", "ml", "p", user=("alice", ("ml-engineers",)))) is Level.NONE
    assert _level(p, _res("get", "pods", "ml", "p", user=("bob", ("admins",)))) is Level.NONE
    assert _level(p, _res("get", "pods", "ml", "p", user=None)) is Level.NONE


def test_user_groups_never_match_without_user_info() -> None:
    p = _policy({"level": "Request", "userGroups": ["system:unauthenticated"]})
    assert _level(p, _url("get", "/healthz", user=None)) is Level.NONE
    anon = ("system:anonymous", ("system:unauthenticated",))
    assert _level(p, _url("get", "/healthz", user=anon)) is Level.REQUEST


def test_star_verb_is_literal() -> None:
    p = _policy({"level": "Request", "verbs": ["*"]})
    assert _level(p, _res("get", "pods", "ml", "p")) is Level.NONE


# ------------------------------------------------------------------ order, stages, managed fields


def test_level_none_rule_stops_later_rules() -> None:
    p = _policy(
        {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
        {"level": "RequestResponse"},
        omitStages=["RequestReceived"],
        omitManagedFields=True,
    )
    got = p.evaluate(_res("create", "events", "ml"))
    assert (got.level, got.rule_index, got.omit_stages, got.omit_managed_fields) == (
        Level.NONE,
        0,
        frozenset({"RequestReceived"}),
        True,
    )
    assert p.evaluate(_res("create", "pods", "ml")).level is Level.REQUEST_RESPONSE


def test_omit_stages_are_the_union_of_policy_and_rule() -> None:
    p = _policy(
        {"level": "Metadata", "verbs": ["watch"], "omitStages": ["ResponseStarted", "RequestReceived"]},
        {"level": "Metadata", "verbs": ["get"]},
        omitStages=["RequestReceived"],
    )
    watch = p.evaluate(_res("watch", "pods", "ml"))
    assert watch.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert watch.to_json()["omitStages"] == ["RequestReceived", "ResponseStarted"]  # pipeline order
    assert p.evaluate(_res("get", "pods", "ml", "p")).omit_stages == {"RequestReceived"}
    unmatched = p.evaluate(_res("delete", "pods", "ml", "p"))
    assert (unmatched.level, unmatched.omit_stages, unmatched.rule_index) == (Level.NONE, {"RequestReceived"}, None)


def test_rule_omit_managed_fields_overrides_the_policy_either_way() -> None:
    p = _policy(
        {"level": "Request", "verbs": ["update"], "omitManagedFields": False},
        {"level": "Request", "verbs": ["patch"]},
        omitManagedFields=True,
    )
    assert p.evaluate(_res("update", "pods", "ml", "p")).omit_managed_fields is False
    assert p.evaluate(_res("patch", "pods", "ml", "p")).omit_managed_fields is True  # inherited
    assert p.evaluate(_res("get", "pods", "ml", "p")).omit_managed_fields is True  # no rule: policy's
    q = _policy({"level": "Request", "omitManagedFields": True})
    assert q.evaluate(_res("get", "pods", "ml", "p")).to_json()["omitManagedFields"] is True


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"level": "Request", "resources": [{"group": "", "resourceNames": ["x"]}]}, "requires at least one resource"),
        ({"level": "Request", "nonResourceURLs": ["/a*b"]}, "may only end with '*'"),
        ({"level": "Request", "nonResourceURLs": ["/logs**"]}, "may only end with '*'"),
        ({"level": "Request", "nonResourceURLs": [""]}, "must begin with '/'"),
        ({"level": "Request", "nonResourceURLs": ["/x"], "namespaces": [""]}, "both regular resources"),
        ({"level": "Request", "resources": [{"group": "apps/v1"}]}, "not a valid API group name"),
        ({"level": "Request", "resources": [{"group": "a" * 254}]}, "not a valid API group name"),
        ({"level": "Request", "omitStages": ["ResponseCompleted"]}, "unknown stage"),
        ({"level": "metadata"}, "unknown audit level"),
        ({"level": ""}, "unknown audit level"),
    ],
)
def test_validation_rejects_what_the_api_server_rejects(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        _policy(rule)
    assert str(e.value).startswith("policy.yaml: rules[0]")


def test_validation_accepts_edge_forms() -> None:
    p = _policy(
        {"level": "None", "nonResourceURLs": ["*", "/"]},
        {"level": "Request", "resources": [{"group": "a" * 63 + "." + "b" * 63}]},
        {"level": "Request", "resources": [{"group": "", "resources": ["*/*"], "resourceNames": ["x"]}]},
    )
    assert len(p.rules) == 3


# ------------------------------------------------------------------ event attributes


def test_create_name_is_cleared_but_subresource_create_keeps_it() -> None:
    p = _policy(
        {"level": "Request", "resources": [{"group": "", "resources": ["pods", "pods/*"], "resourceNames": ["p"]}]}
    )
    create, exec_ = parsed(
        event("alice", "create", "pods", "ml", "p"),  # name filled in from the created object
        event("alice", "create", "pods", "ml", "p", sub="exec"),  # name in the URL
    )
    assert create.to_request().name == ""
    assert _level(p, create.to_request()) is Level.NONE
    assert _level(p, exec_.to_request()) is Level.REQUEST


def test_policy_sees_the_authenticated_user_not_the_impersonated_one() -> None:
    # The audit filter runs before impersonation: rules match the impersonator.
    p = _policy({"level": "RequestResponse", "users": ["alice"]}, {"level": "Metadata", "users": ["bob"]})
    ev = parsed(
        event(
            "alice", "get", "pods", "ml", "p", impersonatedUser={"username": "bob", "groups": ["system:authenticated"]}
        )
    )[0]
    assert ev.user == "alice" and ev.acting_user == "bob"
    assert _level(p, ev.to_request()) is Level.REQUEST_RESPONSE


def test_request_without_user_info_matches_no_user_rule() -> None:
    d = event("", "get", path="/api")
    d["user"] = {}
    ev = parsed(d)[0]
    assert ev.to_request().user is None
    p = _policy({"level": "Request", "userGroups": ["system:unauthenticated"]}, {"level": "Metadata"})
    assert _level(p, ev.to_request()) is Level.METADATA


# ------------------------------------------------------------------ analysis with impersonation

SA = "system:serviceaccount:ml:trainer"


def _analyse(*dicts: dict[str, Any], **opts: Any) -> dict[str, Any]:
    return Analyzer(AnalyzeOptions(**opts)).add_all(parsed(*dicts)).result()


def test_analysis_names_the_impersonator_and_whom_it_acted_as() -> None:
    imp = {"username": SA, "groups": ["system:serviceaccounts", "system:serviceaccounts:ml", "system:authenticated"]}
    out = _analyse(
        event("alice", "get", "secrets", "ml", "hf-token", impersonatedUser=imp),
        event("alice", "create", "pods", "ml", "trainer-abc12", sub="exec", impersonatedUser=imp),
        event("alice", "get", "configmaps", "other-team", "cfg", impersonatedUser=imp),
    )
    assert [r["user"] for r in out["secretReads"]] == [f"alice (as {SA})"]
    assert out["podAccess"][0]["by"] == [{"user": f"alice (as {SA})", "subresource": "exec", "count": 1}]
    # The request was authorized as the ml service account: reaching another namespace is cross-namespace.
    assert out["crossNamespaceAccess"] == [{"user": f"alice (as {SA})", "namespace": "other-team", "count": 1}]
    # Activity and failures stay with the authenticated user.
    assert list(out["activity"]) == ["alice"]


def test_service_account_impersonating_a_user_still_counts_as_its_token_use() -> None:
    imp = {"username": "bob", "groups": ["team-b", "system:authenticated"]}
    teams = {"team-a": frozenset({"team-a"}), "team-b": frozenset({"team-b"})}
    analyzer = Analyzer(AnalyzeOptions(team_namespaces=teams))
    analyzer.add_all(
        parsed(
            event(SA, "get", "pods", "team-a", "p", impersonatedUser=imp),
            event(SA, "get", "pods", "team-b", "p", impersonatedUser=imp),
        )
    )
    out = analyzer.result()
    assert analyzer.sa_events == {SA: 2}
    # bob's teams (not the service account's namespace) decide which namespaces are foreign.
    assert out["crossNamespaceAccess"] == [{"user": f"{SA} (as bob)", "namespace": "team-a", "count": 1}]


def test_rbac_change_made_through_impersonation_records_both() -> None:
    out = _analyse(
        event(
            "alice",
            "create",
            "rolebindings",
            "ml",
            "rb",
            group="rbac.authorization.k8s.io",
            impersonatedUser={"username": "bob"},
        )
    )
    change = out["rbacChanges"][0]
    assert (change["user"], change["impersonatedUser"]) == ("alice", "bob")


# ------------------------------------------------------------------ audit rbac


def _allowed(docs: list[dict[str, Any]], who: str, attrs: Attributes, groups: tuple[str, ...] = ()) -> bool:
    return Authorizer.from_objects(docs, bootstrap=False).allows(UserInfo(who, groups), attrs)


def test_rbac_learns_requests_made_as_the_subject_and_not_those_of_its_impersonator() -> None:
    evs = parsed(
        event("alice", "get", "pods", "ml", "p", impersonatedUser={"username": SA}),
        event("alice", "delete", "pods", "ml", "q"),  # alice on her own: not the subject's
    )
    perms = permissions_of(evs, Subject("ServiceAccount", "trainer", "ml"))
    assert perms == [Permission("ml", "", "pods", "get", "p")]
    assert permissions_of(evs, Subject("User", "alice")) == [
        Permission("ml", "", "pods", "delete", "q"),
        Permission("ml", "", "serviceaccounts", "impersonate", "trainer"),
    ]


def test_rbac_impersonation_needs_groups_uid_and_extras_but_not_added_groups() -> None:
    imp = {
        "username": "bob",
        "uid": "u-123",
        "groups": ["gpu-users", "system:authenticated"],
        "extra": {"scopes.example.com": ["read", "write"]},
    }
    evs = parsed(event("alice", "get", "pods", "ml", "p", impersonatedUser=imp))
    subject = Subject("User", "alice")
    perms = permissions_of(evs, subject)
    assert perms == sorted(
        [
            Permission("", "", "users", "impersonate", "bob"),
            Permission("", "", "groups", "impersonate", "gpu-users"),
            Permission("", "authentication.k8s.io", "uids", "impersonate", "u-123"),
            Permission("", "authentication.k8s.io", "userextras/scopes.example.com", "impersonate", "read"),
            Permission("", "authentication.k8s.io", "userextras/scopes.example.com", "impersonate", "write"),
        ],
        key=lambda p: (p.namespace, p.api_group, p.resource, p.verb, p.name, p.url),
    )
    docs = generate(perms, subject)
    assert verify(docs, perms, subject) == []
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding"]
    assert not _allowed(docs, "alice", Attributes("impersonate", resource="groups", name="system:masters"))
    assert not _allowed(docs, "alice", Attributes("impersonate", resource="users", name="carol"))


def test_rbac_service_account_impersonation_needs_no_group_permission() -> None:
    imp = {"username": SA, "groups": ["system:serviceaccounts", "system:serviceaccounts:ml", "system:authenticated"]}
    perms = permissions_of(parsed(event("alice", "list", "pods", "ml", impersonatedUser=imp)), Subject("User", "alice"))
    assert perms == [Permission("ml", "", "serviceaccounts", "impersonate", "trainer")]
    docs = generate(perms, Subject("User", "alice"))
    assert [(d["kind"], d["metadata"].get("namespace")) for d in docs] == [("Role", "ml"), ("RoleBinding", "ml")]


def test_rbac_names_are_listed_not_generalised_and_namespaces_stay_roles() -> None:
    # Stockade keeps least privilege where audit2rbac generalises: several names of one
    # (resource, verb) become resourceNames (audit2rbac drops the name) and the same request in
    # several namespaces becomes a Role per namespace (audit2rbac makes it cluster-wide).
    subject = Subject("ServiceAccount", "trainer", "ml")
    evs = parsed(
        event(SA, "get", "configmaps", "ml", "a"),
        event(SA, "get", "configmaps", "ml", "b"),
        event(SA, "get", "configmaps", "data", "a"),
        event(SA, "list", "configmaps", "data"),
        event(SA, "list", "pods"),  # across all namespaces
        event(SA, "get", "nodes", "", "gpu-1"),
    )
    perms = permissions_of(evs, subject)
    docs = generate(perms, subject)
    assert verify(docs, perms, subject) == []
    by = {(d["kind"], d["metadata"].get("namespace")): d for d in docs}
    assert sorted(by) == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("Role", "data"),
        ("Role", "ml"),
        ("RoleBinding", "data"),
        ("RoleBinding", "ml"),
    ]
    assert by[("Role", "ml")]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a", "b"], "verbs": ["get"]}
    ]
    # In "data" one request was unnamed (list), so get keeps its name and list has none.
    assert by[("Role", "data")]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]},
    ]
    assert by[("ClusterRole", None)]["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "resourceNames": ["gpu-1"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    ]
    assert not _allowed(docs, SA, Attributes("get", "ml", resource="configmaps", name="c"))
    assert not _allowed(docs, SA, Attributes("list", "ml", resource="configmaps"))
    assert not _allowed(docs, SA, Attributes("get", "", resource="nodes", name="gpu-2"))


def test_rbac_non_resource_urls_go_to_the_cluster_role_without_query() -> None:
    subject = Subject("User", "prometheus")
    perms = permissions_of(
        parsed(event("prometheus", "get", path="/metrics?x=1"), event("prometheus", "get", path="/healthz")),
        subject,
    )
    docs = generate(perms, subject)
    assert docs[0]["kind"] == "ClusterRole"
    assert docs[0]["rules"] == [{"nonResourceURLs": ["/healthz", "/metrics"], "verbs": ["get"]}]
    assert verify(docs, perms, subject) == []


# ------------------------------------------------------------------ compliance ids and titles


def test_cis_ids_and_titles_match_kube_bench_cis_1_10() -> None:
    titles = {c.id: c.title for c in CIS.controls}
    assert titles["3.2.1"] == "Ensure that a minimal audit policy is created"
    assert titles["3.2.2"] == "Ensure that the audit policy covers key security concerns"
    assert titles["5.1.8"] == "Limit use of the Bind, Impersonate and Escalate permissions in the Kubernetes cluster"
    assert titles["5.1.13"] == "Minimize access to the service account token creation"
    assert titles["5.7.2"] == "Ensure that the seccomp profile is set to docker/default in your Pod definitions"
    assert "5.6.1" not in titles  # cis-1.10 has no section 5.6


def test_owasp_ids_and_titles_match_the_published_lists() -> None:
    fw = all_frameworks()
    assert [(c.id, c.title) for c in fw["owasp-k8s"].controls][:4] == [
        ("K01", "Insecure Workload Configurations"),
        ("K02", "Overly Permissive Authorization Configurations"),
        ("K03", "Secrets Management Failures"),
        ("K04", "Lack Of Cluster Level Policy Enforcement"),
    ]
    assert [c.title for c in fw["owasp-k8s-2022"].controls][9] == "Outdated and Vulnerable Kubernetes Components"


# ------------------------------------------------------------------ coverage and stages


def test_coverage_counts_a_rule_keeping_only_panic_as_not_recording() -> None:
    from stockade.engines.audit.review import completion_stages, coverage_gaps

    assert completion_stages(_res("create", "deployments", "ml", group="apps")) == {"ResponseComplete"}
    assert completion_stages(_res("create", "pods", "ml", "p", sub="exec")) == {"ResponseStarted", "ResponseComplete"}
    assert completion_stages(_res("watch", "secrets", "ml")) == {"ResponseStarted", "ResponseComplete"}
    p = _policy(
        {"level": "Metadata", "resources": [{"group": "apps"}], "omitStages": ["ResponseStarted", "ResponseComplete"]},
        {
            "level": "Metadata",
            "resources": [{"group": "", "resources": ["pods/*"]}],
            "omitStages": ["ResponseComplete"],
        },
        {"level": "Metadata"},
    )
    gaps = coverage_gaps(p)
    # Plain pod writes keep nothing after the start (rule 1); exec keeps ResponseStarted (long-running).
    found = {(g.config.rule_index, g.example.resource, g.example.subresource) for g in gaps["workload changes"]}
    assert {(i, sub) for i, _, sub in found} == {(0, ""), (1, "")}
    assert "pod exec/attach/port-forward" not in gaps


def test_request_received_is_reported_only_for_rules_a_request_reaches() -> None:
    from stockade.engines.audit.review import request_received_recorded

    p = _policy(
        {"level": "Metadata", "omitStages": ["RequestReceived"]},
        {"level": "Request", "verbs": ["get"]},  # shadowed by the catch-all above
    )
    assert request_received_recorded(p) == []
    q = _policy({"level": "None", "verbs": ["watch"]}, {"level": "Metadata"})
    assert request_received_recorded(q) == [1]


def test_policy_api_version_must_be_one_the_loader_decodes() -> None:
    body: dict[str, Any] = {"kind": "Policy", "rules": [{"level": "Metadata"}]}
    assert Policy.from_dict({**body, "apiVersion": "audit.k8s.io/v1"}).rules[0].level is Level.METADATA
    assert Policy.from_dict({**body, "apiVersion": "audit.k8s.io/v1beta1"}).rules[0].level is Level.METADATA
    with pytest.raises(InputError, match=r"unknown apiVersion 'audit\.k8s\.io/v2'"):
        Policy.from_dict({**body, "apiVersion": "audit.k8s.io/v2"}, source="policy.yaml")


def test_generated_names_are_valid_object_names_like_audit2rbac() -> None:
    from stockade.engines.audit.rbacgen import default_name

    assert default_name(Subject("ServiceAccount", "trainer", "ml")) == "audit2rbac:trainer"
    assert default_name(Subject("ServiceAccount", "default", "ml")) == "audit2rbac:system:serviceaccount:ml:default"
    assert (
        default_name(Subject("User", "https://issuer.example/#Alice%40x"))
        == "audit2rbac:https:--issuer-example--alice-40x"
    )
    perms = [Permission("ml", "", "pods", "get", "p")]
    docs = generate(perms, Subject("User", "oidc:https://idp/alice"))
    assert {d["metadata"]["name"] for d in docs} == {"audit2rbac:oidc:https:--idp-alice"}
    assert generate(perms, Subject("User", "alice"), name="custom")[0]["metadata"]["name"] == "custom"


def test_rbac_learns_from_request_received_only_when_denied_requests_count() -> None:
    subject = Subject("User", "alice")
    evs = parsed(
        event("alice", "get", "pods", "ml", "p", stage="RequestReceived"),  # later stages omitted by policy
        event("alice", "get", "secrets", "ml", "s", stage="RequestReceived"),
        event("alice", "get", "secrets", "ml", "s", code=403),
    )
    assert permissions_of(evs, subject) == [
        Permission("ml", "", "pods", "get", "p"),
        Permission("ml", "", "secrets", "get", "s"),
    ]
    assert permissions_of(evs, subject, include_denied=False) == []


def test_generalise_broadens_like_audit2rbac() -> None:
    from stockade.engines.audit.rbacgen import generalise

    subject = Subject("ServiceAccount", "trainer", "ml")
    perms = permissions_of(
        parsed(
            event(SA, "get", "configmaps", "ml", "a"),
            event(SA, "get", "configmaps", "data", "b"),  # second namespace and name -> any, cluster-wide
            event(SA, "list", "pods", "ml"),  # one namespace: stays a Role; list brings get and watch
            event(SA, "get", "secrets", "ml", "s"),  # one name: stays named
            event(SA, "get", path="/metrics"),
        ),
        subject,
    )
    wide = generalise(perms)
    assert Permission("", "", "configmaps", "get") in wide
    assert {p.verb for p in wide if p.resource == "pods"} == {"get", "list", "watch"}
    assert {p.namespace for p in wide if p.resource == "pods"} == {"ml"}
    assert [p for p in wide if p.resource == "secrets"] == [Permission("ml", "", "secrets", "get", "s")]
    assert Permission("", "", "", "get", url="/metrics") in wide
    docs = generate(wide, subject)
    assert verify(docs, perms, subject) == []  # still allows everything learned
    assert _allowed(docs, SA, Attributes("get", "other", resource="configmaps", name="z"))
    assert not _allowed(docs, SA, Attributes("list", "other", resource="pods"))


def test_cli_rbac_generalise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from stockade.cli.main import main
    from tests.audit.helpers import write_log

    log = write_log(
        tmp_path / "audit.log",
        [event(SA, "get", "configmaps", "ml", "a"), event(SA, "get", "configmaps", "data", "b")],
    )
    assert main(["audit", "rbac", "--serviceaccount", "ml:trainer", "--generalise", str(log)]) == 0
    out = capsys.readouterr().out
    assert "from 2 distinct request(s)" in out
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding"]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    assert main(["audit", "rbac", "--serviceaccount", "ml:trainer", str(log)]) == 0
    narrow = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [(d["kind"], d["metadata"]["namespace"]) for d in narrow] == [
        ("Role", "data"),
        ("RoleBinding", "data"),
        ("Role", "ml"),
        ("RoleBinding", "ml"),
    ]
