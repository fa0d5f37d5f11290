"""One finding per failing Pod Security check, at the level each namespace enforces.

Every pod and pod template (workloads, ML custom resources) is evaluated by the Pod Security
engine at the level its namespace's ``pod-security.kubernetes.io/enforce`` label gives. A
namespace labelled ``privileged`` gets no findings here (``pss.namespace-privileged-undocumented``
covers it); a GPU namespace labelled ``baseline`` gets Baseline findings only, which is the
recommended pattern for GPU workloads.

When the namespace has no enforce label (or is not among the inputs), the level is, in order: the
cluster default enforce level from the ``PodSecurityConfiguration`` named by ``pss.admission_config``
if it is not privileged; else ``pss.default_level`` (``restricted``) -- except that a GPU namespace
(listed in ``gpu.namespaces`` or running a workload that requests a GPU resource) is then held to
``baseline``, the level a dedicated GPU namespace should carry.

The detail of each finding carries the level and version it was evaluated at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockade.checks.registry import ScanContext, declare, register
from stockade.engines.pss.api import NEWEST_MINOR
from stockade.errors import ConfigError
from stockade.model import CheckSpec, Finding, Reference, Severity

if TYPE_CHECKING:
    from stockade.engines.pss.admission import PodSecurityConfiguration
    from stockade.engines.pss.api import LevelVersion
    from stockade.loading.podspecs import PodSpecRef

PSS_DOC = Reference(
    "Pod Security Standards", "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
)
PSA_POLICY = Reference(
    "pod-security-admission policy checks",
    "https://github.com/kubernetes/pod-security-admission/tree/master/policy",
)
PSA_DOC = Reference(
    "Pod Security Admission", "https://kubernetes.io/docs/concepts/security/pod-security-admission/"
)


def _spec(
    check_id: str, name: str, title: str, severity: Severity, rationale: str, remediation: str
) -> CheckSpec:
    return CheckSpec(
        id=f"pss.{name}",
        title=title,
        severity=severity,
        rationale=rationale + f" (upstream check {check_id}.)",
        remediation=remediation,
        references=(PSS_DOC, PSA_POLICY),
    )


# Upstream check id -> spec. The first one is registered with the logic, the others declared.
SPECS: dict[str, CheckSpec] = {
    "hostNamespaces": _spec(
        "hostNamespaces",
        "host-namespaces",
        "Pod shares the node's network, PID or IPC namespace",
        Severity.HIGH,
        "Host namespaces let a tenant's pod see and reach every process and socket of the node, "
        "including other tenants' training jobs and the kubelet",
        "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
    ),
    "privileged": _spec(
        "privileged",
        "privileged",
        "Container runs privileged",
        Severity.CRITICAL,
        "A privileged container has every capability and device of the node: it is root on the node",
        "Remove securityContext.privileged (or set it to false); use a device plugin for GPUs.",
    ),
    "capabilities_baseline": _spec(
        "capabilities_baseline",
        "capabilities-baseline",
        "Container adds capabilities beyond the default set",
        Severity.HIGH,
        "Capabilities such as SYS_ADMIN or NET_RAW open kernel attack surface shared by all tenants",
        "Add only capabilities from the default set (AUDIT_WRITE, CHOWN, ... SYS_CHROOT), or none.",
    ),
    "hostPathVolumes": _spec(
        "hostPathVolumes",
        "host-path-volumes",
        "Pod mounts a hostPath volume",
        Severity.HIGH,
        "A hostPath volume exposes the node's file system: credentials, other pods' data, the runtime socket",
        "Replace hostPath volumes with persistentVolumeClaim, emptyDir, configMap, secret or CSI volumes.",
    ),
    "hostPorts": _spec(
        "hostPorts",
        "host-ports",
        "Container binds a host port",
        Severity.MEDIUM,
        "Host ports bypass NetworkPolicy-based isolation and collide between tenants on the same node",
        "Remove ports[*].hostPort (and hostNetwork) and expose the workload through a Service.",
    ),
    "appArmorProfile": _spec(
        "appArmorProfile",
        "apparmor-profile",
        "Pod or container disables or overrides AppArmor",
        Severity.HIGH,
        "Running unconfined removes the default AppArmor confinement of the container runtime",
        "Use the RuntimeDefault or a Localhost AppArmor profile, never Unconfined.",
    ),
    "seLinuxOptions": _spec(
        "seLinuxOptions",
        "selinux-options",
        "Pod or container sets a forbidden SELinux type, user or role",
        Severity.HIGH,
        "Custom SELinux types, users or roles can lift the container's SELinux confinement",
        "Leave seLinuxOptions.user and .role empty and use container_t, container_init_t, "
        "container_kvm_t or container_engine_t as type.",
    ),
    "procMount": _spec(
        "procMount",
        "proc-mount",
        "Container unmasks /proc",
        Severity.HIGH,
        "An unmasked /proc exposes kernel interfaces the runtime normally hides",
        "Remove securityContext.procMount or set it to Default.",
    ),
    "seccompProfile_baseline": _spec(
        "seccompProfile_baseline",
        "seccomp-profile-baseline",
        "Pod or container runs without seccomp confinement",
        Severity.HIGH,
        "An Unconfined seccomp profile exposes every system call of the shared kernel",
        "Set seccompProfile.type to RuntimeDefault or Localhost, never Unconfined.",
    ),
    "sysctls": _spec(
        "sysctls",
        "sysctls",
        "Pod sets an unsafe sysctl",
        Severity.HIGH,
        "Sysctls outside the safe set change kernel behaviour for the whole node, not just the pod",
        "Only use the safe namespaced sysctls of the Pod Security Standards.",
    ),
    "windowsHostProcess": _spec(
        "windowsHostProcess",
        "windows-host-process",
        "Windows pod or container runs as a HostProcess",
        Severity.CRITICAL,
        "A Windows HostProcess container runs directly on the node with full access to it",
        "Remove securityContext.windowsOptions.hostProcess (or set it to false).",
    ),
    "hostProbesAndHostLifecycle": _spec(
        "hostProbesAndHostLifecycle",
        "host-probes-and-host-lifecycle",
        "Probe or lifecycle handler targets another host",
        Severity.MEDIUM,
        "A host in probes or lifecycle hooks makes the kubelet send requests to arbitrary addresses "
        "(server-side request forgery from the node)",
        "Remove the host field of httpGet and tcpSocket probes and lifecycle handlers.",
    ),
    "restrictedVolumes": _spec(
        "restrictedVolumes",
        "restricted-volumes",
        "Pod uses a volume type Restricted does not allow",
        Severity.MEDIUM,
        "Only ephemeral, projected and claim-backed volumes are allowed at Restricted; other "
        "types (hostPath, nfs, gitRepo, cloud disks) bypass storage access control",
        "Use configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, "
        "projected or secret volumes.",
    ),
    "allowPrivilegeEscalation": _spec(
        "allowPrivilegeEscalation",
        "allow-privilege-escalation",
        "Container does not forbid privilege escalation",
        Severity.MEDIUM,
        "Without allowPrivilegeEscalation=false, setuid binaries can regain privileges",
        "Set securityContext.allowPrivilegeEscalation to false on every container.",
    ),
    "runAsNonRoot": _spec(
        "runAsNonRoot",
        "run-as-non-root",
        "Container may run as root",
        Severity.MEDIUM,
        "Root in the container is one kernel bug away from root on the node",
        "Set securityContext.runAsNonRoot to true on the pod (or on every container).",
    ),
    "runAsUser": _spec(
        "runAsUser",
        "run-as-user",
        "Pod or container runs as UID 0",
        Severity.MEDIUM,
        "runAsUser: 0 runs the container as root",
        "Set runAsUser to a non-zero UID, or leave it unset with runAsNonRoot: true.",
    ),
    "seccompProfile_restricted": _spec(
        "seccompProfile_restricted",
        "seccomp-profile-restricted",
        "Pod or container sets no seccomp profile",
        Severity.MEDIUM,
        "Restricted requires an explicit RuntimeDefault or Localhost seccomp profile",
        "Set securityContext.seccompProfile.type to RuntimeDefault on the pod.",
    ),
    "capabilities_restricted": _spec(
        "capabilities_restricted",
        "capabilities-restricted",
        "Container does not drop ALL capabilities",
        Severity.MEDIUM,
        "Restricted requires dropping every capability and adding back at most NET_BIND_SERVICE",
        'Set securityContext.capabilities.drop to ["ALL"] and add nothing but NET_BIND_SERVICE.',
    ),
    "procMount_restricted": _spec(
        "procMount_restricted",
        "proc-mount-restricted",
        "Container unmasks /proc (Restricted)",
        Severity.MEDIUM,
        "Restricted forbids an unmasked /proc even for user-namespace pods",
        "Remove securityContext.procMount or set it to Default.",
    ),
}

_MAIN = SPECS["hostNamespaces"]
for _cid, _s in SPECS.items():
    if _s is not _MAIN:
        declare(_s)


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """The ``pss`` section of stockade.yaml."""

    default: LevelVersion
    admission: PodSecurityConfiguration
    reason_annotations: tuple[str, ...]
    gpu_resources: tuple[str, ...]
    gpu_namespaces: tuple[str, ...] | None


DEFAULT_REASON_ANNOTATIONS = ("stockade.io/pss-privileged-reason",)


def settings(ctx: ScanContext) -> ScanSettings:
    """Validated ``pss`` settings, built once per scan."""
    cached = ctx.cache.get("pss.settings")
    if isinstance(cached, ScanSettings):
        return cached
    from stockade.engines.pss.admission import PodSecurityConfiguration
    from stockade.engines.pss.api import LATEST, LevelVersion, parse_level, parse_version

    sec = ctx.config.section("pss")
    src = ctx.config.source or "stockade.yaml"
    try:
        level = parse_level(str(sec.get("default_level", "restricted")))
        version = (
            parse_version(str(sec.get("default_version", "latest"))) if sec.get("default_version") else LATEST
        )
    except ValueError as e:
        raise ConfigError(f"{src}: pss: {e}") from None
    adm_path = sec.get("admission_config")
    admission = PodSecurityConfiguration()
    if adm_path:
        path = Path(str(adm_path))
        if not path.is_absolute() and ctx.config.source and Path(ctx.config.source).is_file():
            # relative to the stockade.yaml that names it, like the API server's admission config
            path = Path(ctx.config.source).parent / path
        admission = PodSecurityConfiguration.load(path)
    reasons = sec.get("reason_annotations", list(DEFAULT_REASON_ANNOTATIONS))
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ConfigError(f"{src}: pss.reason_annotations must be a list of strings")
    s = ScanSettings(
        default=LevelVersion(level, version),
        admission=admission,
        reason_annotations=tuple(reasons),
        gpu_resources=tuple(ctx.config.gpu_resources),
        gpu_namespaces=ctx.config.gpu_namespaces,
    )
    ctx.cache["pss.settings"] = s
    return s


def uses_gpu(spec: Mapping[str, Any], resources: tuple[str, ...]) -> bool:
    """Whether any container requests or limits a GPU resource."""
    for key in ("initContainers", "containers"):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for c in items:
            res = c.get("resources") if isinstance(c, Mapping) else None
            if not isinstance(res, Mapping):
                continue
            for part in ("limits", "requests"):
                amounts = res.get(part)
                if isinstance(amounts, Mapping) and any(r in amounts for r in resources):
                    return True
    return False


def level_for(ctx: ScanContext, ref: PodSpecRef) -> tuple[LevelVersion, str] | None:
    """The level a pod spec is held to and why (``enforce``, ``cluster default``, ``assumed``).

    None when it is not evaluated (exempt namespace or runtimeClass).
    """
    from stockade.engines.pss.admission import runtime_class
    from stockade.engines.pss.api import ENFORCE_LABEL, Level, LevelVersion

    s = settings(ctx)
    ns = ref.obj.namespace or "default"
    if ns in s.admission.exempt_namespaces:
        return None
    rc = runtime_class(ref.spec)
    if rc and rc in s.admission.exempt_runtime_classes:
        return None
    ns_obj = ctx.inventory.namespaces().get(ns)
    labels = ns_obj.labels if ns_obj is not None else {}
    lp = s.admission.namespace_policy(labels)
    if ENFORCE_LABEL in labels:
        return lp.policy.enforce, "enforce"
    if not s.admission.defaults.enforce.is_privileged:
        return s.admission.defaults.enforce, "cluster default"
    lv = s.default
    if lv.level is Level.RESTRICTED and ns in gpu_namespaces(ctx):
        return LevelVersion(Level.BASELINE, lv.version), "assumed (GPU namespace)"
    return lv, "assumed"


def gpu_namespaces(ctx: ScanContext) -> frozenset[str]:
    """Namespaces configured as GPU namespaces, plus those whose workloads request GPUs."""
    cached = ctx.cache.get("pss.gpu_namespaces")
    if isinstance(cached, frozenset):
        return cached
    s = settings(ctx)
    names = set(s.gpu_namespaces or ())
    for ref in ctx.pod_specs():
        if uses_gpu(ref.spec, s.gpu_resources):
            names.add(ref.obj.namespace or "default")
    result = frozenset(names)
    ctx.cache["pss.gpu_namespaces"] = result
    return result


def _metadata_path(ref: PodSpecRef) -> str:
    if ref.path == "spec":
        return "metadata"
    if ref.path.endswith(".spec"):
        return ref.path[: -len("spec")] + "metadata"
    return ref.path


def _get(m: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(m, Mapping):
            return None
        m = m.get(part)
    return m


_SECCOMP_OK = ("RuntimeDefault", "Localhost")


def _pod_suffix(check_id: str, ref: PodSpecRef, minor: int) -> str | None:
    """The offending pod-level field (relative to the pod spec), if the pod level is at fault."""
    spec = ref.spec
    if check_id == "hostNamespaces":
        return next((f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True), None)
    sc = spec.get("securityContext")
    if not isinstance(sc, Mapping):
        return None
    if check_id == "sysctls":
        items = sc.get("sysctls")
        if isinstance(items, list):
            for i, item in enumerate(items):
                if not _passes(check_id, ref, {"securityContext": {"sysctls": [item]}}, minor):
                    return f"securityContext.sysctls[{i}].name"
        return "securityContext.sysctls"
    if check_id == "runAsNonRoot" and sc.get("runAsNonRoot") is False:
        return "securityContext.runAsNonRoot"
    if check_id == "runAsUser" and sc.get("runAsUser") == 0 and sc.get("runAsUser") is not False:
        return "securityContext.runAsUser"
    if check_id in ("seccompProfile_baseline", "seccompProfile_restricted", "appArmorProfile"):
        key = "appArmorProfile" if check_id == "appArmorProfile" else "seccompProfile"
        prof = sc.get(key)
        if isinstance(prof, Mapping) and prof.get("type") not in _SECCOMP_OK:
            return f"securityContext.{key}.type"
    selinux = sc.get("seLinuxOptions")
    if (
        check_id == "seLinuxOptions"
        and isinstance(selinux, Mapping)
        and not _passes(check_id, ref, {"securityContext": {"seLinuxOptions": selinux}}, minor)
    ):
        return "securityContext.seLinuxOptions"
    if check_id == "windowsHostProcess" and _get(sc, "windowsOptions.hostProcess") is True:
        return "securityContext.windowsOptions.hostProcess"
    return None


def _passes(check_id: str, ref: PodSpecRef, spec: Mapping[str, Any], minor: int) -> bool:
    """Whether ``check_id`` at ``v1.<minor>`` passes on a reduced pod spec."""
    from stockade.engines.pss.checks import PodView
    from stockade.engines.pss.evaluator import CHECKS_BY_ID

    impl = CHECKS_BY_ID[check_id].at(minor)
    return impl is None or impl.fn(PodView({}, spec, True, not ref.is_template)) is None


def _container_suffix(check_id: str, c: Mapping[str, Any], host_network_pod: bool) -> str | None:
    """The offending field of one container (relative to it), or None when it is fine."""
    sc = c.get("securityContext")
    sc = sc if isinstance(sc, Mapping) else None
    here = "securityContext" if sc is not None else ""
    if check_id == "hostPorts":
        ports = c.get("ports")
        for j, port in enumerate(ports if isinstance(ports, list) else ()):
            if not isinstance(port, Mapping):
                continue
            if isinstance(port.get("hostPort"), int) and port["hostPort"] != 0:
                return f"ports[{j}].hostPort"
            if host_network_pod and isinstance(port.get("containerPort"), int) and port["containerPort"]:
                return f"ports[{j}].containerPort"
        return None
    if check_id == "hostProbesAndHostLifecycle":
        handlers = [(k, c.get(k)) for k in ("livenessProbe", "readinessProbe", "startupProbe")]
        lc = c.get("lifecycle")
        if isinstance(lc, Mapping):
            handlers += [(f"lifecycle.{k}", lc.get(k)) for k in ("postStart", "preStop")]
        for name, h in handlers:
            for action in ("httpGet", "tcpSocket"):
                if _get(h, f"{action}.host"):
                    return f"{name}.{action}.host"
        return None
    if sc is None:
        # only "must set" checks fail on a container without a security context
        missing = (
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted",
        )
        return "" if check_id in missing else None
    if check_id == "privileged":
        return "securityContext.privileged" if sc.get("privileged") is True else None
    if check_id == "capabilities_baseline":
        return "securityContext.capabilities.add"
    if check_id == "capabilities_restricted":
        caps = sc.get("capabilities")
        if not isinstance(caps, Mapping):
            return here
        drop = caps.get("drop")
        if not isinstance(drop, list) or "ALL" not in drop:
            return "securityContext.capabilities.drop" if drop is not None else "securityContext.capabilities"
        add = caps.get("add")
        if isinstance(add, list) and any(a != "NET_BIND_SERVICE" for a in add):
            return "securityContext.capabilities.add"
        return None
    if check_id in ("procMount", "procMount_restricted"):
        pm = sc.get("procMount")
        return "securityContext.procMount" if pm is not None and pm != "Default" else None
    if check_id == "allowPrivilegeEscalation":
        ape = sc.get("allowPrivilegeEscalation")
        if ape is False:
            return None
        return "securityContext.allowPrivilegeEscalation" if ape is not None else here
    if check_id == "runAsNonRoot":
        v = sc.get("runAsNonRoot")
        return "securityContext.runAsNonRoot" if v is False else (here if v is None else None)
    if check_id == "runAsUser":
        v = sc.get("runAsUser")
        return "securityContext.runAsUser" if isinstance(v, int) and v == 0 and v is not False else None
    if check_id in ("seccompProfile_baseline", "seccompProfile_restricted", "appArmorProfile"):
        key = "appArmorProfile" if check_id == "appArmorProfile" else "seccompProfile"
        prof = sc.get(key)
        if isinstance(prof, Mapping):
            return None if prof.get("type") in _SECCOMP_OK else f"securityContext.{key}.type"
        return here if check_id == "seccompProfile_restricted" else None
    if check_id == "seLinuxOptions":
        return "securityContext.seLinuxOptions" if isinstance(sc.get("seLinuxOptions"), Mapping) else None
    if check_id == "windowsHostProcess":
        return (
            "securityContext.windowsOptions.hostProcess" if _get(sc, "windowsOptions.hostProcess") else None
        )
    return None


def locate(check_id: str, ref: PodSpecRef, minor: int = NEWEST_MINOR) -> str:
    """Best field path (absolute, in the object) of what makes ``check_id`` fail."""
    spec = ref.spec
    if check_id in ("hostPathVolumes", "restrictedVolumes"):
        from stockade.engines.pss.checks import _RESTRICTED_VOLUMES

        vols = spec.get("volumes")
        if isinstance(vols, list):
            for i, v in enumerate(vols):
                if not isinstance(v, Mapping):
                    continue
                for k in _RESTRICTED_VOLUMES:
                    if v.get(k) is not None and (k == "hostPath" or check_id == "restrictedVolumes"):
                        return ref.field_path(f"volumes[{i}].{k}")
        return ref.field_path("volumes")
    pod_level = _pod_suffix(check_id, ref, minor)
    if pod_level is not None:
        return ref.field_path(pod_level)
    if check_id in ("appArmorProfile", "seccompProfile_baseline"):
        prefixes = (
            "container.apparmor.security.beta.kubernetes.io/",
            "seccomp.security.alpha.kubernetes.io/pod",
            "container.seccomp.security.alpha.kubernetes.io/",
        )
        if any(isinstance(k, str) and k.startswith(prefixes) for k in ref.annotations):
            # annotation-based violations sit in the pod (template) metadata
            container_level = any(_container_suffix(check_id, c, False) for _k, _i, c in _containers(spec))
            if not container_level:
                return f"{_metadata_path(ref)}.annotations"
    host_network_pod = not ref.is_template and spec.get("hostNetwork") is True
    pod_sc = spec.get("securityContext")
    pod_ok = {
        "runAsNonRoot": isinstance(pod_sc, Mapping) and pod_sc.get("runAsNonRoot") is True,
        "seccompProfile_restricted": _get(pod_sc, "seccompProfile.type") in _SECCOMP_OK,
    }
    for key, i, c in _containers(spec):
        suffix = _container_suffix(check_id, c, host_network_pod and key != "ephemeralContainers")
        if suffix is None:
            continue
        # a container that only inherits a good pod-level value is fine
        if pod_ok.get(check_id) and suffix in ("", "securityContext"):
            continue
        return ref.field_path(f"{key}[{i}].{suffix}" if suffix else f"{key}[{i}]")
    return ref.path


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, Mapping):
                    yield key, i, c


@register(_MAIN)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Evaluate every pod spec at its namespace's level; one finding per failing check."""
    from stockade.engines.pss.api import Level, LevelVersion
    from stockade.engines.pss.evaluator import evaluate_at

    for ref in ctx.pod_specs():
        chosen = level_for(ctx, ref)
        if chosen is None:
            continue
        lv, why = chosen
        if lv.is_privileged:
            continue
        result = evaluate_at(ref.metadata, ref.spec, lv, is_pod=not ref.is_template)
        if result.allowed:
            continue
        hint: tuple[tuple[str, str], ...] = ()
        if lv.level is Level.RESTRICTED and uses_gpu(ref.spec, settings(ctx).gpu_resources):
            at_baseline = evaluate_at(
                ref.metadata, ref.spec, LevelVersion(Level.BASELINE, lv.version), is_pod=not ref.is_template
            )
            if at_baseline.allowed:
                hint = (
                    ("hint", "GPU workload that meets baseline: run it in a dedicated baseline namespace"),
                )
        for v in result.violations:
            spec = SPECS[v.check_id]
            where = f" in {ref.role}" if ref.role else ""
            yield ctx.finding(
                spec,
                ref.obj,
                locate(v.check_id, ref, lv.version.effective_minor),
                v.reason,
                detail=f"{v.detail}{where} [{lv} {why}]",
                evidence=(
                    ("check", v.check_id),
                    ("level", lv.level.value),
                    ("version", str(lv.version)),
                    ("level_source", why),
                    ("pod_spec", ref.path),
                    *hint,
                ),
            )
