"""The cross-site bucket copies' pure builders (components/storage/bucket_copy_spec.py): which
copies a site makes and in which direction, rclone's command line (a copy never deletes nor
overwrites, a sync always carries its deletion guard), the remotes from the environment with
the keys by reference only, the guards' arithmetic, the egress and the CronJob's bounds."""

import pytest

from components.config import Backup
from components.config.storage import cron_times_per_day
from components.storage.bucket_copy_spec import (
    KEYS_SECRET,
    BucketCopy,
    Remote,
    cronjob_spec,
    egress_policy,
    etcd_max_delete,
    model_copy_bucket,
    rclone_args,
    remote_env,
    site_copies,
    velero_max_delete,
)

HOME = "http://10.10.2.10:8080"
TARGET = "http://10.20.2.10:8080"
BUCKETS = {"velero": "velero-dc-a", "etcd": "etcd-dc-a"}


def _copies(backup: Backup | None = None, buckets: dict[str, str] = BUCKETS) -> dict:
    copies = site_copies("dc-a", "deepseek-models", HOME, TARGET, buckets, backup or Backup(), 3)
    return {copy.job: copy for copy in copies}


def test_the_model_bucket_goes_to_the_target_and_the_backups_come_home():
    copies = _copies()
    assert sorted(copies) == ["copy-backups", "copy-etcd-snapshots", "copy-models"]
    models = copies["copy-models"]
    assert (models.source, models.source_path) == (Remote("home", HOME), "deepseek-models")
    assert (models.destination, models.destination_path) == (
        Remote("models", TARGET),
        "models-dc-a",
    )
    assert model_copy_bucket("dc-a") == "models-dc-a"
    velero = copies["copy-backups"]
    assert (velero.source, velero.source_path) == (Remote("velero", TARGET), "velero-dc-a")
    assert (velero.destination, velero.destination_path) == (
        Remote("copy", HOME),
        "backup-copies/velero-dc-a",
    )
    etcd = copies["copy-etcd-snapshots"]
    assert (etcd.source, etcd.destination_path) == (
        Remote("etcd", TARGET),
        "backup-copies/etcd-dc-a",
    )


def test_a_site_without_snapshots_copies_its_velero_backups_only():
    assert sorted(_copies(buckets={"velero": "velero-dc-a"})) == ["copy-backups", "copy-models"]
    with pytest.raises(ValueError, match="velero's or etcd's"):
        _copies(buckets={"kopia": "x"})


def test_the_model_copy_never_deletes_nor_overwrites():
    args = rclone_args(_copies()["copy-models"])
    assert args[:3] == ["copy", "home:deepseek-models", "models:models-dc-a"]
    assert "--immutable" in args
    for flag in ("--max-delete", "--delete-before", "--delete-during", "--delete-after"):
        assert flag not in args
    assert "sync" not in args and "move" not in args


def test_each_sync_carries_its_deletion_guard():
    copies = _copies()
    for job, remote, bucket in (
        ("copy-backups", "velero", "velero-dc-a"),
        ("copy-etcd-snapshots", "etcd", "etcd-dc-a"),
    ):
        args = rclone_args(copies[job])
        assert args[:3] == ["sync", f"{remote}:{bucket}", f"copy:backup-copies/{bucket}"]
        guard = args.index("--max-delete")
        assert int(args[guard + 1]) == copies[job].max_delete > 0
        # A snapshot is written once; kopia and Velero rewrite some of their objects.
        assert ("--immutable" in args) == (remote == "etcd")
    unguarded = BucketCopy(
        "x", "x", "sync", Remote("a", HOME), "a", Remote("b", HOME), "b", None, 1
    )
    with pytest.raises(ValueError, match="positive --max-delete"):
        rclone_args(unguarded)
    moving = BucketCopy("x", "x", "move", Remote("a", HOME), "a", Remote("b", HOME), "b", 5, 1)
    with pytest.raises(ValueError, match="a copy, or a sync"):
        rclone_args(moving)


def test_no_key_reaches_the_command_line_and_remotes_are_env_only():
    for copy in _copies().values():
        args = rclone_args(copy)
        assert ["--config", "/dev/null"] == args[
            args.index("--config") : args.index("--config") + 2
        ]
        assert not any("key" in a.lower() or "secret" in a.lower() for a in args), args
        # The buckets exist (made by the Ceph steps on their placements): never created here.
        assert "--s3-no-check-bucket" in args


