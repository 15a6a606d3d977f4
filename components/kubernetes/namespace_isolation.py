"""Egress control (the guide's 出口流量管控): every namespace denies all traffic in both
directions, then allows what its workloads need, by name. Pure functions build the specs
(from the shared blocks of `components.network_policy`); `NamespaceIsolation` registers them.

Ingress from outside the cluster is matched on the client's own address: the gateway's
Service keeps it (externalTrafficPolicy: Local)."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Gateway, Site
from components.context import SiteContext
from components.network_policy import (
    api_server_egress,
    api_servers,
    default_deny,
    dns_egress,
    in_namespace,
    ip_blocks,
    tcp,
    within_namespace,
)

IDENTITY_PROVIDER_PORT = 443
"""The IdP's JWKS endpoint, which the gateway's proxies fetch keys from (HTTPS)."""


def namespace_policies(
    site: Site, failover_peers: Sequence[Site], gateway: Gateway | None
) -> dict[str, dict[str, dict]]:
    """namespace → policy name → NetworkPolicy spec, for every namespace we create.
    `failover_peers`: the other active sites whose gateways fail over to this one (the plan's)."""
    policies: dict[str, dict[str, dict]] = {
        namespace: {"default-deny": default_deny(), "allow-dns": dns_egress()}
        for namespace in (*contracts.WORKLOAD_NAMESPACES, *contracts.SYSTEM_NAMESPACES)
    }
    for namespace in contracts.API_CLIENT_NAMESPACES:
        policies[namespace]["allow-api-server"] = api_server_egress(site)
    for namespace, ports in contracts.WEBHOOK_PORTS.items():
        policies[namespace]["allow-webhooks-from-api-server"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": api_servers(site), "ports": tcp(*ports)}],
        }
    for namespace, ports in contracts.METRICS_PORTS.items():
        if namespace == contracts.INFERENCE:
            continue  # each model's own policy admits the scrapes of its metrics port
        pods = contracts.METRICS_PODS.get(namespace)
        policies[namespace]["allow-metrics-scrapes"] = {
            "podSelector": {"matchLabels": pods} if pods else {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [in_namespace(contracts.MONITORING)], "ports": tcp(*ports)}],
        }
    # Monitoring scrapes the namespaces above; the metrics adapter answers the API server
    # and asks Prometheus, both inside the namespace.
    policies[contracts.MONITORING]["allow-scrapes"] = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [in_namespace(namespace)], "ports": tcp(*ports)}
            for namespace, ports in sorted(contracts.METRICS_PORTS.items())
        ],
    }
    policies[contracts.MONITORING]["allow-within-namespace"] = within_namespace(
        [contracts.PROMETHEUS_PORT]
    )
    policies[contracts.MONITORING]["allow-api-server-to-adapter"] = {
        "podSelector": {"matchLabels": contracts.METRICS_ADAPTER_LABELS},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": api_servers(site), "ports": tcp(contracts.API_SERVER_PORT)}],
    }
    # MPI ranks of a job reach each other on ports they pick at run time.
    policies[contracts.TRAINING]["allow-within-namespace"] = within_namespace(None)
    if gateway is not None:
        policies[contracts.GATEWAY].update(_gateway_policies(site, failover_peers, gateway))
    return policies


def _gateway_policies(site: Site, peers: Sequence[Site], gateway: Gateway) -> dict[str, dict]:
    clients = [*gateway.client_networks, *(p.network.node_cidr for p in peers)]
    proxy_egress = [
        {
            "to": [in_namespace(contracts.INFERENCE, contracts.TRITON_POD_LABELS)],
            "ports": tcp(contracts.TRITON_HTTP_PORT, contracts.TRITON_GRPC_PORT),
        },
        {
            "to": ip_blocks(gateway.identity_provider.networks),
            "ports": tcp(IDENTITY_PROVIDER_PORT),
        },
        {
            "to": [{"podSelector": {"matchLabels": contracts.ENVOY_CONTROLLER_LABELS}}],
            "ports": tcp(contracts.ENVOY_XDS_PORT),
        },
    ]
    if peers:
        proxy_egress.append(
            {
                "to": ip_blocks(f"{p.load_balancer.gateway_address}/32" for p in peers),
                "ports": tcp(contracts.GATEWAY_HTTPS_PORT),
            }
        )
    return {
        "envoy-proxy": {
            "podSelector": {"matchLabels": contracts.ENVOY_PROXY_LABELS},
            "policyTypes": ["Ingress", "Egress"],
            # Clients, and the other active sites' gateways failing over to this one.
            "ingress": [{"from": ip_blocks(clients), "ports": tcp(contracts.ENVOY_LISTENER_PORT)}],
            "egress": proxy_egress,
        },
        "envoy-gateway-controller": {
            "podSelector": {"matchLabels": contracts.ENVOY_CONTROLLER_LABELS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": contracts.ENVOY_PROXY_LABELS}}],
                    "ports": tcp(contracts.ENVOY_XDS_PORT),
                }
            ],
            "egress": api_server_egress(site)["egress"],
        },
    }


@dataclass(frozen=True)
class IsolationArgs:
    """Inputs of `NamespaceIsolation`."""

    ctx: SiteContext
    """The site (and the other active sites whose gateways fail over to it, from its plan)."""
    gateway: Gateway | None
    """The gateway's config, whose traffic the gateway namespace's policies allow."""


class NamespaceIsolation(pulumi.ComponentResource):
    """Default-deny and the explicit allows of every namespace
    (`deepseek:kubernetes:NamespaceIsolation`)."""

    def __init__(
        self, name: str, args: IsolationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:kubernetes:NamespaceIsolation", name, None, opts)
        ctx = args.ctx
        for namespace, policies in namespace_policies(
            ctx.site, ctx.plan.failover_peers, args.gateway
        ).items():
            for policy, spec in policies.items():
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{namespace}-{policy}",
                    metadata={"name": policy, "namespace": namespace},
                    spec=spec,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        provider=ctx.provider,
                        depends_on=[ctx.namespace(namespace)],
                    ),
                )
        self.register_outputs({})
