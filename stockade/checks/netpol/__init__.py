"""netpol checks (registered on import): isolation, exposure, exfiltration paths, DNS, hygiene."""

from stockade.checks.netpol import dns, exfiltration, exposure, hygiene, isolation

__all__ = ["dns", "exfiltration", "exposure", "hygiene", "isolation"]
