"""The netpol engine: NetworkPolicy and admin/baseline tier reachability, exact and at scale.

A reusable library that answers questions and knows nothing of findings::

    world = World.from_spec(nodes=..., namespaces=..., pods=..., policies=[...])
    Analyzer(world).check("x/a", "y/b", 80, "TCP")   # -> Verdict with per-direction explanation
    build_matrix(world, 80, "TCP").allowed("x/a", "y/b")

The engine models the steady state (every policy applied, every pod running).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockade.engines.netpol.evaluate import Analyzer, DirectionResult, Verdict
    from stockade.engines.netpol.matrix import Matrix, build_matrix
    from stockade.engines.netpol.model import ContainerPort, Endpoint, Namespace, Node, Options, Pod
    from stockade.engines.netpol.policy import NetworkPolicy, PolicyError, TierPolicy
    from stockade.engines.netpol.world import SkippedPolicy, World

# Submodules load on first use, so importing one part (a constant, a type) does not load the
# whole engine: the CLI starts faster.
_EXPORTS = {
    "Analyzer": "stockade.engines.netpol.evaluate",
    "DirectionResult": "stockade.engines.netpol.evaluate",
    "Verdict": "stockade.engines.netpol.evaluate",
    "Matrix": "stockade.engines.netpol.matrix",
    "build_matrix": "stockade.engines.netpol.matrix",
    "ContainerPort": "stockade.engines.netpol.model",
    "Endpoint": "stockade.engines.netpol.model",
    "Namespace": "stockade.engines.netpol.model",
    "Node": "stockade.engines.netpol.model",
    "Options": "stockade.engines.netpol.model",
    "Pod": "stockade.engines.netpol.model",
    "NetworkPolicy": "stockade.engines.netpol.policy",
    "PolicyError": "stockade.engines.netpol.policy",
    "TierPolicy": "stockade.engines.netpol.policy",
    "SkippedPolicy": "stockade.engines.netpol.world",
    "World": "stockade.engines.netpol.world",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Analyzer",
    "ContainerPort",
    "DirectionResult",
    "Endpoint",
    "Matrix",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "Options",
    "Pod",
    "PolicyError",
    "SkippedPolicy",
    "TierPolicy",
    "Verdict",
    "World",
    "build_matrix",
]
