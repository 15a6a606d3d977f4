"""The data layer's config: Ceph on each site's storage hosts (its image, replication, the RGW
object store and its model bucket), the node-local model cache of the GPU hosts, and the
3-2-1 protection (Velero backups, etcd snapshots, the optional HDFS data-lake sync)."""

from ipaddress import IPv4Address
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from components.config.base import CHART_VERSION, DnsLabel, FieldError, Model
from components.config.metal import HostPath

CronSchedule = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*|[0-9,*/-]{1,40}) (\*|[0-9,*/-]{1,40}) (\*|[0-9,*/-]{1,40}) "
        r"(\*|[0-9,*/-]{1,40}) (\*|[0-9,*/-]{1,40})$"
    ),
]
"""A five-field cron schedule (minute hour day month weekday), digits, `*`, `,`, `-`, `/`."""

CephVersion = Annotated[str, StringConstraints(pattern=r"^v?[0-9]{2}\.[0-9]{1,2}\.[0-9]{1,2}$")]


class Rgw(Model):
    """The site's S3 object store (Ceph RGW on every storage host)."""

    port: int = Field(default=8080, ge=1024, le=65535)
    """Port RGW listens on, on the storage hosts and the site's RGW virtual IP."""


class ModelCache(Model):
    """The node-local cache of model weights on the GPU hosts: filled from the site's RGW
    once per node and revision, read by Triton from the local disk."""

    path: HostPath = "/var/lib/deepseek/model-cache"
    """Directory on each GPU host's local disk that holds the cached weights."""
    size_gb: int = Field(default=2000, ge=10, le=1_000_000)
    """Space the cache may use on each GPU host."""
    fill_image: str = Field(
        default="curlimages/curl:8.11.1",
        pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}:[A-Za-z0-9._-]{1,128}$",
    )
    """The image (upstream name, served by the internal registry) whose curl fills the cache
    (S3 requests signed with SigV4)."""


class Storage(Model):
    """Ceph, stack-wide: built at every site that has hosts with role `storage`."""

    ceph_version: CephVersion = "v18.2.4"
    """Tag of the `ceph/ceph` image on the internal registry; cephadm on the hosts must be of
    the same release."""
    replica_size: int = Field(default=3, ge=2, le=7)
    """Copies Ceph keeps of every object (pool `size`), each on another storage host."""
    min_size: int = Field(default=2, ge=2, le=7)
    """Copies that must be written before a write is acknowledged (pool `min_size`)."""
    headroom_percent: int = Field(default=20, ge=0, le=90)
    """Share of the usable capacity kept free (Ceph stops writes at 95 % full)."""
    revisions_kept: int = Field(default=2, ge=1, le=20)
    """Revisions of each model kept in the model bucket (the served one and earlier ones)."""
    model_bucket: str = Field(
        default="deepseek-models", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )
    rgw: Rgw = Rgw()
    model_cache: ModelCache = ModelCache()
    ceph_csi_chart_version: str = Field(default="3.13.0", pattern=CHART_VERSION)
    """The `ceph-csi-rbd` chart; its plugin image is pinned to the same release."""

    @model_validator(mode="after")
    def _min_size_below_size(self) -> "Storage":
        if self.min_size > self.replica_size:
            raise FieldError(
                f"minSize {self.min_size} is larger than replicaSize {self.replica_size}: no "
                "write could ever be acknowledged",
                "set minSize to replicaSize - 1 (e.g. replicaSize 3, minSize 2)",
            )
        return self


class SiteStorage(Model):
    """A site's own storage settings (required where the site has storage hosts)."""

    rgw_virtual_ip: IPv4Address
    """The address of the site's RGW (cephadm's ingress: haproxy and keepalived on the
    storage hosts), in the site's node network: the model store's endpoint."""


class DataLake(Model):
    """An HDFS data lake per active site, kept in sync between them (the guide's DistCp)."""

    namenodes: dict[
        DnsLabel,
        Annotated[
            str,
            StringConstraints(
                pattern=r"^hdfs://[a-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?$"
            ),
        ],
    ]
    """Site name → the HDFS URL of its data lake (e.g. hdfs://nn.dc-a.bank.internal:8020/lake)."""
    schedule: CronSchedule = "30 3 * * *"
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}:[A-Za-z0-9._-]{1,128}$")
    """An image with Hadoop's `hadoop distcp` (upstream name, served by the internal registry)."""


class Backup(Model):
    """3-2-1 protection: Velero backups of every namespace's volumes and objects, etcd
    snapshots, each to another site of the same jurisdiction."""

    schedule: CronSchedule = "0 2 * * *"
    """When Velero backs up each cluster (cron, in the cluster's time zone, UTC)."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    targets: dict[DnsLabel, DnsLabel] = {}
    """Site → the site whose RGW holds its backups and etcd snapshots (another site of the
    same jurisdiction, e.g. dc-a: dc-b and dc-b: dc-a)."""
    etcd_snapshot_hours: int = Field(default=6, ge=1, le=168)
    """Hours between two etcd snapshots of each control plane."""
    velero_chart_version: str = Field(default="8.1.0", pattern=CHART_VERSION)
    velero_aws_plugin_version: str = Field(default="v1.11.1", pattern=CHART_VERSION)
    data_lake: DataLake | None = None
