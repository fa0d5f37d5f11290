"""Pod Security Standards, evaluated exactly as the API server's pod-security-admission does.

The engine answers questions and knows nothing of findings or the command line:

* :func:`evaluate` -- is this pod (template) allowed at a level and version, and why not;
* :func:`policy_from_labels` -- what a namespace's ``pod-security.kubernetes.io/*`` labels mean;
* :mod:`stockade.engines.pss.admission` -- the admission plugin's behaviour around it
  (configuration file, exemptions, enforce/warn/audit, the namespace-label dry run).
"""

from stockade.engines.pss.api import (
    LATEST,
    NEWEST_MINOR,
    LabelPolicy,
    Level,
    LevelVersion,
    Policy,
    Version,
    parse_level,
    parse_version,
    policy_from_labels,
)
from stockade.engines.pss.evaluator import CHECK_IDS, CHECKS, Result, Violation, evaluate, evaluate_at, plan

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "LATEST",
    "NEWEST_MINOR",
    "LabelPolicy",
    "Level",
    "LevelVersion",
    "Policy",
    "Result",
    "Version",
    "Violation",
    "evaluate",
    "evaluate_at",
    "parse_level",
    "parse_version",
    "plan",
    "policy_from_labels",
]
