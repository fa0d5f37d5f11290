"""Every case of ../shared/conformance/netpol/vectors.yaml, through both engines.

Tables are computed by the class matrix (:mod:`stockade.engines.netpol.matrix`) and cross-checked
cell by cell against the exact evaluator; probes and explanations use the exact evaluator. Cases
with ``assumes`` run under the matching switches (they are the defaults), and are also re-run with
the other behaviour to show the switch changes the answer where the vectors say it would.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from stockade.engines.netpol import Analyzer, Options, World, build_matrix
from tests.conftest import record_conformance, shared_path

VECTORS = shared_path("conformance", "netpol", "vectors.yaml")
DATA = yaml.safe_load(VECTORS.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]

# Known divergences from the vectors: none. (Add "case-id" here with a comment to record one.)
EXPECTED_FAILURES: set[str] = set()

_ASSUMES = {
    "ipblock-matches-pod-ips": {"ipblock_matches_pod_ips": True},
    "hostnetwork-as-node-traffic": {"hostnetwork": "node-traffic"},
}


def build_world(case: dict[str, Any], options: Options | None = None) -> World:
    """The case's world with its ``world_patch`` applied to a copy."""
    world = copy.deepcopy(DATA["worlds"][case["world"]])
    patch = case.get("world_patch") or {}
    for ns, labels in (patch.get("namespace_labels") or {}).items():
        world["namespaces"][ns].setdefault("labels", {}).update(labels)
    for key, labels in (patch.get("pod_labels") or {}).items():
        world["pods"][key].setdefault("labels", {}).update(labels)
    world["namespaces"].update(patch.get("add_namespaces") or {})
    world["pods"].update(patch.get("add_pods") or {})
    for key, ports in (patch.get("add_pod_ports") or {}).items():
        world["pods"][key].setdefault("ports", []).extend(ports)
    if options is None:
        options = Options(**_opts(case))
    return World.from_spec(
        nodes=world.get("nodes"),
        namespaces=world.get("namespaces"),
        pods=world.get("pods"),
        policies=case["policies"],
        options=options,
    )


def case_failures(case: dict[str, Any]) -> list[str]:
    """Every mismatch between the engines and the case's expectations."""
    world = build_world(case)
    assert not world.skipped, world.skipped
    analyzer = Analyzer(world)
    failures: list[str] = []
    for t in case["expect"].get("tables") or []:
        cols = t["columns"]
        proto = t.get("protocol", "TCP")
        matrix = build_matrix(world, t["port"], proto, analyzer=analyzer)
        strict = set(t.get("self_strict_denied") or [])
        for src, row in t["rows"].items():
            for dst, cell in zip(cols, row, strict=True):
                want = cell == "1"
                got_matrix = matrix.allowed(src, dst)
                got_exact = analyzer.check(src, dst, t["port"], proto).allowed
                if got_matrix != want or got_exact != want:
                    failures.append(
                        f"table {proto}/{t['port']} {src}->{dst}: want {want}, matrix {got_matrix}, exact {got_exact}"
                    )
            if src in cols and src in world.pods:
                # The diagonal with self traffic not exempt: strict_self_denied lists the denied ones.
                strict_world = Analyzer(build_world(case, Options(**{**_opts(case), "self_exempt": False})))
                strict_allowed = strict_world.check(src, src, t["port"], proto).allowed
                if strict_allowed == (src in strict):
                    failures.append(f"strict self {src}: allowed={strict_allowed}, listed={src in strict}")
    for p in case["expect"].get("probes") or []:
        p = {"protocol": "TCP", **p}
        v = analyzer.check(p["from"], p["to"], p["port"], p["protocol"])
        if v.allowed != p["allowed"]:
            failures.append(f"probe {p['from']}->{p['to']} {p['protocol']}/{p['port']}: got {v.allowed}")
        if "strict_self_verdict" in p:
            strict_v = Analyzer(build_world(case, Options(**{**_opts(case), "self_exempt": False}))).check(
                p["from"], p["to"], p["port"], p["protocol"]
            )
            if strict_v.allowed != p["strict_self_verdict"]:
                failures.append(f"strict self probe {p['from']}: got {strict_v.allowed}")
        for direction in ("egress", "ingress"):
            want_explain = (p.get("explain") or {}).get(direction)
            if want_explain is None:
                continue
            got = getattr(v, direction).to_dict()
            # Rules and policies form a union: lists compare without regard to order.
            if _unordered(got) != _unordered(want_explain):
                failures.append(f"explain {direction} {p['from']}->{p['to']}: got {got}, want {want_explain}")
    return failures


def _unordered(explain: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, list) else v for k, v in explain.items()}


def _opts(case: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for assumption in case.get("assumes") or []:
        if assumption not in _ASSUMES:
            raise ValueError(f"unknown assumption {assumption!r}: map it to an engine switch in _ASSUMES")
        settings.update(_ASSUMES[assumption])
    return settings


def test_netpol_vectors() -> None:
    passed = 0
    report: list[str] = []
    for case in CASES:
        try:
            failures = case_failures(case)
        except Exception as e:  # one broken case must not hide the count of the others
            failures = [f"{type(e).__name__}: {e}"]
        if not failures:
            passed += 1
            assert case["id"] not in EXPECTED_FAILURES, f"{case['id']} passes now: drop it from EXPECTED_FAILURES"
        elif case["id"] not in EXPECTED_FAILURES:
            report.append(f"{case['id']}: " + "; ".join(failures[:5]))
    record_conformance("netpol vectors", passed, len(CASES))
    assert not report, "\n".join(report)
    assert passed == len(CASES) - len(EXPECTED_FAILURES)


@pytest.mark.parametrize(
    "case_id",
    [c["id"] for c in CASES if "ipblock-matches-pod-ips" in (c.get("assumes") or [])],
)
def test_ipblock_switch_changes_pod_ip_answers(case_id: str) -> None:
    """With ipBlock not matching pod IPs (Cilium), the CIDR-only egress allows no pod at all."""
    case = next(c for c in CASES if c["id"] == case_id)
    world = build_world(case, Options(ipblock_matches_pod_ips=False))
    analyzer = Analyzer(world)
    table = case["expect"]["tables"][0]
    for dst in table["columns"]:
        if dst != "x/a":
            assert not analyzer.check("x/a", dst, table["port"], table["protocol"]).allowed


def test_hostnetwork_pod_like_switch() -> None:
    """Treating hostNetwork pods like pods lets the namespace selector match x/hostnet."""
    case = next(c for c in CASES if c["id"] == "docs-hostnetwork-selector-ignored")
    analyzer = Analyzer(build_world(case, Options(hostnetwork="pod-like")))
    assert analyzer.check("x/hostnet", "y/b", 80).allowed
    assert build_world(case).options.hostnetwork == "node-traffic"
