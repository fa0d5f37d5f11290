"""The Pod Security admission plugin's behaviour around the level evaluator.

* :class:`PodSecurityConfiguration` -- the admission configuration file as the API server reads
  it (``defaults`` and ``exemptions``), standalone or inside an ``AdmissionConfiguration``;
* :func:`review` -- what the plugin does with one pod or workload template in a namespace:
  exemptions, enforce (Pods only), warn (unless enforce denied) and audit;
* :func:`namespace_dry_run` -- the warnings ``kubectl label --dry-run=server`` prints when a
  namespace's enforce level is tightened, grouped by forbidden reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.engines.pss.api import (
    DEFAULT_POLICY,
    LATEST,
    LabelPolicy,
    Level,
    LevelVersion,
    Policy,
    parse_level,
    parse_version,
    policy_from_labels,
)
from stockade.engines.pss.evaluator import ALLOWED, Result, evaluate_at
from stockade.errors import ConfigError

CONFIG_API_VERSIONS = (
    "pod-security.admission.config.k8s.io/v1",
    "pod-security.admission.config.k8s.io/v1beta1",
    "pod-security.admission.config.k8s.io/v1alpha1",
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class PodSecurityConfiguration:
    """Cluster defaults and exemptions (``PodSecurityConfiguration``); the default is upstream's."""

    defaults: Policy = DEFAULT_POLICY
    exempt_usernames: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> PodSecurityConfiguration:
        """Read a ``PodSecurityConfiguration`` or an ``AdmissionConfiguration`` holding one."""
        import yaml

        p = Path(path)
        try:
            data = yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except OSError as e:
            raise ConfigError(f"{p}: cannot read the Pod Security configuration: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: invalid YAML: {' '.join(str(e).split())}") from e
        if isinstance(data, Mapping) and data.get("kind") == "AdmissionConfiguration":
            return cls._from_admission_configuration(data, p)
        return cls.from_mapping(data, source=str(p))

    @classmethod
    def _from_admission_configuration(cls, data: Mapping[str, Any], path: Path) -> PodSecurityConfiguration:
        plugins = data.get("plugins") or []
        if not isinstance(plugins, list):
            raise ConfigError(f"{path}: plugins must be a list")
        for plugin in plugins:
            if not isinstance(plugin, Mapping) or plugin.get("name") != "PodSecurity":
                continue
            if plugin.get("configuration") is not None:
                return cls.from_mapping(plugin["configuration"], source=f"{path}: plugins[PodSecurity]")
            if plugin.get("path"):
                # like the API server, a relative path is relative to the admission config file
                return cls.load(path.parent / str(plugin["path"]))
            break
        return cls(source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<PodSecurityConfiguration>") -> PodSecurityConfiguration:
        """Validate a decoded configuration; errors name the source and the field."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a PodSecurityConfiguration must be a mapping")
        if data.get("kind") != "PodSecurityConfiguration":
            raise ConfigError(f"{source}: kind must be PodSecurityConfiguration, got {data.get('kind')!r}")
        if data.get("apiVersion") not in CONFIG_API_VERSIONS:
            raise ConfigError(
                f"{source}: apiVersion must be one of {', '.join(CONFIG_API_VERSIONS)}, got {data.get('apiVersion')!r}"
            )
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise ConfigError(f"{source}: defaults must be a mapping")

        def lv(mode: str) -> LevelVersion:
            level_text = defaults.get(mode)
            version_text = defaults.get(f"{mode}-version")
            try:
                level = Level.PRIVILEGED if level_text in (None, "") else parse_level(str(level_text))
            except ValueError as e:
                raise ConfigError(f"{source}: defaults.{mode}: {e}") from None
            try:
                version = LATEST if version_text in (None, "") else parse_version(str(version_text))
            except ValueError as e:
                raise ConfigError(f"{source}: defaults.{mode}-version: {e}") from None
            return LevelVersion(level, version)

        exemptions = data.get("exemptions") or {}
        if not isinstance(exemptions, Mapping):
            raise ConfigError(f"{source}: exemptions must be a mapping")

        def names(key: str, pattern: re.Pattern[str] | None, what: str) -> frozenset[str]:
            items = exemptions.get(key) or []
            if not isinstance(items, list):
                raise ConfigError(f"{source}: exemptions.{key} must be a list")
            seen: set[str] = set()
            for i, item in enumerate(items):
                if not isinstance(item, str) or not item:
                    raise ConfigError(f"{source}: exemptions.{key}[{i}]: must be a non-empty string")
                limit = 63 if key == "namespaces" else 253
                if pattern is not None and (not pattern.match(item) or len(item) > limit):
                    raise ConfigError(f"{source}: exemptions.{key}[{i}]: {item!r} is not a valid {what}")
                if item in seen:
                    raise ConfigError(f"{source}: exemptions.{key}[{i}]: duplicate value {item!r}")
                seen.add(item)
            return frozenset(seen)

        return cls(
            defaults=Policy(enforce=lv("enforce"), audit=lv("audit"), warn=lv("warn")),
            exempt_usernames=names("usernames", None, "username"),
            exempt_runtime_classes=names("runtimeClasses", _DNS_SUBDOMAIN, "runtime class name"),
            exempt_namespaces=names("namespaces", _DNS_LABEL, "namespace name"),
            source=source,
        )

    def namespace_policy(self, labels: Mapping[str, Any] | None) -> LabelPolicy:
        """The policy a namespace with ``labels`` gets under these defaults."""
        return policy_from_labels(labels or {}, self.defaults)


@dataclass(frozen=True, slots=True)
class Review:
    """What the admission plugin decides for one pod or workload template."""

    exempt: str = ""
    """``namespace``, ``user`` or ``runtimeClass`` when exempt (nothing evaluated)."""
    enforce: Result | None = None
    """The enforce verdict; None for templates (never enforced) and exempt objects."""
    warn: Result | None = None
    audit: Result | None = None
    policy: Policy = DEFAULT_POLICY
    label_errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    """The response warnings the API server would send (``would violate PodSecurity ...``)."""

    @property
    def denied(self) -> bool:
        """True when the API server rejects the object (Pods only)."""
        return self.enforce is not None and not self.enforce.allowed

    @property
    def denial(self) -> str:
        """The Forbidden message, empty when allowed."""
        if not self.denied or self.enforce is None:
            return ""
        return f'violates PodSecurity "{self.policy.enforce}": {self.enforce.message}'


def runtime_class(spec: Mapping[str, Any] | None) -> str:
    """The pod spec's runtimeClassName ("" when unset)."""
    if not isinstance(spec, Mapping):
        return ""
    rc = spec.get("runtimeClassName")
    return rc if isinstance(rc, str) else ""


IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"})
"""Pod subresources the plugin never evaluates (``ephemeralcontainers`` and ``resize`` are evaluated)."""

SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _containers(spec: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    items = spec.get(key) if isinstance(spec, Mapping) else None
    return [c if isinstance(c, Mapping) else {} for c in items] if isinstance(items, list) else []


def _annotation(meta: Mapping[str, Any] | None, key: str) -> str:
    ann = meta.get("annotations") if isinstance(meta, Mapping) else None
    value = ann.get(key) if isinstance(ann, Mapping) else None
    return value if isinstance(value, str) else ""


def is_significant_pod_update(
    old_metadata: Mapping[str, Any] | None,
    old_spec: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
) -> bool:
    """Upstream's test for a Pod update worth evaluating.

    True when the pod seccomp annotation changes, the number of containers or init containers
    changes, a container's or init container's image (or its seccomp annotation) changes, or an
    ephemeral container is added or changes image. Anything else (labels, most of the spec the
    API server keeps immutable anyway) is allowed without evaluation.
    """

    def container_changed(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
        if (new.get("image") or "") != (old.get("image") or ""):
            return True
        key = SECCOMP_CONTAINER_ANNOTATION_PREFIX + str(new.get("name") or "")
        return _annotation(metadata, key) != _annotation(old_metadata, key)

    pod_key = "seccomp.security.alpha.kubernetes.io/pod"
    if _annotation(metadata, pod_key) != _annotation(old_metadata, pod_key):
        return True
    for key in ("containers", "initContainers"):
        new_cs, old_cs = _containers(spec, key), _containers(old_spec, key)
        if len(new_cs) != len(old_cs):
            return True
        if any(container_changed(n, o) for n, o in zip(new_cs, old_cs, strict=True)):
            return True
    old_ephemeral = _containers(old_spec, "ephemeralContainers")
    for c in _containers(spec, "ephemeralContainers"):
        match = next((o for o in old_ephemeral if o.get("name") == c.get("name")), None)
        if match is None or container_changed(c, match):
            return True
    return False


def review(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    *,
    namespace: str | None,
    namespace_labels: Mapping[str, Any] | None,
    config: PodSecurityConfiguration = PodSecurityConfiguration(),
    is_template: bool = False,
    username: str = "",
    old_metadata: Mapping[str, Any] | None = None,
    old_spec: Mapping[str, Any] | None = None,
    subresource: str = "",
) -> Review:
    """Admission of a Pod (``is_template`` False) or a workload's pod template in a namespace.

    Follows upstream's order: ignored subresources (for a Pod: ``exec``, ``status``...; for a
    workload: any subresource), then exemptions of namespace and user, then the short cut for a
    privileged namespace (all three modes for a Pod, warn and audit for a workload), then, for a
    Pod update (``old_spec`` given), the significance test (:func:`is_significant_pod_update`;
    adding an ephemeral container through ``ephemeralcontainers`` is significant), then the
    runtimeClass exemption. A Pod is enforced; a template is only warned and audited (its Pods
    are enforced when the controller creates them). Warn is skipped when enforce denies.
    """
    if subresource and (is_template or subresource in IGNORED_POD_SUBRESOURCES):
        return Review()
    if namespace and namespace in config.exempt_namespaces:
        return Review(exempt="namespace")
    if username and username in config.exempt_usernames:
        return Review(exempt="user")
    lp = config.namespace_policy(namespace_labels)
    policy = lp.policy
    quiet = policy.audit.is_privileged and policy.warn.is_privileged
    if not lp.errors and quiet and (is_template or policy.enforce.is_privileged):
        return Review(policy=policy)
    if is_template and pod_metadata is None and pod_spec is None:
        # a controller whose pod template is optional and absent: nothing to evaluate
        return Review(policy=policy, label_errors=lp.errors)
    updated = not is_template and old_spec is not None
    if updated and not is_significant_pod_update(old_metadata, old_spec, pod_metadata, pod_spec):
        return Review(policy=policy, label_errors=lp.errors)
    rc = runtime_class(pod_spec)
    if rc and rc in config.exempt_runtime_classes:
        return Review(exempt="runtimeClass", policy=policy, label_errors=lp.errors)
    cache: dict[tuple[Level, int], Result] = {}

    def run(lv: LevelVersion) -> Result:
        if lv.is_privileged:
            return ALLOWED
        key = (lv.level, lv.version.effective_minor)
        r = cache.get(key)
        if r is None:
            r = evaluate_at(pod_metadata, pod_spec, lv, is_pod=not is_template)
            cache[key] = r
        return r

    enforce = None if is_template else run(policy.enforce)
    warnings: list[str] = []
    warn = None
    if enforce is None or enforce.allowed:
        warn = run(policy.warn)
        if not warn.allowed:
            warnings.append(f'would violate PodSecurity "{policy.warn}": {warn.message}')
    audit = run(policy.audit)
    return Review(
        enforce=enforce,
        warn=warn,
        audit=audit,
        policy=policy,
        label_errors=lp.errors,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True, slots=True)
class ExistingPod:
    """A pod already running in the namespace (input to :func:`namespace_dry_run`)."""

    name: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DryRunGroup:
    """Pods denied for the same reasons: the lexically first pod's name, how many, and the reasons."""

    first_pod: str
    count: int
    reasons: tuple[str, ...]
    pods: tuple[str, ...]

    def warning(self) -> str:
        """The warning line as the API server writes it."""
        reasons = ", ".join(self.reasons)
        if self.count == 1:
            return f"{self.first_pod}: {reasons}"
        other = "pod" if self.count == 2 else "pods"
        return f"{self.first_pod} (and {self.count - 1} other {other}): {reasons}"


MAX_PODS_TO_CHECK = 3000
"""Upstream checks at most this many existing pods on a namespace label change."""


@dataclass(frozen=True, slots=True)
class DryRun:
    """The outcome of changing a namespace's labels (``kubectl label --dry-run=server``)."""

    namespace: str
    policy: LevelVersion
    """The new enforce policy."""
    evaluated: int
    groups: tuple[DryRunGroup, ...]
    """In the API server's order: sorted by warning line."""
    exempt_warning: str = ""
    skipped: str = ""
    """Why existing pods were not checked (empty when they were)."""
    skipped_runtime_class: tuple[str, ...] = ()
    label_errors: tuple[str, ...] = ()
    """Errors that make the API server reject the label change (Invalid)."""
    total: int = -1
    """Pods subject to the check (exempt runtime classes excluded); -1 means ``evaluated``."""

    def warnings(self) -> list[str]:
        """Every warning line, in the API server's order."""
        if self.exempt_warning:
            return [self.exempt_warning]
        out: list[str] = []
        if 0 <= self.evaluated < self.total:
            out.append(
                f"new PodSecurity enforce level only checked against the first {self.evaluated} of "
                f"{self.total} existing pods"
            )
        if self.groups:
            out.append(
                f'existing pods in namespace "{self.namespace}" violate the new PodSecurity enforce level '
                f'"{self.policy}"'
            )
            out.extend(g.warning() for g in self.groups)
        return out


def exempt_namespace_warning(
    namespace: str, policy: Policy, labels: Mapping[str, Any], config: PodSecurityConfiguration
) -> str:
    """Upstream's notice for non-privileged labels on an exempt namespace ("" when none)."""
    if policy.fully_privileged or _equivalent(policy, config.defaults):
        return ""
    parts = []
    for mode, lv in (("enforce", policy.enforce), ("audit", policy.audit), ("warn", policy.warn)):
        key = f"pod-security.kubernetes.io/{mode}"
        if not lv.is_privileged and (key in labels or f"{key}-version" in labels):
            parts.append(f"{mode}={lv}")
    joined = ", ".join(parts)
    return f'namespace "{namespace}" is exempt from Pod Security, and the policy ({joined}) will be ignored'


def _equivalent(a: Policy, b: Policy) -> bool:
    return a.enforce.equivalent(b.enforce) and a.audit.equivalent(b.audit) and a.warn.equivalent(b.warn)


def _owner_uid(meta: Mapping[str, Any]) -> str | None:
    # upstream's GetControllerOf: the first owner reference with controller: true, keyed by its UID
    owners = meta.get("ownerReferences")
    if not isinstance(owners, list):
        return None
    for o in owners:
        if isinstance(o, Mapping) and o.get("controller") is True:
            uid = o.get("uid")
            return uid if isinstance(uid, str) else ""
    return None


def namespace_dry_run(
    namespace: str,
    pods: Iterable[ExistingPod],
    *,
    new_labels: Mapping[str, Any],
    old_labels: Mapping[str, Any] | None = None,
    config: PodSecurityConfiguration = PodSecurityConfiguration(),
    max_pods: int = MAX_PODS_TO_CHECK,
) -> DryRun:
    """What the API server answers when ``namespace``'s labels change from ``old_labels`` to
    ``new_labels`` (an unlabelled namespace when ``old_labels`` is None).

    Like upstream's namespace update: existing pods are checked only when the enforce policy
    tightens (not when it is unchanged, privileged, or the same version at the same or a looser
    level); an exempt namespace gets a notice instead; pods with an exempt runtimeClass are
    skipped (and not counted); one pod per owning controller (by UID) comes first and the other
    replicas after; at most ``max_pods`` are checked (with upstream's "only checked against the
    first N of M" notice); pods with the same forbidden reasons are grouped under the lexically
    smallest name, and the group lines are sorted.
    """
    new = config.namespace_policy(new_labels)
    old = config.namespace_policy(old_labels or {})
    lv = new.policy.enforce
    errors = new.errors if new.errors and new.errors != old.errors else ()
    if errors:
        return DryRun(namespace, lv, 0, (), skipped="invalid labels", label_errors=errors)
    o = old.policy.enforce
    if lv == o:
        return DryRun(namespace, lv, 0, (), skipped=f"enforce policy unchanged ({lv})")
    if lv.is_privileged:
        return DryRun(namespace, lv, 0, (), skipped="new enforce level is privileged")
    if lv.version == o.version and lv.level.rank <= o.level.rank:
        return DryRun(namespace, lv, 0, (), skipped=f"enforce does not tighten ({o} -> {lv})")
    if namespace in config.exempt_namespaces:
        warning = exempt_namespace_warning(namespace, new.policy, new_labels, config)
        return DryRun(namespace, lv, 0, (), exempt_warning=warning, skipped="exempt namespace")
    first: list[ExistingPod] = []
    rest: list[ExistingPod] = []
    seen_owners: set[str] = set()
    skipped: list[str] = []
    for pod in pods:
        rc = runtime_class(pod.spec)
        if rc and rc in config.exempt_runtime_classes:
            skipped.append(pod.name)
            continue
        owner = _owner_uid(pod.metadata)
        if owner is None or owner not in seen_owners:
            if owner is not None:
                seen_owners.add(owner)
            first.append(pod)
        else:
            rest.append(pod)
    ordered = first + rest
    total = len(ordered)
    checked = ordered[:max_pods]
    # grouped by the forbidden reasons; each group is named after its lexically smallest pod
    groups: dict[tuple[str, ...], list[str]] = {}
    for pod in checked:
        r = evaluate_at(pod.metadata, pod.spec, lv, is_pod=True)
        if not r.allowed:
            groups.setdefault(r.reasons, []).append(pod.name)
    out = [DryRunGroup(min(names), len(names), key, tuple(names)) for key, names in groups.items()]
    out.sort(key=lambda g: g.warning())
    return DryRun(namespace, lv, len(checked), tuple(out), skipped_runtime_class=tuple(skipped), total=total)
