"""One data center: the component that the layers of a site (hosts, Kubernetes, Ceph,
serving, monitoring, gateway) hang under."""

import asyncio

import pulumi
import pulumi_command

from components import contracts
from components.config import (
    Gateway,
    Kubernetes,
    Mirrors,
    ModelDeployment,
    Monitoring,
    Nvidia,
    Preflight,
    Serving,
    Ssh,
)
from components.config import Site as SiteSpec
from components.gateway.certificates import InternalCa, InternalCaArgs
from components.gateway.envoy_gateway import GatewayArgs, ZeroTrustGateway
from components.gateway.load_balancer import MetalLb, MetalLbArgs
from components.gateway.routes import ModelRoutes, ModelRoutesArgs
from components.inventory import api_endpoint, gpu_inventory, site_summary
from components.kubernetes.baseline import BaselineArgs, ClusterBaseline
from components.kubernetes.cluster import ClusterArgs, ClusterNode, KubernetesCluster
from components.kubernetes.cni import Calico, CalicoArgs
from components.kubernetes.gpu_operator import GpuOperator, GpuOperatorArgs
from components.kubernetes.local_path import LocalPathArgs, LocalPathProvisioner
from components.kubernetes.network_policies import (
    IsolationArgs,
    NamespaceIsolation,
    peer_gateways,
)
from components.kubernetes.training import TrainingArgs, TrainingOperator
from components.metal.host import BareMetalHost, HostArgs, preflight_run_id
from components.metal.steps import peer_ring
from components.serving.site_serving import SiteServing, SiteServingArgs
from components.stack_config import PlatformSecrets


class SiteArgs:
    """Inputs of a `Site`."""

    def __init__(
        self,
        spec: SiteSpec,
        config_path: str,
        mirrors: Mirrors,
        ssh: Ssh,
        preflight: Preflight,
        nvidia: Nvidia,
        kubernetes: Kubernetes,
        secrets: PlatformSecrets,
        models: list[ModelDeployment],
        serving: Serving,
        monitoring: Monitoring,
        active_sites: int,
        sites: list[SiteSpec],
        gateway: Gateway | None,
    ) -> None:
        self.spec = spec
        """The validated site config."""
        self.config_path = config_path
        """Where config declares the site, e.g. `sites[1]`."""
        self.preflight = preflight
        """Preflight minimums for the site's hosts."""
        self.nvidia = nvidia
        """How GPU hosts get the NVIDIA stack."""
        self.kubernetes = kubernetes
        """Versions and device-plugin profiles of the site's cluster."""
        self.mirrors = mirrors
        """Internal mirrors every host and workload pulls from."""
        self.ssh = ssh
        """SSH user and port for host bring-up."""
        self.secrets = secrets
        """Secret config; passed to the children that need it, never stored as props."""
        self.models = list(models)
        """Models the stack serves: every site serves all of them."""
        self.serving = serving
        self.monitoring = monitoring
        self.active_sites = active_sites
        """Active sites of the stack: at rest each carries its share of the load."""
        self.sites = sites
        """Every site of the stack (the gateway fails over to the other active ones)."""
        self.gateway = gateway


