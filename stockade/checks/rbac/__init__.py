"""rbac checks (registered on import)."""
