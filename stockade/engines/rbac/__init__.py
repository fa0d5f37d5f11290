"""The RBAC engine: the API server's RBAC answers over manifests, as a reusable library.

It knows nothing of findings or the command line. Typical use::

    from stockade.engines.rbac import Authorizer, Attributes, impersonate

    authz = Authorizer.from_objects(objects)            # + bootstrap policy; bootstrap=False to skip
    user = impersonate("system:serviceaccount:ml:trainer")
    decision = authz.authorize(user, Attributes("get", "ml", resource="secrets"))
    decision.allowed, decision.reason, decision.matched   # matched: the granting binding rules
    authz.who_can(Attributes("create", "ml", resource="pods", subresource="exec"))
    authz.rules_for(user, "ml").grants
    check_escalation(authz, user, role_manifest, verb="create").reason
"""

from stockade.engines.rbac.authorizer import Authorizer, RuleSet, parse_objects, subject_applies
from stockade.engines.rbac.escalation import REASONS, EscalationResult, check_escalation
from stockade.engines.rbac.identity import (
    authenticated,
    impersonate,
    service_account_groups,
    service_account_username,
    split_service_account,
)
from stockade.engines.rbac.matching import FULL_AUTHORITY, breakdown, covers, rule_allows, uncovered
from stockade.engines.rbac.model import (
    Attributes,
    Binding,
    Decision,
    Grant,
    PolicyRule,
    Role,
    RoleKey,
    RoleRef,
    Subject,
    SubjectGrant,
    UserInfo,
)

__all__ = [
    "FULL_AUTHORITY",
    "REASONS",
    "Attributes",
    "Authorizer",
    "Binding",
    "Decision",
    "EscalationResult",
    "Grant",
    "PolicyRule",
    "Role",
    "RoleKey",
    "RoleRef",
    "RuleSet",
    "Subject",
    "SubjectGrant",
    "UserInfo",
    "authenticated",
    "breakdown",
    "check_escalation",
    "covers",
    "impersonate",
    "parse_objects",
    "rule_allows",
    "service_account_groups",
    "service_account_username",
    "split_service_account",
    "subject_applies",
    "uncovered",
]
