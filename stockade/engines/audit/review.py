"""Questions about an audit Policy as a whole: what it records for sensitive requests, which
requests it misses, and which rules can never be reached.

Reachability is exact for the policy's own vocabulary: every rule condition is a membership test
on one request attribute (user, one group, verb, namespace, resource with name, path), so the
values that can change an outcome are the ones the policy mentions plus one value it does not.
A rule is reachable iff some request built from those values matches it and no earlier rule; a
depth-first search over the attributes, pruning on earlier rules that can no longer be escaped,
finds such a request (a witness) or proves there is none. One group per request suffices: extra
groups only make earlier rules match more.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade.engines.audit.policy import AuditConfig, AuditRequest, Level, Policy, PolicyRule, path_matches

PROBE_USER = "stockade:probe-user"
PROBE_GROUP = "stockade:probe-group"
PROBE_NS = "stockade-probe-ns"
PROBE_NAME = "stockade-probe-name"
PROBE_API_GROUP = "probe.stockade.dev"
PROBE_RESOURCE = "stockadeprobes"
PROBE_SUB = "probesub"
PROBE_PATH = "/stockade-probe"
STANDARD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")

# A resource triple with a name: (api group, resource, subresource, name).
_Res = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Candidate values per request attribute: those the policy mentions plus fresh ones."""

    users: tuple[str | None, ...]
    groups: tuple[str | None, ...]
    verbs: tuple[str, ...]
    namespaces: tuple[str, ...]
    resources: tuple[_Res, ...]
    paths: tuple[str, ...]

    @classmethod
    def of(cls, policy: Policy) -> Vocabulary:
        """The vocabulary of a policy."""
        rules = policy.rules
        # Ordinary values first so that witnesses read naturally ("a user: get secrets").
        users: list[str | None] = [
            PROBE_USER,
            *sorted({u for r in rules for u in r.users} - {PROBE_USER}),
            None,
        ]
        groups: list[str | None] = [None, PROBE_GROUP, *sorted({g for r in rules for g in r.user_groups})]
        verbs = [*STANDARD_VERBS, *sorted({v for r in rules for v in r.verbs} - set(STANDARD_VERBS))]
        nss = [PROBE_NS, *sorted({n for r in rules for n in r.namespaces} - {"", PROBE_NS}), ""]
        api_groups = {"", PROBE_API_GROUP}
        if not policy.wildcard_group:
            api_groups.add("*")  # a literal group name before Kubernetes 1.36
        forms: set[tuple[str, str]] = {(PROBE_RESOURCE, ""), (PROBE_RESOURCE, PROBE_SUB)}
        names = {"", PROBE_NAME}
        for r in rules:
            for gr in r.resources:
                if gr.group != "*" or not policy.wildcard_group:
                    api_groups.add(gr.group)
                names.update(gr.resource_names)
                for res in gr.resources:
                    base, _, sub = res.partition("/")
                    base = PROBE_RESOURCE if base == "*" else base
                    if sub == "*":
                        forms.update({(base, ""), (base, PROBE_SUB)})
                    else:
                        forms.add((base, sub))
                        forms.add((base, PROBE_SUB))
                        forms.add((base, ""))
                    if sub and sub != "*":
                        forms.add((PROBE_RESOURCE, sub))
        resources = tuple(
            (g, res, sub, n) for g in sorted(api_groups) for res, sub in sorted(forms) for n in sorted(names)
        )
        paths = {PROBE_PATH}
        for r in rules:
            for u in r.non_resource_urls:
                if u.endswith("*"):
                    prefix = u.rstrip("*")
                    paths.update({prefix, prefix + "x"})
                    if prefix:
                        paths.add(prefix[:-1])
                else:
                    paths.add(u)
        return cls(tuple(users), tuple(groups), tuple(verbs), tuple(nss), resources, tuple(sorted(paths)))


# ------------------------------------------------------------------ per-attribute rule conditions


def _user_ok(r: PolicyRule, user: str | None) -> bool:
    return not r.users or (user is not None and user in r.users)


def _group_ok(r: PolicyRule, user: str | None, group: str | None) -> bool:
    return not r.user_groups or (user is not None and group is not None and group in r.user_groups)


def _verb_ok(r: PolicyRule, verb: str) -> bool:
    return not r.verbs or verb in r.verbs


def _ns_ok(r: PolicyRule, ns: str) -> bool:
    return not r.namespaces or ns in r.namespaces


