"""Adversarial edge cases against upstream semantics that the conformance vectors do not cover.

Each test names the upstream rule it checks: k8s.io/api networking/v1 types (defaulting, empty
versus missing), pkg/apis/networking/validation (what the API server rejects), the e2e netpol
suite, and kubernetes-sigs/network-policy-api v1alpha1/v1alpha2 (tiers, Pass, priorities, ports).
Every pod-pair verdict is also compared with the class matrix.
"""

from __future__ import annotations

from typing import Any

import pytest

from stockade.engines.netpol import Analyzer, Options, World, build_matrix
from stockade.engines.netpol.policy import PolicyError, parse_network_policy, parse_tier_policy
from tests.netpol.test_engine import np

NODES = {"n1": {"ip": ["172.18.0.2", "fc00::2"]}, "n2": {"ip": "172.18.0.3"}}
NAMESPACES = {"app": {"labels": {"team": "ml"}}, "other": {"labels": {"team": "web"}}, "bare": {}}
PODS: dict[str, Any] = {
    "app/server": {
        "labels": {"app": "server", "tier": "be"},
        "ip": ["10.0.0.10", "fd00::10"],
        "node": "n1",
        "ports": [
            {"name": "http", "port": 8080},
            {"name": "metrics", "port": 9090},
            {"name": "sig", "port": 7000, "protocol": "SCTP"},
            {"name": "dns", "port": 5353, "protocol": "UDP"},
        ],
    },
    "app/client": {"labels": {"app": "client"}, "ip": "10.0.0.11", "node": "n2"},
    "other/server": {
        "labels": {"app": "server"},
        "ip": "10.0.1.10",
        "node": "n2",
        "ports": [{"name": "http", "port": 9000}, {"name": "metrics", "port": 9090, "protocol": "UDP"}],
    },
    "other/client": {"labels": {"app": "client", "env": "prod"}, "ip": "10.0.1.11", "node": "n2"},
    "bare/nolabels": {"labels": {}, "ip": "10.0.2.10", "node": "n2"},
    "kube-system/agent": {"labels": {"app": "agent"}, "hostNetwork": True, "node": "n1"},
}
EXTERNAL = "ip:198.51.100.10"
EXTERNAL6 = "ip:2001:db8::10"


def world(*policies: dict[str, Any], **options: Any) -> World:
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=policies, options=Options(**options))
    assert not w.skipped, w.skipped
    return w


def allowed(w: World, src: str, dst: str, port: int, proto: str = "TCP") -> bool:
    verdict = Analyzer(w).check(src, dst, port, proto)
    if src in w.pods and dst in w.pods:
        assert build_matrix(w, port, proto).allowed(src, dst) == verdict.allowed, (src, dst, port, proto)
    return verdict.allowed


