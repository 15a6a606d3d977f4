"""Which connections the NetworkPolicies of a recorded graph allow, computed from the
policies alone with Kubernetes' semantics: a pod selected by no policy of a direction is open
in that direction; a selected pod allows exactly the union of its policies' rules; a
connection needs the source's egress and the destination's ingress to allow it. Endpoints
outside the cluster (no namespace) are governed only by the cluster side's policies."""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from offline.graph import Graph


@dataclass(frozen=True)
class Endpoint:
    name: str
    address: str
    """An IP address: a pod's from the pod CIDR, or a host's outside the cluster."""
    namespace: str | None = None
    """None: outside the cluster."""
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    """Named container ports, for policies that name them."""


@dataclass(frozen=True)
class Policy:
    namespace: str
    spec: dict


def policies_of(graph: Graph) -> list[Policy]:
    return [
        Policy(r.inputs["metadata"]["namespace"], r.inputs["spec"])
        for r in graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ]


def namespace_labels(graph: Graph) -> dict[str, dict[str, str]]:
    """Labels of every namespace the graph creates, plus kube-system, with the
    `kubernetes.io/metadata.name` label the API server adds to every namespace."""
    labels = {"kube-system": {}}
    for r in graph.by_type("kubernetes:core/v1:Namespace"):
        labels[r.inputs["metadata"]["name"]] = dict(r.inputs["metadata"].get("labels", {}))
    return {
        name: {**values, "kubernetes.io/metadata.name": name} for name, values in labels.items()
    }


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector against labels; an empty selector selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(
    peer: dict, policy_namespace: str, endpoint: Endpoint, ns_labels: dict[str, dict[str, str]]
) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(endpoint.address)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if endpoint.namespace is None:
        return False  # selectors match pods only
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], ns_labels.get(endpoint.namespace, {})):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), endpoint.labels)


def _port_matches(ports: list[dict] | None, port: int, protocol: str, target: Endpoint) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = target.ports.get(wanted)
        end = entry.get("endPort", wanted)
        if wanted is not None and wanted <= port <= end:
            return True
    return False


def _types(spec: dict) -> list[str]:
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))


def _direction_allows(
    policies: list[Policy],
    ns_labels: dict[str, dict[str, str]],
    local: Endpoint,
    remote: Endpoint,
    port: int,
    protocol: str,
    direction: str,
) -> bool:
    selecting = [
        p
        for p in policies
        if p.namespace == local.namespace
        and direction in _types(p.spec)
        and selects(p.spec.get("podSelector"), local.labels)
    ]
    if not selecting:
        return True
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    target = remote if direction == "Egress" else local
    for policy in selecting:
        for rule in policy.spec.get(rules_key) or []:
            peers = rule.get(peers_key)
            if peers and not any(
                _peer_matches(peer, policy.namespace, remote, ns_labels) for peer in peers
            ):
                continue
            if _port_matches(rule.get("ports"), port, protocol, target):
                return True
    return False


def allowed(
    policies: list[Policy],
    ns_labels: dict[str, dict[str, str]],
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> bool:
    if source.namespace is not None and not _direction_allows(
        policies, ns_labels, source, destination, port, protocol, "Egress"
    ):
        return False
    if destination.namespace is not None and not _direction_allows(
        policies, ns_labels, destination, source, port, protocol, "Ingress"
    ):
        return False
    return True


def matrix(
    policies: list[Policy],
    ns_labels: dict[str, dict[str, str]],
    endpoints: Iterable[Endpoint],
    ports: Iterable[tuple[int, str]],
) -> set[tuple[str, str, str]]:
    """Every allowed (source, destination, "port/protocol") among the endpoints; pairs of
    two outside endpoints are not the cluster's to allow and are left out."""
    endpoints = list(endpoints)
    ports = list(ports)
    result = set()
    for source in endpoints:
        for destination in endpoints:
            if source is destination or (
                source.namespace is None and destination.namespace is None
            ):
                continue
            for port, protocol in ports:
                if allowed(policies, ns_labels, source, destination, port, protocol):
                    result.add((source.name, destination.name, f"{port}/{protocol}"))
    return result