def _res_ok(r: PolicyRule, res: _Res, wildcard_group: bool) -> bool:
    if not r.resources:
        return True
    g, resource, sub, name = res
    return any(gr.matches(g, resource, sub, name, wildcard_group) for gr in r.resources)


def _path_ok(r: PolicyRule, path: str) -> bool:
    return not r.non_resource_urls or any(path_matches(path, s) for s in r.non_resource_urls)


@dataclass(frozen=True, slots=True)
class Constraint:
    """Restrictions on the requests searched (``None`` = any value of the vocabulary)."""

    resource_request: bool | None = None
    users: tuple[str | None, ...] | None = None
    groups: tuple[str | None, ...] | None = None
    verbs: tuple[str, ...] | None = None
    namespaces: tuple[str, ...] | None = None
    resources: tuple[_Res, ...] | None = None


def find_request(
    policy: Policy, index: int, vocab: Vocabulary | None = None, where: Constraint | None = None
) -> AuditRequest | None:
    """A request that rule ``index`` decides (it matches and no earlier rule does), or ``None``."""
    vocab = vocab or Vocabulary.of(policy)
    c = where or Constraint()
    rule = policy.rules[index]
    earlier = policy.rules[:index]
    wg = policy.wildcard_group
    kinds: list[bool] = []
    if rule.scope in ("resource", "any") and c.resource_request in (None, True):
        kinds.append(True)
    if rule.scope in ("nonResource", "any") and c.resource_request in (None, False):
        kinds.append(False)
    memo: dict[tuple[bool, tuple[int, ...]], tuple[str, _Res] | str | None] = {}
    for rr in kinds:
        alive = [e for e in earlier if e.scope == "any" or (e.scope == "resource") == rr]
        for user in c.users if c.users is not None else vocab.users:
            if not _user_ok(rule, user):
                continue
            a1 = [e for e in alive if _user_ok(e, user)]
            groups = (None,) if user is None else (c.groups if c.groups is not None else vocab.groups)
            for group in groups:
                if not _group_ok(rule, user, group):
                    continue
                a2 = [e for e in a1 if _group_ok(e, user, group)]
                for verb in c.verbs if c.verbs is not None else vocab.verbs:
                    if not _verb_ok(rule, verb):
                        continue
                    a3 = [e for e in a2 if _verb_ok(e, verb)]
                    # The rest of the search depends only on which earlier rules are still alive.
                    key = (rr, tuple(e.index for e in a3))
                    if key in memo:
                        found = memo[key]
                    elif rr:
                        found = memo[key] = _search_resource(rule, a3, vocab, c, wg)
                    else:
                        found = memo[key] = _search_path(rule, a3, vocab)
                    if found is None:
                        continue
                    gs = (group,) if group else ()
                    if isinstance(found, str):
                        return AuditRequest(user, gs, verb, False, path=found)
                    ns, res = found
                    return AuditRequest(user, gs, verb, True, res[0], res[1], res[2], res[3], ns)
    return None


def _search_path(rule: PolicyRule, alive: list[PolicyRule], vocab: Vocabulary) -> str | None:
    # An earlier rule without URL conditions left cannot be escaped.
    if any(not e.non_resource_urls for e in alive):
        return None
    for path in vocab.paths:
        if _path_ok(rule, path) and not any(_path_ok(e, path) for e in alive):
            return path
    return None


def _search_resource(
    rule: PolicyRule, alive: list[PolicyRule], vocab: Vocabulary, c: Constraint, wg: bool
) -> tuple[str, _Res] | None:
    if any(not e.namespaces and not e.resources for e in alive):
        return None
    for ns in c.namespaces if c.namespaces is not None else vocab.namespaces:
        if not _ns_ok(rule, ns):
            continue
        a4 = [e for e in alive if _ns_ok(e, ns)]
        if any(not e.resources for e in a4):
            continue
        for res in c.resources if c.resources is not None else vocab.resources:
            if _res_ok(rule, res, wg) and not any(_res_ok(e, res, wg) for e in a4):
                return ns, res
    return None


def unreachable_rules(policy: Policy) -> list[int]:
    """Indices of rules no request can reach (every request they match is decided earlier)."""
    vocab = Vocabulary.of(policy)
    return [i for i in range(len(policy.rules)) if find_request(policy, i, vocab) is None]


def shadowing_rules(policy: Policy, index: int) -> list[int]:
    """Earlier rules that match some request rule ``index`` would match (the likely culprits)."""
    vocab = Vocabulary.of(policy)
    alone = Policy(
        (policy.rules[index],),
        policy.omit_stages,
        policy.omit_managed_fields,
        wildcard_group=policy.wildcard_group,
    )
    witness = find_request(alone, 0, vocab)
    if witness is None:
        return []
    return [i for i in policy.matching_rules(witness) if i < index]


