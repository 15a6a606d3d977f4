"""The internal CA in each cluster: cert-manager with a CA ClusterIssuer whose key is the
`gatewayCaPrivateKey` Pulumi secret. It signs the gateway's serving certificate and its
client certificate for failover to the other site; client certificates are checked
against the same CA."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Gateway, Mirrors
from components.context import SiteContext

ISSUER = "internal-ca"
CA_SECRET = "internal-ca"
CA_BUNDLE = "internal-ca-bundle"
"""ConfigMap with the CA certificate (`ca.crt`), where TLS peers are verified against it."""


def cert_manager_values(mirrors: Mirrors) -> dict:
    quay = mirror(mirrors, "quay.io/jetstack")
    return {
        "crds": {"enabled": True, "keep": True},
        "image": {"repository": f"{quay}/cert-manager-controller"},
        "webhook": {"image": {"repository": f"{quay}/cert-manager-webhook"}},
        "cainjector": {"image": {"repository": f"{quay}/cert-manager-cainjector"}},
        "acmesolver": {"image": {"repository": f"{quay}/cert-manager-acmesolver"}},
        "startupapicheck": {"image": {"repository": f"{quay}/cert-manager-startupapicheck"}},
        "prometheus": {"enabled": True},
    }


@dataclass(frozen=True)
class InternalCaArgs:
    """Inputs of `InternalCa`."""

    ctx: SiteContext
    gateway: Gateway
    """The CA certificate and the cert-manager chart version."""
    ca_private_key: pulumi.Output[str]
    """The CA's key: a secret, passed only to the Secret that holds it."""


class InternalCa(pulumi.ComponentResource):
    """cert-manager, the CA issuer and the CA bundle (`deepseek:gateway:InternalCa`)."""

    issuer: k8s.apiextensions.CustomResource
    bundles: dict[str, k8s.core.v1.ConfigMap]

    def __init__(
        self, name: str, args: InternalCaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:gateway:InternalCa", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        release = mirrored_release(
            f"{name}-cert-manager",
            chart="cert-manager",
            version=args.gateway.cert_manager_chart_version,
            namespace=contracts.CERT_MANAGER,
            values=cert_manager_values(ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.CERT_MANAGER)])
            ),
        )
        # A ClusterIssuer reads its CA from cert-manager's own namespace.
        ca = k8s.core.v1.Secret(
            f"{name}-ca",
            metadata={"name": CA_SECRET, "namespace": contracts.CERT_MANAGER},
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": args.gateway.ca_certificate,
                "tls.key": args.ca_private_key,
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.CERT_MANAGER)])
            ),
        )
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata={"name": ISSUER},
            spec={"ca": {"secretName": CA_SECRET}},
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[release, ca])
            ),
        )
        self.bundles = {
            namespace: k8s.core.v1.ConfigMap(
                f"{name}-bundle-{namespace}",
                metadata={"name": CA_BUNDLE, "namespace": namespace},
                data={"ca.crt": args.gateway.ca_certificate},
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[ctx.namespace(namespace)])
                ),
            )
            for namespace in (contracts.GATEWAY, contracts.INFERENCE)
        }
        self.register_outputs({})
