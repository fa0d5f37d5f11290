"""Framework data: control ids and titles as published, mapped to Stockade checks.

Verification (which document each list was checked against) is recorded on each framework.
A control with no check, or whose subject is not in manifests (API server flags, node files,
authenticators), is listed without checks and reported as not assessed.
"""

from __future__ import annotations

import functools

from stockade.compliance import POD_SPECS, CheckMapping, Control, Coverage, Framework
from stockade.model import Reference

_RBAC = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
_BINDINGS = ("RoleBinding", "ClusterRoleBinding")
_POLICY = ("Policy",)
_PODS = (POD_SPECS,)
_NET = ("Namespace", "NetworkPolicy", POD_SPECS)

F = Coverage.FULL
P = Coverage.PARTIAL


def _c(
    cid: str,
    title: str,
    checks: tuple[str, ...] = (),
    coverage: Coverage = Coverage.NONE,
    requires: tuple[str, ...] = (),
    note: str = "",
    match: str = "",
) -> Control:
    mappings = tuple(CheckMapping(c, match) for c in checks)
    return Control(cid, title, mappings, coverage if checks else Coverage.NONE, requires, note)


# ------------------------------------------------------------------ CIS Kubernetes Benchmark

CIS = Framework(
    id="cis",
    title="CIS Kubernetes Benchmark",
    version="1.10.0",
    reference=Reference("CIS Kubernetes Benchmark", "https://www.cisecurity.org/benchmark/kubernetes"),
    verified_from=(
        Reference(
            "kube-bench cfg/cis-1.10 (recommendation ids and titles of the benchmark)",
            "https://github.com/aquasecurity/kube-bench/tree/main/cfg/cis-1.10",
        ),
    ),
    scope_note="Sections 1 (control plane components), 2 (etcd), 3.1 (authentication) and 4 (worker nodes) "
    "concern process flags and node files, which manifests do not show; they are not listed.",
    controls=(
        _c("3.2.1", "Ensure that a minimal audit policy is created", ("audit-policy.invalid-policy",), P, _POLICY,
           "that the API server is started with --audit-policy-file is not visible in manifests"),
        Control(
            "3.2.2",
            "Ensure that the audit policy covers key security concerns",
            tuple(
                CheckMapping(c)
                for c in (
                    "audit-policy.sensitive-request-bodies",
                    "audit-policy.secret-access-not-recorded",
                    "audit-policy.workload-changes-not-recorded",
                    "audit-policy.pod-exec-not-recorded",
                    "audit-policy.no-catch-all",
                )
            ),
            F,
            _POLICY,
        ),
        _c("5.1.1", "Ensure that the cluster-admin role is only used where required",
           ("rbac.cluster-admin-binding",), F, _BINDINGS),
        _c("5.1.2", "Minimize access to secrets", ("rbac.secrets-read",), F, _RBAC),
        _c("5.1.3", "Minimize wildcard use in Roles and ClusterRoles", ("rbac.wildcard-permission",), F, _RBAC),
        _c("5.1.4", "Minimize access to create pods", ("rbac.workload-create",), F, _RBAC),
        _c("5.1.5", "Ensure that default service accounts are not actively used",
           ("workload.default-service-account",), P, _PODS,
           "automountServiceAccountToken: false on each default ServiceAccount is not checked"),
        _c("5.1.6", "Ensure that Service Account Tokens are only mounted where necessary",
           ("workload.sa-token-automount",), P, _PODS,
           "a token is judged unnecessary only when no RBAC in the inputs binds the account"),
        _c("5.1.7", "Avoid use of system:masters group",
           note="group membership comes from the authenticator (client certificates), not from manifests"),
        _c("5.1.8", "Limit use of the Bind, Impersonate and Escalate permissions in the Kubernetes cluster",
           ("rbac.escalate-or-bind", "rbac.impersonate"), F, _RBAC),
        _c("5.1.9", "Minimize access to create persistent volumes",
           note="no check for create on persistentvolumes"),
        _c("5.1.10", "Minimize access to the proxy sub-resource of nodes", ("rbac.nodes-proxy",), F, _RBAC),
        _c("5.1.11", "Minimize access to the approval sub-resource of certificatesigningrequests objects",
           ("rbac.csr-approval",), F, _RBAC),
        _c("5.1.12", "Minimize access to webhook configuration objects", ("rbac.webhook-config",), F, _RBAC),
        _c("5.1.13", "Minimize access to the service account token creation", ("rbac.token-create",), F, _RBAC),
        _c("5.2.1", "Ensure that the cluster has at least one active policy control mechanism in place",
           ("pss.namespace-no-enforce-label",), P, ("Namespace",),
           "external policy engines (Gatekeeper, Kyverno) are not recognised as a mechanism"),
        _c("5.2.2", "Minimize the admission of privileged containers", ("pss.privileged",), F, _PODS),
        _c("5.2.3", "Minimize the admission of containers wishing to share the host process ID namespace",
           ("pss.host-namespaces",), F, _PODS, match="hostPID"),
        _c("5.2.4", "Minimize the admission of containers wishing to share the host IPC namespace",
           ("pss.host-namespaces",), F, _PODS, match="hostIPC"),
        _c("5.2.5", "Minimize the admission of containers wishing to share the host network namespace",
           ("pss.host-namespaces",), F, _PODS, match="hostNetwork"),
        _c("5.2.6", "Minimize the admission of containers with allowPrivilegeEscalation",
           ("pss.allow-privilege-escalation",), F, _PODS),
        _c("5.2.7", "Minimize the admission of root containers", ("pss.run-as-non-root", "pss.run-as-user"), F, _PODS),
        _c("5.2.8", "Minimize the admission of containers with the NET_RAW capability",
           ("pss.capabilities-baseline",), P, _PODS,
           "containers that keep NET_RAW from the runtime's default set are not judged", match="NET_RAW"),
        _c("5.2.9", "Minimize the admission of containers with added capabilities",
           ("pss.capabilities-baseline",), P, _PODS,
           "capabilities of the Baseline default set (e.g. CHOWN) added explicitly are not reported"),
        _c("5.2.10", "Minimize the admission of containers with capabilities assigned",
           ("pss.capabilities-restricted",), F, _PODS),
        _c("5.2.11", "Minimize the admission of Windows HostProcess containers",
           ("pss.windows-host-process",), F, _PODS),
        _c("5.2.12", "Minimize the admission of HostPath volumes", ("pss.host-path-volumes",), F, _PODS),
        _c("5.2.13", "Minimize the admission of containers which use HostPorts", ("pss.host-ports",), F, _PODS),
        _c("5.3.1", "Ensure that the CNI in use supports NetworkPolicies", note="the CNI plugin is not in the inputs"),
        _c("5.3.2", "Ensure that all Namespaces have NetworkPolicies defined",
           ("netpol.no-default-deny-ingress", "netpol.no-default-deny-egress"), P, ("Namespace",),
           "stricter than the control: a namespace with policies but no default deny is reported"),
        _c("5.4.1", "Prefer using Secrets as files over Secrets as environment variables",
           note="no check for secrets exposed as environment variables"),
        _c("5.4.2", "Consider external secret storage", note="an organisational choice, not visible in manifests"),
        _c("5.5.1", "Configure Image Provenance using ImagePolicyWebhook admission controller",
           note="admission controller configuration is API server configuration"),
        _c("5.7.1", "Create administrative boundaries between resources using namespaces",
           note="an organisational review"),
        _c("5.7.2", "Ensure that the seccomp profile is set to docker/default in your Pod definitions",
           ("pss.seccomp-profile-restricted",), F, _PODS),
        _c("5.7.3", "Apply SecurityContext to your Pods and Containers",
           ("pss.run-as-non-root", "pss.allow-privilege-escalation", "pss.capabilities-restricted",
            "pss.seccomp-profile-restricted"), P, _PODS,
           "other security context settings (readOnlyRootFilesystem, SELinux) are not required"),
        _c("5.7.4", "The default namespace should not be used", note="no check for objects in the default namespace"),
    ),
)  # fmt: skip


