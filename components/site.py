"""One data center: the component that the layers of a site (hosts, Kubernetes, Ceph,
serving, monitoring, gateway) hang under."""

import asyncio
from dataclasses import dataclass

import pulumi
import pulumi_command

from components.config import Gateway as GatewayConfig
from components.config import PlatformConfig, PlatformSecrets
from components.config import Site as SiteSpec
from components.context import SiteContext
from components.gateway import allow_policies as gateway_policies
from components.gateway.gateway import Gateway, GatewayArgs
from components.gateway.internal_ca import InternalCa, InternalCaArgs
from components.gateway.metal_lb import MetalLb, MetalLbArgs
from components.gateway.model_routes import ModelRoutes, ModelRoutesArgs
from components.kubernetes import allow_policies as kubernetes_policies
from components.kubernetes.baseline import Baseline, BaselineArgs
from components.kubernetes.calico import Calico, CalicoArgs
from components.kubernetes.cluster import Cluster, ClusterArgs, ClusterNode
from components.kubernetes.gpu_operator import GpuOperator, GpuOperatorArgs
from components.kubernetes.local_path_provisioner import LocalPathArgs, LocalPathProvisioner
from components.kubernetes.namespace_isolation import IsolationArgs, NamespaceIsolation
from components.kubernetes.training_operator import TrainingArgs, TrainingOperator
from components.metal.host import Host, HostArgs, preflight_run_id
from components.plan import SitePlan
from components.serving import allow_policies as serving_policies
from components.serving.site_serving import SiteServing, SiteServingArgs


@dataclass(frozen=True)
class SiteArgs:
    """Inputs of a `Site`."""

    config: PlatformConfig
    """The validated stack config: each layer takes its own section from it."""
    plan: SitePlan
    """The site's derived facts (its config is `plan.spec`)."""
    secrets: PlatformSecrets
    """Secret config; passed to the children that need it, never stored as props."""

    @property
    def spec(self) -> SiteSpec:
        return self.plan.spec


