"""The netpol engine: NetworkPolicy and admin/baseline tier reachability, exact and at scale.

A reusable library that answers questions and knows nothing of findings::

    world = World.from_spec(nodes=..., namespaces=..., pods=..., policies=[...])
    Analyzer(world).check("x/a", "y/b", 80, "TCP")   # -> Verdict with per-direction explanation
    build_matrix(world, 80, "TCP").allowed("x/a", "y/b")

The engine models the steady state (every policy applied, every pod running).
"""

from stockade.engines.netpol.evaluate import Analyzer, DirectionResult, Verdict
from stockade.engines.netpol.matrix import Matrix, build_matrix
from stockade.engines.netpol.model import ContainerPort, Endpoint, Namespace, Node, Options, Pod
from stockade.engines.netpol.policy import NetworkPolicy, PolicyError, TierPolicy
from stockade.engines.netpol.world import SkippedPolicy, World

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