def rejected(spec: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as e:
        parse_network_policy(np("bad", spec))
    return str(e.value)


SERVER = {"matchLabels": {"app": "server"}}
CLIENT = {"matchLabels": {"app": "client"}}


# --------------------------------------------------------------------------- empty vs missing


def test_egress_to_empty_list_and_missing_both_mean_every_destination() -> None:
    for rule in ({"to": []}, {}, {"to": None}):
        w = world(np("eg", {"podSelector": CLIENT, "egress": [rule]}))
        # policyTypes defaults to [Ingress, Egress] because egress is non-empty.
        assert w.policies[0].egress is not None and w.policies[0].ingress == ()
        assert allowed(w, "app/client", EXTERNAL, 443)
        assert allowed(w, "app/client", "other/server", 9000)
        assert allowed(w, "app/client", "kube-system/agent", 10250)


def test_egress_to_an_empty_peer_is_rejected() -> None:
    assert "must specify a peer" in rejected({"podSelector": {}, "egress": [{"to": [{}]}]})
    assert "must specify a peer" in rejected(
        {"podSelector": {}, "egress": [{"to": [{"podSelector": None, "namespaceSelector": None}]}]}
    )


def test_egress_empty_list_is_deny_all_only_when_typed() -> None:
    untyped = world(np("eg", {"podSelector": CLIENT, "egress": []}))
    assert allowed(untyped, "app/client", EXTERNAL, 443)  # egress: [] adds no Egress type
    typed = world(np("eg", {"podSelector": CLIENT, "policyTypes": ["Egress"], "egress": []}))
    assert not allowed(typed, "app/client", EXTERNAL, 443)
    assert not allowed(typed, "app/client", "other/server", 9000)


def test_ports_empty_list_means_every_protocol_but_empty_entry_means_tcp() -> None:
    every = world(np("p", {"podSelector": SERVER, "ingress": [{"ports": []}]}))
    assert allowed(every, "other/client", "app/server", 5353, "UDP")
    assert allowed(every, "other/client", "app/server", 7000, "SCTP")
    tcp = world(np("p", {"podSelector": SERVER, "ingress": [{"ports": [{}]}]}))
    assert allowed(tcp, "other/client", "app/server", 1)
    assert not allowed(tcp, "other/client", "app/server", 5353, "UDP")


# --------------------------------------------------------------------------- AND vs OR


def test_empty_namespace_selector_with_pod_selector_is_and_across_namespaces() -> None:
    both = world(
        np("and", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": CLIENT}]}]})
    )
    assert allowed(both, "other/client", "app/server", 8080)
    assert allowed(both, "app/client", "app/server", 8080)
    assert not allowed(both, "other/server", "app/server", 8080)
    assert not allowed(both, "bare/nolabels", "app/server", 8080)
    assert not allowed(both, EXTERNAL, "app/server", 8080)
    split = world(
        np("or", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": {}}, {"podSelector": CLIENT}]}]})
    )
    assert allowed(split, "other/server", "app/server", 8080)  # any pod of any namespace
    assert allowed(split, "bare/nolabels", "app/server", 8080)
    assert not allowed(split, EXTERNAL, "app/server", 8080)
    assert not allowed(split, "node/n2", "app/server", 8080)  # selectors never match nodes


def test_pod_selector_alone_is_scoped_to_the_policy_namespace() -> None:
    w = world(np("local", {"podSelector": SERVER, "ingress": [{"from": [{"podSelector": CLIENT}]}]}))
    assert allowed(w, "app/client", "app/server", 8080)
    assert not allowed(w, "other/client", "app/server", 8080)


# --------------------------------------------------------------------------- selectors


def test_notin_and_doesnotexist_match_pods_without_the_label() -> None:
    sel = {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}
    w = world(
        np("notin", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": sel}]}]})
    )
    assert allowed(w, "bare/nolabels", "app/server", 8080)  # no env label at all
    assert allowed(w, "app/client", "app/server", 8080)
    assert not allowed(w, "other/client", "app/server", 8080)  # env=prod
    absent = {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}
    w = world(np("dne", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": absent}]}]}))
    assert allowed(w, "bare/nolabels", "app/server", 8080)  # namespace bare has no team label
    assert not allowed(w, "other/client", "app/server", 8080)
    notin_ns = {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["web"]}]}
    w = world(np("nsnotin", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": notin_ns}]}]}))
    assert allowed(w, "bare/nolabels", "app/server", 8080)
    assert allowed(w, "app/client", "app/server", 8080)
    assert not allowed(w, "other/client", "app/server", 8080)


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"bad key!": "x"}},
        {"matchLabels": {"app": "has space"}},
        {"matchLabels": {"app": "x" * 64}},
        {"matchExpressions": [{"key": "-lead", "operator": "Exists"}]},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["ok", "not ok"]}]},
        {"matchExpressions": [{"key": "app", "operator": "in", "values": ["x"]}]},
    ],
)
def test_invalid_label_selectors_are_rejected(selector: dict[str, Any]) -> None:
    rejected({"podSelector": selector})


def test_valid_label_selectors_with_prefixes_and_empty_values_are_accepted() -> None:
    parse_network_policy(
        np(
            "ok",
            {
                "podSelector": {
                    "matchLabels": {"app.kubernetes.io/name": "a_b.c-d", "empty": ""},
                    "matchExpressions": [{"key": "example.com/x", "operator": "Exists", "values": []}],
                }
            },
        )
    )