def test_a_remote_is_endpoint_in_plain_and_keys_by_secret_reference():
    env = {e["name"]: e for e in remote_env(Remote("velero", TARGET))}
    assert env["RCLONE_CONFIG_VELERO_TYPE"]["value"] == "s3"
    assert env["RCLONE_CONFIG_VELERO_PROVIDER"]["value"] == "Ceph"
    assert env["RCLONE_CONFIG_VELERO_ENDPOINT"]["value"] == TARGET
    for variable, key in (
        ("RCLONE_CONFIG_VELERO_ACCESS_KEY_ID", "velero-access-key-id"),
        ("RCLONE_CONFIG_VELERO_SECRET_ACCESS_KEY", "velero-secret-access-key"),
    ):
        assert env[variable] == {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": KEYS_SECRET, "key": key}},
        }
    for bad in ("Home", "home-2", "ho_me"):
        with pytest.raises(ValueError, match="lower-case letters"):
            remote_env(Remote(bad, HOME))


def test_the_etcd_guard_is_two_days_of_every_control_planes_snapshots():
    # Every 6 h: 4 a day and one at a boot, per control plane, for 2 days.
    assert etcd_max_delete(Backup(), 3) == 2 * 3 * (4 + 1)
    assert etcd_max_delete(Backup(etcd_snapshot_hours=5), 1) == 2 * (5 + 1)
    assert etcd_max_delete(Backup(etcd_snapshot_hours=168), 3) == 2 * 3 * (1 + 1)
    # Far below what 30 days keep (3 × 4 × 30 = 360): a wiped source costs 30 per run.
    assert etcd_max_delete(Backup(), 3) < 3 * 4 * Backup().retention_days / 10


def test_the_velero_guard_follows_the_backups_per_day():
    assert cron_times_per_day("0 2 * * *") == 1
    assert cron_times_per_day("0,30 */6 * * 1-5") == 8
    assert velero_max_delete(Backup()) == 2 * 1 * (12 + 50)
    assert velero_max_delete(Backup(schedule="0 */12 * * *")) == 2 * 2 * (12 + 50)


def test_the_copy_schedule_runs_every_day():
    assert Backup().copy_schedule == "0 5 * * *"
    assert Backup(copy_schedule="15 */6 * * *").copy_schedule == "15 */6 * * *"
    for weekly in ("0 5 * * 0", "0 5 1 * *", "0 5 * 1-6 *"):
        with pytest.raises(ValueError, match="must run every day"):
            Backup(copy_schedule=weekly)
    with pytest.raises(ValueError, match="outside 0-6"):
        Backup(copy_schedule="0 5 * * 7")


def test_egress_is_the_two_rgws_on_rgws_port_only():
    policy = egress_policy(["10.20.2.10", "10.10.2.10"], 8080)
    assert policy == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "bucket-copies"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {"ipBlock": {"cidr": "10.10.2.10/32"}},
                    {"ipBlock": {"cidr": "10.20.2.10/32"}},
                ],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ],
    }


def test_the_cronjob_is_bounded_and_restricted():
    copy = _copies()["copy-backups"]
    spec = cronjob_spec(
        copy, "0 5 * * *", "registry.bank.internal/deepseek/rclone/rclone:1.68.2", "de-fra"
    )
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "0 5 * * *",
        "Etc/UTC",
        "Forbid",
    )
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    # A sync is not retried past its --max-delete (tests/unit/test_storage_attacks.py).
    assert job["activeDeadlineSeconds"] == 6 * 3600 and job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"topology.kubernetes.io/region": "de-fra"}
    (container,) = pod["containers"]
    assert container["args"] == rclone_args(copy)
    assert "command" not in container  # the image's entrypoint is rclone
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert security["runAsUser"] >= 10000 and security["capabilities"] == {"drop": ["ALL"]}
    assert not security["allowPrivilegeEscalation"]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    valued = [e for e in container["env"] if "value" in e]
    assert not any("KEY" in e["name"] for e in valued)
    assert {e["name"] for e in container["env"] if "valueFrom" in e} == {
        "RCLONE_CONFIG_VELERO_ACCESS_KEY_ID",
        "RCLONE_CONFIG_VELERO_SECRET_ACCESS_KEY",
        "RCLONE_CONFIG_COPY_ACCESS_KEY_ID",
        "RCLONE_CONFIG_COPY_SECRET_ACCESS_KEY",
    }
