"""Engine semantics the upstream fixtures do not exercise, with upstream's exact texts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stockade.engines.pss import CHECK_IDS, NEWEST_MINOR, Level, evaluate, plan


def restricted_pod(**spec_extra: Any) -> dict[str, Any]:
    """A pod that passes restricted at every version."""
    hardened = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "app", "securityContext": dict(hardened)}],
        "initContainers": [{"name": "init", "image": "init", "securityContext": copy.deepcopy(hardened)}],
    }
    spec.update(spec_extra)
    return spec


def only(result: Any) -> tuple[str, str, str]:
    assert not result.allowed
    assert len(result.violations) == 1, result.message
    v = result.violations[0]
    return v.check_id, v.reason, v.detail


def test_restricted_pod_is_allowed_everywhere() -> None:
    for minor in range(NEWEST_MINOR + 1):
        assert evaluate({}, restricted_pod(), "restricted", f"v1.{minor}").allowed


def test_privileged_level_allows_everything() -> None:
    spec = {"hostPID": True, "containers": [{"name": "x", "securityContext": {"privileged": True}}]}
    assert evaluate({}, spec, "privileged").allowed
    assert plan(Level.PRIVILEGED, 37) == ()


def test_invalid_level_or_version_raises() -> None:
    with pytest.raises(ValueError):
        evaluate({}, {}, "Restricted")
    with pytest.raises(ValueError):
        evaluate({}, {}, "baseline", "1.25")


def test_versions_newer_than_known_are_latest() -> None:
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]}}
    assert evaluate({}, spec, "baseline", "v1.99").allowed
    assert evaluate({}, spec, "baseline", "latest").allowed
    assert not evaluate({}, spec, "baseline", "v1.36").allowed


def test_check_order_baseline_sorted_then_restricted_sorted() -> None:
    ids = [i for i, _ in plan(Level.RESTRICTED, 37)]
    baseline = [
        "appArmorProfile",
        "hostNamespaces",
        "hostPorts",
        "hostProbesAndHostLifecycle",
        "privileged",
        "seLinuxOptions",
        "sysctls",
        "windowsHostProcess",
    ]
    restricted = [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "procMount_restricted",
        "restrictedVolumes",
        "runAsNonRoot",
        "runAsUser",
        "seccompProfile_restricted",
    ]
    assert ids == baseline + restricted
    assert set(CHECK_IDS) == set(ids) | {
        "capabilities_baseline",
        "hostPathVolumes",
        "procMount",
        "seccompProfile_baseline",
    }


def test_overrides_follow_versions() -> None:
    at = {m: [i for i, _ in plan(Level.RESTRICTED, m)] for m in (0, 18, 19, 21, 22, 34, 35)}
    assert "hostPathVolumes" not in at[0] and "restrictedVolumes" in at[0]
    assert "seccompProfile_baseline" in at[18] and "seccompProfile_restricted" not in at[18]
    assert "seccompProfile_baseline" not in at[19]
    assert "capabilities_baseline" in at[21] and "capabilities_baseline" not in at[22]
    assert "procMount" in at[34] and "procMount_restricted" not in at[34]
    assert "procMount" not in at[35] and "procMount_restricted" in at[35]
    assert "allowPrivilegeEscalation" not in [i for i, _ in plan(Level.RESTRICTED, 7)]
    assert "runAsUser" not in [i for i, _ in plan(Level.RESTRICTED, 22)]


# --- host namespaces, privileged, ephemeral containers -----------------------------------------


def test_host_namespaces_detail_is_sorted() -> None:
    spec = {"hostPID": True, "hostNetwork": True, "containers": [{"name": "a"}]}
    assert only(evaluate({}, spec, "baseline")) == (
        "hostNamespaces",
        "host namespaces",
        "hostNetwork, hostPID",
    )


def test_ephemeral_containers_are_checked_last() -> None:
    spec = {
        "containers": [{"name": "app", "securityContext": {"privileged": True}}],
        "initContainers": [{"name": "init", "securityContext": {"privileged": True}}],
        "ephemeralContainers": [{"name": "debugger", "securityContext": {"privileged": True}}],
    }
    assert only(evaluate({}, spec, "baseline")) == (
        "privileged",
        "privileged",
        'containers "init", "app", "debugger" must not set securityContext.privileged=true',
    )


def test_ephemeral_container_alone_fails_restricted() -> None:
    spec = restricted_pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}])
    r = evaluate({}, spec, "restricted", "v1.30")
    assert [v.check_id for v in r.violations] == ["allowPrivilegeEscalation", "capabilities_restricted"]
    assert r.violations[0].detail == 'container "debug" must set securityContext.allowPrivilegeEscalation=false'


def test_ephemeral_container_capabilities_at_baseline() -> None:
    spec = {
        "containers": [{"name": "a"}],
        "ephemeralContainers": [{"name": "dbg", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}],
    }
    assert only(evaluate({}, spec, "baseline")) == (
        "capabilities_baseline",
        "non-default capabilities",
        'container "dbg" must not include "SYS_PTRACE" in securityContext.capabilities.add',
    )


# --- AppArmor ----------------------------------------------------------------------------------


def test_apparmor_unconfined_pod_field() -> None:
    spec = {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}
    assert only(evaluate({}, spec, "baseline")) == (
        "appArmorProfile",
        "forbidden AppArmor profile",
        'pod must not set AppArmor profile type to "Unconfined"',
    )


def test_apparmor_container_fields_and_annotations_together() -> None:
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}
    spec = {
        "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
            {
                "name": "b",
                "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}},
            },
        ],
        "ephemeralContainers": [{"name": "e", "securityContext": {"appArmorProfile": {"type": "Bogus"}}}],
    }
    assert only(evaluate(meta, spec, "baseline")) == (
        "appArmorProfile",
        "forbidden AppArmor profiles",
        'containers "a", "e" and annotation must not set AppArmor profile type to '
        '"Bogus", "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined""',
    )


@pytest.mark.parametrize("value", ["", "runtime/default", "localhost/my-profile"])
def test_apparmor_allowed_annotations(value: str) -> None:
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/any-name": value}}
    assert evaluate(meta, {"containers": [{"name": "a"}]}, "baseline").allowed


def test_apparmor_annotation_for_unknown_container_still_checked() -> None:
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/ghost": "unconfined"}}
    r = evaluate(meta, {"containers": [{"name": "a"}]}, "baseline")
    assert [v.check_id for v in r.violations] == ["appArmorProfile"]


# --- probes and lifecycle handlers ---------------------------------------------------------------


def test_probe_and_lifecycle_hosts() -> None:
    spec = {
        "containers": [
            {
                "name": "a",
                "startupProbe": {"tcpSocket": {"port": 80, "host": "169.254.169.254"}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "host": "metadata.internal"}}},
            },
            {
                "name": "b",
                "readinessProbe": {"grpc": {"port": 80}},
                "livenessProbe": {"exec": {"command": ["x"]}},
            },
        ],
        "initContainers": [{"name": "i", "lifecycle": {"postStart": {"tcpSocket": {"port": 1, "host": "10.0.0.1"}}}}],
    }
    assert only(evaluate({}, spec, "baseline", "v1.34")) == (
        "hostProbesAndHostLifecycle",
        "probe or lifecycle host",
        'containers "a", "i" use probe or lifecycle hosts "10.0.0.1", "169.254.169.254", "metadata.internal"',
    )
    assert evaluate({}, spec, "baseline", "v1.33").allowed


def test_empty_probe_host_is_allowed() -> None:
    spec = {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": 80, "host": ""}}}]}
    assert evaluate({}, spec, "baseline").allowed


# --- volumes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "volume",
    [
        {"name": "v", "csi": {"driver": "secrets-store.csi.k8s.io"}},
        {"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
        {"name": "v", "image": {"reference": "registry.example.com/weights:1"}},
        {"name": "v", "emptyDir": {"medium": "Memory"}},
        {"name": "v"},  # no source: the API server defaults it to emptyDir
    ],
)
def test_restricted_allows_volume(volume: dict[str, Any]) -> None:
    assert evaluate({}, restricted_pod(volumes=[volume]), "restricted").allowed


def test_volume_without_source_is_unknown_without_defaulting() -> None:
    r = evaluate({}, restricted_pod(volumes=[{"name": "v"}]), "restricted", defaults=False)
    assert only(r) == (
        "restrictedVolumes",
        "restricted volume types",
        'volume "v" uses restricted volume type "unknown"',
    )


def test_restricted_volumes_detail() -> None:
    vols = [
        {"name": "logs", "hostPath": {"path": "/var/log"}},
        {"name": "data", "nfs": {"server": "nfs", "path": "/"}},
        {"name": "ok", "configMap": {"name": "c"}},
    ]
    assert only(evaluate({}, restricted_pod(volumes=vols), "restricted")) == (
        "restrictedVolumes",
        "restricted volume types",
        'volumes "logs", "data" use restricted volume types "hostPath", "nfs"',
    )
    r = evaluate({}, {"containers": [{"name": "a"}], "volumes": vols}, "baseline")
    assert only(r) == ("hostPathVolumes", "hostPath volumes", 'volume "logs"')


# --- SELinux -------------------------------------------------------------------------------------


def test_container_engine_t_allowed_from_v1_31() -> None:
    spec = {"containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}
    assert evaluate({}, spec, "baseline", "v1.31").allowed
    assert only(evaluate({}, spec, "baseline", "v1.30")) == (
        "seLinuxOptions",
        "seLinuxOptions",
        'container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t"',
    )


def test_selinux_user_and_role_reported_without_bad_type() -> None:
    spec = {
        "securityContext": {"seLinuxOptions": {"user": "system_u", "level": "s0:c1"}},
        "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"role": "sysadm_r", "type": "spc_t"}}}],
    }
    assert only(evaluate({}, spec, "baseline")) == (
        "seLinuxOptions",
        "seLinuxOptions",
        'pod and container "a" set forbidden securityContext.seLinuxOptions: '
        'type "spc_t"; user may not be set; role may not be set',
    )


def test_selinux_level_is_not_checked() -> None:
    spec = {"securityContext": {"seLinuxOptions": {"level": "s0:c123,c456"}}, "containers": [{"name": "a"}]}
    assert evaluate({}, spec, "baseline").allowed


# --- sysctls per version ---------------------------------------------------------------------------

SYSCTL_SINCE = {
    "kernel.shm_rmid_forced": 0,
    "net.ipv4.ip_unprivileged_port_start": 0,
    "net.ipv4.ip_local_reserved_ports": 27,
    "net.ipv4.tcp_keepalive_time": 29,
    "net.ipv4.tcp_fin_timeout": 29,
    "net.ipv4.tcp_keepalive_intvl": 29,
    "net.ipv4.tcp_keepalive_probes": 29,
    "net.ipv4.tcp_rmem": 32,
    "net.ipv4.tcp_wmem": 32,
    "net.ipv4.tcp_slow_start_after_idle": 37,
    "net.ipv4.tcp_notsent_lowat": 37,
}


@pytest.mark.parametrize("name,since", sorted(SYSCTL_SINCE.items()))
def test_sysctl_allowed_from_its_version(name: str, since: int) -> None:
    spec = {"securityContext": {"sysctls": [{"name": name, "value": "1"}]}, "containers": [{"name": "a"}]}
    assert evaluate({}, spec, "baseline", f"v1.{since}").allowed
    if since:
        assert only(evaluate({}, spec, "baseline", f"v1.{since - 1}")) == (
            "sysctls",
            "forbidden sysctls",
            name,
        )


def test_sysctl_detail_keeps_spec_order_and_exact_names() -> None:
    names = ["net.ipv4/ip_local_port_range", "kernel.msgmax", "net.ipv4.ip_local_port_range"]
    spec = {"securityContext": {"sysctls": [{"name": n} for n in names]}, "containers": [{"name": "a"}]}
    assert only(evaluate({}, spec, "baseline")) == (
        "sysctls",
        "forbidden sysctls",
        "net.ipv4/ip_local_port_range, kernel.msgmax",
    )


# --- seccomp -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,allowed",
    [
        ("docker/default", True),
        ("runtime/default", True),
        ("localhost/p", True),
        ("unconfined", False),
        ("", False),
    ],
)
def test_seccomp_annotations_before_v1_19(value: str, allowed: bool) -> None:
    meta = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": value}}
    spec = {"containers": [{"name": "a"}]}
    assert evaluate(meta, spec, "baseline", "v1.18").allowed is allowed
    assert evaluate(meta, spec, "baseline", "v1.19").allowed  # annotations ignored from v1.19


def test_seccomp_container_annotation_detail() -> None:
    meta = {"annotations": {"container.seccomp.security.alpha.kubernetes.io/a": "unconfined"}}
    assert only(evaluate(meta, {"containers": [{"name": "a"}]}, "baseline", "v1.0")) == (
        "seccompProfile_baseline",
        "seccompProfile",
        'forbidden annotation container.seccomp.security.alpha.kubernetes.io/a="unconfined"',
    )


def test_seccomp_restricted_container_level_only() -> None:
    spec = restricted_pod()
    del spec["securityContext"]["seccompProfile"]
    for c in spec["containers"] + spec["initContainers"]:
        c["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "p.json"}
    assert evaluate({}, spec, "restricted").allowed
    spec["initContainers"][0]["securityContext"]["seccompProfile"] = {}
    assert only(evaluate({}, spec, "restricted")) == (
        "seccompProfile_restricted",
        "seccompProfile",
        'container "init" must not set securityContext.seccompProfile.type to ""',
    )


# --- Windows and user namespaces ---------------------------------------------------------------------


def windows_pod() -> dict[str, Any]:
    return {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "app", "image": "mcr.microsoft.com/windows/nanoserver"}],
    }


def test_windows_pod_relaxations_from_v1_25() -> None:
    assert evaluate({}, windows_pod(), "restricted", "v1.25").allowed
    r = evaluate({}, windows_pod(), "restricted", "v1.24")
    assert [v.check_id for v in r.violations] == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "seccompProfile_restricted",
    ]


def test_windows_pod_still_needs_run_as_non_root() -> None:
    spec = windows_pod()
    del spec["securityContext"]
    assert only(evaluate({}, spec, "restricted"))[0] == "runAsNonRoot"


def test_windows_host_process() -> None:
    spec = windows_pod()
    spec["securityContext"]["windowsOptions"] = {"hostProcess": True}
    spec["containers"][0]["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert only(evaluate({}, spec, "restricted")) == (
        "windowsHostProcess",
        "hostProcess",
        'pod and container "app" must not set securityContext.windowsOptions.hostProcess=true',
    )


def test_user_namespace_relaxations_from_v1_35() -> None:
    spec = restricted_pod(hostUsers=False)
    spec["securityContext"] = {
        "runAsNonRoot": False,
        "runAsUser": 0,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    r = evaluate({}, spec, "restricted", "v1.34")
    assert [v.check_id for v in r.violations] == ["runAsNonRoot", "runAsUser"]
    assert evaluate({}, spec, "restricted", "v1.35").allowed
    spec["containers"][0]["securityContext"]["procMount"] = "Unmasked"
    assert evaluate({}, spec, "baseline", "v1.35").allowed
    assert only(evaluate({}, spec, "restricted", "v1.35")) == (
        "procMount_restricted",
        "procMount",
        'container "app" must not set securityContext.procMount to "Unmasked"',
    )


# --- runAsNonRoot / runAsUser / capabilities ------------------------------------------------------


def test_run_as_user_non_zero_does_not_satisfy_run_as_non_root() -> None:
    spec = restricted_pod()
    spec["securityContext"] = {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    assert only(evaluate({}, spec, "restricted")) == (
        "runAsNonRoot",
        "runAsNonRoot != true",
        'pod or containers "init", "app" must set securityContext.runAsNonRoot=true',
    )


def test_run_as_user_zero_details() -> None:
    spec = restricted_pod()
    spec["securityContext"]["runAsUser"] = 0
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    assert only(evaluate({}, spec, "restricted")) == (
        "runAsUser",
        "runAsUser=0",
        'pod and container "app" must not set runAsUser=0',
    )


def test_capabilities_restricted_details() -> None:
    spec = restricted_pod()
    spec["containers"][0]["securityContext"]["capabilities"] = {
        "drop": ["all"],
        "add": ["NET_BIND_SERVICE", "NET_RAW"],
    }
    assert only(evaluate({}, spec, "restricted")) == (
        "capabilities_restricted",
        "unrestricted capabilities",
        'container "app" must set securityContext.capabilities.drop=["ALL"]; '
        'container "app" must not include "NET_RAW" in securityContext.capabilities.add',
    )


def test_capabilities_baseline_is_case_sensitive() -> None:
    spec = {"containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["CAP_CHOWN", "chown", "KILL"]}}}]}
    assert only(evaluate({}, spec, "baseline"))[2] == (
        'container "a" must not include "CAP_CHOWN", "chown" in securityContext.capabilities.add'
    )


# --- host ports and API defaulting ------------------------------------------------------------------


def test_host_network_pod_defaults_host_ports() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [{"name": "a", "ports": [{"containerPort": 9090}, {"containerPort": 80}]}],
    }
    r = evaluate({}, spec, "baseline")
    assert [v.check_id for v in r.violations] == ["hostNamespaces", "hostPorts"]
    assert r.violations[1].detail == 'container "a" uses hostPorts 80, 9090'
    # a workload template is not defaulted (Kubernetes >= 1.28)
    t = evaluate({}, spec, "baseline", is_pod=False)
    assert [v.check_id for v in t.violations] == ["hostNamespaces"]


def test_explicit_host_ports() -> None:
    spec = {
        "containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}],
        "initContainers": [{"name": "b", "ports": [{"containerPort": 80, "hostPort": 0}]}],
    }
    assert only(evaluate({}, spec, "baseline")) == (
        "hostPorts",
        "hostPort",
        'container "a" uses hostPort 8080',
    )


def test_malformed_values_do_not_crash() -> None:
    spec = {
        "containers": [
            None,
            "x",
            {"name": "a", "securityContext": None, "ports": [None, {"hostPort": "80"}]},
        ],
        "volumes": None,
        "securityContext": {"sysctls": [None]},
    }
    r = evaluate(None, spec, "restricted")
    assert not r.allowed


def test_emulation_version_caps_latest() -> None:
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}, "containers": [{"name": "a"}]}
    assert evaluate({}, spec, "baseline", "latest").allowed
    assert not evaluate({}, spec, "baseline", "latest", emulation_version="v1.31").allowed
    assert evaluate({}, spec, "baseline", "v1.30", emulation_version="v1.35").allowed is False
