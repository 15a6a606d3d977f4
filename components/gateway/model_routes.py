"""The routes of a site's models (`deepseek:gateway:ModelRoutes`): the HTTPRoutes, the other
active sites' gateways as fallback Backends and their TLS policies, as `routes.py` specifies
them."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Gateway
from components.context import SiteContext
from components.gateway.routes import backend_name, backend_spec, backend_tls_spec, http_route_spec


@dataclass(frozen=True)
class ModelRoutesArgs:
    """Inputs of `ModelRoutes`."""

    ctx: SiteContext
    """The site, and in its plan the other active sites whose gateways take over when every
    local replica fails."""
    gateway: Gateway
    routes: dict[str, list[dict]]
    """Model name → its Services with their weights (`model_service.routes`)."""
    after: list[pulumi.Resource]


class ModelRoutes(pulumi.ComponentResource):
    """HTTPRoutes of the site's models and the fallback Backends
    (`deepseek:gateway:ModelRoutes`)."""

    def __init__(
        self, name: str, args: ModelRoutesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:ModelRoutes", name, None, opts)
        ctx = args.ctx
        peers = ctx.plan.failover_peers
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider, depends_on=args.after)
        in_inference = {"namespace": contracts.INFERENCE}
        backends = []
        for peer in peers:
            backends.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-{backend_name(peer)}",
                    api_version="gateway.envoyproxy.io/v1alpha1",
                    kind="Backend",
                    metadata={"name": backend_name(peer), **in_inference},
                    spec=backend_spec(peer),
                    opts=child,
                )
            )
            k8s.apiextensions.CustomResource(
                f"{name}-{backend_name(peer)}-tls",
                api_version="gateway.networking.k8s.io/v1alpha3",
                kind="BackendTLSPolicy",
                metadata={"name": backend_name(peer), **in_inference},
                spec=backend_tls_spec(peer, args.gateway),
                opts=child,
            )
        for model, routes in args.routes.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{model}",
                api_version="gateway.networking.k8s.io/v1",
                kind="HTTPRoute",
                metadata={"name": model, **in_inference},
                spec=http_route_spec(model, routes, ctx.site, args.gateway, peers),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=backends)
                ),
            )
        self.register_outputs({})