# --------------------------------------------------------------------------- ports


def test_named_port_resolves_per_destination_pod_for_egress() -> None:
    w = world(
        np(
            "eg",
            {"podSelector": CLIENT, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]},
        )
    )
    assert allowed(w, "app/client", "app/server", 8080)
    assert not allowed(w, "app/client", "app/server", 9000)
    assert allowed(w, "app/client", "other/server", 9000)
    assert not allowed(w, "app/client", "other/server", 8080)
    assert not allowed(w, "app/client", EXTERNAL, 8080)  # a name never matches an external IP
    assert not allowed(w, "app/client", "kube-system/agent", 8080)  # nor a hostNetwork pod (node traffic)


def test_named_port_protocol_must_match_the_container_port() -> None:
    w = world(
        np(
            "m",
            {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"ports": [{"port": "metrics"}]}]},
            ns="other",
        )
    )
    # other/server declares metrics as UDP 9090: the TCP (defaulted) name matches nothing.
    assert not allowed(w, "other/client", "other/server", 9090)
    assert not allowed(w, "other/client", "other/server", 9090, "UDP")
    udp = world(
        np("m", {"podSelector": SERVER, "ingress": [{"ports": [{"port": "metrics", "protocol": "UDP"}]}]}, ns="other")
    )
    assert allowed(udp, "other/client", "other/server", 9090, "UDP")
    assert not allowed(udp, "other/client", "other/server", 9090)


def test_sctp_rules() -> None:
    w = world(np("sctp", {"podSelector": SERVER, "ingress": [{"ports": [{"protocol": "SCTP", "port": "sig"}]}]}))
    assert allowed(w, "other/client", "app/server", 7000, "SCTP")
    assert not allowed(w, "other/client", "app/server", 7000)  # the SCTP-only rule still isolates TCP
    assert not allowed(w, "other/client", "app/server", 7000, "UDP")
    assert not allowed(w, "other/client", "app/server", 7001, "SCTP")


@pytest.mark.parametrize(
    ("port", "why"),
    [
        ({"port": "http", "endPort": 9000}, "named port"),
        ({"endPort": 9000}, "without a numeric port"),
        ({"port": 9000, "endPort": 8000}, "greater than or equal"),
        ({"port": 80, "endPort": 65536}, "between 1 and 65535"),
        ({"port": 0}, "between 1 and 65535"),
        ({"port": "80"}, "IANA_SVC_NAME"),
        ({"port": "a--b"}, "IANA_SVC_NAME"),
        ({"port": "http-metrics-port"}, "IANA_SVC_NAME"),  # 17 characters: over 15
        ({"protocol": "tcp"}, "unsupported protocol"),
        ({"protocol": "ICMP"}, "unsupported protocol"),
    ],
)
def test_invalid_ports_are_rejected(port: dict[str, Any], why: str) -> None:
    assert why in rejected({"podSelector": {}, "ingress": [{"ports": [port]}]})


def test_endport_equal_to_port_is_one_port() -> None:
    w = world(np("r", {"podSelector": SERVER, "ingress": [{"ports": [{"port": 8080, "endPort": 8080}]}]}))
    assert allowed(w, "other/client", "app/server", 8080)
    assert not allowed(w, "other/client", "app/server", 8081)


# --------------------------------------------------------------------------- ipBlock


def test_ipblock_except_equal_to_or_outside_cidr_is_rejected() -> None:
    for block in (
        {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]},
        {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]},
        {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]},
        {"cidr": "fd00::/8", "except": ["fd00::/8"]},
        {"cidr": "10.0.0.0/8", "except": ["fd00::/16"]},
    ):
        assert "strict subset" in rejected({"podSelector": {}, "ingress": [{"from": [{"ipBlock": block}]}]})
    assert "cidr" in rejected({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"except": ["10.0.0.0/8"]}}]}]})


