"""The NetworkPolicies the cluster add-ons need, beyond each namespace's default-deny, DNS and
API-server egress (`NamespaceIsolation` registers them): the GPU operator's metrics scrapes,
the webhooks the API server calls in kubeflow, and training pods among themselves. Pure:
namespace → policy name → NetworkPolicy spec. (LocalPathProvisioner registers its own.)"""

from components import contracts
from components.network_policy import api_servers, in_namespace, tcp, within_namespace
from components.plan import SitePlan


def allow_policies(plan: SitePlan) -> dict[str, dict[str, dict]]:
    """The add-ons' allow-policies for site `plan`."""
    return {
        contracts.KUBEFLOW: {
            "allow-webhooks-from-api-server": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": api_servers(plan.spec),
                        "ports": tcp(*contracts.WEBHOOK_PORTS[contracts.KUBEFLOW]),
                    }
                ],
            }
        },
        contracts.GPU_OPERATOR: {
            "allow-metrics-scrapes": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [in_namespace(contracts.MONITORING)],
                        "ports": tcp(*contracts.METRICS_PORTS[contracts.GPU_OPERATOR]),
                    }
                ],
            }
        },
        # MPI ranks of a job reach each other on ports they pick at run time.
        contracts.TRAINING: {"allow-within-namespace": within_namespace(None)},
    }
