"""Calico as the CNI: it enforces NetworkPolicy (egress included), which the zero-trust
layer relies on, and runs without BGP peering on an SDN fabric (VXLAN across subnets)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Kubernetes, Mirrors, Site
from components.context import SiteContext


@dataclass(frozen=True)
class CalicoArgs:
    """Inputs of `Calico`."""

    ctx: SiteContext
    kubernetes: Kubernetes
    """The pinned chart version."""


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
        ctx = args.ctx
        self.release = mirrored_release(
            f"{name}-tigera-operator",
            chart="tigera-operator",
            version=args.kubernetes.calico_chart_version,
            namespace=contracts.CALICO_OPERATOR,
            values=calico_values(ctx.site, ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=ctx.provider,
                depends_on=[ctx.namespace(contracts.CALICO_OPERATOR)],
            ),
        )
        self.register_outputs({})
