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
from stockade.errors import ConfigError
from stockade.model import CheckSpec, Finding, Reference, Severity

if TYPE_CHECKING:
    from stockade.engines.pss.admission import PodSecurityConfiguration
    from stockade.engines.pss.api import LevelVersion
    from stockade.loading.podspecs import PodSpecRef

PSS_DOC = Reference("Pod Security Standards", "https://kubernetes.io/docs/concepts/security/pod-security-standards/")
PSA_POLICY = Reference(
    "pod-security-admission policy checks",
    "https://github.com/kubernetes/pod-security-admission/tree/master/policy",
)
PSA_DOC = Reference("Pod Security Admission", "https://kubernetes.io/docs/concepts/security/pod-security-admission/")


def _spec(check_id: str, name: str, title: str, severity: Severity, rationale: str, remediation: str) -> CheckSpec:
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
        version = parse_version(str(sec.get("default_version", "latest"))) if sec.get("default_version") else LATEST
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
        # the default level, at the namespace's enforce-version label when it has one
        return lp.policy.enforce, "cluster default"
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
    """Where the pod (template) metadata sits in the object."""
    if ref.path == "spec":
        return "metadata"  # a Pod
    if ref.path.endswith(".spec"):
        return ref.path[: -len("spec")] + "metadata"  # a PodTemplateSpec
    # a synthesised spec (Argo template, KServe component) carries its metadata beside the fields
    return f"{ref.path}.metadata"


def locate(ref: PodSpecRef, fields: tuple[str, ...]) -> str:
    """The field path in the object of what makes a check fail.

    ``fields`` come from the engine check that failed (``Violation.fields``), written as on a Pod;
    the first, most relevant one is mapped to where it really is in the object. The pod spec
    itself when the check named no field.
    """
    for f in fields:
        if f == "spec" or f.startswith(("spec.", "spec[")):
            return ref.field_path(f[len("spec.") :] if f.startswith("spec.") else "")
        if f == "metadata" or f.startswith("metadata."):
            return _metadata_path(ref) + f[len("metadata") :]
    return ref.path


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
                hint = (("hint", "GPU workload that meets baseline: run it in a dedicated baseline namespace"),)
        for v in result.violations:
            spec = SPECS[v.check_id]
            where = f" in {ref.role}" if ref.role else ""
            yield ctx.finding(
                spec,
                ref.obj,
                locate(ref, v.fields),
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
