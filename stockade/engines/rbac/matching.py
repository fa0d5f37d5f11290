"""How one rule matches one request, and how one rule set covers another.

Matching follows the RBAC authorizer's evaluation helpers: ``*`` is a wildcard for verbs, API
groups, resources (which then also matches every subresource) and non-resource URLs; ``*/sub``
matches the subresource ``sub`` of any resource; a non-resource URL ending in ``*`` is a prefix;
an empty ``resourceNames`` matches any name, a non-empty one only named requests. Everything
else is a case-sensitive literal (``pods/*`` and ``*/*`` are not globs).

Coverage follows the escalation check: a new rule is broken down into one-verb, one-group,
one-resource, one-name (or one-URL, one-verb) tuples, each of which must be covered by a single
owner rule; wildcards on the new (servant) side are literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stockade.engines.rbac.model import Attributes, PolicyRule

ALL = "*"


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    """``*`` or the exact verb."""
    return ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    """``*`` or the exact group ("" is the core group)."""
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: PolicyRule, resource: str, subresource: str) -> bool:
    """``*``, the exact ``resource[/subresource]`` string, or ``*/subresource``."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule.resources:
        if r in (ALL, combined):
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    """No names in the rule matches anything; otherwise the request must carry a listed name."""
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, url: str) -> bool:
    """``*``, the exact URL, or a trailing-``*`` prefix."""
    for u in rule.non_resource_urls:
        if u in (ALL, url):
            return True
        # Every trailing "*" is stripped ("/logs**" is the prefix "/logs"), here and in coverage.
        if u.endswith(ALL) and url.startswith(u.rstrip(ALL)):
            return True
    return False


def rule_allows(rule: PolicyRule, attrs: Attributes) -> bool:
    """Whether one rule allows one request, exactly as the RBAC authorizer decides."""
    if attrs.non_resource_url is not None:
        return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.non_resource_url)
    return (
        verb_matches(rule, attrs.verb)
        and api_group_matches(rule, attrs.api_group)
        and resource_matches(rule, attrs.resource, attrs.subresource)
        and resource_name_matches(rule, attrs.name)
    )


# ---------------------------------------------------------------------------------- coverage


def breakdown(rule: PolicyRule) -> list[PolicyRule]:
    """Split a rule into atomic tuples (one verb, group, resource and name; or one URL and verb).

    As upstream, a rule listing resources but no API groups yields no resource tuples.
    """
    out: list[PolicyRule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out.extend(PolicyRule((verb,), (group,), (resource,), (name,)) for name in rule.resource_names)
                else:
                    out.append(PolicyRule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        for verb in rule.verbs:
            out.append(PolicyRule(verbs=(verb,), non_resource_urls=(url,)))
    return out


def _has_all(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(w in owner for w in wanted)


def _resources_cover(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owner or _has_all(owner, wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path:
            return False
        if f"*/{path.split('/', 1)[1]}" not in owner:
            return False
    return True


def _urls_cover(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(any(o == url or (o.endswith(ALL) and url.startswith(o.rstrip(ALL))) for o in owner) for url in wanted)


def rule_covers(owner: PolicyRule, tuple_rule: PolicyRule) -> bool:
    """Whether one owner rule covers one atomic tuple (see :func:`breakdown`)."""
    verbs = ALL in owner.verbs or _has_all(owner.verbs, tuple_rule.verbs)
    groups = ALL in owner.api_groups or _has_all(owner.api_groups, tuple_rule.api_groups)
    resources = _resources_cover(owner.resources, tuple_rule.resources)
    urls = _urls_cover(owner.non_resource_urls, tuple_rule.non_resource_urls)
    if not tuple_rule.resource_names:
        names = not owner.resource_names
    else:
        names = not owner.resource_names or _has_all(owner.resource_names, tuple_rule.resource_names)
    return verbs and groups and resources and urls and names


def uncovered(owner_rules: Sequence[PolicyRule], new_rules: Iterable[PolicyRule]) -> list[PolicyRule]:
    """The atomic tuples of ``new_rules`` that no owner rule covers (empty means covered)."""
    missing: list[PolicyRule] = []
    for rule in new_rules:
        for t in breakdown(rule):
            if not any(rule_covers(o, t) for o in owner_rules):
                missing.append(t)
    return missing


def covers(owner_rules: Sequence[PolicyRule], new_rules: Iterable[PolicyRule]) -> bool:
    """Whether ``owner_rules`` cover every tuple of ``new_rules``."""
    return not uncovered(owner_rules, new_rules)


FULL_AUTHORITY = (
    PolicyRule(verbs=(ALL,), api_groups=(ALL,), resources=(ALL,)),
    PolicyRule(verbs=(ALL,), non_resource_urls=(ALL,)),
)
"""What setting an aggregationRule requires the writer to hold."""
