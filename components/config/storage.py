"""The data layer's config: Ceph on each site's storage hosts (its image, replication, the RGW
object store and its model bucket), the node-local model cache of the GPU hosts, and the
3-2-1 protection (Velero backups, etcd snapshots, the optional HDFS data-lake sync)."""

import posixpath
import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, NamedTuple
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from components.config.base import CHART_VERSION, DnsLabel, FieldError, Model, internal_network
from components.config.metal import HostPath

CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
"""The five fields of a standard schedule and their ranges, as robfig/cron v3's standard
parser reads them (Velero's schedule controller and Kubernetes' CronJob controller both use it:
Sunday is 0, and 7 is out of range)."""
CRON_FIX = (
    "write five fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6 "
    "(Sunday 0), each *, a number, a range a-b, a list a,b or a step */n, a/n, a-b/n; e.g. "
    "'0 2 * * *'"
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _cron_values(part: str, name: str, low: int, high: int) -> set[int] | str:
    """The values one comma-separated part of a field matches, or what is wrong with it."""
    span, slash, step_text = part.partition("/")
    if "/" in step_text:
        return f"{name} {part!r} has more than one /"
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            return f"{name} {part!r}: the step after / must be a positive number"
        step = int(step_text)
    if span == "*":
        first, last = low, high
    else:
        bounds = span.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return f"{name} {part!r} is not *, a number or a range a-b"
        first = int(bounds[0])
        last = int(bounds[1]) if len(bounds) == 2 else (high if slash else first)
        if first < low or last > high:
            return f"{name} {part!r} is outside {low}-{high}"
        if first > last:
            return f"{name} {part!r} is a range whose start is after its end"
    return set(range(first, last + 1, step))


def cron_problem(schedule: str) -> str | None:
    """What robfig/cron's standard parser would refuse in `schedule` (Velero would set its
    Schedule to FailedValidation and never back up; Kubernetes refuses the CronJob), or a
    schedule that can never fire (February 30th); None when it is sound."""
    fields = schedule.split(" ")
    if len(fields) != 5:
        return f"has {len(fields)} fields separated by single spaces, not 5"
    matched: list[set[int]] = []
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        values: set[int] = set()
        for part in text.split(","):
            found = _cron_values(part, name, low, high)
            if isinstance(found, str):
                return found
            values |= found
        matched.append(values)
    _, _, days, months, _ = matched
    # robfig/cron: with a day-of-week restriction, a day matching either day field fires.
    if fields[4] in ("*", "*/1") and not any(
        day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months
    ):
        return "never fires: no month it names has a day of month it names"
    return None


def cron_times_per_day(schedule: str) -> int:
    """How often a sound schedule fires on a day it fires at all (its minutes × its hours)."""
    counts = []
    for text, (name, low, high) in zip(schedule.split(" ")[:2], CRON_FIELDS[:2], strict=True):
        values: set[int] = set()
        for part in text.split(","):
            found = _cron_values(part, name, low, high)
            if isinstance(found, str):
                raise ValueError(f"{schedule!r}: {found}")
            values |= found
        counts.append(len(values))
    return counts[0] * counts[1]


def _every_day(schedule: str) -> str:
    """The bucket copies' schedule runs every day: each sync's deletion guard admits about a
    day of the source's own expiry (components/storage/bucket_copy_spec.py), and a copy made
    less often leaves more of the newest backups at one site."""
    if any(field not in ("*", "*/1") for field in schedule.split(" ")[2:]):
        raise FieldError(
            "restricts the days it runs (day of month, month or day of week): the copies must "
            "run every day, since each run may delete only about two days of what the source "
            "itself expires",
            "keep the last three fields '*' and choose the time, e.g. '0 5 * * *' (or several "
            "times a day, '0 */6 * * *')",
        )
    return schedule


_IMAGE_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._/-]{0,200}:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def _copy_image(image: str) -> str:
    """An upstream repository and a tag that does not move."""
    fix = "write the upstream name and a release tag the internal registry serves, e.g. "
    fix += "rclone/rclone:1.68.2"
    if not _IMAGE_REFERENCE.fullmatch(image):
        raise FieldError(
            "is not an image's upstream repository and tag (a lower-case path, ':' and a tag "
            "of letters, digits, '.', '_' or '-')",
            fix,
        )
    if image.rpartition(":")[2] == "latest":
        raise FieldError("has the tag latest, which moves: each run could pull another rclone", fix)
    return image