# ------------------------------------------------------------------ sensitive bodies


@dataclass(frozen=True, slots=True)
class SensitiveLogging:
    """A rule that records the body of requests carrying credentials."""

    rule_index: int
    topic: str
    level: Level
    example: AuditRequest
    leaks: bool = True
    """Whether the example's recorded body holds the credential (else it is only above Metadata)."""


_WRITES = ("create", "update", "patch")
_READS = ("get", "list", "watch")

SENSITIVE: tuple[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (topic, api group, resource, subresource,
    #  verbs whose REQUEST body holds the credential, verbs whose RESPONSE body holds it)
    ("secrets", "", "secrets", "", _WRITES, (*_READS, *_WRITES)),
    ("configmaps", "", "configmaps", "", _WRITES, (*_READS, *_WRITES)),
    ("token requests", "", "serviceaccounts", "token", (), ("create",)),
    ("TokenReviews", "authentication.k8s.io", "tokenreviews", "", ("create",), ("create",)),
)
"""Resources whose bodies hold credentials, which the upstream guidance keeps at ``Metadata``.
``Request`` records request bodies (a secret's data on create/update/patch, the token under
review); ``RequestResponse`` also records responses (a secret on get, the issued token)."""


def sensitive_logging(policy: Policy, vocab: Vocabulary | None = None) -> list[SensitiveLogging]:
    """Rules that record some request for a sensitive resource above ``Metadata``.

    The example request prefers a verb whose recorded body holds the credential, so the finding
    shows the actual leak when there is one.
    """
    vocab = vocab or Vocabulary.of(policy)
    names = tuple(sorted({r[3] for r in vocab.resources}))
    out: list[SensitiveLogging] = []
    for i, rule in enumerate(policy.rules):
        if rule.level < Level.REQUEST:
            continue
        for topic, g, res, sub, req_verbs, resp_verbs in SENSITIVE:
            leaking = req_verbs if rule.level == Level.REQUEST else (*resp_verbs, *req_verbs)
            verbs = tuple(dict.fromkeys((*leaking, *vocab.verbs)))
            where = Constraint(resource_request=True, verbs=verbs, resources=tuple((g, res, sub, n) for n in names))
            found = find_request(policy, i, vocab, where)
            if found is not None:
                out.append(SensitiveLogging(i, topic, rule.level, found, found.verb in leaking))
    return out


# ------------------------------------------------------------------ coverage


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """A kind of request an ordinary identity can make without it being recorded."""

    topic: str
    example: AuditRequest
    config: AuditConfig


ORDINARY_IDENTITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PROBE_USER, ("system:authenticated",)),
    (
        "system:serviceaccount:stockade-probe-ns:probe",
        (
            "system:serviceaccounts",
            "system:serviceaccounts:stockade-probe-ns",
            "system:authenticated",
        ),
    ),
)
"""Identities a tenant could hold: a plain user and a service account (never a system component)."""