def test_ipv6_blocks_match_ipv6_addresses_only() -> None:
    w = world(
        np(
            "v6",
            {
                "podSelector": SERVER,
                "ingress": [{"from": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8::/64"]}}]}],
            },
        )
    )
    assert allowed(w, "ip:2001:db8:0:1::5", "app/server", 8080)
    assert not allowed(w, EXTERNAL6, "app/server", 8080)  # 2001:db8::10 is in the except
    assert not allowed(w, EXTERNAL, "app/server", 8080)
    all6 = world(
        np(
            "all6",
            {"podSelector": CLIENT, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "::/0"}}]}]},
        )
    )
    assert allowed(all6, "app/client", EXTERNAL6, 443)
    assert not allowed(all6, "app/client", EXTERNAL, 443)
    assert allowed(all6, "app/client", "app/server", 8080)  # the server's second IP is IPv6
    assert not allowed(all6, "app/client", "other/server", 9000)  # IPv4 only


def test_ipblock_matches_pod_ips_only_under_the_upstream_switch() -> None:
    spec = {"podSelector": SERVER, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.1.0/24"}}]}]}
    assert allowed(world(np("b", spec)), "other/client", "app/server", 8080)
    assert not allowed(world(np("b", spec), ipblock_matches_pod_ips=False), "other/client", "app/server", 8080)
    assert allowed(world(np("b", spec)), "ip:10.0.1.99", "app/server", 8080)


# --------------------------------------------------------------------------- policyTypes


def test_egress_only_policy_types_ignore_present_ingress_rules() -> None:
    w = world(
        np(
            "egress-only",
            {
                "podSelector": SERVER,
                "policyTypes": ["Egress"],
                "ingress": [{"from": [{"podSelector": CLIENT}]}],
                "egress": [{"to": [{"podSelector": CLIENT}]}],
            },
        )
    )
    assert w.policies[0].ingress is None
    assert allowed(w, "other/client", "app/server", 8080)  # ingress not isolated
    assert allowed(w, "app/server", "app/client", 80)
    assert not allowed(w, "app/server", "other/client", 80)


def test_policy_types_validation() -> None:
    assert "more than two" in rejected({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]})
    rejected({"podSelector": {}, "policyTypes": ["ingress"]})
    rejected({"podSelector": {}, "policyTypes": "Ingress"})
    dup = parse_network_policy(np("dup", {"podSelector": {}, "policyTypes": ["Egress", "Egress"]}))
    assert dup.ingress is None and dup.egress == ()


def test_two_policies_with_different_policy_types_isolate_each_direction_separately() -> None:
    w = world(
        np("in", {"podSelector": SERVER, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": CLIENT}]}]}),
        np(
            "out",
            {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]},
        ),
    )
    assert allowed(w, "app/client", "app/server", 8080) is False  # client egress allows only UDP 53
    assert allowed(w, "app/client", "app/server", 53, "UDP")
    assert not allowed(w, "other/client", "app/server", 8080)  # ingress only from app clients
    assert not allowed(w, "app/server", EXTERNAL, 443)
    assert allowed(w, "app/server", "ip:198.51.100.53", 53, "UDP")
    v = Analyzer(w).check("app/client", "app/server", 53, "UDP")
    assert v.ingress.by == ("app/in:ingress[0]",) and v.egress.by == ("app/out:egress[0]",)


# --------------------------------------------------------------------------- nodes and hostNetwork


def test_ingress_from_own_node_and_its_hostnetwork_pods_is_exempt() -> None:
    w = world(np("deny", {"podSelector": {}}))
    assert allowed(w, "node/n1", "app/server", 8080)
    assert allowed(w, "ip:172.18.0.2", "app/server", 8080)
    assert allowed(w, "ip:fc00::2", "app/server", 8080)  # the node's second address
    assert allowed(w, "kube-system/agent", "app/server", 8080)  # hostNetwork on n1: node traffic
    assert not allowed(w, "node/n2", "app/server", 8080)


def test_hostnetwork_pods_are_not_selected_by_namespace_selectors() -> None:
    w = world(
        np("ns", {"podSelector": CLIENT, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {}}]}]})
    )
    assert allowed(w, "app/client", "other/server", 9000)
    assert not allowed(w, "app/client", "kube-system/agent", 10250)
    nodes = world(
        np(
            "nd",
            {
                "podSelector": CLIENT,
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "172.18.0.0/16"}}]}],
            },
        )
    )
    assert allowed(nodes, "app/client", "kube-system/agent", 10250)  # its traffic carries the node IP


