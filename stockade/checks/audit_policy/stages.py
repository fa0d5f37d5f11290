"""``RequestReceived`` recorded.

Every request then produces two events (``RequestReceived`` and ``ResponseComplete``) with the
same metadata, doubling audit volume and backend cost for no information the completion event
does not carry (except for requests that never complete, which ``Panic`` covers). The upstream
examples omit it at the policy level.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import AUDITING_DOC, POLICY_API_DOC, valid_policies
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="audit-policy.request-received-recorded",
    title="Audit policy records the RequestReceived stage",
    severity=Severity.LOW,
    rationale="RequestReceived events duplicate the metadata of the completion event, doubling the volume "
    "of the audit log; a log that is too expensive gets sampled or switched off.",
    remediation="Add `omitStages: [RequestReceived]` at the top level of the policy.",
    references=(POLICY_API_DOC, AUDITING_DOC),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    found = list(valid_policies(ctx))
    if not found:
        return  # no audit policy in the inputs: spare the engine import
    from stockade.engines.audit.review import request_received_recorded

    for fp, policy in found:
        rules = request_received_recorded(policy)
        if rules:
            listed = ", ".join(f"rules[{i}]" for i in rules[:5]) + (" ..." if len(rules) > 5 else "")
            path = "omitStages" if policy.omit_stages else ""
            yield ctx.finding(
                SPEC,
                fp.obj,
                fp.at(path),
                "RequestReceived stage is recorded",
                f"not omitted by the policy nor by {listed}",
            )
