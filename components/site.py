"""One data center: the component that the layers of a site (hosts, Kubernetes, Ceph,
serving, monitoring, gateway) hang under."""

import asyncio
from dataclasses import dataclass

import pulumi
import pulumi_command

from components.config import PlatformConfig, PlatformSecrets
from components.config import Site as SiteSpec
from components.context import SiteContext
from components.gateway import allow_policies as gateway_policies
from components.gateway.site_gateway import SiteGateway, SiteGatewayArgs
from components.kubernetes import allow_policies as kubernetes_policies
from components.kubernetes.addons import Addons, AddonsArgs
from components.kubernetes.cluster import Cluster, ClusterArgs, ClusterNode
from components.kubernetes.etcd_snapshots import (
    EtcdSnapshots,
    EtcdSnapshotsArgs,
    EtcdSnapshotTarget,
)
from components.kubernetes.rollout import Rollout, RolloutArgs, RolloutHost
from components.kubernetes.scheduling import pods_per_node, site_nodes
from components.metal.host import Host, HostArgs, preflight_run_id
from components.plan import SitePlan
from components.serving import allow_policies as serving_policies
from components.serving.cached_weights import WeightsCache, weights_by_host
from components.serving.capacity import gpu_share
from components.serving.model_load import weights_bytes
from components.serving.model_service import scheduling
from components.serving.site_serving import SiteServing, SiteServingArgs
from components.storage.bucket_copies import (
    BucketCopies,
    BucketCopiesArgs,
    CopyLink,
    HomeStore,
    S3Access,
)
from components.storage.ceph_cluster import BucketUser, CephCluster, CephClusterArgs, StorageNode
from components.storage.ceph_csi import CephCsi, CephCsiArgs
from components.storage.data_lake_sync import DataLakeSync, DataLakeSyncArgs
from components.storage.model_cache import (
    CacheHost,
    ModelCache,
    ModelCacheArgs,
    ModelStoreAccess,
)
from components.storage.model_cache_manifests import CachedRevision
from components.storage.velero import BackupTarget, Velero, VeleroArgs


