"""An ``audit.k8s.io/v1`` Policy, evaluated for one request exactly as the API server does.

Semantics follow k8s.io/apiserver ``pkg/audit/policy`` (the policy rule evaluator):

* rules are tried in order and the first matching rule decides, a matching ``None`` rule included;
* when no rule matches the level is ``None`` with the policy-level ``omitStages`` and
  ``omitManagedFields``;
* a matched rule's ``omitStages`` are the union of the policy's and the rule's, and its
  ``omitManagedFields`` is the rule's when set, else the policy's;
* within a rule every non-empty field must match: ``users`` (exact name), ``userGroups`` (any
  group), ``verbs`` (literal, ``*`` is not a wildcard), ``namespaces``/``resources`` (resource
  requests only; ``""`` is a cluster-scoped or all-namespace request), ``nonResourceURLs``
  (non-resource requests only; ``*``, exact, or trailing-``*`` string prefix). ``users`` and
  ``userGroups`` never match a request without user information.

Rules are precompiled into sets and per-verb candidate lists so that one evaluation costs a
handful of set look-ups (the audit log analyser evaluates millions of events).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stockade.errors import InputError

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_POLICY_VERSIONS = frozenset({"audit.k8s.io/v1", "audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"})

STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
"""The audit stages, in the order an event passes through them."""


class Level(enum.IntEnum):
    """How much of a request is recorded; ordered so that ``Level.REQUEST > Level.METADATA``."""

    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def label(self) -> str:
        """The name used in the Policy and in audit events (``RequestResponse``)."""
        return _LEVEL_LABELS[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """Parse a Policy level name exactly as spelled upstream; raises ValueError otherwise."""
        try:
            return _LEVEL_BY_LABEL[text]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown audit level {text!r} (expected None, Metadata, Request or RequestResponse)"
            ) from None


_LEVEL_LABELS = {
    Level.NONE: "None",
    Level.METADATA: "Metadata",
    Level.REQUEST: "Request",
    Level.REQUEST_RESPONSE: "RequestResponse",
}
_LEVEL_BY_LABEL = {v: k for k, v in _LEVEL_LABELS.items()}


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """The authorizer attributes the audit filter evaluates for one request."""

    user: str | None
    """User name; ``None`` when the request carries no user information at all."""
    groups: tuple[str, ...] = ()
    verb: str = "get"
    resource_request: bool = True
    api_group: str = ""
    """API group; ``""`` is the core group."""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    """Object name; ``""`` for create, list, watch and deletecollection."""
    namespace: str = ""
    """Namespace; ``""`` for cluster-scoped objects and lists across all namespaces."""
    path: str = ""
    """Request path, for non-resource requests."""

    @property
    def combined_resource(self) -> str:
        """``resource/subresource`` when there is a subresource, else ``resource``."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """What the policy decides for one request."""

    level: Level
    omit_stages: frozenset[str]
    omit_managed_fields: bool
    rule_index: int | None = None
    """Index of the matching rule in ``Policy.rules``; ``None`` when no rule matched."""

    def to_json(self) -> dict[str, Any]:
        """``{level, omitStages, omitManagedFields}`` with stages in pipeline order."""
        return {
            "level": self.level.label,
            "omitStages": [s for s in STAGES if s in self.omit_stages]
            + sorted(s for s in self.omit_stages if s not in STAGES),
            "omitManagedFields": self.omit_managed_fields,
        }


@dataclass(frozen=True, slots=True)
class GroupResources:
    """One ``resources`` entry of a rule: an API group, resource strings and resource names."""

    group: str
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    def matches(self, api_group: str, resource: str, subresource: str, name: str, wildcard_group: bool) -> bool:
        """Whether this entry covers the request (the group must match first)."""
        if not (self.group == api_group or (wildcard_group and self.group == "*")):
            return False
        if not self.resources:
            # An entry without resources covers the whole group, whatever resourceNames says.
            return True
        if self.resource_names and name not in self.resource_names:
            return False
        combined = f"{resource}/{subresource}" if subresource else resource
        for res in self.resources:
            if res == combined or res == "*":
                return True
            if subresource and res.startswith("*/") and res[2:] == subresource:
                return True
            if res.endswith("/*") and res[:-2] == resource:
                return True
        return False


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of a Policy, as written (empty tuples mean "not given")."""

    level: Level
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool | None = None
    index: int = 0
    """Position in the policy (0-based)."""
    line: int | None = None
    """Line of the rule in its source file, when known."""

    @property
    def scope(self) -> str:
        """``resource``, ``nonResource`` or ``any``: which kind of request the rule can match."""
        if self.namespaces or self.resources:
            return "resource"
        if self.non_resource_urls:
            return "nonResource"
        return "any"

    def matches(self, req: AuditRequest, wildcard_group: bool = True) -> bool:
        """Whether the rule matches the request (reference implementation, uncompiled)."""
        if self.users and (req.user is None or req.user not in self.users):
            return False
        if self.user_groups and (req.user is None or not any(g in self.user_groups for g in req.groups)):
            return False
        if self.verbs and req.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            if not req.resource_request:
                return False
            if self.namespaces and req.namespace not in self.namespaces:
                return False
            if not self.resources:
                return True
            return any(
                gr.matches(req.api_group, req.resource, req.subresource, req.name, wildcard_group)
                for gr in self.resources
            )
        if self.non_resource_urls:
            return not req.resource_request and any(path_matches(req.path, s) for s in self.non_resource_urls)
        return True


