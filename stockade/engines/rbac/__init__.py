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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Submodules load on first use, so importing one part (a constant, a type) does not load the
# whole engine: the CLI starts faster.
_EXPORTS = {
    "Authorizer": "stockade.engines.rbac.authorizer",
    "RuleSet": "stockade.engines.rbac.authorizer",
    "parse_objects": "stockade.engines.rbac.authorizer",
    "subject_applies": "stockade.engines.rbac.authorizer",
    "REASONS": "stockade.engines.rbac.escalation",
    "EscalationResult": "stockade.engines.rbac.escalation",
    "check_escalation": "stockade.engines.rbac.escalation",
    "authenticated": "stockade.engines.rbac.identity",
    "impersonate": "stockade.engines.rbac.identity",
    "service_account_groups": "stockade.engines.rbac.identity",
    "service_account_username": "stockade.engines.rbac.identity",
    "split_service_account": "stockade.engines.rbac.identity",
    "FULL_AUTHORITY": "stockade.engines.rbac.matching",
    "breakdown": "stockade.engines.rbac.matching",
    "covers": "stockade.engines.rbac.matching",
    "rule_allows": "stockade.engines.rbac.matching",
    "uncovered": "stockade.engines.rbac.matching",
    "Attributes": "stockade.engines.rbac.model",
    "Binding": "stockade.engines.rbac.model",
    "Decision": "stockade.engines.rbac.model",
    "Grant": "stockade.engines.rbac.model",
    "PolicyRule": "stockade.engines.rbac.model",
    "Role": "stockade.engines.rbac.model",
    "RoleKey": "stockade.engines.rbac.model",
    "RoleRef": "stockade.engines.rbac.model",
    "Subject": "stockade.engines.rbac.model",
    "SubjectGrant": "stockade.engines.rbac.model",
    "UserInfo": "stockade.engines.rbac.model",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