_RBAC = "rbac.authorization.k8s.io"
_ADM = "admissionregistration.k8s.io"
COVERAGE: dict[str, tuple[tuple[str, str, str, str, bool], ...]] = {
    # topic -> (verb, api group, resource, subresource, namespaced)
    "pod exec/attach/port-forward": (
        *((v, "", "pods", s, True) for s in ("exec", "attach", "portforward") for v in ("create", "get")),
        *((v, "", r, "proxy", True) for r in ("pods", "services") for v in ("get", "create")),
    ),
    "workload changes": tuple(
        (v, g, r, "", True)
        for g, r in (("", "pods"), ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"))
        for v in ("create", "update", "patch", "delete")
    ),
    "RBAC writes": tuple(
        (v, _RBAC, r, "", ns)
        for r, ns in (
            ("roles", True),
            ("rolebindings", True),
            ("clusterroles", False),
            ("clusterrolebindings", False),
        )
        for v in ("create", "update", "patch", "delete", "deletecollection", "escalate", "bind")
        if not (v == "escalate" and "binding" in r) and not (v == "bind" and "binding" in r)
    ),
    "admission webhook changes": tuple(
        (v, _ADM, r, "", False)
        for r in (
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
        )
        for v in ("create", "update", "patch", "delete", "deletecollection")
    ),
    "secrets access": tuple(
        (v, "", "secrets", "", True) for v in ("get", "list", "watch", "create", "update", "patch", "delete")
    ),
}


_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


def completion_stages(req: AuditRequest) -> frozenset[str]:
    """Stages after the start at which a request that completes normally is recorded.

    kube-apiserver treats watch and proxy verbs and the attach, exec, proxy, log and portforward
    subresources as long-running: they are recorded at ``ResponseStarted`` and at
    ``ResponseComplete``; other requests only at ``ResponseComplete``. ``Panic`` is written only
    when the handler crashes, so keeping it records nothing for requests that succeed.
    """
    if req.verb in _LONG_RUNNING_VERBS or (req.resource_request and req.subresource in _LONG_RUNNING_SUBRESOURCES):
        return frozenset({"ResponseStarted", "ResponseComplete"})
    return frozenset({"ResponseComplete"})


def coverage_gaps(policy: Policy) -> dict[str, list[CoverageGap]]:
    """Per topic, requests by ordinary identities that the policy records at level ``None``
    (or whose completion stage it omits, so only the start or nothing is written)."""
    namespaces = sorted({PROBE_NS, *(n for r in policy.rules for n in r.namespaces if n)})
    out: dict[str, list[CoverageGap]] = {}
    for topic, shapes in COVERAGE.items():
        gaps: list[CoverageGap] = []
        seen_rules: set[int | None] = set()
        for user, groups in ORDINARY_IDENTITIES:
            for verb, g, res, sub, namespaced in shapes:
                for ns in namespaces if namespaced else [""]:
                    for name in (
                        ("", PROBE_NAME)
                        if verb not in ("list", "watch", "deletecollection", "create") or sub
                        else ("",)
                    ):
                        req = AuditRequest(user, groups, verb, True, g, res, sub, name, ns)
                        cfg = policy.evaluate(req)
                        missing = cfg.level == Level.NONE or completion_stages(req) <= cfg.omit_stages
                        if missing and cfg.rule_index not in seen_rules:
                            seen_rules.add(cfg.rule_index)
                            gaps.append(CoverageGap(topic, req, cfg))
        if gaps:
            out[topic] = gaps
    return out


# ------------------------------------------------------------------ catch-all and stages


def catch_all(policy: Policy) -> int | None:
    """Index of the first rule that matches every request, if any."""
    for r in policy.rules:
        if not (r.users or r.user_groups or r.verbs or r.resources or r.namespaces or r.non_resource_urls):
            return r.index
    return None


def unmatched_request(policy: Policy) -> AuditRequest | None:
    """A request no rule matches (recorded at level ``None`` by default), or ``None`` if every
    request matches some rule, even when no single rule is a catch-all."""
    probe = PolicyRule(Level.METADATA, index=len(policy.rules))
    extended = Policy(
        (*policy.rules, probe), policy.omit_stages, policy.omit_managed_fields, wildcard_group=policy.wildcard_group
    )
    return find_request(extended, len(policy.rules))


def request_received_recorded(policy: Policy) -> list[int]:
    """Reachable rules with a level other than ``None`` that record the ``RequestReceived`` stage."""
    if "RequestReceived" in policy.omit_stages:
        return []
    rules = [r.index for r in policy.rules if r.level != Level.NONE and "RequestReceived" not in r.omit_stages]
    if not rules:
        return []
    # A rule no request reaches records nothing at any stage.
    vocab = Vocabulary.of(policy)
    return [i for i in rules if find_request(policy, i, vocab) is not None]


def describe(req: AuditRequest) -> str:
    """A short, human-readable request (``any user get secrets in team-a``)."""
    if req.user is None:
        who = "a request without user information"
    elif req.user == PROBE_USER:
        group = req.groups[0] if req.groups else ""
        who = f"a user in group {group}" if group and group not in (PROBE_GROUP, "system:authenticated") else "a user"
    elif req.user.startswith("system:serviceaccount:stockade-probe-ns:"):
        who = "a service account"
    else:
        who = req.user
    if not req.resource_request:
        return f"{who}: {req.verb} {req.path}"
    res = req.resource + (f"/{req.subresource}" if req.subresource else "")
    if req.api_group:
        res += f".{req.api_group}"
    if req.resource == PROBE_RESOURCE:
        res = res.replace(PROBE_RESOURCE, "<any resource>")
    name = f" {req.name}" if req.name and req.name != PROBE_NAME else ""
    if not req.namespace:
        where = " (cluster-wide)"
    elif req.namespace == PROBE_NS:
        where = ""
    else:
        where = f" in {req.namespace}"
    return f"{who}: {req.verb} {res}{name}{where}"