# ------------------------------------------------------------------ Pod Security Standards

_PSS_REF = Reference(
    "Kubernetes: Pod Security Standards", "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
)


def _pss(level: str, title: str, check: str) -> Control:
    base = title.split(" (v1.", 1)[0]
    return _c(f"{level}: {base}", title, (check,), F, _PODS)


PSS = Framework(
    id="pss",
    title="Kubernetes Pod Security Standards",
    version="latest (Kubernetes v1.34+)",
    reference=_PSS_REF,
    verified_from=(
        Reference(
            "kubernetes/website content/*/docs/concepts/security/pod-security-standards.md (control names)",
            "https://github.com/kubernetes/website/blob/main/content/en/docs/concepts/security/pod-security-standards.md",
        ),
    ),
    scope_note="The Privileged profile has no controls. Restricted includes every Baseline control.",
    controls=(
        _pss("Baseline", "HostProcess", "pss.windows-host-process"),
        _pss("Baseline", "Host Namespaces", "pss.host-namespaces"),
        _pss("Baseline", "Privileged Containers", "pss.privileged"),
        _pss("Baseline", "Capabilities", "pss.capabilities-baseline"),
        _pss("Baseline", "HostPath Volumes", "pss.host-path-volumes"),
        _pss("Baseline", "Host Ports", "pss.host-ports"),
        _pss("Baseline", "Host Probes / Lifecycle Hooks (v1.34+)", "pss.host-probes-and-host-lifecycle"),
        _pss("Baseline", "AppArmor", "pss.apparmor-profile"),
        _pss("Baseline", "SELinux", "pss.selinux-options"),
        _pss("Baseline", "/proc Mount Type", "pss.proc-mount"),
        _pss("Baseline", "Seccomp", "pss.seccomp-profile-baseline"),
        _pss("Baseline", "Sysctls", "pss.sysctls"),
        _pss("Restricted", "Volume Types", "pss.restricted-volumes"),
        _pss("Restricted", "Privilege Escalation (v1.8+)", "pss.allow-privilege-escalation"),
        _pss("Restricted", "Running as Non-root", "pss.run-as-non-root"),
        _pss("Restricted", "Running as Non-root user (v1.23+)", "pss.run-as-user"),
        _pss("Restricted", "Seccomp (v1.19+)", "pss.seccomp-profile-restricted"),
        _pss("Restricted", "Capabilities (v1.22+)", "pss.capabilities-restricted"),
    ),
)


