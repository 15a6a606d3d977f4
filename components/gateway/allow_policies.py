"""The NetworkPolicies the gateway layer needs in its namespaces, beyond each namespace's
default-deny and DNS (`NamespaceIsolation` registers them): Envoy's proxies and controller,
the metrics scrapes of the gateway, cert-manager and MetalLB, and the webhooks the API server
calls in cert-manager and MetalLB. Pure: namespace → policy name → NetworkPolicy spec."""

from components import contracts
from components.config import Gateway
from components.network_policy import api_server_egress, api_servers, in_namespace, ip_blocks, tcp
from components.plan import SitePlan

IDENTITY_PROVIDER_PORT = 443
"""The IdP's JWKS endpoint, which the gateway's proxies fetch keys from (HTTPS)."""

METRICS_NAMESPACES = (contracts.GATEWAY, contracts.CERT_MANAGER, contracts.METALLB)
WEBHOOK_NAMESPACES = (contracts.CERT_MANAGER, contracts.METALLB)


def allow_policies(plan: SitePlan, gateway: Gateway | None) -> dict[str, dict[str, dict]]:
    """The gateway layer's allow-policies for site `plan`. The other active sites whose
    gateways fail over to this one (`plan.failover_peers`) reach its proxies, and its
    proxies reach theirs."""
    policies: dict[str, dict[str, dict]] = {}
    for namespace in WEBHOOK_NAMESPACES:
        policies.setdefault(namespace, {})["allow-webhooks-from-api-server"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": api_servers(plan.spec), "ports": tcp(*contracts.WEBHOOK_PORTS[namespace])}
            ],
        }
    for namespace in METRICS_NAMESPACES:
        pods = contracts.METRICS_PODS.get(namespace)
        policies.setdefault(namespace, {})["allow-metrics-scrapes"] = {
            "podSelector": {"matchLabels": pods} if pods else {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [in_namespace(contracts.MONITORING)],
                    "ports": tcp(*contracts.METRICS_PORTS[namespace]),
                }
            ],
        }
    if gateway is not None:
        policies[contracts.GATEWAY].update(_envoy_policies(plan, gateway))
    return policies


def _envoy_policies(plan: SitePlan, gateway: Gateway) -> dict[str, dict]:
    peers = plan.failover_peers
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
            "egress": api_server_egress(plan.spec)["egress"],
        },
    }
