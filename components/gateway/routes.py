"""Routes from the gateway to the models of a site: one HTTPRoute per model, weighted
between the stable and canary Services (the guide's grey release), with the other active
sites' gateways as fallback when every local replica fails (active-active failover).

Traffic that already failed over carries a header and is served locally only, so two sites
that are both down answer 503 instead of passing a request back and forth."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Gateway, Site
from components.gateway.certificates import CA_BUNDLE
from components.gateway.envoy_gateway import GATEWAY, hostnames

FAILOVER_HEADER = "x-deepseek-failover"


def _path(model: str) -> dict:
    return {"type": "PathPrefix", "value": f"/v2/models/{model}"}


def http_route_spec(
    model: str, routes: list[dict], site: Site, gateway: Gateway, peers: Sequence[Site]
) -> dict:
    local = [
        {
            "kind": "Service",
            "name": r["service"],
            "port": contracts.TRITON_HTTP_PORT,
            "weight": r["weight"],
        }
        for r in routes
    ]
    fallback = [
        {
            "group": "gateway.envoyproxy.io",
            "kind": "Backend",
            "name": backend_name(peer),
            "port": contracts.GATEWAY_HTTPS_PORT,
            "weight": 1,
            "filters": [
                {
                    "type": "RequestHeaderModifier",
                    "requestHeaderModifier": {"set": [{"name": FAILOVER_HEADER, "value": "1"}]},
                }
            ],
        }
        for peer in peers
    ]
    rules = [
        {
            "matches": [
                {"path": _path(model), "headers": [{"name": FAILOVER_HEADER, "value": "1"}]}
            ],
            "backendRefs": local,
        },
        {"matches": [{"path": _path(model)}], "backendRefs": local + fallback},
    ]
    return {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": GATEWAY,
                "namespace": contracts.GATEWAY,
            }
        ],
        "hostnames": hostnames(site, gateway),
        "rules": rules if peers else rules[1:],
    }


def backend_name(peer: Site) -> str:
    return f"gateway-{peer.name}"


def backend_spec(peer: Site) -> dict:
    return {
        "endpoints": [
            {
                "ip": {
                    "address": peer.load_balancer.gateway_address,
                    "port": contracts.GATEWAY_HTTPS_PORT,
                }
            }
        ],
        # Used only while the route's own backends are ejected (passive health checks).
        "fallback": True,
    }


def backend_tls_spec(peer: Site, gateway: Gateway) -> dict:
    return {
        "targetRefs": [
            {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": backend_name(peer)}
        ],
        "validation": {
            "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": CA_BUNDLE}],
            "hostname": f"{peer.name}.{gateway.hostname}",
        },
    }


@dataclass(frozen=True)
class ModelRoutesArgs:
    """Inputs of `ModelRoutes`."""

    site: Site
    peers: Sequence[Site]
    """The other active sites whose gateways take over when every local replica fails."""
    gateway: Gateway
    routes: dict[str, list[dict]]
    """Model name → its Services with their weights (`model_service.routes`)."""
    provider: k8s.Provider
    after: list[pulumi.Resource]


class ModelRoutes(pulumi.ComponentResource):
    """HTTPRoutes of the site's models and the fallback Backends
    (`deepseek:gateway:ModelRoutes`)."""

    def __init__(
        self, name: str, args: ModelRoutesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:ModelRoutes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.after)
        in_inference = {"namespace": contracts.INFERENCE}
        backends = []
        for peer in args.peers:
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
                spec=http_route_spec(model, routes, args.site, args.gateway, args.peers),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=backends)
                ),
            )
        self.register_outputs({})