def _cron_schedule(schedule: str) -> str:
    problem = cron_problem(schedule)
    if problem is not None:
        raise FieldError(problem, CRON_FIX)
    return schedule


CronSchedule = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9*,/-]{1,40}( [0-9*,/-]{1,40}){4}$"),
    AfterValidator(_cron_schedule),
]
"""A five-field cron schedule (minute hour day month weekday) that robfig/cron v3's standard
parser accepts, digits, `*`, `,`, `-`, `/` only, and that fires at least once a year."""

CephVersion = Annotated[str, StringConstraints(pattern=r"^v?[0-9]{2}\.[0-9]{1,2}\.[0-9]{1,2}$")]


CEPH_HOST_PORTS = (
    ((3300, 3300), "the monitors' msgr2 port"),
    ((6789, 6789), "the monitors' msgr1 port"),
    ((6800, 7300), "the OSDs' and managers' range (ms_bind_port_min-max)"),
    ((1967, 1967), "haproxy's status page (the RGW ingress' monitor_port)"),
    ((8765, 8765), "cephadm's service discovery in the manager"),
    ((9283, 9283), "the manager's Prometheus exporter"),
)
"""Ports Ceph's daemons hold on the storage hosts (no dashboard, no monitoring stack: the
bootstrap skips them), which RGW and its ingress must leave alone."""


class Rgw(Model):
    """The site's S3 object store (Ceph RGW on every storage host)."""

    port: int = Field(default=8080, ge=1024, le=65535)
    """Port RGW listens on, on the storage hosts and the site's RGW virtual IP."""

    @field_validator("port")
    @classmethod
    def _port_free_on_storage_hosts(cls, port: int) -> int:
        for (low, high), holder in CEPH_HOST_PORTS:
            if low <= port <= high:
                raise FieldError(
                    f"port {port} is {holder} on the storage hosts: RGW or its haproxy would "
                    "not start there",
                    "pick a port no Ceph daemon holds, e.g. 8080 (the default) or 7480 "
                    "(RGW's own default)",
                )
        return port


PLATFORM_HOST_DIRS = ("/var/lib/deepseek/applied", "/var/lib/deepseek/local-path")
"""Host directories the platform itself keeps: the remote steps' records (`lib.sh`) and the
local-path provisioner's volumes (`components/kubernetes/local_path_provisioner.py`)."""
MODEL_CACHE_PREFIXES = ("/var/lib/deepseek", "/srv", "/data", "/mnt")
"""Where the model cache may be: the platform's own tree or a data area. Not elsewhere under
/var/lib (other programs' state: the kubelet's pods and Secrets, containerd, etcd) nor /opt
(software: the CNI plugins the kubelet runs as root)."""


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def _model_cache_path(path: str) -> str:
    """A directory of the cache's own: the fill Jobs mount it read-write as UID 10001, and the
    host step that makes it gives an existing directory to that user."""
    fix = (
        "give the cache a directory of its own below "
        f"{', '.join(MODEL_CACHE_PREFIXES)}, e.g. /var/lib/deepseek/model-cache (the default)"
    )
    if not any(_inside(path, prefix) and path != prefix for prefix in MODEL_CACHE_PREFIXES):
        raise FieldError(
            "is not in a data area: the fill Jobs would write, as UID 10001, in another "
            "program's directory (below /opt and elsewhere in /var/lib live software and "
            "state the kubelet and containerd run as root)",
            fix,
        )
    for directory in PLATFORM_HOST_DIRS:
        if _inside(path, directory) or _inside(directory, path):
            raise FieldError(
                f"overlaps {directory}, a directory the platform itself keeps on every host",
                fix,
            )
    return path


