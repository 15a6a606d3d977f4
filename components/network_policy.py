"""Building blocks of NetworkPolicy specs, shared by every layer that admits or sends traffic
(outside any layer; imports only config and contracts). Pure functions returning plain dicts.

Calico enforces NetworkPolicy after a Service's DNAT, so a pod reaching the API server
through the `kubernetes` Service is seen going to a control-plane node on 6443, and a
webhook call from the API server comes from a node address (the API server runs on the host
network)."""

from collections.abc import Iterable, Mapping

from components import contracts
from components.config import Site


def tcp(*ports: int) -> list[dict]:
    """The `ports` of a rule: these TCP ports."""
    return [{"protocol": "TCP", "port": port} for port in ports]


def in_namespace(namespace: str, pods: Mapping[str, str] | None = None) -> dict:
    """A peer: the pods of a namespace, or only those with these labels."""
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def ip_blocks(cidrs: Iterable[object]) -> list[dict]:
    """Peers: these networks (or `/32` addresses)."""
    return [{"ipBlock": {"cidr": str(cidr)}} for cidr in cidrs]


def default_deny() -> dict:
    """Nothing in or out for every pod of the namespace, until a policy allows it."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def dns_egress() -> dict:
    """Every pod of the namespace may ask CoreDNS."""
    return {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [in_namespace(contracts.KUBE_SYSTEM, contracts.KUBE_DNS_LABELS)],
                "ports": [
                    {"protocol": "UDP", "port": contracts.DNS_PORT},
                    {"protocol": "TCP", "port": contracts.DNS_PORT},
                ],
            }
        ],
    }


def api_servers(site: Site) -> list[dict]:
    """The API server's addresses: the control-plane hosts and the VIP. Webhook and
    aggregated-API calls come from the control-plane hosts too."""
    control_planes = [f"{h.address}/32" for h in site.hosts_with_role("control-plane")]
    return ip_blocks([*control_planes, f"{site.network.api_vip}/32"])


def api_server_egress(site: Site) -> dict:
    """Every pod of the namespace may call the API server."""
    return {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": api_servers(site), "ports": tcp(contracts.API_SERVER_PORT)}],
    }


def within_namespace(ports: Iterable[int] | None) -> dict:
    """The namespace's pods may reach each other (on these ports, or on any)."""
    rule: dict = {"podSelector": {}}
    ingress: dict = {"from": [rule]}
    egress: dict = {"to": [rule]}
    if ports:
        ingress["ports"] = egress["ports"] = tcp(*ports)
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [ingress],
        "egress": [egress],
    }
