"""RBAC checks (registered on import): risky permissions and bad bindings, via the rbac engine."""

from stockade.checks.rbac import bindings, permissions

__all__ = ["bindings", "permissions"]