def path_matches(path: str, spec: str) -> bool:
    """Non-resource URL match: ``*``, exact, or a trailing ``*`` as a plain string prefix."""
    if spec == "*" or spec == path:
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


# ------------------------------------------------------------------ compiled form


@dataclass(frozen=True, slots=True)
class _GroupMatcher:
    """One ``resources`` entry reduced to sets (see :meth:`GroupResources.matches`)."""

    all_resources: bool
    names: frozenset[str] | None
    exact: frozenset[str]
    """``resource`` or ``resource/subresource`` strings matched as written."""
    any_resource: bool
    """``"*"``: every resource and subresource."""
    subresources: frozenset[str]
    """``"*/sub"``: that subresource of any resource."""
    with_subresources: frozenset[str]
    """``"res/*"``: the resource and all its subresources."""

    @classmethod
    def of(cls, gr: GroupResources) -> _GroupMatcher:
        res = gr.resources
        return cls(
            all_resources=not res,
            names=frozenset(gr.resource_names) if gr.resource_names else None,
            exact=frozenset(res),
            any_resource="*" in res,
            subresources=frozenset(r[2:] for r in res if r.startswith("*/")),
            with_subresources=frozenset(r[:-2] for r in res if r.endswith("/*")),
        )

    def matches(self, resource: str, subresource: str, combined: str, name: str) -> bool:
        if self.all_resources:
            return True
        if self.names is not None and name not in self.names:
            return False
        return (
            self.any_resource
            or combined in self.exact
            or resource in self.with_subresources
            or (bool(subresource) and subresource in self.subresources)
        )


_ANY = 0
_RES = 1
_NONRES = 2


@dataclass(slots=True)
class _Compiled:
    """A rule reduced to sets for fast matching."""

    index: int
    users: frozenset[str] | None
    groups: frozenset[str] | None
    verbs: frozenset[str] | None
    scope: int
    namespaces: frozenset[str] | None
    # group -> entries; None when the rule has no resources list.
    by_group: dict[str, list[_GroupMatcher]] | None
    star_group: list[_GroupMatcher]
    urls_exact: frozenset[str]
    urls_prefix: tuple[str, ...]
    urls_all: bool
    result: AuditConfig


