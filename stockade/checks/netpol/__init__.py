"""netpol checks (registered on import)."""
