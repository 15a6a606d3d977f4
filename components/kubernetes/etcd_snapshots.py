"""A site's off-site etcd snapshots (`deepseek:kubernetes:EtcdSnapshots`): on each control
plane, the etcd-snapshot step installs a timer that saves the local member's snapshot,
encrypts it with the site's key and uploads it to the backup target's RGW (bucket
`etcd-<site>`), deleting its uploads older than the retention.

A component of its own rather than a part of `Cluster`: it exists only where the site has a
backup target, and it waits for another site's RGW (its endpoint arrives through a future
the platform sets once that site is built), which the cluster's bootstrap must never do."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.config import Backup
from components.kubernetes.cluster import SCRIPTS, ClusterNode
from components.kubernetes.etcd_snapshot_spec import (
    SNAPSHOT_SCRIPT,
    service_unit,
    timer_unit,
)
from components.plan import SitePlan
from components.remote.runner import read_result, run_script, with_secrets


@dataclass(frozen=True)
class EtcdSnapshotTarget:
    """Where a site's etcd snapshots go: the target site's RGW, and the keys of the bucket's
    user that site's Ceph makes for this one (both secret, made by the platform)."""

    site: str
    """The target site's name."""
    endpoint: pulumi.Input[str]
    """Its RGW's S3 URL, resolved once the target site is built."""
    bucket: str
    """`etcd-<source site>`, owned by the RGW user of the same name."""
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]


@dataclass(frozen=True)
class EtcdSnapshotsArgs:
    """Inputs of `EtcdSnapshots`."""

    plan: SitePlan
    """The site: its control planes."""
    backup: Backup
    """`backup.etcdSnapshotHours` and `backup.retentionDays`."""
    hosts: Mapping[str, ClusterNode]
    """The site's brought-up hosts, by name (its control planes among them)."""
    command_provider: pulumi.ProviderResource
    """The site's SSH provider."""
    target: EtcdSnapshotTarget
    after: Sequence[pulumi.Resource] = ()
    """What must exist first: the cluster (every control plane joined, its API answering)."""


class EtcdSnapshots(pulumi.ComponentResource):
    """The etcd snapshots of one site's control planes (`deepseek:kubernetes:EtcdSnapshots`)."""

    timers: pulumi.Output[dict]
    """Control plane → its timer's state, bucket and endpoint (the step's result)."""

    def __init__(
        self, name: str, args: EtcdSnapshotsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.plan.spec
        control_planes = [host.name for host in args.plan.control_planes]
        missing = sorted(set(control_planes) - set(args.hosts))
        if missing:
            raise ValueError(
                f"{args.plan.config_path} ({site.name}): control planes {missing} were not "
                "brought up (no ClusterNode): their etcd snapshots cannot be scheduled"
            )
        target = args.target
        super().__init__(
            "deepseek:kubernetes:EtcdSnapshots",
            name,
            {"target": target.site, "bucket": target.bucket},
            opts,
        )
        # The site's snapshot key: one per site, secret end to end. Protected: without it no
        # snapshot ever taken can be read, so deleting it needs `pulumi state unprotect`.
        key = random.RandomPassword(
            f"{name}-key",
            length=64,
            special=False,
            upper=True,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        stdin = with_secrets(
            SCRIPTS / "etcd-snapshot.sh",
            {
                "ETCD_SNAPSHOT_KEY": pulumi.Output.secret(key.result),
                "RGW_ACCESS_KEY": pulumi.Output.secret(target.access_key_id),
                "RGW_SECRET_KEY": pulumi.Output.secret(target.secret_access_key),
            },
        )
        environment: dict[str, pulumi.Input[str]] = {
            "RGW_ENDPOINT": target.endpoint,
            "BUCKET": target.bucket,
            "RETENTION_DAYS": str(args.backup.retention_days),
            "SNAPSHOT_SCRIPT": SNAPSHOT_SCRIPT.read_text(),
            "SERVICE_UNIT": service_unit(),
            "TIMER_UNIT": timer_unit(args.backup.etcd_snapshot_hours),
        }
        timers: dict[str, pulumi.Output[dict[str, object]]] = {}
        for host_name in control_planes:
            host = args.hosts[host_name]
            where = f"{host_name} (control plane of site {site.name})"
            step = run_script(
                f"{name}-{host_name}-etcd-snapshot",
                SCRIPTS / "etcd-snapshot.sh",
                {**environment, "NODE": host_name},
                connection=host.connection,
                provider=args.command_provider,
                parent=self,
                depends_on=[host.last_step, *args.after],
                secret_stdin=stdin,
                # Declarative: a new schedule, retention, target or key converges the timer.
                lifecycle="always",
            )
            timers[host_name] = step.stdout.apply(
                lambda out, where=where: {
                    key: value
                    for key, value in read_result("etcd-snapshot", out, where).items()
                    if key != "changed"
                }
            )
        self.timers = pulumi.Output.all(**timers)
        self.register_outputs({"timers": self.timers})
