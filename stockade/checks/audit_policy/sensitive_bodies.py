"""Credentials written into the audit log.

Secrets, ConfigMaps (which often hold credentials on ML platforms: connection strings, API keys),
TokenRequests (``serviceaccounts/token``) and TokenReviews carry credentials in their request or
response bodies. A rule that records them at ``Request`` or ``RequestResponse`` copies those
credentials into the audit log, which far more people and systems can read than the secrets
themselves. The upstream guidance (and CIS 3.2.2) is to log these at ``Metadata`` only.

The check is exact: it reports a rule only if some request for the resource actually reaches it
(first matching rule wins), with an example request; the example is one whose recorded body
holds the credential when the rule records such a request (a secret written at ``Request``, read
at ``RequestResponse``).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import AUDITING_DOC, POLICY_API_DOC, valid_policies
from stockade.checks.registry import ScanContext, register
from stockade.model import CheckSpec, Finding, Severity

SPEC = CheckSpec(
    id="audit-policy.sensitive-request-bodies",
    title="Audit policy records bodies of secrets, configmaps or token requests",
    severity=Severity.HIGH,
    rationale="Request and response bodies of these resources contain credentials; at Request or "
    "RequestResponse level they are copied into the audit log and every system it is shipped to.",
    remediation="Add a rule logging secrets, configmaps, serviceaccounts/token and tokenreviews at "
    "Metadata before any rule that records bodies.",
    references=(AUDITING_DOC, POLICY_API_DOC),
)


@register(SPEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    found = list(valid_policies(ctx))
    if not found:
        return  # no audit policy in the inputs: spare the engine import
    from stockade.engines.audit.review import describe, sensitive_logging

    for fp, policy in found:
        by_rule: dict[int, list[str]] = {}
        examples: dict[int, str] = {}
        leaks: dict[int, bool] = {}
        for s in sensitive_logging(policy):
            by_rule.setdefault(s.rule_index, []).append(s.topic)
            # Quote a request whose recorded body holds the credential when there is one.
            if s.rule_index not in examples or (s.leaks and not leaks[s.rule_index]):
                examples[s.rule_index] = describe(s.example)
                leaks[s.rule_index] = s.leaks
        for i, topics in sorted(by_rule.items()):
            level = policy.rules[i].level.label
            yield ctx.finding(
                SPEC,
                fp.obj,
                fp.at(f"rules[{i}].level"),
                "credentials are written to the audit log"
                if leaks[i]
                else "sensitive resources recorded above Metadata",
                f"rules[{i}] records {', '.join(topics)} at {level} (e.g. {examples[i]})",
                evidence=(("rule", i), ("level", level), ("resources", tuple(topics))),
            )
