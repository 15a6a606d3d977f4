"""What the cross-site bucket copies run (components/storage/bucket_copies.py), pure: the copies
a site makes, rclone's command line and its remotes from the environment, the deletion guard
of each sync, the CronJob and the egress. Imports no Pulumi: an endpoint may be an Output, it is
only placed in the spec.

Two kinds of copy, each on the other site's other medium (the 3-2-1 audit, protection.py):

- the site's model bucket → `models-<site>` at its backup target (RGW placement `backups`, on
  HDD there): `rclone copy --immutable`. It never deletes, and never overwrites: weights are
  immutable revisions, so an object that changed at home fails the run instead of replacing
  the copy. A revision deleted at home stays in the copy until someone removes it there.
- the site's own backups held at its target (`velero-<site>`, `etcd-<site>`) → the bucket
  `backup-copies` at home (RGW's default placement, on NVMe here): `rclone sync`, which
  mirrors Velero's and the snapshots' own expiry (a kopia repository must stay whole: a copy
  that kept every blob for ever would grow without bound). `--max-delete` bounds what one
  run may delete: about two days of the source's own expiry. A source wiped or emptied by
  mistake or malice costs the copy at most that many objects per run, and every such run
  fails, naming the guard. The guard bounds deletions, not overwrites: the etcd snapshots'
  sync is `--immutable` too (a snapshot is written once); Velero's cannot be (kopia and
  Velero rewrite some of their objects), so a rewritten object there replaces its copy."""

import math
from dataclasses import dataclass

from components import contracts
from components.config import Backup
from components.config.storage import (
    BACKUP_COPY_BUCKET,
    MODEL_COPY_BUCKET_PREFIX,
    cron_times_per_day,
)
from components.network_policy import ip_blocks, tcp

APP = "bucket-copies"
NAMESPACE = "bucket-copies"
"""The copies' own namespace (restricted Pod Security), made by BucketCopies where it runs."""
KEYS_SECRET = "bucket-copy-keys"
"""The Secret holding each remote's S3 keys (`<remote>-access-key-id`,
`<remote>-secret-access-key`), read by the pods through secretKeyRef only."""
RUN_AS_USER = 65532
"""rclone is one static binary: any uid runs it (the image's default is root)."""
GUARD_DAYS = 2
"""A sync may delete what the source expires in this many days: one run's, and one missed
run's (the schedule runs every day: config/storage.py `_every_day`)."""
VELERO_FILES_PER_BACKUP = 12
"""Velero (1.14) writes a dozen objects per backup under backups/<name>/: velero-backup.json,
the tarball, its logs, the resource list, results, item operations, volume info, pod volume
backups and the (CSI) volume snapshot lists."""
KOPIA_BLOBS_PER_BACKUP = 50
"""Index, manifest and pack blobs kopia's maintenance frees once a backup's pod volume
snapshots expire, for volumes as small as those the stack declares (none yet: capacity.py
`DECLARED_VOLUME_CLAIMS_GB`). A day whose volumes changed more makes the sync stop on its
guard (the run fails; raise this with the declared claims)."""
RCLONE_FLAGS = (
    # The buckets exist (the Ceph layer's user steps make them on their placements): never
    # try to create one elsewhere.
    "--s3-no-check-bucket",
    "--transfers",
    "4",
    "--checkers",
    "8",
    # Weights files are GBs: multipart in 64 MiB parts, 4 at a time per file (1 GiB of
    # buffers at most with 4 transfers).
    "--s3-chunk-size",
    "64M",
    "--s3-upload-concurrency",
    "4",
    "--stats",
    "5m",
    "--stats-one-line",
    # Remotes come from the environment only; no config file is read or written.
    "--config",
    "/dev/null",
)


@dataclass(frozen=True)
class Remote:
    """An rclone remote: an RGW and the keys of one of its users (in `KEYS_SECRET`)."""

    name: str
    """Lower-case letters: `RCLONE_CONFIG_<NAME>_*` in the environment, `<name>:` in paths."""
    endpoint: object
    """`http://<RGW virtual IP>:<port>` (an Output where it comes from the Ceph layer)."""