# --------------------------------------------------------------------------- admin and baseline tiers


def anp(name: str, priority: int, subject: dict[str, Any], **rules: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, "subject": subject, **rules},
    }


def banp(**rules: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {"subject": {"namespaces": {}}, **rules},
    }


def ns_is(name: str) -> dict[str, Any]:
    return {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


APP = ns_is("app")


def test_pass_falls_to_networkpolicy_then_to_baseline() -> None:
    passing = anp("pass", 10, APP, ingress=[{"action": "Pass", "from": [ns_is("other")]}])
    deny_base = banp(ingress=[{"action": "Deny", "from": [ns_is("other")]}])
    # No NetworkPolicy isolates app/server: the baseline decides.
    w = world(passing, deny_base)
    assert not allowed(w, "other/client", "app/server", 8080)
    v = Analyzer(w).check("other/client", "app/server", 8080)
    assert v.ingress.tier == "baseline" and v.ingress.passed_by == ("AdminNetworkPolicy/pass:ingress[0]",)
    # A NetworkPolicy isolating the pod makes its answer final, allow or deny, and the baseline is skipped.
    allow_np = np("allow", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert allowed(world(passing, deny_base, allow_np), "other/client", "app/server", 8080)
    deny_np = np("deny", {"podSelector": SERVER, "ingress": [{"from": [{"podSelector": CLIENT}]}]})
    allow_base = banp(ingress=[{"action": "Allow", "from": [ns_is("other")]}])
    assert not allowed(world(passing, allow_base, deny_np), "other/client", "app/server", 8080)
    # A Pass skips the lower-precedence admin rules, even a Deny.
    later_deny = anp("later-deny", 20, APP, ingress=[{"action": "Deny", "from": [ns_is("other")]}])
    assert allowed(world(passing, later_deny), "other/client", "app/server", 8080)
    assert not allowed(world(later_deny), "other/client", "app/server", 8080)


def test_first_matching_rule_in_a_policy_wins() -> None:
    w = world(
        anp(
            "ordered",
            5,
            APP,
            ingress=[
                {"action": "Allow", "from": [ns_is("other")], "ports": [{"portNumber": {"port": 8080}}]},
                {"action": "Deny", "from": [{"namespaces": {}}]},
            ],
        ),
        np("deny", {"podSelector": {}}),
    )
    assert allowed(w, "other/client", "app/server", 8080)  # admin Allow beats the NetworkPolicy deny
    assert not allowed(w, "other/client", "app/server", 8081)
    assert not allowed(w, "app/client", "app/server", 8080)


def test_equal_priorities_are_reported_as_ambiguous_and_lower_number_wins_otherwise() -> None:
    a = anp("a", 3, APP, ingress=[{"action": "Deny", "from": [ns_is("other")]}])
    b = anp("b", 3, APP, ingress=[{"action": "Allow", "from": [ns_is("other")]}])
    v = Analyzer(world(a, b)).check("other/client", "app/server", 8080)
    assert v.ingress.ambiguous_with == ("AdminNetworkPolicy/b:ingress[0]",)
    assert v.ingress.by == ("AdminNetworkPolicy/a:ingress[0]",)
    # Same action: nothing ambiguous about the outcome.
    c = anp("c", 3, APP, ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}])
    assert Analyzer(world(a, c)).check("other/client", "app/server", 8080).ingress.ambiguous_with == ()
    first = anp("z-first", 1, APP, ingress=[{"action": "Allow", "from": [ns_is("other")]}])
    v = Analyzer(world(a, first)).check("other/client", "app/server", 8080)
    assert v.allowed and v.ingress.by == ("AdminNetworkPolicy/z-first:ingress[0]",) and not v.ingress.ambiguous_with


