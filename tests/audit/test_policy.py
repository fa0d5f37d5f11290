"""The audit policy engine beyond the conformance vectors: validation, versions, events, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.engines.audit.events import parse_event
from stockade.engines.audit.policy import AuditRequest, Level, Policy, load_policy
from stockade.errors import InputError
from tests.audit.helpers import event

POD_GET = AuditRequest("alice", ("team-a",), "get", True, "", "pods", "", "web-0", "team-a")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rules": [{"level": "Verbose"}]}, "rules[0].level: unknown audit level 'Verbose'"),
        (
            {"rules": [{"level": "None", "omitStages": ["Started"]}]},
            "rules[0].omitStages: unknown stage 'Started'",
        ),
        ({"omitStages": ["Nope"], "rules": []}, "omitStages: unknown stage 'Nope'"),
        (
            {"rules": [{"level": "Metadata", "nonResourceURLs": ["/x"], "namespaces": ["a"]}]},
            "rules[0]: rules cannot apply to both regular resources and non-resource URLs",
        ),
        (
            {"rules": [{"level": "Metadata", "resources": [{"group": "", "resourceNames": ["a"]}]}]},
            "rules[0].resources[0]: using resourceNames requires at least one resource",
        ),
        ({"rules": [{"level": "Metadata", "nonResourceURLs": ["healthz"]}]}, "'healthz' must begin with '/'"),
        ({"rules": [{"level": "Metadata", "nonResourceURLs": ["/a*/b"]}]}, "'/a*/b' may only end with '*'"),
        (
            {"rules": [{"level": "Metadata", "resources": [{"group": "Apps"}]}]},
            "'Apps' is not a valid API group",
        ),
        ({"kind": "ConfigMap", "rules": []}, "expected kind Policy"),
        ({"kind": "Policy", "omitStages": ["RequestReceived"]}, "loaded illegal policy with 0 rules"),
    ],
)
def test_invalid_policies_are_rejected_with_the_rule(body: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as e:
        Policy.from_dict(body, source="policy.yaml")
    assert str(e.value).startswith("policy.yaml: ")
    assert message in str(e.value)


def test_star_group_is_rejected_before_1_36() -> None:
    # Before 1.36 upstream validation checks every non-empty group as a DNS subdomain: "*" fails.
    body = {"rules": [{"level": "Request", "resources": [{"group": "*", "resources": ["*/status"]}]}]}
    req = AuditRequest("u", (), "update", True, "apps", "deployments", "status", "d", "ns")
    assert Policy.from_dict(body).evaluate(req).level is Level.REQUEST
    with pytest.raises(InputError, match=r"rules\[0\]\.resources\[0\]\.group: '\*' is not a valid API group name"):
        Policy.from_dict(body, wildcard_group=False)


def test_group_entry_without_resources_ignores_nothing_else() -> None:
    # namespaces and resources are ANDed: right group, wrong namespace -> no match.
    p = Policy.from_dict(
        {
            "rules": [
                {"level": "Request", "namespaces": ["other"], "resources": [{"group": ""}]},
                {"level": "Metadata"},
            ]
        }
    )
    got = p.evaluate(POD_GET)
    assert (got.level, got.rule_index) == (Level.METADATA, 1)


def test_resource_names_apply_per_group_entry() -> None:
    p = Policy.from_dict(
        {
            "rules": [
                {
                    "level": "RequestResponse",
                    "resources": [
                        {"group": "", "resources": ["configmaps"], "resourceNames": ["cfg"]},
                        {"group": "", "resources": ["pods"]},
                    ],
                }
            ]
        }
    )
    assert p.evaluate(POD_GET).level is Level.REQUEST_RESPONSE
    cm = AuditRequest("u", (), "get", True, "", "configmaps", "", "other", "ns")
    assert p.evaluate(cm).level is Level.NONE


def test_verb_index_does_not_leak_between_resource_and_url_requests() -> None:
    p = Policy.from_dict(
        {"rules": [{"level": "None", "nonResourceURLs": ["*"]}, {"level": "Request", "verbs": ["get"]}]}
    )
    assert p.evaluate(POD_GET).level is Level.REQUEST
    url = AuditRequest("u", (), "get", False, path="/metrics")
    assert p.evaluate(url).level is Level.NONE
    assert p.evaluate(POD_GET).rule_index == 1


def test_to_json_lists_stages_in_pipeline_order() -> None:
    p = Policy.from_dict({"omitStages": ["Panic", "RequestReceived"], "rules": [{"level": "Metadata"}]})
    assert p.evaluate(POD_GET).to_json() == {
        "level": "Metadata",
        "omitStages": ["RequestReceived", "Panic"],
        "omitManagedFields": False,
    }


def test_event_to_request_clears_create_name_and_query() -> None:
    created = parse_event(event("alice", "create", "pods", "team-a", "web-0"))
    assert created.to_request().name == ""
    exec_ = parse_event(event("alice", "create", "pods", "team-a", "web-0", sub="exec"))
    assert exec_.to_request().name == "web-0"
    url = parse_event(event("system:anonymous", "get", path="/healthz?verbose=1", groups=["system:unauthenticated"]))
    req = url.to_request()
    assert (req.resource_request, req.path, req.user) == (False, "/healthz", "system:anonymous")


def test_event_without_user_info_has_no_user() -> None:
    d = event("", "get", path="/api", groups=[])
    assert parse_event(d).to_request().user is None


def test_load_policy_picks_the_policy_document(tmp_path: Path) -> None:
    f = tmp_path / "audit-policy.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n"
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
    )
    assert load_policy(str(f)).evaluate(POD_GET).level is Level.METADATA


def test_load_policy_errors_name_the_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("rules: [\n")
    with pytest.raises(InputError, match=r"broken.yaml:\d+: invalid YAML"):
        load_policy(str(f))
    with pytest.raises(InputError, match="cannot read audit policy"):
        load_policy(str(tmp_path / "missing.yaml"))


def test_compiled_memoised_evaluation_agrees_with_the_reference_matcher() -> None:
    import random

    from tests.audit.test_review import _all_requests, _random_rule

    rng = random.Random(7)
    reqs = _all_requests()
    for _ in range(120):
        body = {
            "omitStages": rng.sample(["RequestReceived", "Panic"], rng.randint(0, 1)),
            "rules": [_random_rule(rng) for _ in range(rng.randint(1, 6))],
        }
        policy = Policy.from_dict(body)
        for req in rng.sample(reqs, 300) * 2:  # twice: the second pass is served by the memo
            first = next(iter(policy.matching_rules(req)), None)
            got = policy.evaluate(req)
            assert got.rule_index == first, (body, req)
            if first is None:
                assert got.level is Level.NONE and got.omit_stages == frozenset(body["omitStages"])
            else:
                assert got.level is policy.rules[first].level


def test_event_fields_of_the_wrong_type_read_as_empty() -> None:
    d = event("alice", "get", "pods", "a", "p")
    d["user"]["groups"] = ["devs", 1, {"x": 1}]
    d["verb"] = 7
    ev = parse_event(d)
    assert (ev.groups, ev.verb, ev.user) == (("devs",), "", "alice")
