"""A site's gateway layer (`deepseek:gateway:SiteGateway`): the internal CA, MetalLB (unless an
SDN announces the address), the zero-trust Gateway and the models' routes, in one component
under Site."""

from dataclasses import dataclass

import pulumi

from components.config import Gateway as GatewayConfig
from components.context import SiteContext
from components.gateway.gateway import Gateway, GatewayArgs
from components.gateway.internal_ca import InternalCa, InternalCaArgs
from components.gateway.metal_lb import MetalLb, MetalLbArgs
from components.gateway.model_routes import ModelRoutes, ModelRoutesArgs


@dataclass(frozen=True)
class SiteGatewayArgs:
    """Inputs of `SiteGateway`."""

    ctx: SiteContext
    gateway: GatewayConfig
    """Hostname, identity provider, clients, tenants, chart versions."""
    ca_private_key: pulumi.Output[str]
    """The internal CA's key: a secret, passed only to the Secret that holds it."""
    routes: dict[str, list[dict]] | None = None
    """Model → its Services and their traffic shares (serving's), when the site serves."""
    serving: pulumi.Resource | None = None
    """The serving layer's component, which the routes wait for."""
    moved_from: pulumi.Resource | None = None
    """Where the gateway's components hung before they had this component (the cluster): each
    carries an alias to it, so state follows the move instead of a replacement."""


class SiteGateway(pulumi.ComponentResource):
    """The gateway layer of one site (`deepseek:gateway:SiteGateway`)."""

    gateway: Gateway
    """The Envoy Gateway and the site's Gateway with its policies."""
    address: pulumi.Output[str]
    """The Gateway's address (as `Gateway.address`)."""
    hostnames: pulumi.Output[list]
    """The hostnames it serves (as `Gateway.hostnames`)."""

    def __init__(
        self, name: str, args: SiteGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:SiteGateway", name, None, opts)
        ctx, config = args.ctx, args.gateway
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from else None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)
        ca = InternalCa(
            f"{ctx.name}-internal-ca", InternalCaArgs(ctx, config, args.ca_private_key), child
        )
        after: list[pulumi.Resource] = [ca.issuer, *ca.bundles.values()]
        if ctx.site.load_balancer.mode != "sdn":
            after.append(MetalLb(f"{ctx.name}-metallb", MetalLbArgs(ctx, config), child))
        self.gateway = Gateway(f"{ctx.name}-gateway", GatewayArgs(ctx, config, after), child)
        if args.routes is not None:
            ModelRoutes(
                f"{ctx.name}-routes",
                ModelRoutesArgs(
                    ctx=ctx,
                    gateway=config,
                    routes=args.routes,
                    after=[self.gateway, *([args.serving] if args.serving else [])],
                ),
                child,
            )
        self.address = self.gateway.address
        self.hostnames = self.gateway.hostnames
        self.register_outputs({"address": self.address, "hostnames": self.hostnames})
