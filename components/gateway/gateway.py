"""The zero-trust gateway of a site (`deepseek:gateway:Gateway`): Envoy Gateway from the chart
mirror, and the Gateway API resources and Envoy Gateway policies that `envoy_gateway.py`
specifies (why Envoy Gateway, and what passes it, are told there)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirrored_release
from components.config import Gateway as GatewayConfig
from components.context import SiteContext
from components.gateway.envoy_gateway import (
    GATEWAY,
    GATEWAY_CLASS,
    backend_traffic_policy_spec,
    certificate_spec,
    client_traffic_policy_spec,
    envoy_proxy_spec,
    gateway_spec,
    gateway_values,
    hostnames,
    security_policy_spec,
)


@dataclass(frozen=True)
class GatewayArgs:
    """Inputs of `Gateway`."""

    ctx: SiteContext
    gateway: GatewayConfig
    """Hostname, identity provider, clients, tenants, chart version."""
    after: list[pulumi.Resource]
    """The CA issuer, its bundle and the load balancer, which the gateway needs first."""


class Gateway(pulumi.ComponentResource):
    """Envoy Gateway and the site's Gateway with its policies (`deepseek:gateway:Gateway`)."""

    address: pulumi.Output[str]
    hostnames: pulumi.Output[list]

    def __init__(
        self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:Gateway", name, None, opts)
        ctx, gateway = args.ctx, args.gateway
        site = ctx.site
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        release = mirrored_release(
            f"{name}-envoy-gateway",
            chart="gateway-helm",
            version=gateway.envoy_gateway_chart_version,
            namespace=contracts.GATEWAY,
            values=gateway_values(gateway, ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.GATEWAY)])
            ),
        )
        after = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[release, *args.after])
        )

        def resource(suffix: str, api: str, kind: str, metadata: dict, spec: dict):
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=api,
                kind=kind,
                metadata=metadata,
                spec=spec,
                opts=after,
            )

        in_gateway = {"namespace": contracts.GATEWAY}
        eg = "gateway.envoyproxy.io/v1alpha1"
        gw_api = "gateway.networking.k8s.io/v1"
        resource(
            "serving-certificate",
            "cert-manager.io/v1",
            "Certificate",
            {"name": "deepseek-gateway", **in_gateway},
            certificate_spec(site, gateway, client=False),
        )
        resource(
            "client-certificate",
            "cert-manager.io/v1",
            "Certificate",
            {"name": "deepseek-gateway-client", **in_gateway},
            certificate_spec(site, gateway, client=True),
        )
        resource(
            "proxy",
            eg,
            "EnvoyProxy",
            {"name": "deepseek", **in_gateway},
            envoy_proxy_spec(site, gateway, ctx.mirrors),
        )
        resource(
            "class",
            gw_api,
            "GatewayClass",
            {"name": GATEWAY_CLASS},
            {
                "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": "deepseek",
                    "namespace": contracts.GATEWAY,
                },
            },
        )
        resource("gateway", gw_api, "Gateway", {"name": GATEWAY, **in_gateway}, gateway_spec())
        security = security_policy_spec(gateway)
        if security is not None:
            resource(
                "authentication",
                eg,
                "SecurityPolicy",
                {"name": "authentication", **in_gateway},
                security,
            )
        resource(
            "client-tls",
            eg,
            "ClientTrafficPolicy",
            {"name": "client-tls", **in_gateway},
            client_traffic_policy_spec(gateway),
        )
        resource(
            "limits",
            eg,
            "BackendTrafficPolicy",
            {"name": "rate-limits-and-health", **in_gateway},
            backend_traffic_policy_spec(gateway),
        )
        self.address = pulumi.Output.from_input(site.load_balancer.gateway_address)
        self.hostnames = pulumi.Output.from_input(hostnames(site, gateway))
        self.register_outputs({"address": self.address, "hostnames": self.hostnames})
