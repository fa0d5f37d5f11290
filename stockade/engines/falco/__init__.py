"""The falco engine: Falco rules files evaluated on audit, field-format and live host events.

A reusable library that answers questions ("which rules match this event?"); it knows nothing
of findings or the command line. Typical use::

    from stockade.engines.falco import Engine, K8sAuditEvent, load_rules

    rules = load_rules(["k8s_audit_rules.yaml"])   # .errors / .warnings carry Falco's codes
    engine = Engine(rules)                          # rule_matching="first" | "all"
    for alert in engine.evaluate(K8sAuditEvent(audit_event_dict)):
        print(alert.text())

Modules: :mod:`.parser` (condition grammar), :mod:`.compiler` (conditions to Python
functions), :mod:`.loader` (rules files: lists, macros, rules, exceptions, overrides),
:mod:`.fields` (field tables per source), :mod:`.k8saudit` and :mod:`.events` (event models),
:mod:`.output` (output templates), :mod:`.engine` (indexing and matching), :mod:`.sources`,
:mod:`.sinks`, :mod:`.server`, :mod:`.live`, :mod:`.profile`.
"""

from __future__ import annotations

from stockade.engines.falco.engine import Alert, Engine, load_rules
from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.k8saudit import K8sAuditEvent
from stockade.engines.falco.loader import ENGINE_VERSION, LoadMessage, RuleSet

__all__ = [
    "ENGINE_VERSION",
    "Alert",
    "Engine",
    "FieldsEvent",
    "K8sAuditEvent",
    "LoadMessage",
    "RuleSet",
    "load_rules",
]
