"""Conformance: every case of ``../shared/conformance/rbac/vectors.yaml`` (all must pass).

Kinds (defined in the vectors' header): ``authorize`` (the RBAC authorizer's answer, optionally
with the identity impersonation derives), ``escalation`` (the registry check when an RBAC object
is written, with its reason word) and ``identity`` (impersonation group derivation).
"""

from __future__ import annotations

from typing import Any

import yaml

from stockade.engines.rbac import (
    Attributes,
    Authorizer,
    UserInfo,
    authenticated,
    check_escalation,
    impersonate,
)
from tests.conftest import record_conformance, shared_path

# Known divergences: none. (A case listed here would be an explicit expected failure.)
EXPECTED_FAILURES: frozenset[str] = frozenset()


def _identity(req: dict[str, Any]) -> UserInfo:
    if "as" in req:
        return impersonate(req["as"], req.get("asGroups") or ())
    return authenticated(req.get("user", ""), req.get("groups") or ())


def _authorizer(doc: dict[str, Any], case: dict[str, Any]) -> Authorizer:
    objects: list[dict[str, Any]] = []
    for name in case.get("fixtures") or ():
        objects.extend(doc["fixtures"][name])
    objects.extend(case.get("objects") or ())
    bootstrap = shared_path("conformance", "rbac", "bootstrap") if case.get("bootstrap") else False
    return Authorizer.from_objects(objects, bootstrap=bootstrap)


def _attributes(req: dict[str, Any]) -> Attributes:
    if "nonResourceURL" in req:
        return Attributes(verb=req["verb"], non_resource_url=req["nonResourceURL"])
    return Attributes(
        verb=req["verb"],
        namespace=req.get("namespace", ""),
        api_group=req.get("apiGroup", ""),
        resource=req.get("resource", ""),
        subresource=req.get("subresource", ""),
        name=req.get("name", ""),
    )


def _run(doc: dict[str, Any], case: dict[str, Any]) -> list[str]:
    """Mismatches for one case (empty when it passes)."""
    kind = case.get("kind", "authorize")
    req, exp = case["request"], case["expect"]
    problems: list[str] = []
    if kind == "identity":
        user = impersonate(req["as"], req.get("asGroups") or ())
        got_id = {"user": user.name, "groups": list(user.groups)}
        if got_id != {"user": exp["user"], "groups": exp["groups"]}:
            problems.append(f"identity want {exp}, got {got_id}")
        return problems
    authz = _authorizer(doc, case)
    user = _identity(req)
    if kind == "authorize":
        decision = authz.authorize(user, _attributes(req))
        if decision.allowed != exp["allowed"]:
            problems.append(f"allowed want {exp['allowed']}, got {decision.allowed} ({decision.reason})")
        # Every granting rule listed must itself allow the request; a denial lists none.
        if decision.allowed != bool(decision.matched):
            problems.append("matched grants inconsistent with the decision")
        if authz.allows(user, _attributes(req)) != decision.allowed:
            problems.append("allows() and authorize() disagree")
        if "effectiveGroups" in exp and set(user.groups) != set(exp["effectiveGroups"]):
            problems.append(f"groups want {exp['effectiveGroups']}, got {list(user.groups)}")
        return problems
    assert kind == "escalation", kind
    result = check_escalation(authz, user, req["object"], req.get("verb", "create"), req.get("oldObject"))
    if (result.allowed, result.reason) != (exp["allowed"], exp["reason"]):
        problems.append(f"want {exp['allowed']}/{exp['reason']}, got {result.allowed}/{result.reason}")
    return problems


def test_rbac_vectors() -> None:
    doc = yaml.safe_load(shared_path("conformance", "rbac", "vectors.yaml").read_text())
    assert doc["format"] == "stockade-rbac-vectors/v1"
    cases = doc["cases"]
    kinds = {c.get("kind", "authorize") for c in cases}
    assert kinds == {"authorize", "escalation", "identity"}
    failures: list[str] = []
    passed = 0
    for case in cases:
        problems = _run(doc, case)
        if not problems:
            passed += 1
        elif case["id"] not in EXPECTED_FAILURES:
            failures.append(f"{case['id']}: {'; '.join(problems)}")
    record_conformance("rbac vectors", passed, len(cases))
    assert not failures, "\n".join(failures)
    assert passed == len(cases) - len(EXPECTED_FAILURES & {c["id"] for c in cases})


def test_who_can_agrees_with_authorize_on_every_authorize_vector() -> None:
    """who-can must list a subject matching the identity exactly when authorize allows."""
    from stockade.engines.rbac import subject_applies

    doc = yaml.safe_load(shared_path("conformance", "rbac", "vectors.yaml").read_text())
    for case in doc["cases"]:
        if case.get("kind", "authorize") != "authorize":
            continue
        authz = _authorizer(doc, case)
        user = _identity(case["request"])
        attrs = _attributes(case["request"])
        hits = [sg for sg in authz.who_can(attrs) if subject_applies(sg.subject, user, sg.grant.binding.namespace)]
        assert bool(hits) == case["expect"]["allowed"], case["id"]
