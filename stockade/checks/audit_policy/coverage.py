"""Security-relevant requests the audit policy does not record.

For each topic the check evaluates the requests a tenant could make (a plain user and a service
account, in every namespace the policy names and one it does not) and reports the rule, or the
absence of a matching rule, that leaves one of them unrecorded (level ``None``, or every
completion stage omitted). Topics: ``pods/exec``, ``pods/attach`` and ``pods/portforward``, and the
``proxy`` subresource of pods and services (an interactive shell in, or a tunnel to, a model server
or notebook); creating, changing or deleting pods, Deployments, StatefulSets and DaemonSets;
writes to Roles, ClusterRoles and their bindings (privilege changes); changes to admission
webhooks and policies (disabling the guards); reads and writes of Secrets (credential access).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.audit_policy.common import AUDITING_DOC, SECURITY_CHECKLIST, valid_policies
from stockade.checks.registry import ScanContext, declare, register
from stockade.model import CheckSpec, Finding, Severity

_REMEDIATION = (
    "Add a rule recording these requests at Metadata or above before any rule that drops them, "
    "or a catch-all Metadata rule."
)

POD_EXEC = CheckSpec(
    id="audit-policy.pod-exec-not-recorded",
    title="Audit policy does not record exec, attach, port-forward or proxy into pods",
    severity=Severity.HIGH,
    rationale="An interactive session in a model server, notebook or training pod reaches its data, "
    "model weights and mounted credentials; without an audit record nobody can tell who did it.",
    remediation=_REMEDIATION,
    references=(AUDITING_DOC,),
)
RBAC_WRITES = declare(
    CheckSpec(
        id="audit-policy.rbac-writes-not-recorded",
        title="Audit policy does not record changes to roles and role bindings",
        severity=Severity.HIGH,
        rationale="Granting oneself or a workload more permissions is the usual step after a compromise; "
        "unrecorded RBAC writes hide privilege escalation.",
        remediation=_REMEDIATION,
        references=(AUDITING_DOC, SECURITY_CHECKLIST),
    )
)
WEBHOOKS = declare(
    CheckSpec(
        id="audit-policy.webhook-changes-not-recorded",
        title="Audit policy does not record changes to admission webhooks and policies",
        severity=Severity.HIGH,
        rationale="Deleting or rewriting an admission webhook or policy silently disables the guards that "
        "enforce tenant isolation; the audit log is the only trace.",
        remediation=_REMEDIATION,
        references=(AUDITING_DOC,),
    )
)
WORKLOADS = declare(
    CheckSpec(
        id="audit-policy.workload-changes-not-recorded",
        title="Audit policy does not record changes to pods and deployments",
        severity=Severity.MEDIUM,
        rationale="Creating or changing a pod or a workload template is how code gets to run with a "
        "namespace's service account, GPUs and mounted data; without a record it cannot be traced.",
        remediation=_REMEDIATION,
        references=(AUDITING_DOC,),
    )
)
SECRETS = declare(
    CheckSpec(
        id="audit-policy.secret-access-not-recorded",
        title="Audit policy does not record access to secrets",
        severity=Severity.MEDIUM,
        rationale="Reads of secrets (data store, registry and API credentials) are the evidence an incident "
        "response needs first; without them a leaked credential cannot be traced.",
        remediation="Add a rule recording secrets at Metadata (never Request or RequestResponse) before any "
        "rule that drops them.",
        references=(AUDITING_DOC,),
    )
)
_BY_TOPIC = {
    "pod exec/attach/port-forward": POD_EXEC,
    "RBAC writes": RBAC_WRITES,
    "admission webhook changes": WEBHOOKS,
    "secrets access": SECRETS,
    "workload changes": WORKLOADS,
}


@register(POD_EXEC)
def check(ctx: ScanContext) -> Iterator[Finding]:
    found = list(valid_policies(ctx))
    if not found:
        return  # no audit policy in the inputs: spare the engine import
    from stockade.engines.audit.policy import Level
    from stockade.engines.audit.review import coverage_gaps, describe

    for fp, policy in found:
        for topic, gaps in coverage_gaps(policy).items():
            spec = _BY_TOPIC[topic]
            for gap in gaps:
                i = gap.config.rule_index
                if i is None:
                    path, why = "rules", "no rule matches"
                elif gap.config.level == Level.NONE:
                    path, why = f"rules[{i}]", f"rules[{i}] drops it (level None)"
                else:
                    path, why = f"rules[{i}].omitStages", f"rules[{i}] omits every completion stage"
                yield ctx.finding(
                    spec,
                    fp.obj,
                    fp.at(path),
                    f"{topic} not recorded",
                    f"{describe(gap.example)}: {why}",
                    evidence=(("rule", i), ("topic", topic)),
                )
