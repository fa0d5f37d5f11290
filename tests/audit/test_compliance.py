"""Compliance mapping: published control ids, mapped checks that exist, honest verdicts."""

from __future__ import annotations

import re

import pytest

from stockade.checks.registry import all_checks
from stockade.compliance import Control, Coverage, Status, assess, frameworks, get_framework
from stockade.errors import UsageError
from stockade.model import Finding, ObjectRef, Severity

ALL_CHECKS = {c.spec.id for c in all_checks()}


def _finding(check_id: str, path: str = "spec", detail: str = "") -> Finding:
    return Finding(check_id, Severity.HIGH, ObjectRef("Deployment", "web", "team-a"), None, path, "msg", detail)


@pytest.mark.parametrize("name", ["cis", "nsa", "pss", "owasp-k8s", "owasp-k8s-2022"])
def test_every_mapped_check_exists_and_ids_are_unique(name: str) -> None:
    fw = get_framework(name)
    assert fw.check_ids() <= ALL_CHECKS, fw.check_ids() - ALL_CHECKS
    ids = [c.id for c in fw.controls]
    assert len(ids) == len(set(ids))
    assert fw.verified_from and all(r.url.startswith("https://") for r in fw.verified_from)
    for c in fw.controls:
        assert (c.coverage is Coverage.NONE) == (not c.checks), c.id
        assert c.checks or c.note, f"{c.id}: say why it cannot be judged"


def test_cis_ids_and_titles_look_published() -> None:
    cis = get_framework("cis")
    assert all(re.fullmatch(r"\d+(\.\d+)+", c.id) for c in cis.controls)
    assert not [c.title for c in cis.controls if "(Manual)" in c.title or "(Automated)" in c.title]
    titles = {c.id: c.title for c in cis.controls}
    assert titles["5.1.2"] == "Minimize access to secrets"
    assert titles["3.2.2"] == "Ensure that the audit policy covers key security concerns"


def test_owasp_ids() -> None:
    assert [c.id for c in get_framework("owasp-k8s").controls] == [f"K{i:02d}" for i in range(1, 11)]
    assert [c.id for c in get_framework("owasp-k8s-2022").controls] == [f"K{i:02d}:2022" for i in range(1, 11)]
    assert get_framework("owasp-k8s").controls[7].title == "Cluster To Cloud Lateral Movement"


def test_unknown_framework_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown framework 'iso'.*cis, nsa, owasp-k8s, owasp-k8s-2022, pss"):
        get_framework("iso")
    assert sorted(frameworks()) == ["cis", "nsa", "owasp-k8s", "owasp-k8s-2022", "pss"]


def _by_id(results: list) -> dict[str, tuple[Status, str]]:  # type: ignore[type-arg]
    return {r.control.id: (r.status, r.reason) for r in results}


def test_one_check_split_across_controls_by_field() -> None:
    cis = get_framework("cis")
    f = _finding("pss.host-namespaces", "spec.template.spec.hostPID", "hostPID=true")
    res = _by_id(assess(cis, [f], ALL_CHECKS, ["Deployment"], has_pod_specs=True))
    assert res["5.2.3"][0] is Status.FAIL
    assert res["5.2.4"] == (Status.PASS, "no findings from pss.host-namespaces")
    assert res["5.2.5"][0] is Status.PASS


def test_nothing_to_judge_is_not_assessed_not_passed() -> None:
    cis = get_framework("cis")
    res = _by_id(assess(cis, [], ALL_CHECKS, ["Deployment"], has_pod_specs=True))
    assert res["5.1.2"] == (
        Status.NOT_ASSESSED,
        "the inputs hold nothing to judge (Role, ClusterRole, RoleBinding, ClusterRoleBinding)",
    )
    assert res["3.2.2"][0] is Status.NOT_ASSESSED
    assert res["5.2.2"][0] is Status.PASS
    assert res["5.1.7"][0] is Status.NOT_ASSESSED
    assert "authenticator" in res["5.1.7"][1]


def test_partial_coverage_never_passes() -> None:
    cis = get_framework("cis")
    res = _by_id(assess(cis, [], ALL_CHECKS, ["Policy"], has_pod_specs=True))
    assert res["3.2.1"][0] is Status.PARTIAL
    assert "--audit-policy-file" in res["3.2.1"][1]
    assert res["3.2.2"][0] is Status.PASS


def test_disabled_checks_mean_not_assessed() -> None:
    pss = get_framework("pss")
    res = _by_id(assess(pss, [], ALL_CHECKS - {"pss.privileged"}, [], has_pod_specs=True))
    assert res["Baseline: Privileged Containers"] == (Status.NOT_ASSESSED, "the checks for this control did not run")


def test_failures_carry_their_evidence() -> None:
    pss = get_framework("pss")
    f = _finding("pss.run-as-user", "spec.template.spec.containers[0].securityContext.runAsUser")
    (result,) = [r for r in assess(pss, [f], ALL_CHECKS, [], True) if r.control.id.endswith("Non-root user")]
    assert result.status is Status.FAIL and result.findings == (f,)
    assert result.control.title == "Running as Non-root user (v1.23+)"


def test_control_invariants() -> None:
    with pytest.raises(ValueError):
        Control("x", "x", (), Coverage.FULL)


def test_reports_render_status_and_evidence() -> None:
    from stockade.compliance import render_text, to_json

    pss = get_framework("pss")
    f = _finding("pss.privileged", "spec.template.spec.containers[0].securityContext.privileged", "container app")
    results = assess(pss, [f], ALL_CHECKS, [], has_pod_specs=True)
    doc = to_json(pss, results)
    assert doc["summary"] == {"pass": 17, "fail": 1, "partial": 0, "not-assessed": 0}
    text = render_text(pss, results)
    assert "  FAIL          Baseline: Privileged Containers" in text
    assert "- Deployment/team-a/web spec.template.spec.containers[0].securityContext.privileged: container app" in text
    assert text.endswith("17 pass, 1 fail, 0 partial, 0 not assessed\n")
