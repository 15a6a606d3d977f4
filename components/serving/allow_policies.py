"""The NetworkPolicies serving needs in the monitoring namespace, beyond its default-deny, DNS
and API-server egress (`NamespaceIsolation` registers them): the queue metrics adapter answers
the API server and asks Prometheus inside the namespace, and, until a monitoring layer owns
it, Prometheus's egress to every namespace's metrics ports (`contracts.METRICS_PORTS`). Each
model's own policy (`model_service.py`) admits the scrapes of Triton. Pure: namespace →
policy name → NetworkPolicy spec."""

from components import contracts
from components.network_policy import api_servers, in_namespace, tcp, within_namespace
from components.plan import SitePlan


def allow_policies(plan: SitePlan) -> dict[str, dict[str, dict]]:
    """Serving's allow-policies for site `plan`."""
    return {
        contracts.MONITORING: {
            "allow-scrapes": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [in_namespace(namespace)], "ports": tcp(*ports)}
                    for namespace, ports in sorted(contracts.METRICS_PORTS.items())
                ],
            },
            "allow-within-namespace": within_namespace([contracts.PROMETHEUS_PORT]),
            "allow-api-server-to-adapter": {
                "podSelector": {"matchLabels": contracts.METRICS_ADAPTER_LABELS},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": api_servers(plan.spec), "ports": tcp(contracts.API_SERVER_PORT)}
                ],
            },
        }
    }