@dataclass(frozen=True)
class BucketCopy:
    """One CronJob: a bucket (or a folder of one) copied to another RGW."""

    job: str
    """The CronJob's name (fixed: one of each per site, in the namespace of the copies)."""
    what: str
    """Its `deepseek.bank/copy` label."""
    verb: str
    """`copy` (never deletes, never overwrites) or `sync` (mirrors deletions, bounded)."""
    source: Remote
    source_path: str
    destination: Remote
    destination_path: str
    max_delete: int | None
    """`--max-delete` of a sync; None for a copy, which deletes nothing."""
    deadline_seconds: int
    """A run still going after this is stopped; the next one resumes where it ended."""
    immutable: bool = False
    """A sync whose source writes each object once (etcd snapshots): `--immutable` as well,
    so an object rewritten at the source fails the run instead of replacing the copy
    (`--max-delete` bounds deletions only). Not Velero's: kopia rewrites kopia.maintenance
    and Velero a backup's metadata when it finalizes."""


def etcd_max_delete(backup: Backup, control_planes: int) -> int:
    """What a sync of a site's etcd snapshots may delete per run: `GUARD_DAYS` of snapshots of
    every control plane (every `etcdSnapshotHours`, plus one at a boot), which expire as
    they came."""
    per_day = control_planes * (math.ceil(24 / backup.etcd_snapshot_hours) + 1)
    return GUARD_DAYS * per_day


def velero_max_delete(backup: Backup) -> int:
    """What a sync of a site's Velero bucket may delete per run: `GUARD_DAYS` of its backups
    (as often as `backup.schedule` fires on a day), each Velero's files and kopia's freed
    blobs."""
    per_day = cron_times_per_day(backup.schedule)
    return GUARD_DAYS * per_day * (VELERO_FILES_PER_BACKUP + KOPIA_BLOBS_PER_BACKUP)


MODELS_DEADLINE_SECONDS = 20 * 3600
"""A first copy of every revision kept may take most of a day across sites; the next run
resumes it (what is there already is skipped)."""
BACKUPS_DEADLINE_SECONDS = 6 * 3600


def model_copy_bucket(site: str) -> str:
    """The bucket, at `site`'s backup target, that holds the copy of its model bucket (owned
    by the RGW user of the same name)."""
    return f"{MODEL_COPY_BUCKET_PREFIX}{site}"


def site_copies(
    site: str,
    model_bucket: str,
    home_endpoint: object,
    target_endpoint: object,
    backup_buckets: dict[str, str],
    backup: Backup,
    control_planes: int,
) -> list[BucketCopy]:
    """The copies of one site with a backup target: its model bucket to the target
    (`models-<site>`), and each of its backup buckets at the target (`backup_buckets`:
    `velero` and, where its control planes take snapshots, `etcd` → the bucket) back home,
    into a folder of the same name in `backup-copies`. Each remote's keys are its own RGW
    user's: the model store's (`home`), `models-<site>`'s at the target (`models`), the
    backup links' (`velero`, `etcd`), `backup-copies`' at home (`copy`)."""
    home = Remote("home", home_endpoint)
    copy_home = Remote("copy", home_endpoint)
    copies = [
        BucketCopy(
            "copy-models",
            "models",
            "copy",
            home,
            model_bucket,
            Remote("models", target_endpoint),
            model_copy_bucket(site),
            None,
            MODELS_DEADLINE_SECONDS,
        )
    ]
    guards = {"velero": velero_max_delete(backup), "etcd": etcd_max_delete(backup, control_planes)}
    jobs = {
        "velero": ("copy-backups", "backups"),
        "etcd": ("copy-etcd-snapshots", "etcd-snapshots"),
    }
    for remote, bucket in sorted(backup_buckets.items()):
        if remote not in guards:
            raise ValueError(f"{remote}: a backup bucket is velero's or etcd's")
        job, what = jobs[remote]
        copies.append(
            BucketCopy(
                job,
                what,
                "sync",
                Remote(remote, target_endpoint),
                bucket,
                copy_home,
                f"{BACKUP_COPY_BUCKET}/{bucket}",
                guards[remote],
                BACKUPS_DEADLINE_SECONDS,
                immutable=remote == "etcd",
            )
        )
    return copies


