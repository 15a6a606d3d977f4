"""Calico as the CNI: it enforces NetworkPolicy (egress included), which the zero-trust
layer relies on, and runs without BGP peering on an SDN fabric (VXLAN across subnets)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Kubernetes, Mirrors, Site


@dataclass(frozen=True)
class CalicoArgs:
    """Inputs of `Calico`."""

    site: Site
    kubernetes: Kubernetes
    mirrors: Mirrors
    provider: k8s.Provider
    namespace: k8s.core.v1.Namespace


def calico_values(site: Site, mirrors: Mirrors) -> dict:
    registry = mirror(mirrors, "quay.io") + "/"
    return {
        "installation": {
            "registry": registry,
            "calicoNetwork": {
                "bgp": "Disabled",
                "ipPools": [
                    {
                        "cidr": str(site.network.pod_cidr),
                        "blockSize": 24,
                        "encapsulation": "VXLANCrossSubnet",
                        "natOutgoing": "Enabled",
                        "nodeSelector": "all()",
                    }
                ],
            },
        },
        "tigeraOperator": {"registry": registry.rstrip("/")},
        "apiServer": {"enabled": False},
        "goldmane": {"enabled": False},
        "whisker": {"enabled": False},
    }


class Calico(pulumi.ComponentResource):
    """The tigera-operator chart (`deepseek:kubernetes:Calico`)."""

    release: k8s.helm.v3.Release
    """The chart's release."""

    def __init__(self, name: str, args: CalicoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("deepseek:kubernetes:Calico", name, None, opts)
        self.release = mirrored_release(
            f"{name}-tigera-operator",
            chart="tigera-operator",
            version=args.kubernetes.calico_chart_version,
            namespace=contracts.CALICO_OPERATOR,
            values=calico_values(args.site, args.mirrors),
            mirrors=args.mirrors,
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[args.namespace]
            ),
        )
        self.register_outputs({})
