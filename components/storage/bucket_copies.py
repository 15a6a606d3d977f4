"""The cross-site copies of 3-2-1 (`deepseek:storage:BucketCopies`), at each site with Ceph and a
backup target: rclone CronJobs in a namespace of their own that copy the site's model bucket to
`models-<site>` at the target (on its `backups` placement, HDD there) and the site's own
backups and etcd snapshots at the target back into `backup-copies` at home (RGW's default
placement, NVMe here), each onto the other site's other medium. What runs and why is in
bucket_copy_spec.py; here, the objects.

Not RGW multisite nor RBD mirroring: both keep a second live replica on the same kind of
placement and propagate deletions and overwrites within seconds, which is availability, not a
copy that survives a mistake. A scheduled copy that never deletes a weights revision (and
mirrors the backups' own expiry only within a bound) is."""

from dataclasses import dataclass
from ipaddress import IPv4Address

import pulumi
import pulumi_kubernetes as k8s

from components.charts import checkov_skips, mirror
from components.config import Backup
from components.context import SiteContext
from components.network_policy import default_deny, dns_egress
from components.storage.bucket_copy_spec import (
    APP,
    KEYS_SECRET,
    NAMESPACE,
    cronjob_spec,
    egress_policy,
    secret_key,
    site_copies,
)


@dataclass(frozen=True)
class S3Access:
    """A bucket at an RGW and the keys of the user that owns it (both secret)."""

    endpoint: pulumi.Output[str]
    bucket: str
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]


@dataclass(frozen=True)
class CopyLink:
    """The target's side of a site's copies, as the platform makes it (keys per link, the
    target's endpoint once that site is built)."""

    target: str
    """The backup target's site name."""
    address: IPv4Address
    """Its RGW virtual IP (the source's egress allow-list holds it: validation/backup.py)."""
    port: int
    models: S3Access
    """`models-<site>` at the target: its own user, on the target's backup placement."""
    velero: S3Access
    """`velero-<site>` at the target, read with the backup link's keys Velero writes with."""
    etcd_snapshots: S3Access | None
    """`etcd-<site>` at the target (the etcd link's keys), where the site takes snapshots."""
    copy_access_key_id: pulumi.Output[str]
    copy_secret_access_key: pulumi.Output[str]
    """The keys of the `backup-copies` user the site's own Ceph makes (default placement)."""


@dataclass(frozen=True)
class HomeStore:
    """The site's own RGW, as its Ceph cluster made it."""

    address: IPv4Address
    """Its RGW virtual IP."""
    models: S3Access
    """The model bucket and the model store user's keys."""
    ready: pulumi.Resource
    """The Ceph step after which every user and bucket exists."""


@dataclass(frozen=True)
class BucketCopiesArgs:
    """Inputs of `BucketCopies`."""

    ctx: SiteContext
    backup: Backup
    """`backup.copySchedule`, `copyImage`, and what the sync guards count from."""
    home: HomeStore
    link: CopyLink


class BucketCopies(pulumi.ComponentResource):
    """The namespace of a site's bucket copies, its NetworkPolicies, the keys' Secret and one
    rclone CronJob per copy (`deepseek:storage:BucketCopies`)."""

    def __init__(
        self, name: str, args: BucketCopiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:storage:BucketCopies", name, None, opts)
        ctx, home, link = args.ctx, args.home, args.link
        site = ctx.site
        buckets = {"velero": link.velero.bucket}
        if link.etcd_snapshots is not None:
            buckets["etcd"] = link.etcd_snapshots.bucket
        copies = site_copies(
            site.name,
            home.models.bucket,
            home.models.endpoint,
            link.models.endpoint,
            buckets,
            args.backup,
            len(site.hosts_with_role("control-plane")),
        )
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "deepseek.bank/purpose": NAMESPACE,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace])
        )
        # The policies exist before the first job can start.
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": NAMESPACE},
                spec=spec,
                opts=in_namespace,
            )
            for policy, spec in (
                ("default-deny", default_deny()),
                ("allow-dns", dns_egress()),
                (
                    "allow-object-stores",
                    egress_policy([str(home.address), str(link.address)], link.port),
                ),
            )
        ]
        remotes = {
            "home": home.models,
            "models": link.models,
            "velero": link.velero,
            **({"etcd": link.etcd_snapshots} if link.etcd_snapshots is not None else {}),
        }
        keys = {
            **{
                secret_key(remote, key): value
                for remote, access in remotes.items()
                for key, value in (
                    ("access-key-id", access.access_key_id),
                    ("secret-access-key", access.secret_access_key),
                )
            },
            secret_key("copy", "access-key-id"): link.copy_access_key_id,
            secret_key("copy", "secret-access-key"): link.copy_secret_access_key,
        }
        credentials = k8s.core.v1.Secret(
            f"{name}-keys",
            metadata={"name": KEYS_SECRET, "namespace": NAMESPACE},
            string_data={key: pulumi.Output.secret(value) for key, value in keys.items()},
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])
            ),
        )
        image = mirror(ctx.mirrors, args.backup.copy_image)
        for copy in copies:
            k8s.batch.v1.CronJob(
                f"{name}-{copy.job}",
                metadata={
                    "name": copy.job,
                    "namespace": NAMESPACE,
                    "labels": {"app.kubernetes.io/name": APP, "deepseek.bank/copy": copy.what},
                    "annotations": checkov_skips(
                        (
                            "CKV_K8S_35",
                            "rclone reads its remotes' S3 keys from the environment "
                            "(RCLONE_CONFIG_<remote>_SECRET_ACCESS_KEY) through secretKeyRef; "
                            "a config file would hold the same keys",
                        ),
                        ("CKV_K8S_43", "pinned by tag in the internal mirror; tags are immutable"),
                    ),
                },
                spec=cronjob_spec(copy, args.backup.copy_schedule, image, site.region),
                # Its buckets and users exist before a run can start.
                opts=pulumi.ResourceOptions.merge(
                    in_namespace,
                    pulumi.ResourceOptions(depends_on=[*policies, credentials, home.ready]),
                ),
            )
        self.register_outputs({})
