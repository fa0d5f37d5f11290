"""The audit engine: audit policies, audit logs and least privilege from logs, as a library.

It knows nothing of findings or the command line. Typical use::

    from stockade.engines.audit import AuditRequest, Policy, load_policy

    policy = load_policy("audit-policy.yaml")               # or Policy.from_dict(body)
    cfg = policy.evaluate(AuditRequest("alice", ("devs",), "get", True, "", "secrets", "", "db", "ml"))
    cfg.level, cfg.omit_stages, cfg.omit_managed_fields, cfg.rule_index

    from stockade.engines.audit.events import ReadStats, iter_events
    from stockade.engines.audit.analyze import Analyzer
    result = Analyzer().add_all(iter_events(["audit.log.gz"], ReadStats())).result()

Modules: ``policy`` (evaluation exactly as the API server), ``review`` (reachability, sensitive
bodies, coverage), ``events`` (streaming log reader), ``sizing`` (what a policy change records),
``analyze`` and ``anomaly`` (log analysis, baselines), ``rbacgen`` (least-privilege roles),
``render`` (table and HTML).
"""

from stockade.engines.audit.policy import (
    STAGES,
    AuditConfig,
    AuditRequest,
    GroupResources,
    Level,
    Policy,
    PolicyRule,
    load_policy,
    path_matches,
)

__all__ = [
    "STAGES",
    "AuditConfig",
    "AuditRequest",
    "GroupResources",
    "Level",
    "Policy",
    "PolicyRule",
    "load_policy",
    "path_matches",
]