def test_admin_port_ranges_and_named_ports() -> None:
    w = world(
        anp(
            "ranges",
            1,
            APP,
            ingress=[
                {
                    "action": "Deny",
                    "from": [{"namespaces": {}}],
                    "ports": [
                        {"portRange": {"start": 8000, "end": 8100}},
                        {"portRange": {"protocol": "UDP", "start": 5000, "end": 6000}},
                        {"namedPort": "sig"},
                    ],
                }
            ],
        )
    )
    assert not allowed(w, "other/client", "app/server", 8000)
    assert not allowed(w, "other/client", "app/server", 8100)
    assert allowed(w, "other/client", "app/server", 8101)
    assert allowed(w, "other/client", "app/server", 8050, "UDP")
    assert not allowed(w, "other/client", "app/server", 5353, "UDP")
    assert not allowed(w, "other/client", "app/server", 7000, "SCTP")  # the named port keeps its protocol
    assert allowed(w, "other/client", "app/server", 7000)


def tier_rejected(body: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as e:
        parse_tier_policy(body)
    return str(e.value)


def test_admin_port_range_must_be_increasing() -> None:
    pr = {"portRange": {"start": 80, "end": 80}}
    assert "portRange" in tier_rejected(anp("r", 1, APP, egress=[{"action": "Deny", "to": [APP], "ports": [pr]}]))


def test_admin_ingress_peers_are_namespaces_or_pods_only() -> None:
    for peer in ({"networks": ["0.0.0.0/0"]}, {"nodes": {}}):
        msg = tier_rejected(anp("in", 1, APP, ingress=[{"action": "Deny", "from": [peer]}]))
        assert "ingress" in msg
    parse_tier_policy(anp("eg", 1, APP, egress=[{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]))


def test_admin_namespaced_pods_need_both_selectors() -> None:
    msg = tier_rejected(anp("s", 1, {"pods": {"podSelector": {}}}))
    assert "namespaceSelector" in msg
    msg = tier_rejected(anp("p", 1, APP, egress=[{"action": "Deny", "to": [{"pods": {"podSelector": SERVER}}]}]))
    assert "namespaceSelector" in msg


def test_actions_are_checked_per_kind() -> None:
    assert "action" in tier_rejected(banp(ingress=[{"action": "Pass", "from": [APP]}]))
    assert "action" in tier_rejected(anp("acc", 1, APP, ingress=[{"action": "Accept", "from": [APP]}]))
    domain = [{"domainNames": ["example.com"]}]
    assert "domainNames" in tier_rejected(anp("d", 1, APP, egress=[{"action": "Deny", "to": domain}]))
    parse_tier_policy(anp("d", 1, APP, egress=[{"action": "Allow", "to": domain}]))


def test_admin_lists_need_at_least_one_item() -> None:
    # MinItems=1 on ports, networks and domainNames: an empty list is rejected, never "everything".
    empty_ports = anp("p", 1, APP, egress=[{"action": "Deny", "to": [APP], "ports": []}])
    assert "at least one port" in tier_rejected(empty_ports)
    for peer in ({"networks": []}, {"domainNames": []}):
        assert "at least one" in tier_rejected(anp("n", 1, APP, egress=[{"action": "Allow", "to": [peer]}]))


def test_baseline_deny_applies_only_where_no_networkpolicy_isolates() -> None:
    base = banp(egress=[{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}])
    w = world(base, np("eg", {"podSelector": CLIENT, "policyTypes": ["Egress"], "egress": [{}]}))
    assert allowed(w, "app/client", EXTERNAL, 443)  # isolated by a NetworkPolicy: NP allows
    assert not allowed(w, "app/server", EXTERNAL, 443)  # not isolated: baseline denies
    assert allowed(w, "app/server", EXTERNAL6, 443)  # IPv4 network only
    assert not allowed(w, "app/server", "other/server", 9000)  # networks match pod IPs too


def cnp(tier: str, priority: int | None, **rules: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"tier": tier, "subject": APP, **rules}
    if priority is not None:
        spec["priority"] = priority
    return {
        "apiVersion": "policy.networking.k8s.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "cnp"},
        "spec": spec,
    }


def test_cluster_network_policy_schema() -> None:
    deny_all = [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]
    assert "priority" in tier_rejected(cnp("Admin", None, egress=deny_all))
    # Host bits are rejected by the CIDR rule, not masked.
    assert "masked" in tier_rejected(cnp("Admin", 1, egress=[{"action": "Deny", "to": [{"networks": ["10.0.0.1/8"]}]}]))
    bare = [{"action": "Deny", "to": [{"networks": ["10.0.0.1"]}]}]
    assert "no prefix" in tier_rejected(cnp("Admin", 1, egress=bare))
    # An empty or unknown protocol entry must not widen the rule to every port.
    for protocols in (
        [],
        [{}],
        [{"icmp": {}}],
        [{"tcp": {}}],
        [{"tcp": {"destinationPort": {"number": 80}}, "udp": {}}],
    ):
        tier_rejected(cnp("Admin", 1, egress=[{"action": "Deny", "to": [APP], "protocols": protocols}]))
    one = [{"tcp": {"destinationPort": {"range": {"start": 80, "end": 80}}}}]
    assert "less than" in tier_rejected(cnp("Admin", 1, egress=[{"action": "Deny", "to": [APP], "protocols": one}]))
    named = [{"destinationNamedPort": "http"}]
    msg = tier_rejected(
        cnp("Admin", 1, egress=[{"action": "Deny", "to": [{"networks": ["10.0.0.0/8"]}], "protocols": named}])
    )
    assert "named ports" in msg
    # The namespaceSelector of a pods peer is optional in ClusterNetworkPolicy (all namespaces).
    pol = parse_tier_policy(
        cnp("Baseline", 0, ingress=[{"action": "Pass", "from": [{"pods": {"podSelector": CLIENT}}]}])
    )
    assert pol.tier == "baseline" and pol.ingress[0].peers[0].namespaces.is_empty
    assert "Accept" in tier_rejected(cnp("Admin", 1, ingress=[{"action": "Allow", "from": [APP]}]))


def test_admin_networks_reject_embedded_ipv4_and_two_port_kinds() -> None:
    assert "mixes" in tier_rejected(
        anp("m", 1, APP, egress=[{"action": "Deny", "to": [{"networks": ["::ffff:10.0.0.0/104"]}]}])
    )
    two = [{"portNumber": {"port": 80}, "namedPort": "http"}]
    assert "exactly one" in tier_rejected(anp("t", 1, APP, egress=[{"action": "Deny", "to": [APP], "ports": two}]))


def test_cluster_network_policy_tiers_evaluate_like_anp_and_banp() -> None:
    admin_pass = cnp("Admin", 1, ingress=[{"action": "Pass", "from": [ns_is("other")]}])
    admin_pass["metadata"]["name"] = "admin-pass"
    base_deny = cnp("Baseline", 5, ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}])
    base_deny["metadata"]["name"] = "base-deny"
    w = world(admin_pass, base_deny)
    assert not allowed(w, "other/client", "app/server", 8080)
    assert not allowed(w, "app/client", "app/server", 8080)
    allow_np = np("allow", {"podSelector": SERVER, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    w = world(admin_pass, base_deny, allow_np)
    assert allowed(w, "other/client", "app/server", 8080)
    assert allowed(w, "app/client", "app/server", 8080)


def test_external_candidates_cover_admin_networks() -> None:
    from stockade.checks.netpol.common import cluster_ips, external_candidates

    w = world(
        anp(
            "allowlist",
            1,
            APP,
            egress=[
                {"action": "Allow", "to": [{"networks": ["52.0.0.0/8"]}]},
                {"action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0"]}]},
            ],
        )
    )
    analyzer = Analyzer(w)
    cands = external_candidates(cluster_ips(w), w.policies, w.tier_policies)
    open_to = [ip for ip in cands if analyzer.check("app/client", f"ip:{ip}", 443).allowed]
    assert [str(ip) for ip in open_to] == ["52.0.0.0", "52.255.255.255"]


