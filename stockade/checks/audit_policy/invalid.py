"""An audit Policy the API server would refuse.

The API server validates ``--audit-policy-file`` at start-up and does not start on an invalid
policy (unknown level or stage, a rule mixing resources and non-resource URLs, resourceNames
without resources, a malformed URL pattern). The other audit policy checks skip such a policy.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import POLICY_API_DOC, policies
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="audit-policy.invalid-policy",
    title="Audit policy does not pass API server validation",
    severity=Severity.HIGH,
    rationale="An API server given an invalid audit policy fails to start, and a control plane rolled out "
    "with it stays down or keeps the old policy without anyone noticing.",
    remediation="Fix the rule named in the finding so that the policy validates.",
    references=(POLICY_API_DOC,),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    for fp in policies(ctx):
        if fp.policy is None:
            where = fp.error.split(":", 1)[0] if fp.error.startswith("rules[") else ""
            path = where.split(".")[0] if where else ""
            yield ctx.finding(SPEC, fp.obj, fp.at(path), "audit policy is invalid", fp.error)
