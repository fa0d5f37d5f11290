"""The rbac engine: a reusable library that answers questions; it knows nothing of findings."""