@dataclass(frozen=True)
class Policy:
    """A parsed, validated audit Policy that evaluates requests.

    ``wildcard_group`` enables the ``group: "*"`` form (Kubernetes 1.36 and later); with it off a
    ``"*"`` group is an invalid group name, which older API servers' validation rejects.
    """

    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False
    source: str = "<policy>"
    wildcard_group: bool = True
    _compiled: list[_Compiled] = field(default_factory=list, repr=False, compare=False)
    _by_verb: dict[tuple[str, int], list[_Compiled]] = field(default_factory=dict, repr=False, compare=False)
    _memo: dict[tuple[Any, ...], AuditConfig] = field(default_factory=dict, repr=False, compare=False)
    _relevant: tuple[bool, bool, bool, bool] = field(default=(True, True, True, True), repr=False, compare=False)
    _default: AuditConfig | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._compiled.extend(self._compile(r) for r in self.rules)
        # Which request attributes can change an answer: the memo key leaves the others out, so
        # repeated traffic (the same verb on the same resource) hits the memo whatever the names.
        rs = self.rules
        object.__setattr__(
            self,
            "_relevant",
            (
                any(r.users for r in rs),
                any(r.user_groups for r in rs),
                any(r.namespaces for r in rs),
                any(gr.resource_names for r in rs for gr in r.resources),
            ),
        )
        object.__setattr__(self, "_default", AuditConfig(Level.NONE, self.omit_stages, self.omit_managed_fields, None))

    # -------------------------------------------------------------- construction

    @classmethod
    def from_dict(
        cls,
        body: Mapping[str, Any],
        source: str = "<policy>",
        wildcard_group: bool = True,
        lines: Sequence[int | None] = (),
    ) -> Policy:
        """Parse a Policy body (``{omitStages, omitManagedFields, rules}``), validating it as upstream does.

        Raises :class:`InputError` naming ``source`` and the rule on anything the API server
        would reject.
        """
        if not isinstance(body, Mapping):
            raise InputError(source, "audit policy must be a mapping")
        kind = body.get("kind")
        if kind is not None and kind != "Policy":
            raise InputError(source, f"expected kind Policy, got {kind!r}")
        api_version = body.get("apiVersion")
        if api_version is not None and api_version not in _POLICY_VERSIONS:
            # The API server's policy loader decodes only these versions.
            raise InputError(
                source, f"unknown apiVersion {api_version!r} for an audit Policy (expected audit.k8s.io/v1)"
            )
        omit = _stages(body.get("omitStages"), source, "omitStages")
        omf = body.get("omitManagedFields", False)
        if not isinstance(omf, bool):
            raise InputError(source, "omitManagedFields must be a boolean")
        raw_rules = body.get("rules") or []
        if not isinstance(raw_rules, list):
            raise InputError(source, "rules must be a list")
        rules = tuple(
            _parse_rule(r, i, source, lines[i] if i < len(lines) else None, wildcard_group)
            for i, r in enumerate(raw_rules)
        )
        if not rules:
            # The API server's policy loader refuses this after validation (same wording).
            raise InputError(source, "loaded illegal policy with 0 rules")
        return cls(rules, frozenset(omit), omf, source, wildcard_group)

    def _compile(self, r: PolicyRule) -> _Compiled:
        scope = {"resource": _RES, "nonResource": _NONRES, "any": _ANY}[r.scope]
        by_group: dict[str, list[_GroupMatcher]] | None = None
        star: list[_GroupMatcher] = []
        if r.resources:
            by_group = {}
            for gr in r.resources:
                if gr.group == "*" and self.wildcard_group:
                    star.append(_GroupMatcher.of(gr))
                else:
                    by_group.setdefault(gr.group, []).append(_GroupMatcher.of(gr))
        urls = r.non_resource_urls
        omf = r.omit_managed_fields if r.omit_managed_fields is not None else self.omit_managed_fields
        return _Compiled(
            index=r.index,
            users=frozenset(r.users) if r.users else None,
            groups=frozenset(r.user_groups) if r.user_groups else None,
            verbs=frozenset(r.verbs) if r.verbs else None,
            scope=scope,
            namespaces=frozenset(r.namespaces) if r.namespaces else None,
            by_group=by_group,
            star_group=star,
            urls_exact=frozenset(u for u in urls if not u.endswith("*")),
            urls_prefix=tuple(u.rstrip("*") for u in urls if u.endswith("*") and u != "*"),
            urls_all="*" in urls,
            result=AuditConfig(r.level, self.omit_stages | frozenset(r.omit_stages), omf, r.index),
        )

    # -------------------------------------------------------------- evaluation

    @property
    def default(self) -> AuditConfig:
        """The answer when no rule matches."""
        assert self._default is not None
        return self._default

    def _candidates(self, verb: str, resource_request: bool) -> list[_Compiled]:
        key = (verb, 1 if resource_request else 0)
        cands = self._by_verb.get(key)
        if cands is None:
            bad = _NONRES if resource_request else _RES
            cands = [c for c in self._compiled if c.scope != bad and (c.verbs is None or verb in c.verbs)]
            if len(self._by_verb) < 4096:  # verbs are few; guard against hostile input anyway
                self._by_verb[key] = cands
        return cands

    def evaluate(self, req: AuditRequest) -> AuditConfig:
        """The level, omitted stages and omitManagedFields for one request (first matching rule)."""
        return self.evaluate_fields(
            req.user,
            req.groups,
            req.verb,
            req.resource_request,
            req.api_group,
            req.resource,
            req.subresource,
            req.name,
            req.namespace,
            req.path,
        )

    def evaluate_uncached(self, req: AuditRequest) -> AuditConfig:
        """:meth:`evaluate` bypassing the memo (benchmarks; every request distinct)."""
        return self._decide(
            req.user,
            req.groups,
            req.verb,
            req.resource_request,
            req.api_group,
            req.resource,
            req.subresource,
            req.name,
            req.namespace,
            req.path,
        )

    def evaluate_fields(
        self,
        user: str | None,
        groups: Sequence[str],
        verb: str,
        resource_request: bool,
        api_group: str = "",
        resource: str = "",
        subresource: str = "",
        name: str = "",
        namespace: str = "",
        path: str = "",
    ) -> AuditConfig:
        """:meth:`evaluate` without building an :class:`AuditRequest` (the hot path, memoised)."""
        use_user, use_groups, use_ns, use_names = self._relevant
        key = (
            verb,
            resource_request,
            api_group,
            resource,
            subresource,
            "" if resource_request else path,
            user if use_user else (user is None),
            tuple(groups) if use_groups else (),
            namespace if use_ns else "",
            name if use_names else "",
        )
        memo = self._memo
        hit = memo.get(key)
        if hit is not None:
            return hit
        result = self._decide(
            user, groups, verb, resource_request, api_group, resource, subresource, name, namespace, path
        )
        if len(memo) >= 100_000:  # bound memory on hostile or very diverse traffic
            memo.clear()
        memo[key] = result
        return result

    def _decide(
        self,
        user: str | None,
        groups: Sequence[str],
        verb: str,
        resource_request: bool,
        api_group: str,
        resource: str,
        subresource: str,
        name: str,
        namespace: str,
        path: str,
    ) -> AuditConfig:
        combined = f"{resource}/{subresource}" if subresource else resource
        for c in self._candidates(verb, resource_request):
            if c.users is not None and (user is None or user not in c.users):
                continue
            if c.groups is not None and (user is None or c.groups.isdisjoint(groups)):
                continue
            if c.scope == _RES:
                if c.namespaces is not None and namespace not in c.namespaces:
                    continue
                if c.by_group is not None:
                    entries = c.by_group.get(api_group)
                    if not (
                        (entries and any(m.matches(resource, subresource, combined, name) for m in entries))
                        or any(m.matches(resource, subresource, combined, name) for m in c.star_group)
                    ):
                        continue
            elif c.scope == _NONRES and not (
                c.urls_all or path in c.urls_exact or any(path.startswith(p) for p in c.urls_prefix)
            ):
                continue
            return c.result
        return self.default

    def matching_rules(self, req: AuditRequest) -> list[int]:
        """Indices of every rule that matches ``req`` (not only the first), for diagnostics."""
        return [r.index for r in self.rules if r.matches(req, self.wildcard_group)]


