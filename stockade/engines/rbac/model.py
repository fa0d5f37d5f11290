"""Frozen values of the RBAC engine: rules, roles, bindings, identities, requests and answers.

Objects are parsed from the raw bodies the API server would store (``rbac.authorization.k8s.io``
Role, ClusterRole, RoleBinding, ClusterRoleBinding). Parsing is lenient in the way the stored
objects are: a missing list is an empty list, a non-string entry is ignored. The API server's
validation is assumed to have run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
RBAC_KINDS = ROLE_KINDS + BINDING_KINDS

SA_PREFIX = "system:serviceaccount:"
SA_GROUP_PREFIX = "system:serviceaccounts:"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return ()
    return tuple(v for v in value if isinstance(v, str))


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One RBAC rule. Empty tuples mean "none" (an empty ``resource_names`` means any name)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyRule:
        """Parse a rule as stored (``apiGroups``, ``resources``, ``verbs`` ...)."""
        return cls(
            verbs=_strings(data.get("verbs")),
            api_groups=_strings(data.get("apiGroups")),
            resources=_strings(data.get("resources")),
            resource_names=_strings(data.get("resourceNames")),
            non_resource_urls=_strings(data.get("nonResourceURLs")),
        )

    def to_dict(self) -> dict[str, list[str]]:
        """The rule as a manifest would spell it (empty fields omitted)."""
        out: dict[str, list[str]] = {}
        if self.api_groups or (self.resources and not self.non_resource_urls):
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        out["verbs"] = list(self.verbs)
        return out

    def __str__(self) -> str:
        if self.non_resource_urls and not self.resources:
            return f"{','.join(self.verbs)} {','.join(self.non_resource_urls)}"
        groups = ",".join(g or "core" for g in self.api_groups)
        text = f"{','.join(self.verbs)} {','.join(self.resources)} [{groups}]"
        if self.resource_names:
            text += f" names={','.join(self.resource_names)}"
        return text


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A ``metav1.LabelSelector``: ``matchLabels`` and ``matchExpressions``, AND-ed.

    An empty selector selects everything. As ``LabelSelectorAsSelector`` does, a selector is
    invalid (it cannot be turned into a label query) when an operator is unknown, ``In``/``NotIn``
    has no values, or ``Exists``/``DoesNotExist`` has values.
    """

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(key, operator, values) with operator In, NotIn, Exists or DoesNotExist."""

    @classmethod
    def from_dict(cls, data: Any) -> LabelSelector | None:
        """Parse a selector. ``null`` decodes to the zero-value (empty) selector, as it does for the
        API server's ``clusterRoleSelectors`` list of values; ``None`` only for a non-mapping."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            return None
        labels = data.get("matchLabels")
        exprs = data.get("matchExpressions")
        ml = tuple((str(k), str(v)) for k, v in (labels.items() if isinstance(labels, Mapping) else ()))
        me: list[tuple[str, str, tuple[str, ...]]] = []
        for e in exprs if isinstance(exprs, list) else ():
            if isinstance(e, Mapping):
                me.append((str(e.get("key", "")), str(e.get("operator", "")), _strings(e.get("values"))))
        return cls(ml, tuple(me))

    @property
    def is_empty(self) -> bool:
        """No labels and no expressions: selects every object."""
        return not self.match_labels and not self.match_expressions

    @property
    def valid(self) -> bool:
        """Whether the selector converts to a label query (see the class docstring)."""
        for _key, op, values in self.match_expressions:
            if op not in _SELECTOR_OPERATORS:
                return False
            if (op in ("In", "NotIn")) != bool(values):
                return False
        return True

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set is selected (an empty selector selects everything; an invalid one
        nothing)."""
        if not self.valid:
            return False
        for k, v in self.match_labels:
            if labels.get(k) != v:
                return False
        for key, op, values in self.match_expressions:
            present = key in labels
            if op == "In":
                if not present or labels[key] not in values:
                    return False
            elif op == "NotIn":
                if present and labels[key] in values:
                    return False
            elif op == "Exists":
                if not present:
                    return False
            elif present:  # DoesNotExist
                return False
        return True


@dataclass(frozen=True, slots=True)
class Role:
    """A Role (``namespace`` set) or ClusterRole (``namespace`` empty)."""

    kind: str
    name: str
    namespace: str = ""
    rules: tuple[PolicyRule, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    aggregation: tuple[LabelSelector | None, ...] | None = None
    """ClusterRole ``aggregationRule.clusterRoleSelectors``; ``None`` when not aggregated."""
    source: Any = field(default=None, compare=False, repr=False)
    """The K8sObject (or dict) it was read from."""
    bootstrap: bool = False
    """True for the default roles of a cluster (context, never a finding)."""

    @property
    def key(self) -> RoleKey:
        """Identity used by role references."""
        return RoleKey(self.kind, self.name, self.namespace)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class RoleKey:
    """(kind, name, namespace) of a Role or ClusterRole; namespace is "" for ClusterRoles."""

    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True)
class RoleRef:
    """A binding's ``roleRef``."""

    api_group: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """A binding subject. ``namespace`` is as written (a ServiceAccount may omit it)."""

    kind: str
    name: str
    namespace: str = ""
    api_group: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subject:
        """Parse a subject as stored."""
        return cls(
            kind=str(data.get("kind") or ""),
            name=str(data.get("name") or ""),
            namespace=str(data.get("namespace") or ""),
            api_group=str(data.get("apiGroup") or ""),
        )

    def effective_namespace(self, binding_namespace: str) -> str:
        """A ServiceAccount without namespace means the binding's namespace."""
        return self.namespace or (binding_namespace if self.kind == "ServiceAccount" else "")

    def can_match(self, binding_namespace: str) -> bool:
        """Whether any identity can match this subject: a User, a Group, or a ServiceAccount with a
        namespace (its own, or the RoleBinding's). Other kinds, and a namespace-less ServiceAccount
        in a ClusterRoleBinding, match nobody, so the binding grants them nothing."""
        if self.kind in ("User", "Group"):
            return True
        return self.kind == "ServiceAccount" and bool(self.effective_namespace(binding_namespace))

    def display(self, binding_namespace: str = "") -> str:
        """``User alice``, ``Group devs``, ``ServiceAccount ns/name``."""
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.effective_namespace(binding_namespace)}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (``namespace`` set) or ClusterRoleBinding (``namespace`` empty)."""

    kind: str
    name: str
    namespace: str
    role_ref: RoleRef
    subjects: tuple[Subject, ...] = ()
    source: Any = field(default=None, compare=False, repr=False)
    bootstrap: bool = False

    @property
    def role_key(self) -> RoleKey:
        """The role this binding refers to (Role refs resolve in the binding's namespace)."""
        if self.role_ref.kind == "Role":
            return RoleKey("Role", self.role_ref.name, self.namespace)
        return RoleKey(self.role_ref.kind, self.role_ref.name, "")

    @property
    def key(self) -> tuple[str, str, str]:
        """(kind, namespace, name)."""
        return (self.kind, self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The identity the authorizer sees: a user name and its groups (nothing is added)."""

    name: str
    groups: tuple[str, ...] = ()

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when the user name is a valid service-account user name."""
        from stockade.engines.rbac.identity import split_service_account

        return split_service_account(self.name)


@dataclass(frozen=True, slots=True)
class Attributes:
    """One authorization request, as the API server's RequestInfo would fill it.

    A request is a non-resource request when ``non_resource_url`` is set; its namespace is "".
    """

    verb: str
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    non_resource_url: str | None = None

    @property
    def is_resource_request(self) -> bool:
        """True unless this is a non-resource URL request."""
        return self.non_resource_url is None

    def __str__(self) -> str:
        if not self.is_resource_request:
            return f"{self.verb} {self.non_resource_url}"
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        grp = f".{self.api_group}" if self.api_group else ""
        text = f"{self.verb} {res}{grp}"
        if self.name:
            text += f" {self.name}"
        return text + (f" in {self.namespace}" if self.namespace else " (cluster-wide)")


@dataclass(frozen=True, slots=True)
class Grant:
    """One rule reached through one binding: why a subject may do something."""

    binding: Binding
    role: Role
    rule: PolicyRule
    rule_index: int
    """Index in the role's effective rules (after aggregation)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        b, r = self.binding, self.role
        return {
            "binding": {"kind": b.kind, "name": b.name, "namespace": b.namespace},
            "role": {"kind": r.kind, "name": r.name, "namespace": r.namespace},
            "ruleIndex": self.rule_index,
            "rule": self.rule.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The authorizer's answer. ``allowed`` False is RBAC's "no opinion" (kubectl prints "no")."""

    allowed: bool
    reason: str
    matched: tuple[Grant, ...] = ()
    """Every binding rule that allows the request (empty when denied)."""
    errors: tuple[str, ...] = ()
    """Role references that did not resolve while evaluating (they grant nothing)."""


@dataclass(frozen=True, slots=True)
class SubjectGrant:
    """A subject that may do something, and the binding rule through which it may."""

    subject: Subject
    grant: Grant

    @property
    def subject_namespace(self) -> str:
        """Effective namespace of a ServiceAccount subject ("" for users and groups)."""
        return self.subject.effective_namespace(self.grant.binding.namespace)
