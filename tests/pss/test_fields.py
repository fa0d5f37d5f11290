"""``Violation.fields``: each check names the fields that made it fail, at the evaluated version.

The fields are decided by the same test as the verdict, so they must name the violating container
(not the first one that merely has the field) and follow the version's semantics (v1.0 seccomp
looks at annotations only, ``container_engine_t`` is allowed from v1.31 ...).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from stockade.engines.pss import evaluate
from tests.conftest import shared_path


def fields(
    spec: dict[str, Any],
    check_id: str,
    level: str = "baseline",
    version: str = "latest",
    meta: dict[str, Any] | None = None,
    *,
    is_pod: bool = True,
) -> tuple[str, ...]:
    result = evaluate(meta or {}, spec, level, version, is_pod=is_pod)
    hits = [v for v in result.violations if v.check_id == check_id]
    assert len(hits) == 1, f"{check_id} did not fail: {result.message!r}"
    return hits[0].fields


def sc(name: str, **security_context: Any) -> dict[str, Any]:
    """A container with a securityContext."""
    return {"name": name, "image": name, "securityContext": security_context}


def test_capabilities_baseline_names_the_container_that_adds() -> None:
    spec = {
        "containers": [
            sc("log-shipper", readOnlyRootFilesystem=True),
            sc("pytorch", capabilities={"add": ["SYS_ADMIN"]}),
            sc("ok", capabilities={"add": ["CHOWN"]}),
        ]
    }
    assert fields(spec, "capabilities_baseline") == ("spec.containers[1].securityContext.capabilities.add",)


def test_selinux_skips_allowed_options_of_earlier_containers() -> None:
    spec = {
        "initContainers": [sc("init", seLinuxOptions={"type": "container_t", "level": "s0:c1,c2"})],
        "containers": [sc("dcgm", seLinuxOptions={"type": "spc_t"})],
    }
    assert fields(spec, "seLinuxOptions") == ("spec.containers[0].securityContext.seLinuxOptions",)


def test_selinux_follows_the_version() -> None:
    spec = {
        "initContainers": [sc("engine", seLinuxOptions={"type": "container_engine_t"})],
        "containers": [sc("custom", seLinuxOptions={"role": "sysadm_r"})],
    }
    assert fields(spec, "seLinuxOptions", version="v1.30") == (
        "spec.initContainers[0].securityContext.seLinuxOptions",
        "spec.containers[0].securityContext.seLinuxOptions",
    )
    assert fields(spec, "seLinuxOptions", version="v1.31") == ("spec.containers[0].securityContext.seLinuxOptions",)


def test_seccomp_baseline_before_v1_19_names_the_annotations_only() -> None:
    meta = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    spec = {"containers": [sc("notebook", seccompProfile={"type": "Unconfined"})]}
    assert fields(spec, "seccompProfile_baseline", version="v1.18", meta=meta) == ("metadata.annotations",)
    # from v1.19 the field is what counts, the annotation is ignored
    assert fields(spec, "seccompProfile_baseline", version="v1.19", meta=meta) == (
        "spec.containers[0].securityContext.seccompProfile.type",
    )


def test_seccomp_baseline_pod_before_containers() -> None:
    spec = {
        "securityContext": {"seccompProfile": {"type": "Unconfined"}},
        "containers": [sc("a", seccompProfile={"type": "RuntimeDefault"}), sc("b", seccompProfile={"type": "X"})],
    }
    assert fields(spec, "seccompProfile_baseline") == (
        "spec.securityContext.seccompProfile.type",
        "spec.containers[1].securityContext.seccompProfile.type",
    )


def test_seccomp_restricted_explicit_value_before_containers_that_leave_it_unset() -> None:
    spec = {"containers": [{"name": "a", "image": "a"}, sc("b", seccompProfile={"type": "Unconfined"})]}
    assert fields(spec, "seccompProfile_restricted", "restricted") == (
        "spec.containers[1].securityContext.seccompProfile.type",
    )


def test_seccomp_restricted_unset_points_at_the_closest_parent() -> None:
    spec = {"containers": [{"name": "a", "image": "a"}, sc("b", runAsNonRoot=True)]}
    assert fields(spec, "seccompProfile_restricted", "restricted") == (
        "spec.containers[0]",
        "spec.containers[1].securityContext",
    )


def test_run_as_non_root_false_before_unset() -> None:
    spec = {"containers": [{"name": "a", "image": "a"}, sc("b", runAsNonRoot=False)]}
    assert fields(spec, "runAsNonRoot", "restricted") == ("spec.containers[1].securityContext.runAsNonRoot",)
    pod_true = {"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "a"}, sc("b", runAsNonRoot=False)]}
    assert fields(pod_true, "runAsNonRoot", "restricted") == ("spec.containers[1].securityContext.runAsNonRoot",)
    unset = {"containers": [{"name": "a"}, sc("b", runAsUser=1000)]}
    assert fields(unset, "runAsNonRoot", "restricted") == ("spec.containers[0]", "spec.containers[1].securityContext")


def test_run_as_user_pod_and_container() -> None:
    spec = {
        "securityContext": {"runAsUser": 0},
        "containers": [sc("a", runAsUser=1000), sc("b", runAsUser=0), sc("c", runAsUser=False)],
    }
    assert fields(spec, "runAsUser", "restricted") == (
        "spec.securityContext.runAsUser",
        "spec.containers[1].securityContext.runAsUser",
    )


def test_allow_privilege_escalation_unset_set_and_true() -> None:
    spec = {
        "initContainers": [sc("ok", allowPrivilegeEscalation=False)],
        "containers": [{"name": "a"}, sc("b", runAsNonRoot=True), sc("c", allowPrivilegeEscalation=True)],
    }
    assert fields(spec, "allowPrivilegeEscalation", "restricted") == (
        "spec.containers[0]",
        "spec.containers[1].securityContext",
        "spec.containers[2].securityContext.allowPrivilegeEscalation",
    )


def test_capabilities_restricted_per_container() -> None:
    spec = {
        "containers": [
            sc("ok", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
            sc("adds", capabilities={"drop": ["ALL"], "add": ["SYS_PTRACE"]}),
            sc("drops-some", capabilities={"drop": ["NET_RAW"]}),
            sc("no-drop", capabilities={"add": ["NET_BIND_SERVICE"]}),
            sc("no-caps", runAsNonRoot=True),
        ]
    }
    assert fields(spec, "capabilities_restricted", "restricted") == (
        "spec.containers[1].securityContext.capabilities.add",
        "spec.containers[2].securityContext.capabilities.drop",
        "spec.containers[3].securityContext.capabilities",
        "spec.containers[4].securityContext",
    )


def test_privileged_and_proc_mount_skip_containers_that_set_allowed_values() -> None:
    spec = {
        "containers": [
            sc("a", privileged=False, procMount="Default"),
            sc("b", privileged=True, procMount="Unmasked"),
        ]
    }
    assert fields(spec, "privileged") == ("spec.containers[1].securityContext.privileged",)
    assert fields(spec, "procMount") == ("spec.containers[1].securityContext.procMount",)


def test_windows_host_process_skips_false() -> None:
    spec = {
        "securityContext": {"windowsOptions": {"hostProcess": False}},
        "containers": [sc("a", windowsOptions={"hostProcess": False}), sc("b", windowsOptions={"hostProcess": True})],
    }
    assert fields(spec, "windowsHostProcess") == ("spec.containers[1].securityContext.windowsOptions.hostProcess",)


def test_apparmor_pod_containers_then_annotations() -> None:
    meta = {
        "annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/b": "unconfined",
        }
    }
    spec = {"containers": [sc("a", appArmorProfile={"type": "RuntimeDefault"}), {"name": "b"}]}
    assert fields(spec, "appArmorProfile", meta=meta) == ("metadata.annotations",)
    spec["containers"].append(sc("c", appArmorProfile={"type": "Unconfined"}))
    assert fields(spec, "appArmorProfile", meta=meta) == (
        "spec.containers[2].securityContext.appArmorProfile.type",
        "metadata.annotations",
    )


def test_host_namespaces_widest_first() -> None:
    assert fields({"hostIPC": True, "hostPID": True, "hostNetwork": False}, "hostNamespaces") == (
        "spec.hostPID",
        "spec.hostIPC",
    )


def test_host_ports_only_nonzero_and_defaulted_from_container_port_on_pods() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [
            {"name": "a", "ports": [{"containerPort": 8080, "hostPort": 0}]},
            {"name": "b", "ports": [{"containerPort": 9090, "hostPort": 9091}]},
        ],
    }
    # a Pod: the API server defaults hostPort to containerPort under hostNetwork
    assert fields(spec, "hostPorts") == (
        "spec.containers[0].ports[0].containerPort",
        "spec.containers[1].ports[0].hostPort",
    )
    # a template: no such defaulting
    assert fields(spec, "hostPorts", is_pod=False) == ("spec.containers[1].ports[0].hostPort",)


def test_host_probes_name_the_handler() -> None:
    spec = {
        "containers": [
            {"name": "a", "livenessProbe": {"httpGet": {"port": 80}}},
            {"name": "b", "lifecycle": {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 1}}}},
        ]
    }
    assert fields(spec, "hostProbesAndHostLifecycle") == ("spec.containers[1].lifecycle.preStop.tcpSocket.host",)


def test_volumes_name_the_restricted_source() -> None:
    spec = {
        "containers": [{"name": "a"}],
        "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "data", "nfs": {"server": "x", "path": "/"}}],
    }
    assert fields(spec, "restrictedVolumes", "restricted") == ("spec.volumes[1].nfs",)
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert fields(spec, "hostPathVolumes") == ("spec.volumes[2].hostPath",)


def test_sysctls_follow_the_version() -> None:
    spec = {
        "securityContext": {
            "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}, {"name": "net.core.somaxconn"}]
        },
        "containers": [{"name": "a"}],
    }
    assert fields(spec, "sysctls", version="v1.28") == (
        "spec.securityContext.sysctls[0].name",
        "spec.securityContext.sysctls[1].name",
    )
    assert fields(spec, "sysctls", version="v1.29") == ("spec.securityContext.sysctls[1].name",)


_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _exists(pod: dict[str, Any], path: str) -> bool:
    node: Any = pod
    for key, index in _TOKEN.findall(path):
        if key:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
    return True


def test_every_upstream_denial_names_fields_that_exist() -> None:
    """On every upstream fail fixture, each violation names at least one field, all present in the pod."""
    root = shared_path("conformance", "pod-security", "fixtures")
    files = sorted(root.glob("*/v1.*/fail/*.yaml"))
    assert files
    problems = []
    for path in files:
        version, level = path.parent.parent.name, path.parent.parent.parent.name
        pod = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for is_pod in (True, False):
            result = evaluate(pod.get("metadata"), pod.get("spec"), level, version, is_pod=is_pod)
            for v in result.violations:
                if not v.fields or not all(_exists(pod, f) for f in v.fields):
                    problems.append(f"{path.relative_to(root)} {v.check_id}: {v.fields}")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("version", ["v1.0", "v1.18", "latest"])
def test_fields_are_not_part_of_the_message(version: str) -> None:
    meta = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    spec = {"containers": [sc("a", privileged=True)]}
    result = evaluate(meta, spec, "baseline", version)
    assert "spec." not in result.message and "metadata." not in result.message