# ------------------------------------------------------------------ NSA/CISA Kubernetes Hardening Guidance


def _area(prefix: str) -> tuple[str, ...]:
    from stockade.checks.registry import all_checks

    return tuple(c.spec.id for c in all_checks() if c.spec.id.startswith(prefix))


def _nsa() -> Framework:
    pod_checks = (*_area("pss."), "workload.sa-token-automount", "workload.default-service-account")
    return Framework(
        id="nsa",
        title="NSA/CISA Kubernetes Hardening Guidance",
        version="1.2 (August 2022)",
        reference=Reference(
            "NSA/CISA Kubernetes Hardening Guidance 1.2",
            "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF",
        ),
        verified_from=(
            Reference(
                "Kubernetes blog: A Closer Look at NSA/CISA Kubernetes Hardening Guidance (section correlation)",
                "https://kubernetes.io/blog/2021/10/05/nsa-cisa-kubernetes-hardening-guidance/",
            ),
        ),
        scope_note="The guidance has no numbered controls; its main sections are the controls here, "
        "identified by their titles.",
        controls=(
            _c("Kubernetes Pod security", "Kubernetes Pod security", pod_checks, P, _PODS,
               "immutable root filesystems, image scanning and hardened runtimes are not judged"),
            _c("Network separation and hardening", "Network separation and hardening", _area("netpol."), P, _NET,
               "control plane, etcd, kubeconfig and encryption settings are not in manifests"),
            _c("Authentication and authorization", "Authentication and authorization", _area("rbac."), P, _RBAC,
               "authentication mechanisms are API server configuration"),
            _c("Audit Logging and Threat Detection", "Audit Logging and Threat Detection", _area("audit-policy."),
               P, _POLICY, "log shipping, alerting and node logging are not in manifests"),
            _c("Upgrading and application security practices", "Upgrading and application security practices",
               note="versions and patch levels are not judged"),
        ),
    )  # fmt: skip


# ------------------------------------------------------------------ OWASP Kubernetes Top Ten


_OWASP_REF = Reference("OWASP Kubernetes Top Ten", "https://owasp.org/www-project-kubernetes-top-ten/")
_OWASP_SRC = Reference(
    "OWASP/www-project-kubernetes-top-ten index.md (2025 and 2022 lists)",
    "https://github.com/OWASP/www-project-kubernetes-top-ten/blob/main/index.md",
)


