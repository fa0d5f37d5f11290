"""audit_policy checks (registered on import)."""