@dataclass(frozen=True)
class SiteArgs:
    """Inputs of a `Site`."""

    config: PlatformConfig
    """The validated stack config: each layer takes its own section from it."""
    plan: SitePlan
    """The site's derived facts (its config is `plan.spec`)."""
    secrets: PlatformSecrets
    """Secret config; passed to the children that need it, never stored as props."""
    rollout_after: tuple[pulumi.Resource, ...] = ()
    """The previous site's rollout (`rollout.siteOrder`): this site's changes wait for it."""
    bucket_users: tuple[BucketUser, ...] = ()
    """RGW users and buckets the site's Ceph makes for others: the backups of the sites whose
    `backup.targets` name this one (keys made by the platform)."""
    backup_target: BackupTarget | None = None
    """Where this site's backups go (`backup.targets`), when it has a target."""
    etcd_snapshot_target: EtcdSnapshotTarget | None = None
    """Where its control planes' etcd snapshots go (the same target), when they are taken."""
    bucket_copies: CopyLink | None = None
    """The target's side of the site's cross-site bucket copies, where they are made (a site
    with Ceph and a backup target)."""

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
    """Its Kubernetes cluster and baseline: the provider every in-cluster resource goes
    through, the namespaces and priority classes."""
    rollout: Rollout
    """The order in which a change reaches its live hosts."""
    gateway: SiteGateway | None
    """The gateway layer (internal CA, load balancer, zero-trust Gateway, routes), when config
    has a gateway."""
    serving: SiteServing | None
    """The models served here, when config has any."""
    model_cache: ModelCache | None
    """The GPU hosts' node-local cache of the served weights (data layer), with the models."""
    storage: CephCluster | None
    """Ceph on the site's storage hosts (the data layer), when it has any."""
    etcd_snapshots: EtcdSnapshots | None
    """Its control planes' off-site etcd snapshots, when it has a backup target."""
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
        self._command_provider = command_provider
        self.hosts = self._hosts(name, args, command_provider)
        # Ceph on the storage hosts: after their own OS steps, apart from Kubernetes.
        storage_hosts = [host.name for host in spec.hosts_with_role("storage")]
        self.storage = None
        if storage_hosts:
            self.storage = CephCluster(
                f"{name}-storage",
                CephClusterArgs(
                    args.plan,
                    config.storage,
                    config.mirrors,
                    {
                        host: StorageNode(
                            self.hosts[host].connection,
                            self.hosts[host].ready,
                            self.hosts[host].last_step,
                        )
                        for host in storage_hosts
                    },
                    command_provider,
                    args.bucket_users,
                ),
                pulumi.ResourceOptions(parent=self),
            )
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
                name,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.etcd_snapshots = None
        if config.backup is not None and args.etcd_snapshot_target is not None:
            self.etcd_snapshots = EtcdSnapshots(
                f"{name}-etcd-snapshots",
                EtcdSnapshotsArgs(
                    args.plan,
                    config.backup,
                    {
                        host_name: ClusterNode(host.connection, host.ready, host.last_step)
                        for host_name, host in self.hosts.items()
                    },
                    command_provider,
                    args.etcd_snapshot_target,
                    # Its Provider comes once every control plane joined and the API answers.
                    after=(self.cluster.provider,),
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.rollout = Rollout(
            f"{name}-rollout",
            RolloutArgs(
                args.plan,
                config.rollout,
                config.kubernetes,
                config.mirrors,
                {
                    host_name: RolloutHost(
                        host.reboot_safe_connection,
                        host.ready,
                        tuple((c.step, c.environment) for c in host.changes),
                        host.gpu_verdict if host.gpu_checked else None,
                        reachable=host.reachable,
                        recheck=host.remeasure,
                    )
                    for host_name, host in self.hosts.items()
                },
                command_provider,
                {
                    host.name: (share.resource, host.gpu.count * share.per_gpu)
                    for host in spec.hosts
                    if host.gpu
                    for share in [gpu_share(config.kubernetes, host.gpu.model)]
                },
                args.rollout_after,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self._layers(name, args, self.cluster)
        self.api_endpoint = pulumi.Output.from_input(args.plan.api_endpoint)
        self.gpus = pulumi.Output.from_input(dict(args.plan.gpus))
        self.summary = pulumi.Output.from_input(args.plan.summary())
        self.register_outputs(
            {"apiEndpoint": self.api_endpoint, "gpus": self.gpus, "summary": self.summary}
        )

    def _layers(self, name: str, args: SiteArgs, cluster: Cluster) -> None:
        # One component per in-cluster layer, each built from the site's context. They hung
        # under the cluster before they had a layer component: each names it as an alias.
        config = args.config
        ctx = SiteContext(
            args.plan, cluster.provider, cluster.baseline.namespaces, config.mirrors, name
        )
        # Each layer says what its namespaces must allow; isolation registers it all.
        allowed = (
            kubernetes_policies.allow_policies(args.plan),
            gateway_policies.allow_policies(args.plan, config.gateway),
            serving_policies.allow_policies(args.plan),
        )
        under_site = pulumi.ResourceOptions(parent=self)
        Addons(
            f"{name}-addons",
            AddonsArgs(ctx, config.kubernetes, config.nvidia, allowed, moved_from=cluster),
            under_site,
        )
        # The data layer in the cluster: ceph-csi where the site runs Ceph, Velero where it
        # backs up to another site.
        if self.storage is not None:
            ceph = self.storage
            CephCsi(
                f"{name}-ceph-csi",
                CephCsiArgs(
                    ctx,
                    config.storage,
                    ceph.fsid,
                    ceph.monitors,
                    ceph.csi_user,
                    ceph.csi_key,
                    ceph.rbd_pool,
                    ceph.ready,
                ),
                under_site,
            )
        if config.backup is not None and args.backup_target is not None:
            Velero(
                f"{name}-velero",
                VeleroArgs(ctx, config.backup, config.kubernetes.version, args.backup_target),
                under_site,
            )
        # The cross-site copies: its model bucket to the target, its backups back from there.
        spec = args.spec
        if args.bucket_copies is not None:
            ceph = self.storage
            if config.backup is None or ceph is None or spec.storage is None:
                # protection.bucket_copy_targets names only sites with Ceph and a target.
                raise ValueError(f"site {spec.name} has bucket copies but no Ceph or backup")
            BucketCopies(
                f"{name}-bucket-copies",
                BucketCopiesArgs(
                    ctx,
                    config.backup,
                    HomeStore(
                        spec.storage.rgw_virtual_ip,
                        S3Access(
                            ceph.rgw_endpoint,
                            ceph.model_bucket,
                            ceph.model_store_access_key_id,
                            ceph.model_store_secret_access_key,
                        ),
                        ceph.ready,
                    ),
                    args.bucket_copies,
                ),
                under_site,
            )
        self.serving = None
        self.model_cache = None
        if config.models:
            self.serving = SiteServing(
                f"{name}-serving",
                SiteServingArgs(
                    ctx=ctx,
                    serving=config.serving,
                    monitoring=config.monitoring,
                    priority_classes=cluster.baseline.priority_classes,
                    cache=self._model_cache(name, args, ctx),
                ),
                pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=cluster)]),
            )
        self.gateway = None
        if config.gateway is not None:
            self.gateway = SiteGateway(
                f"{name}-gateway-layer",
                SiteGatewayArgs(
                    ctx,
                    config.gateway,
                    args.secrets.gateway_ca_private_key,
                    routes=self.serving.routes if self.serving else None,
                    serving=self.serving,
                    moved_from=cluster,
                ),
                under_site,
            )
        # The HDFS data-lake sync (optional): at the sites whose lake config names.
        data_lake = config.backup.data_lake if config.backup else None
        if data_lake is not None and args.spec.name in data_lake.namenodes:
            DataLakeSync(f"{name}-data-lake", DataLakeSyncArgs(ctx, data_lake), under_site)

    def _model_cache(self, name: str, args: SiteArgs, ctx: SiteContext) -> WeightsCache:
        """The node-local model cache of what the site serves (`self.model_cache`), on the
        hosts where the scheduler may place each model's pods (from config, as it filters),
        filled from the site's model store; returned as the serving layer reads it."""
        spec, config = args.spec, args.config
        reachable = {host.name for host in spec.hosts if host.reachable}
        nodes = [node for node in site_nodes(spec, config.kubernetes) if node.name in reachable]
        placed = weights_by_host(
            args.plan.serving,
            lambda plan: scheduling(plan, spec),
            lambda pod: [node.name for node in nodes if pods_per_node(pod, node)],
        )
        revisions = [
            CachedRevision(model, precision, revision, hosts, weights_bytes(model, precision))
            for (model, precision, revision), hosts in placed.items()
        ]
        self.model_cache = ModelCache(
            f"{name}-model-cache",
            ModelCacheArgs(
                ctx,
                config.storage.model_cache,
                self._model_store(args),
                revisions,
                {
                    name: CacheHost(host.connection, host.last_step)
                    for name, host in self.hosts.items()
                },
                self._command_provider,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        cache = self.model_cache
        return WeightsCache(
            cache.claim_name,
            cache.complete_marker,
            cache.paths,
            cache.fills,
            {revision.key: revision.nodes for revision in revisions},
        )

    def _model_store(self, args: SiteArgs) -> ModelStoreAccess:
        """Where the site's weights come from: the external S3 store config names
        (`sites[].modelStore`, with the stack's modelStore* secrets), or else the site's own
        Ceph RGW (its endpoint, bucket and generated keys)."""
        spec, config = args.spec, args.config
        external = spec.model_store
        if external is not None:
            return ModelStoreAccess(
                endpoint=external.endpoint,
                bucket=external.bucket,
                access_key_id=args.secrets.model_store_access_key_id,
                secret_access_key=args.secrets.model_store_secret_access_key,
                egress={str(network): external.port for network in external.networks},
                description=f"the model store {external.endpoint}",
            )
        if self.storage is None or spec.storage is None:
            # Validation refuses a site that serves models with neither: a bug if reached.
            raise ValueError(f"site {spec.name} serves models but has no model store")
        rgw = f"{spec.storage.rgw_virtual_ip}:{config.storage.rgw.port}"
        return ModelStoreAccess(
            endpoint=self.storage.rgw_endpoint,
            bucket=self.storage.model_bucket,
            access_key_id=self.storage.model_store_access_key_id,
            secret_access_key=self.storage.model_store_secret_access_key,
            egress={f"{spec.storage.rgw_virtual_ip}/32": config.storage.rgw.port},
            ready=(self.storage.ready,),
            plain_http=True,
            description=f"the site's Ceph RGW at {rgw}",
        )

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

        def remeasure(host_name: str) -> str:
            """The host's re-measure token: the site's and its own."""
            tokens = (spec.remeasure, specs[host_name].remeasure)
            return "/".join(token for token in tokens if token)

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
                        remeasure=remeasure(host.name),
                        iperf_client=(
                            preflight_run_id(
                                specs[clients[host.name]],
                                config.preflight,
                                addresses[host.name],
                                remeasure(clients[host.name]),
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
