"""Policy review engine: reachability is exact (checked against brute force on random policies)."""

from __future__ import annotations

import itertools
import random
from typing import Any

from stockade.engines.audit.policy import AuditRequest, Policy
from stockade.engines.audit.review import (
    Vocabulary,
    catch_all,
    coverage_gaps,
    describe,
    find_request,
    request_received_recorded,
    unreachable_rules,
)

POOL_USERS = ["alice", "bob"]
POOL_GROUPS = ["admins", "devs"]
POOL_VERBS = ["get", "list", "create"]
POOL_NS = ["", "a", "b"]
POOL_RES = [("", "pods", ""), ("", "pods", "log"), ("", "secrets", ""), ("apps", "deployments", "")]
POOL_RES_STRINGS = ["pods", "pods/log", "pods/*", "*/log", "*", "secrets", "deployments"]
POOL_NAMES = ["", "x"]
POOL_PATHS = ["/healthz", "/healthz/etcd", "/metrics"]
POOL_URLS = ["/healthz", "/healthz*", "/metrics", "*"]


def _random_rule(rng: random.Random) -> dict[str, Any]:
    rule: dict[str, Any] = {"level": rng.choice(["None", "Metadata", "Request"])}
    if rng.random() < 0.3:
        rule["users"] = rng.sample(POOL_USERS, rng.randint(1, 2))
    if rng.random() < 0.3:
        rule["userGroups"] = rng.sample(POOL_GROUPS, 1)
    if rng.random() < 0.4:
        rule["verbs"] = rng.sample(POOL_VERBS, rng.randint(1, 2))
    kind = rng.random()
    if kind < 0.5:
        entry: dict[str, Any] = {"group": rng.choice(["", "apps"])}
        if rng.random() < 0.8:
            entry["resources"] = rng.sample(POOL_RES_STRINGS, rng.randint(1, 2))
            if rng.random() < 0.2:
                entry["resourceNames"] = ["x"]
        rule["resources"] = [entry]
        if rng.random() < 0.3:
            rule["namespaces"] = rng.sample(POOL_NS, rng.randint(1, 2))
    elif kind < 0.7:
        rule["nonResourceURLs"] = rng.sample(POOL_URLS, 1)
    return rule


def _all_requests() -> list[AuditRequest]:
    reqs = []
    users: list[tuple[str | None, tuple[str, ...]]] = [(None, ())]
    users += [(u, gs) for u in [*POOL_USERS, "carol"] for gs in [(), ("admins",), ("devs",), ("admins", "devs")]]
    for (u, gs), verb in itertools.product(users, POOL_VERBS):
        for ns, (g, r, s), name in itertools.product(POOL_NS, POOL_RES, POOL_NAMES):
            reqs.append(AuditRequest(u, gs, verb, True, g, r, s, name, ns))
        for p in POOL_PATHS:
            reqs.append(AuditRequest(u, gs, verb, False, path=p))
    return reqs


def test_unreachable_rules_match_brute_force_on_random_policies() -> None:
    rng = random.Random(20261129)
    reqs = _all_requests()
    for _ in range(150):
        body = {"rules": [_random_rule(rng) for _ in range(rng.randint(1, 5))]}
        policy = Policy.from_dict(body)
        decided = {policy.evaluate(r).rule_index for r in reqs}
        claimed = set(unreachable_rules(policy))
        # Every rule brute force reaches is reachable...
        assert not (decided & claimed), body
        # ... and every rule claimed reachable has a witness that really reaches it.
        vocab = Vocabulary.of(policy)
        for i in set(range(len(body["rules"]))) - claimed:
            w = find_request(policy, i, vocab)
            assert w is not None and policy.evaluate(w).rule_index == i, (body, i, w)


def test_witness_of_a_narrow_rule() -> None:
    p = Policy.from_dict(
        {
            "rules": [
                {"level": "None", "userGroups": ["system:nodes"]},
                {
                    "level": "Request",
                    "namespaces": ["ml"],
                    "resources": [{"group": "", "resources": ["secrets"]}],
                },
            ]
        }
    )
    w = find_request(p, 1)
    assert w is not None
    assert (w.resource, w.namespace, w.groups) == ("secrets", "ml", ())
    assert describe(w) == "a user: get secrets in ml"


def test_coverage_gap_from_namespace_exception() -> None:
    p = Policy.from_dict({"rules": [{"level": "None", "namespaces": ["kube-system"]}, {"level": "Metadata"}]})
    gaps = coverage_gaps(p)
    assert set(gaps) == {"pod exec/attach/port-forward", "RBAC writes", "secrets access", "workload changes"}
    assert {describe(g.example) for g in gaps["secrets access"]} == {"a user: get secrets in kube-system"}


def test_catch_all_and_request_received() -> None:
    p = Policy.from_dict(
        {
            "rules": [
                {"level": "None", "verbs": ["watch"]},
                {"level": "Metadata", "omitStages": ["RequestReceived"]},
                {"level": "Request"},
            ]
        }
    )
    assert catch_all(p) == 1
    assert request_received_recorded(p) == []  # rules[2] is unreachable: it records nothing
    p2 = Policy.from_dict({"omitStages": ["RequestReceived"], "rules": [{"level": "Request"}]})
    assert request_received_recorded(p2) == []


def test_sensitive_logging_prefers_examples_whose_bodies_hold_credentials() -> None:
    from stockade.engines.audit.review import sensitive_logging

    def found(rules: list[dict[str, object]]) -> list[tuple[int, str, str, bool]]:
        p = Policy.from_dict({"rules": rules})
        return [(s.rule_index, s.topic, describe(s.example), s.leaks) for s in sensitive_logging(p)]

    # Request level on reads records no body: reported (above Metadata) but not as a leak.
    reads = {"level": "Request", "verbs": ["get"], "resources": [{"group": "", "resources": ["secrets"]}]}
    assert found([reads]) == [(0, "secrets", "a user: get secrets", False)]
    # Request level on writes records the secret being written.
    assert found([{"level": "Request", "verbs": ["get", "update"], "resources": [{"group": ""}]}]) == [
        (0, "secrets", "a user: update secrets", True),
        (0, "configmaps", "a user: update configmaps", True),
        (0, "token requests", "a user: get serviceaccounts/token", False),
    ]
    # The issued token is in the TokenRequest response only.
    token = {"level": "Request", "resources": [{"group": "", "resources": ["serviceaccounts/token"]}]}
    assert found([token]) == [(0, "token requests", "a user: get serviceaccounts/token", False)]
    token["level"] = "RequestResponse"
    assert found([token]) == [(0, "token requests", "a user: create serviceaccounts/token", True)]
    # TokenReview requests carry the token under review.
    review = {"level": "Request", "resources": [{"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]}
    assert found([review]) == [(0, "TokenReviews", "a user: create tokenreviews.authentication.k8s.io", True)]
    # Metadata first: nothing reaches the Request rule for these resources.
    meta = {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets", "configmaps"]}]}
    assert found([meta, {"level": "Request", "resources": [{"group": ""}]}]) == [
        (1, "token requests", "a user: get serviceaccounts/token", False)
    ]