class Site(pulumi.ComponentResource):
    """A data center of the platform (`deepseek:site:Site`)."""

    name: str
    """The site's resource name (`<platform>-<site>`)."""
    hosts: dict[str, Host]
    """The site's hosts, by name in config."""
    cluster: Cluster
    """Its Kubernetes cluster: the provider every in-cluster resource goes through."""
    gateway: Gateway | None
    """The zero-trust gateway, when config has one."""
    serving: SiteServing | None
    """The models served here, when config has any."""
    api_endpoint: pulumi.Output[str]
    gpus: pulumi.Output[dict[str, int]]
    summary: pulumi.Output[dict[str, object]]

    def __init__(
        self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec, config = args.spec, args.config
        super().__init__(
            "deepseek:site:Site",
            name,
            {"jurisdiction": spec.jurisdiction, "region": spec.region, "role": spec.role},
            opts,
        )
        self.name = name
        # Default providers are disabled: every SSH step names this one.
        command_provider = pulumi_command.Provider(
            f"{name}-command", opts=pulumi.ResourceOptions(parent=self)
        )
        self.hosts = self._hosts(name, args, command_provider)
        self.cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                args.plan,
                config.kubernetes,
                config.mirrors,
                {
                    host_name: ClusterNode(host.connection, host.ready, host.last_step)
                    for host_name, host in self.hosts.items()
                },
                command_provider,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self._addons(name, args, self.cluster)
        self.api_endpoint = pulumi.Output.from_input(args.plan.api_endpoint)
        self.gpus = pulumi.Output.from_input(dict(args.plan.gpus))
        self.summary = pulumi.Output.from_input(args.plan.summary())
        self.register_outputs(
            {"apiEndpoint": self.api_endpoint, "gpus": self.gpus, "summary": self.summary}
        )

    def _addons(self, name: str, args: SiteArgs, cluster: Cluster) -> None:
        # Everything in-cluster goes through the cluster's provider and hangs under it.
        config = args.config
        under_cluster = pulumi.ResourceOptions(parent=cluster)
        baseline = Baseline(
            f"{name}-baseline",
            BaselineArgs(cluster.provider, tuple(config.kubernetes.privileged_namespaces)),
            under_cluster,
        )
        ctx = SiteContext(args.plan, cluster.provider, baseline.namespaces, config.mirrors)
        Calico(f"{name}-calico", CalicoArgs(ctx, config.kubernetes), under_cluster)
        GpuOperator(
            f"{name}-gpu-operator",
            GpuOperatorArgs(ctx, config.kubernetes, config.nvidia),
            under_cluster,
        )
        LocalPathProvisioner(
            f"{name}-local-path", LocalPathArgs(ctx, config.kubernetes), under_cluster
        )
        # Each layer says what its namespaces must allow; isolation registers it all.
        allowed = (
            kubernetes_policies.allow_policies(args.plan),
            gateway_policies.allow_policies(args.plan, config.gateway),
            serving_policies.allow_policies(args.plan),
        )
        NamespaceIsolation(f"{name}-isolation", IsolationArgs(ctx, allowed), under_cluster)
        self.gateway = None
        if config.gateway is not None:
            self.gateway = self._gateway(name, args, ctx, config.gateway, under_cluster)
        self.serving = None
        if config.models:
            self.serving = SiteServing(
                f"{name}-serving",
                SiteServingArgs(
                    ctx=ctx,
                    serving=config.serving,
                    monitoring=config.monitoring,
                    priority_classes=baseline.priority_classes,
                    access_key_id=args.secrets.model_store_access_key_id,
                    secret_access_key=args.secrets.model_store_secret_access_key,
                ),
                under_cluster,
            )
        if self.gateway is not None and self.serving is not None:
            ModelRoutes(
                f"{name}-routes",
                ModelRoutesArgs(
                    ctx=ctx,
                    gateway=config.gateway,
                    routes=self.serving.routes,
                    after=[self.gateway, self.serving],
                ),
                under_cluster,
            )
        TrainingOperator(f"{name}-training", TrainingArgs(ctx, config.kubernetes), under_cluster)

    def _gateway(
        self,
        name: str,
        args: SiteArgs,
        ctx: SiteContext,
        gateway: GatewayConfig,
        under_cluster: pulumi.ResourceOptions,
    ) -> Gateway:
        ca = InternalCa(
            f"{name}-internal-ca",
            InternalCaArgs(ctx, gateway, args.secrets.gateway_ca_private_key),
            under_cluster,
        )
        after: list[pulumi.Resource] = [ca.issuer, *ca.bundles.values()]
        if ctx.site.load_balancer.mode != "sdn":
            after.append(MetalLb(f"{name}-metallb", MetalLbArgs(ctx, gateway), under_cluster))
        return Gateway(f"{name}-gateway", GatewayArgs(ctx, gateway, after), under_cluster)

    def _hosts(
        self, name: str, args: SiteArgs, provider: pulumi.ProviderResource
    ) -> dict[str, Host]:
        spec, config = args.spec, args.config
        peers = args.plan.iperf_peers
        addresses = {host.name: str(host.address) for host in spec.hosts}
        specs = {host.name: host for host in spec.hosts}
        clients = {peer: client for client, peer in peers.items()}
        # A host's link test needs its peer's iperf3 server, and the peers form a ring, so
        # each host receives its peer's server as a future, resolved when the peer exists.
        loop = asyncio.get_event_loop()
        servers = {host.name: loop.create_future() for host in spec.hosts}
        hosts: dict[str, Host] = {}
        try:
            for index, host in enumerate(spec.hosts):
                peer = peers.get(host.name)
                hosts[host.name] = Host(
                    f"{name}-{host.name}",
                    HostArgs(
                        spec=host,
                        config_path=f"{args.plan.config_path}.hosts[{index}]",
                        ssh=config.ssh,
                        ssh_private_key=args.secrets.ssh_private_key,
                        command_provider=provider,
                        mirrors=config.mirrors,
                        ntp_servers=tuple(str(s) for s in spec.network.ntp_servers),
                        preflight=config.preflight,
                        nvidia=config.nvidia,
                        peer_address=addresses[peer] if peer else None,
                        peer_server=pulumi.Output.from_input(servers[peer]) if peer else None,
                        iperf_client=(
                            preflight_run_id(
                                specs[clients[host.name]],
                                config.preflight,
                                addresses[host.name],
                            )
                            if host.name in clients
                            else None
                        ),
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                servers[host.name].set_result(hosts[host.name].net_server)
        except BaseException as error:
            # A host that failed to build would leave its peer waiting for ever on the
            # future of its iperf3 server: fail those futures too, so the program ends.
            for future in servers.values():
                if not future.done():
                    future.set_exception(error)
            raise
        return hosts