def test_sensitive_egress_check_sees_a_range_opened_by_an_admin_allowlist(tmp_path: Any) -> None:
    from stockade.config import Config
    from stockade.scan import ScanOptions, scan_paths

    manifest = tmp_path / "admin-allowlist.yaml"
    manifest.write_text(
        """
apiVersion: v1
kind: Pod
metadata: {name: trainer, namespace: ml, labels: {data: sensitive}}
spec: {containers: [{name: c, image: registry.example/trainer@sha256:0}]}
status: {podIP: 10.0.0.5}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allowlist}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress:
  - {action: Allow, to: [{networks: ["52.0.0.0/8"]}]}
  - {action: Deny, to: [{networks: ["0.0.0.0/0", "::/0"]}]}
"""
    )
    report = scan_paths(
        [str(manifest)], Config.from_mapping({}), ScanOptions(select=("netpol.*",), render_kustomize=False)
    )
    assert not report.errors
    (ext,) = [f for f in report.findings if f.check_id == "netpol.sensitive-egress-external"]
    assert str(ext.subject) == "Pod/ml/trainer" and ext.detail == "ml/trainer: egress to ip:52.0.0.0 TCP/1-65535"


def test_cidr_parsing_follows_the_api_server() -> None:
    # A bare address is not a CIDR; host bits are masked; leading zeros read as decimal (sloppy parser).
    assert "no prefix length" in rejected(
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1"}}]}]}
    )
    assert "no prefix length" in rejected(
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.1"]}}]}]}
    )
    pol = parse_network_policy(
        np("sloppy", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "010.000.0.1/16"}}]}]})
    )
    rules = pol.ingress or ()
    block = (rules[0].peers or ())[0].ip_block
    assert block is not None and str(block.cidr) == "10.0.0.0/16"
    # ClusterNetworkPolicy's CEL rule is strict about both.
    lead = cnp("Admin", 1, egress=[{"action": "Deny", "to": [{"networks": ["010.0.0.0/8"]}]}])
    assert "masked" in tier_rejected(lead)


