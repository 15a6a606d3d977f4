"""Routes from the gateway to the models of a site: one HTTPRoute per model, weighted
between the stable and canary Services (the guide's grey release), with the other active
sites' gateways as fallback when every local replica fails (active-active failover).

Traffic that already failed over carries a header and is served locally only, so two sites
that are both down answer 503 instead of passing a request back and forth.

Pure spec functions; `model_routes.py` (`ModelRoutes`) registers them."""

from collections.abc import Sequence

from components import contracts
from components.config import Gateway, Site
from components.gateway.envoy_gateway import GATEWAY, hostnames
from components.gateway.internal_ca import CA_BUNDLE

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
