"""Semantics of the netpol engine, one behaviour per test (the pitfalls of the research note)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stockade.engines.netpol import Analyzer, Options, World, build_matrix
from stockade.engines.netpol.policy import PolicyError, parse_network_policy, parse_tier_policy
from stockade.errors import EngineError

NODES = {"n1": {"ip": "172.18.0.2", "labels": {"zone": "a"}}, "n2": {"ip": "172.18.0.3"}}
NAMESPACES = {"app": {"labels": {"team": "ml"}}, "other": {}, "kube-system": {}}
PODS: dict[str, Any] = {
    "app/server": {
        "labels": {"app": "server"},
        "ip": "10.0.0.10",
        "node": "n1",
        "ports": [{"name": "http", "port": 8080}, {"name": "statsd", "port": 8125, "protocol": "UDP"}],
    },
    "app/client": {"labels": {"app": "client", "env": "prod"}, "ip": "10.0.0.11", "node": "n2"},
    "other/client": {
        "labels": {"app": "client"},
        "ip": "10.0.1.11",
        "node": "n2",
        "ports": [{"name": "http", "port": 9000}],
    },
    "kube-system/agent": {"labels": {"app": "agent"}, "hostNetwork": True, "node": "n1"},
}


def np(name: str, spec: dict[str, Any], ns: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def world(*policies: dict[str, Any], **options: Any) -> World:
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=policies, options=Options(**options))
    assert not w.skipped, w.skipped
    return w


def check(w: World, src: str, dst: str, port: int, proto: str = "TCP") -> bool:
    verdict = Analyzer(w).check(src, dst, port, proto)
    # The class matrix must agree with the exact evaluator on every pod pair.
    if src in w.pods and dst in w.pods:
        assert build_matrix(w, port, proto).allowed(src, dst) == verdict.allowed
    return verdict.allowed


def test_egress_rules_without_policy_types_also_isolate_ingress() -> None:
    w = world(np("egress-only-rules", {"podSelector": {"matchLabels": {"app": "server"}}, "egress": [{}]}))
    assert not check(w, "app/client", "app/server", 8080)
    assert check(w, "app/server", "other/client", 9000)


def test_empty_egress_list_adds_no_egress_type() -> None:
    pol = parse_network_policy(np("p", {"podSelector": {}, "egress": []}))
    assert pol.egress is None and pol.ingress == ()


def test_policy_types_lacking_a_direction_ignore_its_rules() -> None:
    w = world(np("egress-typed", {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}], "egress": []}))
    assert check(w, "other/client", "app/server", 8080)
    assert not check(w, "app/server", "other/client", 9000)


def test_notin_matches_a_missing_key() -> None:
    w = world(
        np(
            "notin",
            {
                "podSelector": {"matchLabels": {"app": "server"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "podSelector": {
                                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
                                },
                                "namespaceSelector": {},
                            }
                        ]
                    }
                ],
            },
        )
    )
    assert check(w, "other/client", "app/server", 8080)  # no env label: NotIn matches
    assert not check(w, "app/client", "app/server", 8080)  # env=prod


def test_empty_port_entry_means_all_tcp_ports_only() -> None:
    w = world(np("tcp-any", {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"ports": [{}]}]}))
    assert check(w, "other/client", "app/server", 12345)
    assert not check(w, "other/client", "app/server", 8125, "UDP")


def test_named_port_resolves_per_destination_and_never_for_external_ips() -> None:
    w = world(
        np(
            "egress-http",
            {
                "podSelector": {"matchLabels": {"app": "client"}},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"port": "http"}]}],
            },
        )
    )
    assert check(w, "app/client", "app/server", 8080)
    assert not check(w, "app/client", "app/server", 9000)
    assert not check(w, "app/client", "ip:198.51.100.10", 8080)
    v = Analyzer(w).check("app/client", "ip:198.51.100.10", 8080)
    assert v.egress.to_dict() == {"status": "denied", "isolated_by": ["app/egress-http"]}


def test_named_port_protocol_defaults_to_tcp() -> None:
    w = world(
        np(
            "statsd",
            {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"ports": [{"port": "statsd"}]}]},
        )
    )
    assert not check(w, "app/client", "app/server", 8125, "UDP")
    w = world(
        np(
            "statsd",
            {
                "podSelector": {"matchLabels": {"app": "server"}},
                "ingress": [{"ports": [{"port": "statsd", "protocol": "UDP"}]}],
            },
        )
    )
    assert check(w, "app/client", "app/server", 8125, "UDP")


def test_endport_range_and_the_degraded_mode() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}],
    }
    assert check(world(np("range", spec)), "app/client", "app/server", 8080)
    assert not check(world(np("range", spec), endport_supported=False), "app/client", "app/server", 8080)
    assert check(world(np("range", spec), endport_supported=False), "app/client", "app/server", 8000)


def test_pod_and_namespace_selector_in_one_peer_is_and_in_two_peers_is_or() -> None:
    and_peer = [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
            "podSelector": {"matchLabels": {"app": "client"}},
        }
    ]
    or_peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}},
        {"podSelector": {"matchLabels": {"app": "client"}}},
    ]
    sel = {"matchLabels": {"app": "server"}}
    w_and = world(np("and", {"podSelector": sel, "ingress": [{"from": and_peer}]}))
    w_or = world(np("or", {"podSelector": sel, "ingress": [{"from": or_peers}]}))
    assert check(w_and, "other/client", "app/server", 8080)
    assert not check(w_and, "app/client", "app/server", 8080)
    assert check(w_or, "app/client", "app/server", 8080)  # the podSelector peer is the policy namespace


def test_ingress_from_own_node_is_exempt_and_egress_to_it_is_a_switch() -> None:
    w = world(np("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    v = Analyzer(w).check("node/n1", "app/server", 8080)
    assert v.allowed and v.ingress.status == "node-exempt"
    assert not check(w, "node/n2", "app/server", 8080)
    # The hostNetwork agent on n1 is node traffic: exempt into pods on n1 only.
    assert check(w, "kube-system/agent", "app/server", 8080)
    assert not check(w, "kube-system/agent", "app/client", 8080)
    assert not check(w, "app/server", "node/n1", 10250)
    assert check(
        world(np("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}), egress_to_own_node=True),
        "app/server",
        "node/n1",
        10250,
    )


def test_ipblock_matches_pod_ips_only_with_the_switch() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.1.0/24"}}]}],
    }
    assert check(world(np("cidr", spec)), "other/client", "app/server", 8080)
    assert not check(world(np("cidr", spec), ipblock_matches_pod_ips=False), "other/client", "app/server", 8080)
    assert check(world(np("cidr", spec), ipblock_matches_pod_ips=False), "ip:10.0.1.200", "app/server", 8080)


def test_self_traffic_is_exempt_unless_switched_off() -> None:
    spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    v = Analyzer(world(np("deny", spec))).check("app/server", "app/server", 8080)
    assert v.allowed and v.self_traffic and v.ingress.status == "denied"
    assert not check(world(np("deny", spec), self_exempt=False), "app/server", "app/server", 8080)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"podSelector": {}, "ingress": [{"from": [{}]}]}, "spec.ingress[0].from[0]"),
        (
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}],
            },
            "spec.ingress[0].from[0]",
        ),
        (
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}],
            },
            "except[0]",
        ),
        (
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}],
            },
            "except[0]",
        ),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}, "endPort"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "endPort"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": "80"}]}]}, "ports[0].port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]}, "protocol"),
        (
            {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}},
            "operator",
        ),
    ],
)
def test_invalid_policies_are_rejected_with_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_network_policy(np("bad", spec))
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=[np("bad", spec)])
    assert [s.ref for s in w.skipped] == ["NetworkPolicy/app/bad"] and not w.policies


def anp(
    name: str,
    priority: int,
    subject: dict[str, Any],
    ingress: list[Any] | None = None,
    egress: list[Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"priority": priority, "subject": subject}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


APP_NS = {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "app"}}}
FROM_OTHER = [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}]


def test_admin_allow_overrides_networkpolicy_deny_and_explains_the_tier() -> None:
    w = world(
        np("deny", {"podSelector": {}}),
        anp("allow-other", 10, APP_NS, ingress=[{"name": "from-other", "action": "Allow", "from": FROM_OTHER}]),
    )
    v = Analyzer(w).check("other/client", "app/server", 8080)
    assert v.allowed
    assert v.ingress.to_dict() == {
        "status": "allowed",
        "by": ["AdminNetworkPolicy/allow-other:ingress[0] (from-other)"],
        "tier": "admin",
    }
    assert not check(w, "app/client", "app/server", 8080)


def test_pass_goes_to_networkpolicy_then_baseline() -> None:
    banp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {"subject": APP_NS, "ingress": [{"action": "Deny", "from": FROM_OTHER}]},
    }
    passing = anp("pass", 5, APP_NS, ingress=[{"action": "Pass", "from": FROM_OTHER}])
    assert not check(world(passing, banp), "other/client", "app/server", 8080)
    allow_np = np("allow-other", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    v = Analyzer(world(passing, banp, allow_np)).check("other/client", "app/server", 8080)
    assert v.allowed and v.ingress.passed_by == ("AdminNetworkPolicy/pass:ingress[0]",)


def test_same_priority_conflict_is_reported_as_ambiguous() -> None:
    w = world(
        anp("a-allow", 7, APP_NS, ingress=[{"action": "Allow", "from": FROM_OTHER}]),
        anp("b-deny", 7, APP_NS, ingress=[{"action": "Deny", "from": FROM_OTHER}]),
    )
    v = Analyzer(w).check("other/client", "app/server", 8080)
    assert v.ingress.ambiguous_with == ("AdminNetworkPolicy/b-deny:ingress[0]",)


def test_unknown_peer_fails_closed() -> None:
    unknown = [{"futurePeer": {"x": "y"}}]
    allow = world(
        np("deny", {"podSelector": {}}),
        anp("allow-unknown", 1, APP_NS, ingress=[{"action": "Allow", "from": unknown}]),
    )
    assert not check(allow, "other/client", "app/server", 8080)  # Allow matches nothing
    deny = world(anp("pass-unknown", 1, APP_NS, ingress=[{"action": "Pass", "from": unknown}]))
    assert not check(deny, "other/client", "app/server", 8080)  # Pass becomes deny-all


def test_admin_networks_peer_also_matches_pod_traffic() -> None:
    w = world(anp("deny-10", 1, APP_NS, egress=[{"action": "Deny", "to": [{"networks": ["10.0.0.0/16"]}]}]))
    assert not check(w, "app/client", "other/client", 9000)
    assert check(w, "app/client", "ip:198.51.100.10", 443)


def test_cluster_network_policy_v1beta1_shape() -> None:
    cnp = {
        "apiVersion": "policy.networking.k8s.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "cnp"},
        "spec": {
            "tier": "Admin",
            "priority": 3,
            "subject": APP_NS,
            "ingress": [
                {
                    "action": "Accept",
                    "from": FROM_OTHER,
                    "protocols": [{"tcp": {"destinationPort": {"range": {"start": 8000, "end": 8100}}}}],
                },
                {"action": "Deny", "from": FROM_OTHER},
            ],
        },
    }
    pol = parse_tier_policy(cnp)
    assert pol.tier == "admin" and pol.ingress[0].action == "Allow"
    w = world(cnp, np("deny", {"podSelector": {}}))
    assert check(w, "other/client", "app/server", 8080)
    assert not check(w, "other/client", "app/server", 9999)


def test_hostnetwork_pods_are_never_admin_subjects_or_pod_peers() -> None:
    w = world(anp("deny-all", 1, {"namespaces": {}}, ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}]))
    assert check(w, "kube-system/agent", "app/client", 8080)
    assert not check(w, "other/client", "app/client", 8080)


def test_endpoint_errors_name_the_reference() -> None:
    with pytest.raises(EngineError, match="nope/x: no pod or workload"):
        Analyzer(world()).check("nope/x", "app/server", 80)
    with pytest.raises(EngineError, match="node/n9: no such node"):
        Analyzer(world()).check("node/n9", "app/server", 80)


def test_matrix_answers_node_and_ip_endpoints_through_the_exact_evaluator() -> None:
    w = world(np("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    m = build_matrix(w, 8080)
    assert m.allowed("node/n1", "app/server")
    assert not m.allowed("node/n2", "app/server")
    assert not m.allowed("ip:198.51.100.10", "app/server")
    assert m.allowed("app/server", "app/server")
    assert not m.allowed("app/server", "app/client")


def test_replicas_of_one_workload_are_distinct_pods() -> None:
    pods = {"app/api": {"labels": {"app": "api"}}}
    policies = [np("deny", {"podSelector": {}})]
    w = World.from_objects(policies, pods=World.from_spec(pods=pods).pods.values())
    template = w.pods["app/api"]
    assert template.is_template is False  # from_spec builds Pods; the inventory builder marks templates
    assert Analyzer(w).check("app/api", "app/api", 80).allowed  # a real pod's own IP: exempt


def test_allowed_ports_are_exact_ranges() -> None:
    w = world(
        np(
            "range",
            {
                "podSelector": {"matchLabels": {"app": "server"}},
                "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}],
            },
        ),
        np(
            "named",
            {
                "podSelector": {"matchLabels": {"app": "server"}},
                "ingress": [{"ports": [{"port": "statsd", "protocol": "UDP"}]}],
            },
        ),
        np(
            "egress",
            {
                "podSelector": {"matchLabels": {"app": "client"}},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"port": 8050, "endPort": 9000}, {"protocol": "UDP"}]}],
            },
        ),
    )
    analyzer = Analyzer(w)
    assert analyzer.allowed_ports("other/client", "app/server", "TCP") == [(8000, 8100)]
    assert analyzer.allowed_ports("other/client", "app/server", "UDP") == [(8125, 8125)]
    assert analyzer.allowed_ports("app/client", "app/server", "TCP") == [(8050, 8100)]
    assert analyzer.allowed_ports("app/client", "ip:198.51.100.10", "TCP") == [(8050, 9000)]
    assert analyzer.allowed_ports("app/client", "ip:198.51.100.10", "UDP") == [(1, 65535)]
    assert analyzer.allowed_ports("app/client", "ip:198.51.100.10", "SCTP") == []
    # Every atom really is uniform: spot-check each port around the cuts against single checks.
    for port in (7999, 8000, 8049, 8050, 8100, 8101, 9000, 9001):
        want = any(lo <= port <= hi for lo, hi in analyzer.allowed_ports("app/client", "app/server", "TCP"))
        assert analyzer.check("app/client", "app/server", port).allowed == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"podSelector": {}, "ingress": [{"form": [{"podSelector": {}}]}]}, "spec.ingress[0]: unknown field 'form'"),
        ({"podSelector": {"matchLabel": {"app": "x"}}}, "spec.podSelector: unknown field 'matchLabel'"),
        ({"podSelector": {}, "egress": [{"to": [{"namespaceSelectors": {}}]}]}, "spec.egress[0].to[0]: unknown field"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocl": "UDP"}]}]}, "unknown field 'protocl'"),
    ],
)
def test_misspelt_fields_are_rejected_not_read_as_match_everything(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_network_policy(np("typo", spec))
