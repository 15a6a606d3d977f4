"""Egress control (the guide's 出口流量管控): every namespace denies all traffic in both
directions and may ask DNS; the namespaces whose pods call the API server may reach it. Every
other allow is its layer's (each layer's pure `allow_policies`, merged by Site);
`NamespaceIsolation` registers them all, under one name scheme.

Ingress from outside the cluster is matched on the client's own address: the gateway's
Service keeps it (externalTrafficPolicy: Local)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Site
from components.context import SiteContext
from components.network_policy import api_server_egress, default_deny, dns_egress


def namespace_policies(site: Site) -> dict[str, dict[str, dict]]:
    """namespace → policy name → NetworkPolicy spec: default-deny and DNS for every namespace
    we create, and the API server for the namespaces whose pods call it."""
    policies: dict[str, dict[str, dict]] = {
        namespace: {"default-deny": default_deny(), "allow-dns": dns_egress()}
        for namespace in (*contracts.WORKLOAD_NAMESPACES, *contracts.SYSTEM_NAMESPACES)
    }
    for namespace in contracts.API_CLIENT_NAMESPACES:
        policies[namespace]["allow-api-server"] = api_server_egress(site)
    return policies


def with_allows(
    own: Mapping[str, Mapping[str, dict]], *allowed: Mapping[str, Mapping[str, dict]]
) -> dict[str, dict[str, dict]]:
    """`own` and each layer's `allowed` in one map; a namespace we do not create, or a
    policy name given twice (by two layers, or a layer and `own`), is refused."""
    merged = {namespace: dict(policies) for namespace, policies in own.items()}
    for layer in allowed:
        for namespace, policies in layer.items():
            if namespace not in merged:
                raise ValueError(f"allow-policies for namespace {namespace!r}, which is not ours")
            for name, spec in policies.items():
                if name in merged[namespace]:
                    raise ValueError(f"NetworkPolicy {namespace}/{name} is given twice")
                merged[namespace][name] = spec
    return merged


@dataclass(frozen=True)
class IsolationArgs:
    """Inputs of `NamespaceIsolation`."""

    ctx: SiteContext
    """The site, its provider and the namespaces the policies go into."""
    allowed: Sequence[Mapping[str, Mapping[str, dict]]] = ()
    """Each layer's allow-policies (namespace → policy name → spec), as Site gathers them."""


class NamespaceIsolation(pulumi.ComponentResource):
    """Default-deny and the explicit allows of every namespace
    (`deepseek:kubernetes:NamespaceIsolation`)."""

    def __init__(
        self, name: str, args: IsolationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:kubernetes:NamespaceIsolation", name, None, opts)
        ctx = args.ctx
        for namespace, policies in with_allows(namespace_policies(ctx.site), *args.allowed).items():
            for policy, spec in policies.items():
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{namespace}-{policy}",
                    metadata={"name": policy, "namespace": namespace},
                    spec=spec,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        provider=ctx.provider,
                        depends_on=[ctx.namespace(namespace)],
                    ),
                )
        self.register_outputs({})
