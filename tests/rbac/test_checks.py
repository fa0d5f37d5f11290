"""RBAC scan checks: each fail.* file yields exactly the findings listed, each pass.* file none."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.checks.registry import ScanContext, all_checks, runners
from stockade.config import Config
from stockade.loading import load_paths
from stockade.model import Finding, Severity

DATA = Path(__file__).parent / "data"
CONFIG = Config.from_mapping({"rbac": {"break_glass_groups": ["platform:break-glass"]}})

C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

# file -> {(check id, object, field path, severity, words the detail must contain)}
EXPECTED: dict[str, set[tuple[str, str, str, Severity, tuple[str, ...]]]] = {
    "fail.impersonate-named-system-masters.yaml": {
        (
            "rbac.impersonate",
            "ClusterRoleBinding/debug-tool-impersonator",
            "roleRef",
            C,
            ("User debug-tool", "rules[0]", "names=system:masters"),
        ),
    },
    "fail.bind-named-cluster-admin.yaml": {
        (
            "rbac.escalate-or-bind",
            "RoleBinding/team-a/team-a-lead-binder",
            "roleRef",
            H,
            ("User team-a-lead", "rules[0]", "names=cluster-admin"),
        ),
    },
    "fail.wildcard-clusterrolebinding.yaml": {
        (
            "rbac.wildcard-permission",
            "ClusterRoleBinding/alice-superuser",
            "roleRef",
            C,
            ("User alice", "rules[0]"),
        ),
    },
    "fail.wildcard-verbs-in-namespace.yaml": {
        (
            "rbac.wildcard-permission",
            "RoleBinding/training/researchers-jobs",
            "roleRef",
            M,
            ("Group researchers",),
        ),
        (
            "rbac.workload-create",
            "RoleBinding/training/researchers-jobs",
            "roleRef",
            L,
            ("in namespace training",),
        ),
    },
    "fail.secrets-read-cluster-wide.yaml": {
        (
            "rbac.secrets-read",
            "ClusterRoleBinding/feature-store-secrets",
            "roleRef",
            C,
            ("ServiceAccount ml/feature-store", "every namespace", "ClusterRole/secret-reader"),
        ),
    },
    "fail.secrets-read-cross-namespace.yaml": {
        (
            "rbac.secrets-read",
            "RoleBinding/team-b/team-a-reads-team-b",
            "roleRef",
            H,
            ("ServiceAccount team-a/trainer", "namespace team-b"),
        ),
    },
    "fail.exec-into-serving.yaml": {
        ("rbac.pod-exec", "RoleBinding/serving/oncall-debug", "roleRef", M, ("Group oncall", "pods/exec")),
    },
    "fail.escalate-bind.yaml": {
        ("rbac.escalate-or-bind", "ClusterRoleBinding/ci-role-manager", "roleRef", C, ("User ci-bot",)),
    },
    "fail.impersonate.yaml": {
        ("rbac.impersonate", "ClusterRoleBinding/dashboard-impersonator", "roleRef", C, ("User dashboard",)),
    },
    "fail.nodes-proxy.yaml": {
        ("rbac.nodes-proxy", "ClusterRoleBinding/gpu-exporter-kubelet", "roleRef", C, ("nodes/proxy",)),
    },
    "fail.token-create.yaml": {
        (
            "rbac.token-create",
            "RoleBinding/ml/notebook-token-minter",
            "roleRef",
            H,
            ("User notebook-gateway",),
        ),
    },
    "fail.csr-approval.yaml": {
        ("rbac.csr-approval", "ClusterRoleBinding/auto-approver", "roleRef", C, ("rules[0]", "rules[1]")),
    },
    "fail.webhook-config.yaml": {
        (
            "rbac.webhook-config",
            "ClusterRoleBinding/injector-webhook-admin",
            "roleRef",
            C,
            ("sidecar-injector",),
        ),
    },
    "fail.workload-create-cluster-wide.yaml": {
        ("rbac.workload-create", "ClusterRoleBinding/launcher-everywhere", "roleRef", H, ("rayclusters",)),
    },
    "fail.cluster-admin-to-user.yaml": {
        # subjects[0] is the break-glass group: not reported.
        ("rbac.cluster-admin-binding", "ClusterRoleBinding/bob-admin", "subjects[1]", C, ("User bob",)),
    },
    "fail.broad-system-authenticated.yaml": {
        (
            "rbac.broad-subject",
            "ClusterRoleBinding/everyone-reads-models",
            "subjects[0]",
            H,
            ("Group system:authenticated",),
        ),
    },
    "fail.default-service-account-grant.yaml": {
        (
            "rbac.broad-subject",
            "RoleBinding/training/default-sa-configmaps",
            "subjects[0]",
            M,
            ("ServiceAccount training/default",),
        ),
    },
    "fail.binding-missing-role.yaml": {
        (
            "rbac.binding-missing-role",
            "RoleBinding/training/ghost-binding",
            "roleRef.name",
            M,
            ("does-not-exist",),
        ),
    },
    "fail.binding-missing-subject.yaml": {
        (
            "rbac.binding-missing-subject",
            "RoleBinding/training/old-trainer",
            "subjects[0]",
            L,
            ("ServiceAccount training/retired-trainer",),
        ),
    },
    # Least-privilege bindings stay quiet; only the three bad ones are reported.
    "fail.ml-platform-mixed.yaml": {
        (
            "rbac.cluster-admin-binding",
            "ClusterRoleBinding/model-sync-admin",
            "subjects[0]",
            C,
            ("ServiceAccount serving/model-sync",),
        ),
        (
            "rbac.broad-subject",
            "RoleBinding/serving/everyone-debug",
            "subjects[0]",
            C,
            ("Group system:authenticated", "exec"),
        ),
        (
            "rbac.pod-exec",
            "RoleBinding/serving/everyone-debug",
            "roleRef",
            H,
            ("Group system:authenticated", "namespace serving"),
        ),
        (
            "rbac.secrets-read",
            "RoleBinding/serving/trainer-reads-serving-secrets",
            "roleRef",
            H,
            ("ServiceAccount training/trainer", "ClusterRole/secret-reader"),
        ),
    },
    # The bootstrap `edit` role, aggregated, bound to a team in its own namespace.
    "fail.edit-bound-to-team.yaml": {
        ("rbac.impersonate", "RoleBinding/ml-team-a/team-a-edit", "roleRef", H, ("ClusterRole/edit",)),
        ("rbac.secrets-read", "RoleBinding/ml-team-a/team-a-edit", "roleRef", M, ("Group team-a",)),
        ("rbac.pod-exec", "RoleBinding/ml-team-a/team-a-edit", "roleRef", M, ("pods/exec",)),
        ("rbac.workload-create", "RoleBinding/ml-team-a/team-a-edit", "roleRef", L, ("deployments",)),
        ("rbac.token-create", "RoleBinding/ml-team-a/team-a-edit", "roleRef", H, ("serviceaccounts/token",)),
    },
}


def _scan(path: Path, config: Config = CONFIG) -> list[Finding]:
    result = load_paths([str(path)])
    assert not result.errors, result.errors
    return _run(ScanContext(result.inventory, config))


def _run(ctx: ScanContext) -> list[Finding]:
    rbac = [c for c in all_checks() if c.spec.area == "rbac"]
    return [f for _group, fn in runners(rbac) for f in fn(ctx)]


def test_every_data_file_is_covered() -> None:
    files = {p.name for p in DATA.glob("*.yaml")}
    fails = {f for f in files if f.startswith("fail.")}
    assert fails == set(EXPECTED), "every fail.* file needs an expectation"
    assert files - fails, "there must be pass.* cases"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fail_cases(name: str) -> None:
    findings = _scan(DATA / name)
    got = {(f.check_id, str(f.subject), f.path, f.severity) for f in findings}
    want = {(c, o, p, s) for c, o, p, s, _ in EXPECTED[name]}
    assert got == want
    for check_id, obj, path, _sev, words in EXPECTED[name]:
        f = next(f for f in findings if (f.check_id, str(f.subject), f.path) == (check_id, obj, path))
        for w in words:
            assert w in f.detail, (check_id, w, f.detail)
        assert f.location is not None and f.location.line is not None


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("pass.*.yaml")))
def test_pass_cases(name: str) -> None:
    assert _scan(DATA / name) == []


def test_cluster_admin_break_glass_group_defaults_to_system_masters() -> None:
    findings = _scan(DATA / "pass.cluster-admin-break-glass.yaml", Config())
    assert [(f.check_id, f.path) for f in findings] == [("rbac.cluster-admin-binding", "subjects[0]")]
    assert "Group platform:break-glass" in findings[0].detail


def test_severity_override_wins_over_blast_radius() -> None:
    cfg = Config.from_mapping({"checks": {"severity": {"rbac.secrets-read": "low"}}})
    findings = _scan(DATA / "fail.secrets-read-cluster-wide.yaml", cfg)
    assert [(f.check_id, f.severity) for f in findings] == [("rbac.secrets-read", Severity.LOW)]


def test_bootstrap_bindings_are_context_not_findings() -> None:
    # A scan of nothing but the default policy yields no RBAC findings at all.
    assert _run(ScanContext(load_paths([]).inventory, Config())) == []


def test_bad_rbac_config_is_a_config_error() -> None:
    from stockade.errors import ConfigError

    cfg = Config.from_mapping({"rbac": {"break_glass_groups": "admins"}})
    with pytest.raises(ConfigError, match=r"rbac\.break_glass_groups"):
        _scan(DATA / "pass.cluster-admin-break-glass.yaml", cfg)


def test_specs_are_well_formed() -> None:
    specs = [c.spec for c in all_checks() if c.spec.area == "rbac"]
    assert len(specs) == 14
    for s in specs:
        assert s.remediation.endswith("."), s.id
        assert s.references, s.id
