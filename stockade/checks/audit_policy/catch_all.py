"""No catch-all rule.

Requests that match no rule are not logged at all (the default level is ``None``). New resources
(CRDs of a newly installed ML operator, a new API group) are then invisible in the audit log
until someone remembers to add a rule. A final rule without conditions at ``Metadata`` records
everything not handled earlier. The check is exact: it searches for a request no rule matches
(rules that together cover every request count as a catch-all) and quotes one.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import AUDITING_DOC, valid_policies
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="audit-policy.no-catch-all",
    title="Audit policy has no catch-all rule",
    severity=Severity.MEDIUM,
    rationale="Requests no rule matches are not recorded, so resources added later (new CRDs, new API "
    "groups) never appear in the audit log.",
    remediation="End the rules with `- level: Metadata` (no other fields).",
    references=(AUDITING_DOC,),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    found = list(valid_policies(ctx))
    if not found:
        return  # no audit policy in the inputs: spare the engine import
    from stockade.engines.audit.policy import Level
    from stockade.engines.audit.review import catch_all, describe, unmatched_request

    for fp, policy in found:
        missed = unmatched_request(policy)
        i = catch_all(policy)
        if missed is not None:
            yield ctx.finding(
                SPEC,
                fp.obj,
                fp.at("rules"),
                "no catch-all rule",
                f"requests no rule matches are not recorded (e.g. {describe(missed)})",
            )
        elif i is not None and policy.rules[i].level == Level.NONE:
            yield ctx.finding(
                SPEC,
                fp.obj,
                fp.at(f"rules[{i}].level"),
                "catch-all rule records nothing",
                f"rules[{i}] matches every remaining request at level None",
            )
