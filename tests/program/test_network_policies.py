"""Egress control in prod's graph: default-deny both ways in every namespace, no open
egress, and the exact reachability matrix the NetworkPolicies allow, computed from the
policies alone and compared with the intended one written out below."""

import ipaddress

import pytest

from components.contracts import ENVOY_CONTROLLER_LABELS, ENVOY_PROXY_LABELS
from offline.reachability import Endpoint, Policy, matrix, namespace_labels

TRITON = {
    "app.kubernetes.io/name": "triton",
    "app.kubernetes.io/instance": "r1-qwen-32b",
    "app.kubernetes.io/part-of": "deepseek-serving",
}
# dc-a's workloads, as pods with the labels their controllers give them, and the places
# outside the cluster they might talk to.
ENDPOINTS = [
    Endpoint("client", "10.50.1.10"),
    Endpoint("internet", "203.0.113.7"),
    Endpoint("idp", "10.200.1.20"),
    Endpoint("mirror", "10.200.0.5"),
    Endpoint("rgw", "10.10.2.10"),  # dc-a's RGW virtual IP: the model store
    Endpoint("control-plane", "10.10.0.11"),
    Endpoint("dc-b-node", "10.20.1.21"),
    Endpoint("dc-b-gateway", "10.20.0.200"),
    Endpoint(
        "envoy", "10.64.0.10", "gateway", {**ENVOY_PROXY_LABELS, "app.kubernetes.io/name": "envoy"}
    ),
    Endpoint("eg-controller", "10.64.0.11", "gateway", dict(ENVOY_CONTROLLER_LABELS)),
    Endpoint("triton", "10.64.1.10", "inference", {**TRITON, "deepseek.bank/track": "stable"}),
    Endpoint(
        "triton-canary", "10.64.1.11", "inference", {**TRITON, "deepseek.bank/track": "canary"}
    ),
    Endpoint("inference-other", "10.64.1.12", "inference", {"app": "debug"}),
    Endpoint(
        "cache-fill",
        "10.64.1.13",
        "inference",
        {
            "app.kubernetes.io/name": "model-cache-fill",
            "app.kubernetes.io/part-of": "deepseek-serving",
        },
    ),
    Endpoint("prometheus", "10.64.2.10", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
    Endpoint(
        "adapter", "10.64.2.11", "monitoring", {"app.kubernetes.io/name": "prometheus-adapter"}
    ),
    Endpoint("trainer-0", "10.64.3.10", "training", {"training.kubeflow.org/replica-index": "0"}),
    Endpoint("trainer-1", "10.64.3.11", "training", {"training.kubeflow.org/replica-index": "1"}),
    Endpoint("coredns", "10.64.4.10", "kube-system", {"k8s-app": "kube-dns"}),
    Endpoint("dcgm", "10.64.5.10", "gpu-operator", {"app": "nvidia-dcgm-exporter"}),
    Endpoint("cm-webhook", "10.64.6.10", "cert-manager", {"app.kubernetes.io/name": "webhook"}),
    Endpoint(
        "provisioner",
        "10.64.7.10",
        "local-path-storage",
        {"app.kubernetes.io/name": "local-path-provisioner"},
    ),
]
PORTS = [
    (22, "TCP"),
    (53, "UDP"),
    (443, "TCP"),
    (6443, "TCP"),
    (8080, "TCP"),
    (8000, "TCP"),
    (8001, "TCP"),
    (8002, "TCP"),
    (9090, "TCP"),
    (9400, "TCP"),
    (10250, "TCP"),
    (10443, "TCP"),
    (18000, "TCP"),
    (19001, "TCP"),
]
DNS = "53/UDP"
# Everything dc-a allows among those endpoints and ports; nothing else.
INTENDED = """
client          envoy           10443/TCP  callers reach the gateway, and nothing else
dc-b-node       envoy           10443/TCP  dc-b's gateway failing over to this one
dc-b-gateway    envoy           10443/TCP  (dc-b's node network, which holds its gateway)
envoy           triton          8000/TCP   the gateway reaches the models: HTTP
envoy           triton          8001/TCP   and gRPC
envoy           triton-canary   8000/TCP
envoy           triton-canary   8001/TCP
envoy           idp             443/TCP    the IdP's signing keys
envoy           dc-b-gateway    443/TCP    failover to dc-b
envoy           eg-controller   18000/TCP  xDS configuration
eg-controller   control-plane   6443/TCP
cache-fill      rgw             8080/TCP   weights, from the site's own RGW only (Triton: none)
prometheus      triton          8002/TCP   scrapes
prometheus      triton-canary   8002/TCP
prometheus      envoy           19001/TCP
prometheus      dcgm            9400/TCP
adapter         triton          8002/TCP
adapter         triton-canary   8002/TCP
adapter         envoy           19001/TCP
adapter         dcgm            9400/TCP
prometheus      adapter         9090/TCP   inside monitoring
adapter         prometheus      9090/TCP   the adapter reads Prometheus
prometheus      control-plane   6443/TCP   service discovery
adapter         control-plane   6443/TCP
control-plane   adapter         6443/TCP   the aggregated metrics API
control-plane   cm-webhook      10250/TCP  cert-manager's webhook
cm-webhook      control-plane   6443/TCP
dcgm            control-plane   6443/TCP
provisioner     control-plane   6443/TCP
trainer-0       control-plane   6443/TCP
trainer-1       control-plane   6443/TCP
"""
# MPI ranks of a job talk on any port, within the training namespace only.
TRAINING_MESH = {
    (a, b, f"{port}/{protocol}")
    for a, b in (("trainer-0", "trainer-1"), ("trainer-1", "trainer-0"))
    for port, protocol in PORTS
}
# Every pod of ours resolves names through CoreDNS (and nothing else in kube-system).
DNS_CLIENTS = {e.name for e in ENDPOINTS if e.namespace not in (None, "kube-system")}


def intended() -> set[tuple[str, str, str]]:
    rows = {tuple(line.split()[:3]) for line in INTENDED.strip().splitlines()}
    return rows | TRAINING_MESH | {(name, "coredns", DNS) for name in DNS_CLIENTS}


def _ours(rows: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """kube-system is kubeadm's, not ours: leave out what CoreDNS itself may do."""
    coredns = next(e for e in ENDPOINTS if e.name == "coredns")
    external = {e.name for e in ENDPOINTS if e.namespace is None}
    return {
        (a, b, p)
        for a, b, p in rows
        if a != coredns.name and not (a in external and b == coredns.name)
    }


@pytest.fixture(scope="module")
def dc_a(prod_graph):
    site = next(
        r.urn for r in prod_graph.by_type("deepseek:site:Site") if r.name == "deepseek-dc-a"
    )
    policies = [
        Policy(r.inputs["metadata"]["namespace"], r.inputs["spec"])
        for r in prod_graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if site in prod_graph.ancestors(r.urn)
    ]
    return policies, namespace_labels(prod_graph)


def test_the_policies_allow_exactly_the_intended_matrix(dc_a):
    policies, labels = dc_a
    actual = _ours(matrix(policies, labels, ENDPOINTS, PORTS))
    assert sorted(actual - intended()) == []  # allowed but not intended
    assert sorted(intended() - actual) == []  # intended but blocked


def test_a_stray_allow_all_breaks_the_matrix(dc_a):
    policies, labels = dc_a
    stray = Policy("inference", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})
    actual = _ours(matrix([*policies, stray], labels, ENDPOINTS, PORTS))
    assert ("triton", "internet", "443/TCP") in actual - intended()


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_every_namespace_denies_both_directions_by_default(stack, stack_graph):
    graph = stack_graph(stack)
    for site in graph.by_type("deepseek:site:Site"):
        namespaces = {
            r.inputs["metadata"]["name"]
            for r in graph.by_type("kubernetes:core/v1:Namespace")
            if site.urn in graph.ancestors(r.urn)
        }
        denied = {
            r.inputs["metadata"]["namespace"]
            for r in graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if site.urn in graph.ancestors(r.urn)
            and r.inputs["spec"].get("podSelector") == {}
            and sorted(r.inputs["spec"].get("policyTypes", [])) == ["Egress", "Ingress"]
            and not r.inputs["spec"].get("ingress")
            and not r.inputs["spec"].get("egress")
        }
        assert namespaces and namespaces == denied


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_egress_only_to_the_allow_list_or_inside_the_site(stack, stack_graph, stack_config):
    graph = stack_graph(stack)
    config = stack_config(stack)
    sites = {f"deepseek-{s.name}": s for s in config.sites}
    for site_resource in graph.by_type("deepseek:site:Site"):
        site = sites[site_resource.name]
        inside = [site.network.node_cidr, site.network.service_cidr, site.network.pod_cidr]
        allowed = [*site.network.egress_allow_list, *inside]
        for r in graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            if site_resource.urn not in graph.ancestors(r.urn):
                continue
            for rule in r.inputs["spec"].get("egress", []):
                assert rule.get("to"), f"{r.name}: an egress rule without `to` allows everything"
                for peer in rule["to"]:
                    if "ipBlock" in peer:
                        block = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                        assert block.prefixlen > 0, r.name
                        assert any(block.subnet_of(a) for a in allowed), (r.name, str(block))
