"""Audit policy review: what a Policy records, misses, leaks and never reaches."""

from stockade.checks.audit_policy import catch_all, coverage, invalid, sensitive_bodies, shadowed, stages

__all__ = ["catch_all", "coverage", "invalid", "sensitive_bodies", "shadowed", "stages"]
