"""What the API server's discovery would say about resource names, offline.

``kubectl auth can-i`` resolves ``deploy`` to ``deployments.apps`` and decides whether a resource
is namespaced through discovery. Without a cluster, Stockade uses a built-in table of the
Kubernetes resources and adds the CustomResourceDefinitions found in the inputs. An unknown name
is used as written (kubectl warns and does the same) and is treated as namespaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One resource as discovery describes it."""

    plural: str
    group: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()

    def names(self) -> set[str]:
        """Every lower-case name kubectl accepts for it."""
        return {self.plural, self.singular or self.kind.lower(), self.kind.lower(), *self.short_names}


def _t(plural: str, group: str, kind: str, namespaced: bool = True, *short: str, singular: str = "") -> ResourceType:
    return ResourceType(plural, group, kind, namespaced, singular or kind.lower(), tuple(short))


# Preferred group first when a name exists in several (kubectl's RESTMapper prefers core).
BUILTIN: tuple[ResourceType, ...] = (
    _t("pods", "", "Pod", True, "po"),
    _t("services", "", "Service", True, "svc"),
    _t("endpoints", "", "Endpoints", True, "ep", singular="endpoints"),
    _t("configmaps", "", "ConfigMap", True, "cm"),
    _t("secrets", "", "Secret"),
    _t("serviceaccounts", "", "ServiceAccount", True, "sa"),
    _t("persistentvolumeclaims", "", "PersistentVolumeClaim", True, "pvc"),
    _t("events", "", "Event", True, "ev"),
    _t("limitranges", "", "LimitRange", True, "limits"),
    _t("resourcequotas", "", "ResourceQuota", True, "quota"),
    _t("replicationcontrollers", "", "ReplicationController", True, "rc"),
    _t("podtemplates", "", "PodTemplate"),
    _t("bindings", "", "Binding"),
    _t("nodes", "", "Node", False, "no"),
    _t("namespaces", "", "Namespace", False, "ns"),
    _t("persistentvolumes", "", "PersistentVolume", False, "pv"),
    _t("componentstatuses", "", "ComponentStatus", False, "cs"),
    _t("deployments", "apps", "Deployment", True, "deploy"),
    _t("statefulsets", "apps", "StatefulSet", True, "sts"),
    _t("daemonsets", "apps", "DaemonSet", True, "ds"),
    _t("replicasets", "apps", "ReplicaSet", True, "rs"),
    _t("controllerrevisions", "apps", "ControllerRevision"),
    _t("jobs", "batch", "Job"),
    _t("cronjobs", "batch", "CronJob", True, "cj"),
    _t("horizontalpodautoscalers", "autoscaling", "HorizontalPodAutoscaler", True, "hpa"),
    _t("poddisruptionbudgets", "policy", "PodDisruptionBudget", True, "pdb"),
    _t("networkpolicies", "networking.k8s.io", "NetworkPolicy", True, "netpol"),
    _t("ingresses", "networking.k8s.io", "Ingress", True, "ing"),
    _t("ingressclasses", "networking.k8s.io", "IngressClass", False),
    _t("ipaddresses", "networking.k8s.io", "IPAddress", False, "ip"),
    _t("servicecidrs", "networking.k8s.io", "ServiceCIDR", False),
    _t("roles", "rbac.authorization.k8s.io", "Role"),
    _t("rolebindings", "rbac.authorization.k8s.io", "RoleBinding"),
    _t("clusterroles", "rbac.authorization.k8s.io", "ClusterRole", False),
    _t("clusterrolebindings", "rbac.authorization.k8s.io", "ClusterRoleBinding", False),
    _t("leases", "coordination.k8s.io", "Lease"),
    _t("endpointslices", "discovery.k8s.io", "EndpointSlice"),
    _t("events", "events.k8s.io", "Event", True, "ev"),
    _t("storageclasses", "storage.k8s.io", "StorageClass", False, "sc"),
    _t("csidrivers", "storage.k8s.io", "CSIDriver", False),
    _t("csinodes", "storage.k8s.io", "CSINode", False),
    _t("volumeattachments", "storage.k8s.io", "VolumeAttachment", False),
    _t("csistoragecapacities", "storage.k8s.io", "CSIStorageCapacity"),
    _t("volumeattributesclasses", "storage.k8s.io", "VolumeAttributesClass", False, "vac"),
    _t("priorityclasses", "scheduling.k8s.io", "PriorityClass", False, "pc"),
    _t("runtimeclasses", "node.k8s.io", "RuntimeClass", False),
    _t("customresourcedefinitions", "apiextensions.k8s.io", "CustomResourceDefinition", False, "crd", "crds"),
    _t("apiservices", "apiregistration.k8s.io", "APIService", False),
    _t("mutatingwebhookconfigurations", "admissionregistration.k8s.io", "MutatingWebhookConfiguration", False),
    _t(
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _t("validatingadmissionpolicies", "admissionregistration.k8s.io", "ValidatingAdmissionPolicy", False),
    _t(
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    _t("mutatingadmissionpolicies", "admissionregistration.k8s.io", "MutatingAdmissionPolicy", False),
    _t(
        "mutatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
        False,
    ),
    _t("certificatesigningrequests", "certificates.k8s.io", "CertificateSigningRequest", False, "csr"),
    _t("clustertrustbundles", "certificates.k8s.io", "ClusterTrustBundle", False),
    _t("tokenreviews", "authentication.k8s.io", "TokenReview", False),
    _t("selfsubjectreviews", "authentication.k8s.io", "SelfSubjectReview", False),
    _t("subjectaccessreviews", "authorization.k8s.io", "SubjectAccessReview", False),
    _t("selfsubjectaccessreviews", "authorization.k8s.io", "SelfSubjectAccessReview", False),
    _t("selfsubjectrulesreviews", "authorization.k8s.io", "SelfSubjectRulesReview", False),
    _t("localsubjectaccessreviews", "authorization.k8s.io", "LocalSubjectAccessReview"),
    _t("flowschemas", "flowcontrol.apiserver.k8s.io", "FlowSchema", False),
    _t("prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", False),
    _t("resourceclaims", "resource.k8s.io", "ResourceClaim"),
    _t("resourceclaimtemplates", "resource.k8s.io", "ResourceClaimTemplate"),
    _t("resourceslices", "resource.k8s.io", "ResourceSlice", False),
    _t("deviceclasses", "resource.k8s.io", "DeviceClass", False),
    # Not served by discovery, but authorized: impersonation (users, groups, uids, user extras, whose
    # subresource is the extra's key) and certificate signers (approve/sign). All are checked
    # without a namespace. kubectl knows users and groups without discovery, too.
    _t("users", "", "User", False),
    _t("groups", "", "Group", False),
    _t("uids", "authentication.k8s.io", "UID", False),
    _t("userextras", "authentication.k8s.io", "UserExtra", False),
    _t("signers", "certificates.k8s.io", "Signer", False),
)

_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")


@dataclass(frozen=True, slots=True)
class ResolvedResource:
    """A resource argument after resolution."""

    resource: str
    group: str
    namespaced: bool
    known: bool
    """False when neither the built-in table nor an input CRD knows it (used as written)."""


class ResourceCatalog:
    """Built-in resources plus the CRDs of the inputs."""

    def __init__(self, extra: Iterable[ResourceType] = ()) -> None:
        # Built-in groups first: kubectl's RESTMapper prefers them over CRDs for a bare name, so
        # `jobs` is batch/jobs even when a CRD (jobs.batch.volcano.sh) has the same plural.
        self.types: list[ResourceType] = [*BUILTIN, *extra]

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any] | Any]) -> ResourceCatalog:
        """Add every ``CustomResourceDefinition`` among the objects (manifests or K8sObjects)."""
        extra: list[ResourceType] = []
        for obj in objects:
            body = obj if isinstance(obj, Mapping) else getattr(obj, "body", None)
            if not isinstance(body, Mapping) or body.get("kind") != "CustomResourceDefinition":
                continue
            spec = body.get("spec")
            if not isinstance(spec, Mapping) or not isinstance(spec.get("names"), Mapping):
                continue
            names = spec["names"]
            plural = str(names.get("plural") or "").lower()
            if not plural:
                continue
            short = names.get("shortNames")
            extra.append(
                ResourceType(
                    plural=plural,
                    group=str(spec.get("group") or ""),
                    kind=str(names.get("kind") or ""),
                    namespaced=spec.get("scope") != "Cluster",
                    singular=str(names.get("singular") or "").lower(),
                    short_names=tuple(str(s).lower() for s in short) if isinstance(short, list) else (),
                )
            )
        return cls(extra)

    def resolve(self, arg: str, group: str | None = None) -> ResolvedResource:
        """Resolve ``name[.group]`` (or ``name.version.group``) as kubectl does.

        ``group`` (``--api-group``) overrides a group given in the argument.
        """
        if arg == "*":
            return ResolvedResource("*", group or "", True, True)
        text = arg.lower()
        name, _, arg_group = text.partition(".")
        if arg_group:
            first, _, rest = arg_group.partition(".")
            if rest and _VERSION.match(first):
                arg_group = rest
        want_group = group if group is not None else (arg_group if arg_group else None)
        for t in self.types:
            if (want_group is None or t.group == want_group) and name in t.names():
                return ResolvedResource(t.plural, t.group, t.namespaced, True)
        if want_group is None and arg_group == "":
            return ResolvedResource(name, "", True, False)
        return ResolvedResource(name, want_group or "", True, False)

    def is_namespaced(self, resource: str, group: str) -> bool:
        """Whether a resource is namespaced (unknown resources are assumed namespaced)."""
        for t in self.types:
            if t.plural == resource and t.group == group:
                return t.namespaced
        return True