class Site(pulumi.ComponentResource):
    """A data center of the platform (`deepseek:site:Site`)."""

    name: str
    hosts: dict[str, BareMetalHost]
    api_endpoint: pulumi.Output[str]
    gpus: pulumi.Output[dict[str, int]]
    summary: pulumi.Output[dict[str, object]]

    def __init__(
        self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = args.spec
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
        self.cluster = KubernetesCluster(
            f"{name}-cluster",
            ClusterArgs(
                spec,
                args.kubernetes,
                args.mirrors,
                {
                    host_name: ClusterNode(host.connection, host.ready, host.last_step)
                    for host_name, host in self.hosts.items()
                },
                command_provider,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self._addons(name, args, self.cluster)
        self.api_endpoint = pulumi.Output.from_input(api_endpoint(spec))
        self.gpus = pulumi.Output.from_input(gpu_inventory(spec.hosts))
        self.summary = pulumi.Output.from_input(site_summary(spec))
        self.register_outputs(
            {"apiEndpoint": self.api_endpoint, "gpus": self.gpus, "summary": self.summary}
        )

    def _addons(self, name: str, args: SiteArgs, cluster: KubernetesCluster) -> None:
        # Everything in-cluster goes through the cluster's provider and hangs under it.
        provider = cluster.provider
        under_cluster = pulumi.ResourceOptions(parent=cluster)
        baseline = ClusterBaseline(
            f"{name}-baseline",
            BaselineArgs(provider, tuple(args.kubernetes.privileged_namespaces)),
            under_cluster,
        )
        namespaces = baseline.namespaces
        Calico(
            f"{name}-calico",
            CalicoArgs(
                args.spec,
                args.kubernetes,
                args.mirrors,
                provider,
                namespaces[contracts.CALICO_OPERATOR],
            ),
            under_cluster,
        )
        GpuOperator(
            f"{name}-gpu-operator",
            GpuOperatorArgs(
                args.kubernetes,
                args.nvidia,
                args.mirrors,
                provider,
                namespaces[contracts.GPU_OPERATOR],
            ),
            under_cluster,
        )
        LocalPathProvisioner(
            f"{name}-local-path",
            LocalPathArgs(
                args.spec, args.kubernetes, args.mirrors, provider, namespaces[contracts.LOCAL_PATH]
            ),
            under_cluster,
        )
        NamespaceIsolation(
            f"{name}-isolation",
            IsolationArgs(args.spec, args.sites, args.gateway, provider, namespaces),
            under_cluster,
        )
        self.gateway = None
        if args.gateway is not None:
            self.gateway = self._gateway(name, args, provider, namespaces, under_cluster)
        self.serving = None
        if args.models:
            self.serving = SiteServing(
                f"{name}-serving",
                SiteServingArgs(
                    site=args.spec,
                    models=args.models,
                    active_sites=args.active_sites,
                    kubernetes=args.kubernetes,
                    serving=args.serving,
                    monitoring=args.monitoring,
                    mirrors=args.mirrors,
                    provider=provider,
                    inference_namespace=namespaces[contracts.INFERENCE],
                    monitoring_namespace=namespaces[contracts.MONITORING],
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
                    site=args.spec,
                    peers=peer_gateways(args.spec, args.sites),
                    gateway=args.gateway,
                    routes=self.serving.routes,
                    provider=provider,
                    after=[self.gateway, self.serving],
                ),
                under_cluster,
            )
        TrainingOperator(
            f"{name}-training",
            TrainingArgs(
                args.kubernetes,
                args.mirrors,
                args.spec.region,
                provider,
                namespaces[contracts.KUBEFLOW],
                namespaces[contracts.TRAINING],
            ),
            under_cluster,
        )

    def _gateway(self, name, args, provider, namespaces, under_cluster) -> ZeroTrustGateway:
        ca = InternalCa(
            f"{name}-internal-ca",
            InternalCaArgs(
                args.gateway,
                args.mirrors,
                provider,
                namespaces,
                args.secrets.gateway_ca_private_key,
            ),
            under_cluster,
        )
        after: list[pulumi.Resource] = [ca.issuer, *ca.bundles.values()]
        if args.spec.load_balancer.mode != "sdn":
            after.append(
                MetalLb(
                    f"{name}-metallb",
                    MetalLbArgs(
                        args.spec.load_balancer,
                        args.gateway,
                        args.mirrors,
                        provider,
                        namespaces[contracts.METALLB],
                    ),
                    under_cluster,
                )
            )
        return ZeroTrustGateway(
            f"{name}-gateway",
            GatewayArgs(
                args.spec,
                args.gateway,
                args.mirrors,
                provider,
                namespaces[contracts.GATEWAY],
                after,
            ),
            under_cluster,
        )

    def _hosts(
        self, name: str, args: SiteArgs, provider: pulumi.ProviderResource
    ) -> dict[str, BareMetalHost]:
        spec = args.spec
        peers = peer_ring([host.name for host in spec.hosts])
        addresses = {host.name: str(host.address) for host in spec.hosts}
        specs = {host.name: host for host in spec.hosts}
        clients = {peer: client for client, peer in peers.items()}
        # A host's link test needs its peer's iperf3 server, and the peers form a ring, so
        # each host receives its peer's server as a future, resolved when the peer exists.
        loop = asyncio.get_event_loop()
        servers = {host.name: loop.create_future() for host in spec.hosts}
        hosts: dict[str, BareMetalHost] = {}
        try:
            for index, host in enumerate(spec.hosts):
                peer = peers.get(host.name)
                hosts[host.name] = BareMetalHost(
                    f"{name}-{host.name}",
                    HostArgs(
                        spec=host,
                        config_path=f"{args.config_path}.hosts[{index}]",
                        ssh=args.ssh,
                        ssh_private_key=args.secrets.ssh_private_key,
                        command_provider=provider,
                        mirrors=args.mirrors,
                        ntp_servers=tuple(str(s) for s in spec.network.ntp_servers),
                        preflight=args.preflight,
                        nvidia=args.nvidia,
                        peer_address=addresses[peer] if peer else None,
                        peer_server=pulumi.Output.from_input(servers[peer]) if peer else None,
                        iperf_client=(
                            preflight_run_id(
                                specs[clients[host.name]], args.preflight, addresses[host.name]
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