class ModelCache(Model):
    """The node-local cache of model weights on the GPU hosts: filled from the site's RGW
    once per node and revision, read by Triton from the local disk."""

    path: Annotated[HostPath, AfterValidator(_model_cache_path)] = "/var/lib/deepseek/model-cache"
    """Directory on each GPU host's local disk that holds the cached weights: its own, in a
    data area (below /var/lib/deepseek, /srv, /data or /mnt)."""
    size_gb: int = Field(default=2000, ge=10, le=1_000_000)
    """Space the cache may use on each GPU host."""
    fill_image: str = Field(
        default="curlimages/curl:8.11.1",
        pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}:[A-Za-z0-9._-]{1,128}$",
    )
    """The image (upstream name, served by the internal registry) whose curl fills the cache
    (S3 requests signed with SigV4)."""


BACKUP_BUCKET_PREFIX = "velero-"
"""The buckets of the sites' backups at their targets are `velero-<site>`."""
SNAPSHOT_BUCKET_PREFIX = "etcd-"
"""The buckets of the sites' etcd snapshots at their targets are `etcd-<site>`
(components/kubernetes/etcd_snapshot_spec.py)."""
MODEL_COPY_BUCKET_PREFIX = "models-"
"""The copies of the sites' model buckets at their targets are `models-<site>`
(components/storage/bucket_copies.py); no longer than `velero-`, so the names the backup
targets' rule admits fit."""
BACKUP_COPY_BUCKET = "backup-copies"
"""The bucket at each site that holds the copy of its own backups and etcd snapshots, read
from its target: one per site (a site has one target), so it needs no site in its name."""


def _bucket_name(bucket: str) -> str:
    """What RGW refuses besides the pattern (rgw_rest_s3.cc `validate_bucket_name`, with
    rgw_relaxed_s3_bucket_names off: InvalidBucketName), and the backups' names."""
    fix = "name the bucket with lower-case letters, digits and single - or ., e.g. deepseek-models"
    if ".." in bucket:
        raise FieldError("has two dots in a row, which RGW refuses (InvalidBucketName)", fix)
    if ".-" in bucket or "-." in bucket:
        raise FieldError("has a dot beside a hyphen, which RGW refuses (InvalidBucketName)", fix)
    groups = bucket.split(".")
    if len(groups) == 4 and all(group.isdigit() for group in groups):
        raise FieldError("is shaped like an IP address, which RGW refuses (InvalidBucketName)", fix)
    for prefix in (BACKUP_BUCKET_PREFIX, SNAPSHOT_BUCKET_PREFIX):
        if bucket.startswith(prefix):
            raise FieldError(
                f"starts with {prefix}: the buckets of the other sites' backups and etcd "
                f"snapshots at each site are {BACKUP_BUCKET_PREFIX}<site> and "
                f"{SNAPSHOT_BUCKET_PREFIX}<site>, and the model store's user would be refused "
                "one of them",
                fix,
            )
    if bucket.startswith(MODEL_COPY_BUCKET_PREFIX) or bucket == BACKUP_COPY_BUCKET:
        raise FieldError(
            f"is reserved: the cross-site copies at each site are {MODEL_COPY_BUCKET_PREFIX}"
            f"<site> (another site's model bucket) and {BACKUP_COPY_BUCKET} (the site's own "
            "backups, copied back from its target), and the model store's user would be "
            "refused one of them",
            fix,
        )
    return bucket


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
    model_bucket: Annotated[str, AfterValidator(_bucket_name)] = Field(
        default="deepseek-models", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )
    """The bucket of each site's model store: a name RGW accepts, not `velero-...` (the
    backups' buckets) nor another bucket the data layer makes (`etcd-...`, `models-...`,
    `backup-copies`)."""
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


