"""MetalLB at a site (`deepseek:gateway:MetalLb`): the chart, the gateway's address pool and
its announcement by ARP or BGP, as `load_balancer.py` specifies them."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirrored_release
from components.config import Gateway
from components.context import SiteContext
from components.gateway.load_balancer import POOL, address_pool_spec, metallb_values


@dataclass(frozen=True)
class MetalLbArgs:
    """Inputs of `MetalLb`."""

    ctx: SiteContext
    """The site, whose `loadBalancer` says which addresses and how they are announced."""
    gateway: Gateway
    """The MetalLB chart version."""


class MetalLb(pulumi.ComponentResource):
    """MetalLB, the gateway's address pool and how it is announced
    (`deepseek:gateway:MetalLb`)."""

    def __init__(
        self, name: str, args: MetalLbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:MetalLb", name, None, opts)
        ctx = args.ctx
        lb = ctx.site.load_balancer
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        release = mirrored_release(
            f"{name}-metallb",
            chart="metallb",
            version=args.gateway.metallb_chart_version,
            namespace=contracts.METALLB,
            values=metallb_values(ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.METALLB)])
            ),
        )
        after = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[release]))

        def metallb(kind: str, version: str, suffix: str, spec: dict, resource_name: str):
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=f"metallb.io/{version}",
                kind=kind,
                metadata={"name": resource_name, "namespace": contracts.METALLB},
                spec=spec,
                opts=after,
            )

        metallb("IPAddressPool", "v1beta1", "pool", address_pool_spec(lb), POOL)
        if lb.mode == "l2":
            metallb("L2Advertisement", "v1beta1", "l2", {"ipAddressPools": [POOL]}, POOL)
        else:
            for index, peer in enumerate(lb.peers):
                metallb(
                    "BGPPeer",
                    "v1beta2",
                    f"bgp-peer-{index}",
                    {"myASN": lb.local_asn, "peerASN": peer.asn, "peerAddress": str(peer.address)},
                    f"router-{index}",
                )
            metallb("BGPAdvertisement", "v1beta1", "bgp", {"ipAddressPools": [POOL]}, POOL)
        self.register_outputs({})