def _owasp() -> Framework:
    return Framework(
        id="owasp-k8s",
        title="OWASP Kubernetes Top Ten",
        version="2025",
        reference=_OWASP_REF,
        verified_from=(_OWASP_SRC,),
        scope_note="Every risk is broad; mapped checks judge part of it at most. The 2022 edition is owasp-k8s-2022.",
        controls=(
            _c("K01", "Insecure Workload Configurations",
               (*_area("pss."), "workload.cpu-limits-missing", "workload.memory-limits-missing"), P, _PODS,
               "read-only root filesystems are not judged"),
            _c("K02", "Overly Permissive Authorization Configurations", _area("rbac."), P, _RBAC,
               "authorization webhooks and node authorization are not judged"),
            _c("K03", "Secrets Management Failures", ("rbac.secrets-read", "audit-policy.sensitive-request-bodies"), P,
               _RBAC + _POLICY, "encryption at rest and external secret stores are not judged"),
            _c("K04", "Lack Of Cluster Level Policy Enforcement", ("pss.namespace-no-enforce-label",), P,
               ("Namespace",), "policy engines other than Pod Security Admission are not recognised"),
            _c("K05", "Missing Network Segmentation Controls", _area("netpol."), P, _NET),
            _c("K06", "Overly Exposed Kubernetes Components",
               note="API server, kubelet and etcd endpoints are not in manifests"),
            _c("K07", "Misconfigured And Vulnerable Cluster Components",
               note="component flags and versions are not judged"),
            _c("K08", "Cluster To Cloud Lateral Movement", note="cloud identities and metadata access are not judged"),
            _c("K09", "Broken Authentication Mechanisms", note="authentication is API server configuration"),
            _c("K10", "Inadequate Logging And Monitoring", _area("audit-policy."), P, _POLICY,
               "log retention, shipping and alerting are not in manifests"),
        ),
    )  # fmt: skip


def _owasp_2022() -> Framework:
    return Framework(
        id="owasp-k8s-2022",
        title="OWASP Kubernetes Top Ten",
        version="2022",
        reference=_OWASP_REF,
        verified_from=(_OWASP_SRC,),
        scope_note="Every risk is broad; mapped checks judge part of it at most.",
        controls=(
            _c("K01:2022", "Insecure Workload Configurations",
               (*_area("pss."), "workload.cpu-limits-missing", "workload.memory-limits-missing"), P, _PODS,
               "read-only root filesystems are not judged"),
            _c("K02:2022", "Supply Chain Vulnerabilities",
               ("workload.image-latest-tag", "workload.image-not-pinned", "workload.image-registry-not-allowed",
                "workload.image-pull-policy-stale"), P, _PODS, "image vulnerabilities and signatures are not judged"),
            _c("K03:2022", "Overly Permissive RBAC Configurations", _area("rbac."), P, _RBAC),
            _c("K04:2022", "Lack of Centralized Policy Enforcement", ("pss.namespace-no-enforce-label",), P,
               ("Namespace",), "policy engines other than Pod Security Admission are not recognised"),
            _c("K05:2022", "Inadequate Logging and Monitoring", _area("audit-policy."), P, _POLICY,
               "log retention, shipping and alerting are not in manifests"),
            _c("K06:2022", "Broken Authentication Mechanisms", note="authentication is API server configuration"),
            _c("K07:2022", "Missing Network Segmentation Controls", _area("netpol."), P, _NET),
            _c("K08:2022", "Secrets Management Failures",
               ("rbac.secrets-read", "audit-policy.sensitive-request-bodies"), P, _RBAC + _POLICY,
               "encryption at rest and external secret stores are not judged"),
            _c("K09:2022", "Misconfigured Cluster Components", note="component flags are not in manifests"),
            _c("K10:2022", "Outdated and Vulnerable Kubernetes Components", note="versions are not judged"),
        ),
    )  # fmt: skip


@functools.cache
def all_frameworks() -> dict[str, Framework]:
    """Every framework by command-line name (built once: the NSA and OWASP maps read the registry)."""
    return {"cis": CIS, "pss": PSS, "nsa": _nsa(), "owasp-k8s": _owasp(), "owasp-k8s-2022": _owasp_2022()}