DATA_LAKE_SYNC_JOB_PREFIX = "data-lake-sync-from-"
"""A site's sync CronJob of a peer's part of the lake is `data-lake-sync-from-<peer>`."""
CRONJOB_NAME_MAX = 52
"""Kubernetes' limit on a CronJob's name (its Jobs add 11 characters, within a label's 63)."""
BUCKET_NAME_MAX = 63
"""S3's (and RGW's) limit on a bucket's name."""
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

HDFS_RPC_PORT = 8020
"""The namenode's RPC port when an `hdfs://` URL names none (Hadoop's default)."""


class HdfsLocation(NamedTuple):
    """A directory of an HDFS: its namenode's host and RPC port, and the path."""

    host: str
    port: int
    path: str
    """Absolute and normalized: no trailing or doubled `/`."""

    @property
    def url(self) -> str:
        return f"hdfs://{self.host}:{self.port}{self.path}"

    def on(self, other: "HdfsLocation") -> "HdfsLocation":
        """The same path on `other`'s namenode."""
        return other._replace(path=self.path)


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
    """Site name → the HDFS URL of the part of the lake that site writes, its own directory
    (e.g. hdfs://nn.dc-a.bank.internal:8020/lake/dc-a). Each site copies every other site's part
    to the same path on its own namenode, so the sites' parts must not overlap."""
    schedule: CronSchedule = "30 3 * * *"
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}:[A-Za-z0-9._-]{1,128}$")
    """An image with Hadoop's `hadoop distcp` (upstream name, served by the internal registry)."""
    networks: list[
        Annotated[
            IPv4Network,
            internal_network("opens egress to", "list only the data lakes' own networks"),
        ]
    ] = Field(min_length=1)
    """Where the namenodes and datanodes of every site's lake are: the sync job may open
    connections there (the namenodes' RPC ports, the datanodes' 9866 and 9867) and nowhere
    else. Each must be on the egress allow-list of every site that syncs."""

    @field_validator("namenodes")
    @classmethod
    def _ports_in_range(cls, namenodes: dict[str, str]) -> dict[str, str]:
        for site, url in namenodes.items():
            host = urlsplit(url).hostname or ""
            if not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
                raise FieldError(
                    f"{site}: {host!r} in {url} is not a DNS name (labels of letters, digits "
                    "and inner hyphens, separated by single dots)",
                    "write the namenode's host name, e.g. hdfs://nn.dc-a.bank.internal:8020/lake",
                )
            port = urlsplit(url).netloc.partition(":")[2]
            if port and not 0 < int(port) < 65536:
                raise FieldError(
                    f"{site}: port {port} of {url} is not a TCP port",
                    "write the namenode's RPC port (1-65535; Hadoop's default is 8020)",
                )
        return namenodes

    def location(self, site: str) -> HdfsLocation:
        """Where `site`'s part of the lake is (port 8020 when its URL names none)."""
        parts = urlsplit(self.namenodes[site])
        path = "/" + posixpath.normpath(parts.path or "/").lstrip("/")
        return HdfsLocation(
            parts.hostname or "", parts.port or HDFS_RPC_PORT, path.rstrip("/") or "/"
        )


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
    copy_schedule: Annotated[CronSchedule, AfterValidator(_every_day)] = "0 5 * * *"
    """When each site with a target copies its model bucket to the target and its own backups
    and etcd snapshots back from it (cron, UTC, every day; components/storage/
    bucket_copies.py): after the nightly backup."""
    copy_image: Annotated[str, AfterValidator(_copy_image)] = "rclone/rclone:1.68.2"
    """The rclone image of the copies (upstream name and a pinned tag, served by the internal
    registry)."""
    data_lake: DataLake | None = None
