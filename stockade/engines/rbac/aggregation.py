"""ClusterRole aggregation, computed to a fixed point as the aggregation controller converges.

For every ClusterRole with an ``aggregationRule``, its rules become the de-duplicated
concatenation, selector by selector (OR-ed), over every *other* ClusterRole the selector matches
(sorted by name), of that role's rules. Rules written directly on an aggregated role are
replaced. Aggregated roles may select each other (bootstrap ``admin`` gets ``edit`` which gets
``view``), so the computation repeats until nothing changes, starting from empty rules for the
aggregated roles so that stale stored rules never leak into the result.

Selectors that select on absence (``NotIn``, ``DoesNotExist``, or an empty selector) also select
unlabelled roles. A role with a selector the controller cannot turn into a label query (unknown
operator, ``In``/``NotIn`` without values, ``Exists``/``DoesNotExist`` with values) is never
synchronised by the controller, so it keeps the rules written on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from stockade.engines.rbac.model import LabelSelector, PolicyRule, Role


def _needs_labels(selector: LabelSelector) -> bool:
    """Whether every role the selector matches carries at least one label."""
    return bool(selector.match_labels) or any(op in ("In", "Exists") for _k, op, _v in selector.match_expressions)


def _synchronisable(role: Role) -> bool:
    """Whether the controller can compute the role: every selector parses and is valid."""
    return all(s is not None and s.valid for s in role.aggregation or ())


def _aggregate_once(role: Role, current: Mapping[str, Role], by_name: list[str]) -> tuple[PolicyRule, ...]:
    assert role.aggregation is not None
    out: list[PolicyRule] = []
    seen: set[PolicyRule] = set()
    for selector in role.aggregation:
        if selector is None:
            continue
        for name in by_name:
            if name == role.name:
                continue
            other = current[name]
            if not selector.matches(other.labels):
                continue
            for rule in other.rules:
                if rule not in seen:
                    seen.add(rule)
                    out.append(rule)
    return tuple(out)


def aggregate(cluster_roles: Mapping[str, Role], max_rounds: int = 100) -> dict[str, Role]:
    """Cluster roles by name with every aggregated role's rules computed to a fixed point."""
    aggregated = [name for name, r in cluster_roles.items() if r.aggregation is not None and _synchronisable(r)]
    current = dict(cluster_roles)
    if not aggregated:
        return current
    for name in aggregated:
        current[name] = replace(current[name], rules=())
    # Only labelled roles can be selected unless some selector selects on absence (or is empty).
    any_unlabelled = any(
        s is not None and not _needs_labels(s) for name in aggregated for s in current[name].aggregation or ()
    )
    candidates = sorted(n for n, r in current.items() if any_unlabelled or r.labels)
    for _ in range(max_rounds):
        changed = False
        snapshot = dict(current)
        for name in aggregated:
            rules = _aggregate_once(snapshot[name], snapshot, candidates)
            if rules != current[name].rules:
                current[name] = replace(current[name], rules=rules)
                changed = True
        if not changed:
            break
    return current
