"""The pss scan checks: per-check findings at each namespace's level, and namespace labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stockade.checks.registry import ScanContext, all_checks, runners
from stockade.config import Config
from stockade.loading import load_paths
from stockade.model import Finding

DATA = Path(__file__).parent / "data"


def scan(path: Path, config: Config | None = None) -> list[Finding]:
    loaded = load_paths([str(path)])
    assert not loaded.errors, loaded.errors
    ctx = ScanContext(loaded.inventory, config or Config())
    out: list[Finding] = []
    for _group, fn in runners(rc for rc in all_checks() if rc.spec.area == "pss"):
        out.extend(fn(ctx))
    return out


def keyed(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.check_id, str(f.subject), f.path) for f in findings}


@pytest.fixture(scope="module")
def platform() -> list[Finding]:
    return scan(DATA / "scan.ml-platform.yaml")


def test_one_spec_per_upstream_check() -> None:
    from stockade.checks.pss.standards import SPECS
    from stockade.engines.pss import CHECK_IDS

    assert set(SPECS) == set(CHECK_IDS)
    ids = {rc.spec.id for rc in all_checks() if rc.spec.area == "pss"}
    assert ids == {s.id for s in SPECS.values()} | {
        "pss.namespace-no-enforce-label",
        "pss.namespace-privileged-undocumented",
    }
    for rc in all_checks():
        if rc.spec.area == "pss":
            assert rc.spec.remediation.endswith(".") and rc.spec.references


def test_exact_findings(platform: list[Finding]) -> None:
    assert keyed(platform) == {
        # gpu namespace enforces baseline: only the baseline violation of the GPU worker
        ("pss.host-namespaces", "RayCluster/gpu/llm", "spec.workerGroupSpecs[0].template.spec.hostIPC"),
        # research has no label and runs GPU training: held to baseline
        (
            "pss.host-path-volumes",
            "PyTorchJob/research/finetune",
            "spec.pytorchReplicaSpecs.Worker.template.spec.volumes[0].hostPath",
        ),
        # serving enforces restricted: the KServe predictor's model container
        (
            "pss.privileged",
            "InferenceService/serving/sentiment",
            "spec.predictor.model.securityContext.privileged",
        ),
        (
            "pss.allow-privilege-escalation",
            "InferenceService/serving/sentiment",
            "spec.predictor.model.securityContext",
        ),
        (
            "pss.capabilities-restricted",
            "InferenceService/serving/sentiment",
            "spec.predictor.model.securityContext",
        ),
        ("pss.namespace-privileged-undocumented", "Namespace/ops", "metadata.labels"),
        ("pss.namespace-no-enforce-label", "Namespace/research", "metadata.labels"),
        ("pss.namespace-no-enforce-label", "Namespace/typo", "metadata.labels"),
        ("pss.namespace-no-enforce-label", "Namespace/web", "metadata.labels"),
    }


def by(findings: list[Finding], check_id: str, subject: str) -> Finding:
    (f,) = [f for f in findings if f.check_id == check_id and str(f.subject) == subject]
    return f


def test_detail_carries_level_and_version(platform: list[Finding]) -> None:
    f = by(platform, "pss.host-namespaces", "RayCluster/gpu/llm")
    assert f.message == "host namespaces"
    assert f.detail == "hostIPC in worker:a100 [baseline:v1.30 enforce]"
    assert dict(f.evidence)["check"] == "hostNamespaces"
    assert dict(f.evidence)["version"] == "v1.30"
    p = by(platform, "pss.privileged", "InferenceService/serving/sentiment")
    assert p.detail.endswith("in predictor [restricted:latest enforce]")
    h = by(platform, "pss.host-path-volumes", "PyTorchJob/research/finetune")
    assert h.detail == 'volume "datasets" in worker [baseline:latest assumed (GPU namespace)]'


def test_namespace_recommendations(platform: list[Finding]) -> None:
    assert (
        "enforce=baseline (GPU workloads)"
        in by(platform, "pss.namespace-no-enforce-label", "Namespace/research").detail
    )
    web = by(platform, "pss.namespace-no-enforce-label", "Namespace/web").detail
    assert "enforce=restricted" in web and "only pod-security.kubernetes.io/warn set" in web
    typo = by(platform, "pss.namespace-no-enforce-label", "Namespace/typo")
    assert typo.message == "invalid pod-security enforce label"
    assert "enforces restricted:latest instead" in typo.detail


def test_privileged_namespace_gets_no_pod_findings(platform: list[Finding]) -> None:
    assert not [f for f in platform if str(f.subject) == "Deployment/ops/agent"]


def test_unlabelled_non_gpu_namespace_is_held_to_restricted(tmp_path: Path) -> None:
    f = tmp_path / "deploy.yaml"
    f.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - {name: web, image: nginx}\n"
    )
    found = scan(f)
    assert {x.check_id for x in found} == {
        "pss.allow-privilege-escalation",
        "pss.capabilities-restricted",
        "pss.run-as-non-root",
        "pss.seccomp-profile-restricted",
    }
    assert all(x.detail.endswith("[restricted:latest assumed]") for x in found)
    assert {x.path for x in found} == {"spec.template.spec.containers[0]"}


def test_settings_default_level_and_admission_config(tmp_path: Path, asset_writer: Callable[..., Path]) -> None:
    deploy = asset_writer(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    spec:\n      hostPID: true\n"
        "      containers:\n      - {name: web, image: nginx}\n",
    )
    cfg = Config.from_mapping({"pss": {"default_level": "baseline", "default_version": "v1.25"}})
    found = scan(deploy, cfg)
    assert [(x.check_id, x.detail) for x in found] == [("pss.host-namespaces", "hostPID [baseline:v1.25 assumed]")]
    adm = asset_writer(
        "psa.yaml",
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
        "defaults: {enforce: baseline}\nexemptions: {namespaces: [kube-system]}\n",
    )
    cfg = Config.from_mapping({"pss": {"admission_config": str(adm)}})
    found = scan(deploy, cfg)
    assert [(x.check_id, x.detail) for x in found] == [
        ("pss.host-namespaces", "hostPID [baseline:latest cluster default]")
    ]


def test_enforce_version_label_applies_to_the_cluster_default_level(asset_writer: Callable[..., Path]) -> None:
    # upstream: a missing enforce label keeps the default level, the enforce-version label still applies
    manifests = asset_writer(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
        "  labels: {pod-security.kubernetes.io/enforce-version: v1.21}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop}\n"
        "spec: {containers: [{name: a, image: i}]}\n",
    )
    adm = asset_writer(
        "psa.yaml",
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
        "defaults: {enforce: restricted}\n",
    )
    found = scan(manifests, Config.from_mapping({"pss": {"admission_config": str(adm)}}))
    details = sorted(x.detail for x in found if x.check_id.startswith("pss.") and "namespace" not in x.check_id)
    assert details and all(d.endswith("[restricted:v1.21 cluster default]") for d in details)
    # capabilities_restricted only exists from v1.22
    assert "pss.capabilities-restricted" not in {x.check_id for x in found}


def test_exempt_namespace_and_runtime_class(asset_writer: Callable[..., Path]) -> None:
    manifests = asset_writer(
        "exempt.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: kube-system}\n"
        "spec: {containers: [{name: a, securityContext: {privileged: true}}]}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: sandbox}\n"
        "spec: {runtimeClassName: kata, containers: [{name: b, securityContext: {privileged: true}}]}\n",
    )
    adm = asset_writer(
        "psa.yaml",
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
        "exemptions: {namespaces: [kube-system], runtimeClasses: [kata]}\n",
    )
    assert scan(manifests, Config.from_mapping({"pss": {"admission_config": str(adm)}})) == []


@pytest.fixture
def asset_writer(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


def test_gpu_workload_in_restricted_namespace_gets_baseline_hint(asset_writer: Callable[..., Path]) -> None:
    manifests = asset_writer(
        "gpu-in-restricted.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shared\n"
        "  labels: {pod-security.kubernetes.io/enforce: restricted}\n---\n"
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train, namespace: shared}\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        "      - {name: t, image: torch, resources: {limits: {nvidia.com/gpu: 1}}}\n",
    )
    found = scan(manifests)
    assert {f.check_id for f in found} == {
        "pss.allow-privilege-escalation",
        "pss.capabilities-restricted",
        "pss.run-as-non-root",
        "pss.seccomp-profile-restricted",
    }
    for f in found:
        assert dict(f.evidence)["hint"].startswith("GPU workload that meets baseline")


def test_findings_point_at_the_offending_field(asset_writer: Callable[..., Path]) -> None:
    manifests = asset_writer(
        "fields.yaml",
        """\
