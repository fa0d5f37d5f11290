"""Checks turn engine answers into findings. Importing this package registers every area."""

from stockade.checks import audit_policy, netpol, pss, rbac, workload

__all__ = ["audit_policy", "netpol", "pss", "rbac", "workload"]
