"""Conformance: every upstream pod-security fixture, at its own level and version.

Fixtures come from kubernetes/pod-security-admission ``test/testdata`` (see
``../shared/conformance/pod-security/SOURCES.md``): ``pass/`` pods must be allowed and ``fail/``
pods denied, with the expected substring (upstream's ``expectErrorSubstring``) in the denial.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from stockade.engines.pss import CHECK_IDS, CHECKS, Level, evaluate, parse_version, plan
from tests.conftest import record_conformance, shared_path

# Prefix (lower-cased check id) -> substring upstream requires in the denial message.
EXPECTED_SUBSTRING = {
    "allowprivilegeescalation": "allowPrivilegeEscalation",
    "apparmorprofile": "forbidden AppArmor profile",
    "capabilities_baseline": "capabilities",
    "capabilities_restricted": "unrestricted capabilities",
    "hostnamespaces": "host namespaces",
    "hostpathvolumes": "hostPath",
    "hostports": "hostPort",
    "hostprobesandhostlifecycle": "probe or lifecycle host",
    "privileged": "privileged",
    "procmount": "procMount",
    "procmount_restricted": "procMount",
    "restrictedvolumes": "restricted volume types",
    "runasnonroot": "runAsNonRoot",
    "runasuser": "runAsUser",
    "seccompprofile_baseline": "seccompProfile",
    "seccompprofile_restricted": "seccompProfile",
    "selinuxoptions": "seLinuxOptions",
    "sysctls": "forbidden sysctl",
    "windowshostprocess": "hostProcess",
}

# No known divergence: every fixture must give upstream's answer.
EXPECTED_FAILURES: frozenset[str] = frozenset()


def _prefix(stem: str) -> str:
    return stem.rstrip("0123456789")


_ID_BY_PREFIX = {cid.lower(): cid for cid in CHECK_IDS}


def _expected_checks(prefix: str, level: str, version: str) -> set[str]:
    """The check a fail fixture was generated for, or the restricted check overriding it.

    Stricter than upstream (which matches only a substring): the denial must come from that check.
    """
    cid = _ID_BY_PREFIX[prefix]
    minor = parse_version(version).effective_minor
    active = {i for i, _ in plan(Level(level), minor)}
    if cid in active:
        return {cid}
    overriding = set()
    for cd in CHECKS:
        impl = cd.at(minor)
        if cd.id in active and impl is not None and cid in impl.overrides:
            overriding.add(cd.id)
    return overriding


def _check(path: Path, level: str, version: str, outcome: str) -> str | None:
    """None when the fixture gives upstream's answer, else a one-line explanation."""
    pod = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    result = evaluate(pod.get("metadata"), pod.get("spec"), level, version)
    # upstream also wraps each pod in a Deployment: its template must get the same verdict
    template = evaluate(pod.get("metadata"), pod.get("spec"), level, version, is_pod=False)
    if template.allowed != result.allowed:
        return f"pod and template verdicts differ: {result.message!r} vs {template.message!r}"
    if outcome == "pass":
        return None if result.allowed else f"denied: {result.message}"
    if result.allowed:
        return "allowed, expected denied"
    message = result.message
    if "unknown forbidden reason" in message:
        return f"unknown forbidden reason: {message}"
    want = EXPECTED_SUBSTRING[_prefix(path.stem)]
    if want not in message:
        return f"denial lacks {want!r}: {message}"
    checks = _expected_checks(_prefix(path.stem), level, version)
    if not checks & {v.check_id for v in result.violations}:
        return f"denied by {[v.check_id for v in result.violations]}, expected one of {sorted(checks)}"
    return None


def test_pod_security_fixtures() -> None:
    root = shared_path("conformance", "pod-security", "fixtures")
    files = sorted(root.glob("*/v1.*/*/*.yaml"))
    problems: list[str] = []
    passed = 0
    for path in files:
        outcome = path.parent.name
        version = path.parent.parent.name
        level = path.parent.parent.parent.name
        rel = str(path.relative_to(root))
        problem = _check(path, level, version, outcome)
        if problem is None:
            passed += 1
            assert rel not in EXPECTED_FAILURES, f"{rel} now passes: remove it from EXPECTED_FAILURES"
        elif rel not in EXPECTED_FAILURES:
            problems.append(f"{rel}: {problem}")
    record_conformance("pod-security fixtures", passed, len(files))
    assert len(files) == 4537, f"expected 4,537 fixtures, found {len(files)}"
    assert not problems, "\n".join(problems[:50])