apiVersion: v1
kind: Namespace
metadata: {name: r, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: r}
spec:
  template:
    metadata:
      annotations:
        container.apparmor.security.beta.kubernetes.io/app: unconfined
    spec:
      securityContext:
        runAsUser: 0
        runAsNonRoot: true
        sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}, {name: kernel.msgmax, value: "1"}]
      containers:
      - name: app
        image: x
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL], add: [SYS_ADMIN]}
          seccompProfile: {type: Unconfined}
          seLinuxOptions: {type: spc_t}
          procMount: Unmasked
        ports: [{containerPort: 80}, {containerPort: 81, hostPort: 81}]
        lifecycle: {preStop: {tcpSocket: {port: 80, host: 1.2.3.4}}}
      volumes:
      - {name: c, configMap: {name: c}}
      - {name: g, gitRepo: {repository: x}}
""",
    )
    base = "spec.template.spec"
    c0 = f"{base}.containers[0]"
    assert {(f.check_id, f.path) for f in scan(manifests)} == {
        ("pss.apparmor-profile", "spec.template.metadata.annotations"),
        ("pss.run-as-user", f"{base}.securityContext.runAsUser"),
        ("pss.sysctls", f"{base}.securityContext.sysctls[1].name"),
        ("pss.capabilities-restricted", f"{c0}.securityContext.capabilities.add"),
        ("pss.seccomp-profile-restricted", f"{c0}.securityContext.seccompProfile.type"),
        ("pss.selinux-options", f"{c0}.securityContext.seLinuxOptions"),
        ("pss.proc-mount-restricted", f"{c0}.securityContext.procMount"),
        ("pss.host-ports", f"{c0}.ports[1].hostPort"),
        ("pss.host-probes-and-host-lifecycle", f"{c0}.lifecycle.preStop.tcpSocket.host"),
        ("pss.restricted-volumes", f"{base}.volumes[1].gitRepo"),
    }
