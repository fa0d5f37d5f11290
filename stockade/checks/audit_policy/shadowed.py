"""Rules that can never apply.

The first matching rule decides, so a rule whose every matching request is already matched by
earlier rules is dead: its level never applies. This usually means an intended exception is in
the wrong place (a ``None`` rule for noisy endpoints after a catch-all, a stricter rule for
secrets after a broad ``Request`` rule). The check is exact over the policy's own vocabulary of
users, groups, verbs, namespaces, resources and URLs.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import AUDITING_DOC, valid_policies
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="audit-policy.shadowed-rule",
    title="Audit policy rule is never reached",
    severity=Severity.LOW,
    rationale="Rules are evaluated in order and the first match wins; a rule hidden behind earlier ones "
    "never applies, so what its author meant to record (or drop) is not.",
    remediation="Move the rule before the rules that shadow it, or delete it.",
    references=(AUDITING_DOC,),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    found = list(valid_policies(ctx))
    if not found:
        return  # no audit policy in the inputs: spare the engine import
    from stockade.engines.audit.review import shadowing_rules, unreachable_rules

    for fp, policy in found:
        for i in unreachable_rules(policy):
            by = shadowing_rules(policy, i)
            culprits = ", ".join(f"rules[{j}]" for j in by) if by else "earlier rules"
            yield ctx.finding(
                SPEC,
                fp.obj,
                fp.at(f"rules[{i}]"),
                "rule is shadowed by earlier rules",
                f"rules[{i}] ({policy.rules[i].level.label}) is never reached: "
                f"every request it matches is decided by {culprits}",
                evidence=(("rule", i), ("shadowedBy", tuple(by))),
            )
