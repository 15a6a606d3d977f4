"""The whole stack: its sites and what crosses them (DR link to prod, backup links, exports)."""

import asyncio
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.config import PlatformConfig, PlatformSecrets
from components.config.storage import BACKUP_COPY_BUCKET
from components.kubernetes.etcd_snapshot_spec import snapshot_bucket
from components.kubernetes.etcd_snapshots import EtcdSnapshotTarget
from components.plan import PlatformPlan
from components.site import Site, SiteArgs
from components.storage import ceph_spec
from components.storage.bucket_copies import CopyLink, S3Access
from components.storage.bucket_copy_spec import model_copy_bucket
from components.storage.ceph_cluster import BucketUser
from components.storage.protection import bucket_copy_targets, etcd_snapshot_targets
from components.storage.velero import BackupTarget, bucket_of


@dataclass(frozen=True)
class PlatformArgs:
    """Inputs of a `Platform`."""

    config: PlatformConfig
    """The validated stack config."""
    plan: PlatformPlan
    """What the program derives from it (`make_plan`), computed once."""
    secrets: PlatformSecrets
    """Secret config, handed down to the children that need it."""


class Platform(pulumi.ComponentResource):
    """The DeepSeek platform of one stack (`deepseek:platform:Platform`)."""

    sites: dict[str, Site]
    """The stack's sites, by name in config."""
    site_summaries: pulumi.Output[list[dict[str, object]]]
    """What each site exports (the `sites` stack output, which a DR stack reads)."""
    replication_source_sites: pulumi.Output[list[dict[str, object]]] | None
    """A DR stack's view of the sites it receives data from (None on an active stack)."""

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        config = args.config
        super().__init__("deepseek:platform:Platform", name, None, opts)

        # Each backup link (a site's backups at another site's RGW) gets its S3 keys here,
        # before either site exists: the target's Ceph makes the bucket user with them, the
        # source's Velero writes with them. Sites are built in rollout order, so a source may
        # come before its target: its Velero gets the target's RGW endpoint as a future, set
        # once the target site (and its Ceph) exists. No cycle: nothing of a site waits for a
        # site built after it but that one Output.
        links = _backup_links(name, config, self)
        # And its etcd snapshots (a bucket and keys of their own, at the same target), where
        # the 3-2-1 audit counts them: the same future brings the source's control planes
        # the target's endpoint.
        etcd_links = _etcd_links(name, config, self)
        # And the cross-site copies (protection.bucket_copy_targets): a key pair per link for
        # the copy of the source's model bucket at the target (`models-<source>`), and one for
        # the bucket at the source that keeps the copy of its own backups (`backup-copies`).
        model_copy_links, backup_copy_keys = _copy_keys(name, config, self)
        loop = asyncio.get_event_loop()
        endpoints = {
            target: loop.create_future()
            for target, _, _ in (
                *links.values(),
                *etcd_links.values(),
                *model_copy_links.values(),
            )
        }

        # Built in rollout order (each site's changes wait for the previous site's);
        # keyed by the site's name, in config order.
        built: dict[str, Site] = {}
        after: tuple[pulumi.Resource, ...] = ()
        try:
            for site_name in config.rollout.site_order or list(args.plan.sites):
                built[site_name] = Site(
                    f"{name}-{site_name}",
                    SiteArgs(
                        config,
                        args.plan.sites[site_name],
                        args.secrets,
                        after,
                        bucket_users=(
                            *(
                                BucketUser(bucket_of(source), bucket_of(source), access, secret)
                                for source, (target, access, secret) in sorted(links.items())
                                if target == site_name
                            ),
                            *(
                                BucketUser(
                                    snapshot_bucket(source), snapshot_bucket(source), access, secret
                                )
                                for source, (target, access, secret) in sorted(etcd_links.items())
                                if target == site_name
                            ),
                            # On the backup placement (the target's other medium).
                            *(
                                BucketUser(
                                    model_copy_bucket(source),
                                    model_copy_bucket(source),
                                    access,
                                    secret,
                                )
                                for source, (target, access, secret) in sorted(
                                    model_copy_links.items()
                                )
                                if target == site_name
                            ),
                            # On the default placement: the other medium than the backups'
                            # at the target.
                            *(
                                [
                                    BucketUser(
                                        BACKUP_COPY_BUCKET,
                                        BACKUP_COPY_BUCKET,
                                        *backup_copy_keys[site_name],
                                        ceph_spec.DEFAULT_PLACEMENT,
                                    )
                                ]
                                if site_name in backup_copy_keys
                                else []
                            ),
                        ),
                        backup_target=_backup_target(
                            args.plan, config, site_name, links, endpoints
                        ),
                        etcd_snapshot_target=_etcd_snapshot_target(
                            site_name, etcd_links, endpoints
                        ),
                        bucket_copies=_copy_link(
                            args.plan,
                            config,
                            site_name,
                            (links, etcd_links, model_copy_links),
                            backup_copy_keys,
                            endpoints,
                        ),
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                after = built[site_name].rollout.tails
                if site_name in endpoints:
                    storage = built[site_name].storage
                    if storage is None:  # validation refuses a target without Ceph
                        raise ValueError(f"backup target {site_name} runs no Ceph")
                    endpoints[site_name].set_result(storage.rgw_endpoint)
            unbuilt = sorted(target for target, future in endpoints.items() if not future.done())
            if unbuilt:
                raise ValueError(f"backup targets {unbuilt} were not built")
        except BaseException as error:
            # A source waiting on a target that failed to build would wait for ever.
            for future in endpoints.values():
                if not future.done():
                    future.set_exception(error)
            raise
        self.sites = {site_name: built[site_name] for site_name in args.plan.sites}
        self.site_summaries = pulumi.Output.all(
            *(site.summary for site in self.sites.values())
        ).apply(list)

        self.replication_source_sites = None
        if config.replication is not None:
            # The DR stack reads what prod exports (its sites, their jurisdictions and
            # endpoints) instead of repeating it in its own config.
            source = pulumi.StackReference(
                f"{name}-replication-source",
                stack_name=config.replication.source_stack,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.replication_source_sites = source.get_output("sites")

        self.register_outputs(
            {
                "siteSummaries": self.site_summaries,
                "replicationSourceSites": self.replication_source_sites,
            }
        )


BackupLink = tuple[str, pulumi.Output[str], pulumi.Output[str]]
"""A source site's backup link: its target site, the access key id and the secret key."""


def _backup_links(
    name: str, config: PlatformConfig, parent: pulumi.Resource
) -> dict[str, BackupLink]:
    """Source site → its backup link, with one pair of S3 keys from pulumi-random each (both
    secret). Retained: a link removed from config leaves its RGW user and bucket (the Ceph
    layer retains them too), and a replaced key is rotated on the user by the Ceph step."""
    links: dict[str, BackupLink] = {}
    sites = {site.name for site in config.sites}
    targets = config.backup.targets if config.backup else {}
    for source, target in sorted(targets.items()):
        if source not in sites or target not in sites or target == source:
            continue  # validation refuses these
        # Named for the RGW user they belong to: at the target, for the source's backups.
        user = f"{name}-{target}-rgw-user-{bucket_of(source)}"
        links[source] = (target, *_key_pair(user, parent))
    return links


def _etcd_links(
    name: str, config: PlatformConfig, parent: pulumi.Resource
) -> dict[str, BackupLink]:
    """Source site → the link of its etcd snapshots (`protection.etcd_snapshot_targets`: where
    the audit counts them), with a pair of S3 keys of their own (the bucket user
    `etcd-<source>` at the target), made and kept as Velero's are."""
    return {
        source: (target, *_key_pair(f"{name}-{target}-rgw-user-{snapshot_bucket(source)}", parent))
        for source, target in sorted(etcd_snapshot_targets(config).items())
    }


def _key_pair(user: str, parent: pulumi.Resource) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """S3 keys of an RGW user, as RGW makes its own (20 upper-case letters and digits, 40
    letters and digits), from pulumi-random, secret; retained like the links' keys."""
    kept = pulumi.ResourceOptions(parent=parent, retain_on_delete=True)
    access = random.RandomPassword(
        f"{user}-access-key", length=20, special=False, upper=True, lower=False, opts=kept
    )
    secret = random.RandomPassword(
        f"{user}-secret-key", length=40, special=False, upper=True, opts=kept
    )
    return pulumi.Output.secret(access.result), pulumi.Output.secret(secret.result)


def _copy_keys(
    name: str, config: PlatformConfig, parent: pulumi.Resource
) -> tuple[dict[str, BackupLink], dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]]]:
    """For each site whose buckets are copied across (`protection.bucket_copy_targets`):
    the link of its model bucket's copy (the user `models-<source>` at the target, keys of
    its own), and the keys of the `backup-copies` user at the site itself."""
    model_copies: dict[str, BackupLink] = {}
    backup_copies = {}
    for source, target in sorted(bucket_copy_targets(config).items()):
        user = f"{name}-{target}-rgw-user-{model_copy_bucket(source)}"
        model_copies[source] = (target, *_key_pair(user, parent))
        backup_copies[source] = _key_pair(f"{name}-{source}-rgw-user-{BACKUP_COPY_BUCKET}", parent)
    return model_copies, backup_copies


def _copy_link(
    plan: PlatformPlan,
    config: PlatformConfig,
    source: str,
    links: tuple[dict[str, BackupLink], dict[str, BackupLink], dict[str, BackupLink]],
    backup_copy_keys: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]],
    endpoints: dict[str, "asyncio.Future[pulumi.Output[str]]"],
) -> CopyLink | None:
    """The target's side of `source`'s bucket copies: `models-<source>` with its link's keys,
    `velero-<source>` and `etcd-<source>` with the keys Velero and the snapshots use, at the
    target's RGW (its endpoint once that site is built); and the keys of `backup-copies`."""
    velero_links, etcd_links, model_copy_links = links
    if source not in model_copy_links:
        return None
    target, models_access, models_secret = model_copy_links[source]
    spec = plan.sites[target].spec
    if spec.storage is None or source not in velero_links:
        # bucket_copy_targets names only usable targets, which have both.
        raise ValueError(f"bucket copies of {source}: target {target} has no RGW or no link")
    endpoint = pulumi.Output.from_input(endpoints[target])
    _, velero_access, velero_secret = velero_links[source]
    etcd = None
    if source in etcd_links:
        _, etcd_access, etcd_secret = etcd_links[source]
        etcd = S3Access(endpoint, snapshot_bucket(source), etcd_access, etcd_secret)
    return CopyLink(
        target=target,
        address=spec.storage.rgw_virtual_ip,
        port=config.storage.rgw.port,
        models=S3Access(endpoint, model_copy_bucket(source), models_access, models_secret),
        velero=S3Access(endpoint, bucket_of(source), velero_access, velero_secret),
        etcd_snapshots=etcd,
        copy_access_key_id=backup_copy_keys[source][0],
        copy_secret_access_key=backup_copy_keys[source][1],
    )