def test_a_policy_defined_twice_is_the_last_valid_definition() -> None:
    allow_all = np("np", {"podSelector": {}, "ingress": [{}]})
    deny_all = np("np", {"podSelector": {}})
    invalid = np("np", {"podSelector": {}, "ingress": [{"from": [{}]}]})
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=[allow_all, deny_all])
    assert [p.ref for p in w.policies] == ["app/np"]
    assert not allowed(w, EXTERNAL, "app/server", 8080)  # replaced, not a union of both
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=[deny_all, allow_all, invalid])
    assert [s.ref for s in w.skipped] == ["NetworkPolicy/app/np"]
    assert allowed(w, EXTERNAL, "app/server", 8080)  # the rejected update leaves the previous one
    other_ns = np("np", {"podSelector": {}}, ns="other")
    w = World.from_spec(nodes=NODES, namespaces=NAMESPACES, pods=PODS, policies=[allow_all, other_ns])
    assert sorted(p.ref for p in w.policies) == ["app/np", "other/np"]


def test_cluster_network_policy_v1alpha2_masks_host_bits() -> None:
    body = cnp("Admin", 1, egress=[{"action": "Deny", "to": [{"networks": ["10.0.0.1/8"]}]}])
    body["apiVersion"] = "policy.networking.k8s.io/v1alpha2"
    pol = parse_tier_policy(body)
    assert [str(n) for n in pol.egress[0].peers[0].networks] == ["10.0.0.0/8"]
    body["spec"]["egress"][0]["to"][0]["networks"] = ["10.0.0.1"]
    assert "no prefix" in tier_rejected(body)