def rclone_args(copy: BucketCopy) -> list[str]:
    """rclone's arguments (the image's entrypoint is rclone): paths and flags, never a key."""
    if copy.verb == "copy":
        guard = ["--immutable"]
    elif copy.verb == "sync" and copy.max_delete is not None and copy.max_delete > 0:
        guard = ["--max-delete", str(copy.max_delete), *(["--immutable"] if copy.immutable else [])]
    else:
        raise ValueError(f"{copy.job}: a copy, or a sync with a positive --max-delete")
    return [
        copy.verb,
        f"{copy.source.name}:{copy.source_path}",
        f"{copy.destination.name}:{copy.destination_path}",
        *guard,
        *RCLONE_FLAGS,
    ]


def secret_key(remote: str, key: str) -> str:
    """The key, in `KEYS_SECRET`, of one of a remote's S3 keys."""
    return f"{remote}-{key}"


def remote_env(remote: Remote) -> list[dict]:
    """rclone's S3 remote from the environment: its endpoint in plain, its keys by reference
    to `KEYS_SECRET` (secretKeyRef), never a value."""
    if not remote.name.isalpha() or not remote.name.islower():
        raise ValueError(f"remote {remote.name!r}: lower-case letters only")
    prefix = f"RCLONE_CONFIG_{remote.name.upper()}_"
    return [
        {"name": f"{prefix}TYPE", "value": "s3"},
        {"name": f"{prefix}PROVIDER", "value": "Ceph"},
        {"name": f"{prefix}ENDPOINT", "value": remote.endpoint},
        *(
            {
                "name": f"{prefix}{variable}",
                "valueFrom": {
                    "secretKeyRef": {"name": KEYS_SECRET, "key": secret_key(remote.name, key)}
                },
            }
            for variable, key in (
                ("ACCESS_KEY_ID", "access-key-id"),
                ("SECRET_ACCESS_KEY", "secret-access-key"),
            )
        ),
    ]


def egress_policy(addresses: list[str], port: int) -> dict:
    """The copies' pods reach the two RGWs (home and target virtual IPs, RGW's port), and
    nothing else (DNS from the namespace's allow-dns)."""
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": APP}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": ip_blocks(f"{a}/32" for a in sorted(set(addresses))), "ports": tcp(port)}
        ],
    }


def cronjob_spec(copy: BucketCopy, schedule: str, image: str, region: str) -> dict:
    labels = {"app.kubernetes.io/name": APP, "deepseek.bank/copy": copy.what}
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "name": "rclone",
        "image": image,
        "imagePullPolicy": "Always",
        "args": rclone_args(copy),
        "env": [
            *remote_env(copy.source),
            *remote_env(copy.destination),
            # rclone's cache and temporary files, if any: the scratch volume.
            {"name": "HOME", "value": "/tmp"},
            {"name": "XDG_CACHE_HOME", "value": "/tmp/cache"},
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "securityContext": security,
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
    }
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "priorityClassName": contracts.BATCH_PRIORITY,
        # The copy runs on the site's own nodes.
        "nodeSelector": {contracts.REGION_LABEL: region},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    return {
        "schedule": schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        # A run missed by more than an hour (the controller was down) waits for the next one.
        "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": labels},
            "spec": {
                "activeDeadlineSeconds": copy.deadline_seconds,
                # A sync is not retried: a pod that stopped on --max-delete would be followed
                # by another deleting as many again; the next day's run is its retry.
                "backoffLimit": 0 if copy.verb == "sync" else 2,
                "template": {"metadata": {"labels": labels}, "spec": pod},
            },
        },
    }