def _etcd_snapshot_target(
    source: str,
    links: dict[str, BackupLink],
    endpoints: dict[str, "asyncio.Future[pulumi.Output[str]]"],
) -> EtcdSnapshotTarget | None:
    """Where `source`'s control planes upload their etcd snapshots: the target's RGW (its
    endpoint once that site is built), the bucket `etcd-<source>`, the link's keys."""
    if source not in links:
        return None
    target, access, secret = links[source]
    return EtcdSnapshotTarget(
        site=target,
        endpoint=pulumi.Output.from_input(endpoints[target]),
        bucket=snapshot_bucket(source),
        access_key_id=access,
        secret_access_key=secret,
    )


def _backup_target(
    plan: PlatformPlan,
    config: PlatformConfig,
    source: str,
    links: dict[str, BackupLink],
    endpoints: dict[str, "asyncio.Future[pulumi.Output[str]]"],
) -> BackupTarget | None:
    """Where `source`'s Velero writes: its target's RGW (address and port from config, the
    endpoint from the target's Ceph once built), with the link's keys."""
    if source not in links:
        return None
    target, access, secret = links[source]
    spec = plan.sites[target].spec
    if spec.storage is None:  # validation refuses a target without Ceph
        raise ValueError(f"backup target {target} has no storage.rgwVirtualIp")
    return BackupTarget(
        site=target,
        region=spec.region,
        address=spec.storage.rgw_virtual_ip,
        port=config.storage.rgw.port,
        endpoint=pulumi.Output.from_input(endpoints[target]),
        bucket=bucket_of(source),
        access_key_id=access,
        secret_access_key=secret,
    )