# ------------------------------------------------------------------ parsing and validation


def _strings(value: Any, source: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(source, f"{what} must be a list of strings")
    return tuple(value)


def _stages(value: Any, source: str, what: str) -> tuple[str, ...]:
    stages = _strings(value, source, what)
    for s in stages:
        if s not in STAGES:
            raise InputError(source, f"{what}: unknown stage {s!r} (expected one of {', '.join(STAGES)})")
    return stages


def _parse_rule(raw: Any, index: int, source: str, line: int | None, wildcard_group: bool = True) -> PolicyRule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise InputError(source, f"{where}: must be a mapping", line)
    try:
        level = Level.parse(raw.get("level", ""))
    except ValueError as e:
        raise InputError(source, f"{where}.level: {e}", line) from None
    groups: list[GroupResources] = []
    raw_res = raw.get("resources")
    if raw_res is not None and not isinstance(raw_res, list):
        raise InputError(source, f"{where}.resources must be a list", line)
    for j, gr in enumerate(raw_res or []):
        if not isinstance(gr, Mapping):
            raise InputError(source, f"{where}.resources[{j}] must be a mapping", line)
        group = gr.get("group", "")
        if not isinstance(group, str):
            raise InputError(source, f"{where}.resources[{j}].group must be a string", line)
        res = _strings(gr.get("resources"), source, f"{where}.resources[{j}].resources")
        names = _strings(gr.get("resourceNames"), source, f"{where}.resources[{j}].resourceNames")
        if (
            group
            and not (group == "*" and wildcard_group)
            and (len(group) > 253 or not _DNS1123_SUBDOMAIN.match(group))
        ):
            # Before Kubernetes 1.36 "*" is no group wildcard: validation rejects it as a group name.
            hint = " (a wildcard group needs Kubernetes 1.36 or later)" if group == "*" else ""
            raise InputError(
                source, f"{where}.resources[{j}].group: {group!r} is not a valid API group name{hint}", line
            )
        if names and not res:
            raise InputError(
                source, f"{where}.resources[{j}]: using resourceNames requires at least one resource", line
            )
        groups.append(GroupResources(group, res, names))
    urls = _strings(raw.get("nonResourceURLs"), source, f"{where}.nonResourceURLs")
    namespaces = _strings(raw.get("namespaces"), source, f"{where}.namespaces")
    if urls and (groups or namespaces):
        raise InputError(source, f"{where}: rules cannot apply to both regular resources and non-resource URLs", line)
    for u in urls:
        if u == "*":
            continue
        if not u.startswith("/"):
            raise InputError(source, f"{where}.nonResourceURLs: {u!r} must begin with '/'", line)
        if "*" in u[:-1]:
            raise InputError(source, f"{where}.nonResourceURLs: {u!r} may only end with '*'", line)
    omf = raw.get("omitManagedFields")
    if omf is not None and not isinstance(omf, bool):
        raise InputError(source, f"{where}.omitManagedFields must be a boolean", line)
    return PolicyRule(
        level=level,
        users=_strings(raw.get("users"), source, f"{where}.users"),
        user_groups=_strings(raw.get("userGroups"), source, f"{where}.userGroups"),
        verbs=_strings(raw.get("verbs"), source, f"{where}.verbs"),
        resources=tuple(groups),
        namespaces=namespaces,
        non_resource_urls=urls,
        omit_stages=_stages(raw.get("omitStages"), source, f"{where}.omitStages"),
        omit_managed_fields=omf,
        index=index,
        line=line,
    )


def load_policy(path: str, wildcard_group: bool = True) -> Policy:
    """Read a Policy from a YAML/JSON file (the first document of kind Policy, or the only one)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(path, f"cannot read audit policy: {e.strerror}") from e
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 text (byte 0x{e.object[e.start]:02x})", line) from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(
            path, f"invalid YAML: {getattr(e, 'problem', None) or e}", mark.line + 1 if mark else None
        ) from None
    policies = [d for d in docs if isinstance(d, Mapping) and d.get("kind") == "Policy"]
    if not policies:
        if len(docs) == 1 and isinstance(docs[0], Mapping) and "rules" in docs[0]:
            policies = docs
        else:
            raise InputError(path, "no audit Policy (kind: Policy) found")
    return Policy.from_dict(policies[0], source=path, wildcard_group=wildcard_group)
