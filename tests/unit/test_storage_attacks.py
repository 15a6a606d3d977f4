"""The data layer's config, attacked: values a hostile merge request or a tired operator could
write in storage.*, hosts[].disks, backup.* and backup.dataLake.*, each of which used to pass
validation and then fail (or do harm) on the live platform. Each must be refused before any
resource is registered, naming the field and the fix."""

import pytest

from components.config.storage import cron_problem
from components.preflight import ConfigError
from components.stack_config import validate_config
from tests.paths import PROJECT_DIR
from tests.stacks import raw_stack_config


def _issues(raw: dict, stack: str = "prod") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, stack)
    return {issue.path: f"{issue.problem}; fix: {issue.fix}" for issue in caught.value.issues}


def _issues_if_any(raw: dict, stack: str = "prod") -> dict[str, str]:
    """Like `_issues`, but {} for a config that validates (so a test of one field does not
    depend on the rest of the stack file being valid at that moment)."""
    try:
        validate_config(raw, stack)
    except ConfigError as error:
        return {issue.path: f"{issue.problem}; fix: {issue.fix}" for issue in error.issues}
    return {}


# --- backup.schedule / backup.dataLake.schedule: what Velero and Kubernetes parse -----------
# Both parse a schedule with robfig/cron v3's standard parser (Velero's schedule controller,
# Kubernetes' CronJob controller): minute 0-59, hour 0-23, day of month 1-31, month 1-12, day
# of week 0-6. Velero does not refuse a bad one at apply: the Schedule's phase becomes
# FailedValidation and no backup is ever taken, which nobody sees until a restore is needed.


@pytest.mark.parametrize(
    ("schedule", "named"),
    [
        ("99 99 99 99 99", "minute"),
        ("60 2 * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 2 0 * *", "day of month"),
        ("0 2 32 * *", "day of month"),
        ("0 2 * 0 *", "month"),
        ("0 2 * 13 *", "month"),
        # Sunday is 0 in robfig/cron: 7 is refused by Velero and Kubernetes alike.
        ("0 2 * * 7", "day of week"),
        ("*/0 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("- * * * *", "minute"),
        ("1-2-3 * * * *", "minute"),
        ("*/5/5 * * * *", "minute"),
        ("*-5 * * * *", "minute"),
    ],
)
def test_a_schedule_cron_cannot_parse_is_refused_naming_the_field(schedule, named):
    problem = cron_problem(schedule)
    assert problem is not None and named in problem, (schedule, problem)
    raw = raw_stack_config("prod")
    raw["backup"]["schedule"] = schedule
    issues = _issues(raw)
    assert named in issues["backup.schedule"]
    assert "minute 0-59, hour 0-23" in issues["backup.schedule"]


@pytest.mark.parametrize("schedule", ["0 2 31 2 *", "0 2 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_schedule_that_never_fires_is_refused(schedule):
    """February 30th: the backups would be configured, and never taken."""
    raw = raw_stack_config("prod")
    raw["backup"]["schedule"] = schedule
    assert "never" in _issues(raw)["backup.schedule"]


def test_a_day_of_week_makes_an_impossible_day_of_month_fire():
    """robfig/cron: with both day fields restricted, either one matching fires."""
    assert cron_problem("0 2 31 2 1") is None


@pytest.mark.parametrize(
    "schedule",
    [
        "0 2 * * *",
        "30 3 * * *",
        "*/15 * * * *",
        "0 1-5/2 * * 0,6",
        "0 0 29 2 *",
        "59 23 31 12 6",
        "5/10 * * * *",
        "0 0 1 1-12/3 *",
    ],
)
def test_schedules_cron_parses_pass(schedule):
    assert cron_problem(schedule) is None


def test_the_data_lake_schedule_is_checked_alike():
    raw = raw_stack_config("prod")
    raw["backup"]["dataLake"] = {
        "namenodes": {
            "dc-a": "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
            "dc-b": "hdfs://nn.dc-b.bank.internal:8020/lake/dc-b",
        },
        "image": "apache/hadoop:3.4.1",
        "networks": ["10.200.0.0/24"],
        "schedule": "0 3 * * 7",
    }
    assert "day of week" in _issues(raw)["backup.dataLake.schedule"]


# --- storage.modelCache.path: a directory the fill Jobs write as UID 10001 -----------------
# The site's local PersistentVolume mounts this host directory read-write into every fill
# Job (and read-only into Triton), and the host step that makes it (`install -d -o 10001`)
# hands an existing directory to that user. Any directory under /var/lib or /opt passed:
# /opt/cni/bin (the CNI plugins the kubelet runs as root), /var/lib/kubelet (every pod's
# volumes and Secrets), containerd's image store, the local-path provisioner's volumes, the
# remote steps' records.


@pytest.mark.parametrize(
    "path",
    [
        "/opt/cni/bin",
        "/opt/containerd",
        "/var/lib/kubelet",
        "/var/lib/kubelet/pods",
        "/var/lib/containerd",
        "/var/lib/etcd",
        "/var/lib/docker",
        "/var/lib/deepseek/local-path",
        "/var/lib/deepseek/local-path/pvc-1234",
        "/var/lib/deepseek/applied",
    ],
)
def test_the_model_cache_is_refused_in_another_programs_directory(path):
    raw = raw_stack_config("prod")
    raw.setdefault("storage", {})["modelCache"] = {"path": path}
    issue = _issues(raw)["storage.modelCache.path"]
    assert "fix: " in issue and "/var/lib/deepseek/model-cache" in issue


@pytest.mark.parametrize(
    "path", ["/var/lib/deepseek/model-cache", "/srv/model-cache", "/data/deepseek/cache"]
)
def test_a_directory_of_its_own_holds_the_model_cache(path):
    raw = raw_stack_config("prod")
    raw.setdefault("storage", {})["modelCache"] = {"path": path}
    assert "storage.modelCache.path" not in _issues_if_any(raw)


def test_the_platforms_own_host_directories_are_the_ones_the_cache_avoids():
    """The reserved directories are the ones the other layers really use."""
    from components.config.storage import PLATFORM_HOST_DIRS
    from components.kubernetes.local_path_provisioner import DATA_DIR

    lib = (PROJECT_DIR / "components" / "remote" / "lib.sh").read_text()
    assert DATA_DIR in PLATFORM_HOST_DIRS
    assert "record=/var/lib/deepseek/applied/" in lib
    assert "/var/lib/deepseek/applied" in PLATFORM_HOST_DIRS


def test_the_model_cache_and_a_hosts_preflight_directory_are_apart():
    """fio writes its test file in the preflight directory: inside the cache it would sit
    among the weights (and outside the fill's accounting of free space)."""
    raw = raw_stack_config("prod")
    raw.setdefault("storage", {})["modelCache"] = {"path": "/data/deepseek"}
    gpu = next(h for h in raw["sites"][0]["hosts"] if h.get("gpu"))
    gpu["preflightDir"] = "/data/deepseek/fio"
    issue = _issues(raw)["storage.modelCache.path"]
    assert gpu["name"] in issue and "preflightDir" in issue


# --- storage.modelBucket: a name RGW accepts, and not a backup bucket's -------------------
# RGW refuses (InvalidBucketName) a name shaped like an IPv4 address, with two dots in a row
# or a dot beside a hyphen (rgw_rest_s3.cc, validate_bucket_name): the pattern let them
# through, and the model store's user step would fail on the live cluster. `velero-<site>` is
# the bucket of a site's backups at its target: a model bucket of that name made the program
# fail half-way (two users for one bucket), after registering the sites built before.


@pytest.mark.parametrize(
    ("bucket", "named"),
    [
        ("10.20.2.10", "IP address"),
        ("192.168.0.1", "IP address"),
        ("models..v2", "two dots"),
        ("models.-v2", "a dot beside a hyphen"),
        ("models-.v2", "a dot beside a hyphen"),
    ],
)
def test_a_bucket_name_rgw_refuses_is_refused(bucket, named):
    raw = raw_stack_config("prod")
    raw["storage"]["modelBucket"] = bucket
    issue = _issues(raw)["storage.modelBucket"]
    assert named in issue and "fix: " in issue


@pytest.mark.parametrize("bucket", ["velero-dc-a", "velero-dc-b", "etcd-dc-a", "etcd-dc-b"])
def test_the_model_bucket_cannot_take_a_backup_buckets_name(bucket):
    """etcd-dc-a as the model bucket made the program fail with a traceback (two RGW users
    for dc-a's snapshot bucket at dc-b), after registering dc-a."""
    raw = raw_stack_config("prod")
    raw["storage"]["modelBucket"] = bucket
    issue = _issues(raw)["storage.modelBucket"]
    assert "backups and etcd snapshots" in issue and bucket.split("-")[0] + "-" in issue


@pytest.mark.parametrize("bucket", ["deepseek-models", "models.v2", "a1b", "10.20.2.10x"])
def test_plain_bucket_names_pass(bucket):
    raw = raw_stack_config("prod")
    raw["storage"]["modelBucket"] = bucket
    assert "storage.modelBucket" not in _issues_if_any(raw)


# --- storage.rgw.port: a port nothing else on the storage hosts holds ----------------------
# RGW binds the storage hosts' own addresses on this port, haproxy the RGW virtual IP: a port
# a Ceph daemon or the ingress' status page already holds on those hosts makes RGW or haproxy
# fail to start, after the cluster is built.


@pytest.mark.parametrize("port", [3300, 6789, 6800, 7000, 7300, 1967, 8765, 9283])
def test_an_rgw_port_a_ceph_daemon_holds_is_refused(port):
    raw = raw_stack_config("prod")
    raw["storage"]["rgw"] = {"port": port}
    issue = _issues(raw)["storage.rgw.port"]
    assert str(port) in issue and "fix: " in issue


@pytest.mark.parametrize("port", [8080, 7480, 8000, 7301, 6799])
def test_a_free_rgw_port_passes(port):
    raw = raw_stack_config("prod")
    raw["storage"]["rgw"] = {"port": port}
    assert "storage.rgw.port" not in _issues_if_any(raw)


def test_the_reserved_prefix_is_the_backup_buckets():
    from components.config.storage import BACKUP_BUCKET_PREFIX
    from components.storage.velero import bucket_of

    assert bucket_of("dc-a") == "velero-dc-a"
    assert bucket_of("dc-a").startswith(BACKUP_BUCKET_PREFIX)


def test_the_reserved_prefix_is_the_etcd_snapshot_buckets():
    from components.config.storage import SNAPSHOT_BUCKET_PREFIX
    from components.kubernetes.etcd_snapshot_spec import snapshot_bucket

    assert snapshot_bucket("dc-a") == f"{SNAPSHOT_BUCKET_PREFIX}dc-a"


# --- Names derived from a site's name ------------------------------------------------------
# A site's backups land in bucket velero-<site> (RGW user of the same name) at its target: a
# bucket name has at most 63 characters, so a site name of 57 or more (a DNS label allows 63)
# passed validation and failed the target's user step on the live cluster. The data-lake sync
# names a CronJob data-lake-sync-from-<peer>, and a CronJob's name has at most 52 characters.


def _renamed_second_site(raw: dict, name: str) -> None:
    raw["sites"][1]["name"] = name
    raw["backup"]["targets"] = {"dc-a": name, name: "dc-a"}


def test_a_site_name_too_long_for_its_backup_bucket_is_refused():
    raw = raw_stack_config("prod")
    _renamed_second_site(raw, "d" * 57)
    issue = _issues(raw)[f"backup.targets.{'d' * 57}"]
    assert "velero-" + "d" * 57 in issue and "63" in issue


def test_a_site_name_that_fits_its_backup_bucket_passes():
    raw = raw_stack_config("prod")
    _renamed_second_site(raw, "d" * 56)
    assert not [p for p in _issues_if_any(raw) if p.startswith("backup.targets")]


def _with_lake(raw: dict, **changes) -> dict:
    lake = {
        "namenodes": {
            "dc-a": "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
            "dc-b": "hdfs://nn.dc-b.bank.internal:8020/lake/dc-b",
        },
        "image": "apache/hadoop:3.4.1",
        "networks": ["10.200.0.0/24"],
    }
    raw["backup"]["dataLake"] = {**lake, **changes}
    return raw


def test_a_peer_name_too_long_for_the_sync_cronjob_is_refused():
    raw = raw_stack_config("prod")
    long = "d" * 33
    _renamed_second_site(raw, long)
    _with_lake(
        raw,
        namenodes={
            "dc-a": "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
            long: "hdfs://nn.dc-b.bank.internal:8020/lake/dc-b",
        },
    )
    issue = _issues(raw)[f"backup.dataLake.namenodes.{long}"]
    assert "data-lake-sync-from-" + long in issue and "52" in issue


# --- backup.dataLake.namenodes: one namenode per site, named as DNS names ------------------


def test_two_sites_naming_one_namenode_are_refused():
    """Each site's job would copy the other's part onto itself (the same HDFS): two
    CronJobs, no second copy anywhere."""
    raw = _with_lake(
        raw_stack_config("prod"),
        namenodes={
            "dc-a": "hdfs://nn.bank.internal/lake/dc-a",
            "dc-b": "hdfs://nn.bank.internal:8020/lake/dc-b",
        },
    )
    issue = _issues(raw)["backup.dataLake.namenodes.dc-b"]
    assert "nn.bank.internal:8020" in issue and "dc-a" in issue


@pytest.mark.parametrize(
    "host", ["nn..bank.internal", ".bank.internal", "-nn.bank.internal", "nn-.bank.internal"]
)
def test_a_namenode_that_is_no_dns_name_is_refused(host):
    raw = _with_lake(
        raw_stack_config("prod"),
        namenodes={
            "dc-a": f"hdfs://{host}:8020/lake/dc-a",
            "dc-b": "hdfs://nn.dc-b.bank.internal:8020/lake/dc-b",
        },
    )
    issues = _issues(raw)
    (path,) = [p for p in issues if p.startswith("backup.dataLake.namenodes")]
    assert "DNS name" in issues[path]


# --- hosts[].disks[].device ------------------------------------------------------------------


@pytest.mark.parametrize(
    "device", ["/dev/disk/by-id/..", "/dev/disk/by-id/.", "/dev/disk/by-path/.."]
)
def test_a_by_id_name_that_is_a_directory_is_refused(device):
    """/dev/disk/by-id/.. is /dev/disk: no device, and cephadm's OSD spec would name it."""
    raw = raw_stack_config("prod")
    next(h for h in raw["sites"][0]["hosts"] if "storage" in h["roles"])["disks"][0]["device"] = (
        device
    )
    issues = _issues(raw)
    (path,) = [p for p in issues if p.endswith(".disks[0].device")]
    assert "fix: " in issues[path]


# --- Numbers written as true/false -----------------------------------------------------------
# pydantic's lax mode reads a YAML boolean as 1 or 0 in a number field: `retentionDays: true`
# kept one day of backups, `headroomPercent: false` no headroom, `sizeGb: true` a 1 GB disk.


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("backup.retentionDays", True),
        ("backup.etcdSnapshotHours", True),
        ("storage.headroomPercent", False),
        ("storage.revisionsKept", True),
        ("sites[0].hosts[9].disks[0].sizeGb", True),
    ],
)
def test_a_boolean_in_a_number_field_is_refused(path, value):
    raw = raw_stack_config("prod")
    node = raw
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    issue = _issues(raw)[path]
    assert "not a number" in issue and "fix: " in issue


# --- What Velero's backups carry to the other site --------------------------------------------
# Velero encrypts pod volumes (kopia, with the repository password), not the Kubernetes objects
# of a backup: those go as a gzipped tarball to the location as they are (Velero has no
# client-side encryption, vmware-tanzu/velero discussion #7736; RGW's SSE-C needs HTTPS, and the
# RGW is plain HTTP here). The backed-up namespaces hold the internal CA's key (cert-manager)
# and the model store's S3 keys (the cache fill's curl config): every night they crossed to the
# other site in plain text, and sat readable in its bucket.


def test_the_scheduled_backups_leave_secrets_out():
    from ipaddress import IPv4Address

    import pulumi

    from components.config import Backup, Mirrors
    from components.storage.velero import BackupTarget, bucket_of, velero_values

    mirrors = Mirrors.model_validate(
        {
            "internalDomains": ["bank.internal"],
            "imageRegistry": "registry.bank.internal/deepseek",
            "chartRepository": "https://charts.bank.internal/stable",
            "aptMirror": "https://apt.bank.internal/ubuntu",
            "kubernetesAptRepo": "https://apt.bank.internal/kubernetes/core/stable/v1.31/deb/",
        }
    )
    key = pulumi.Output.secret("KEY")
    target = BackupTarget(
        "dc-b",
        "de-muc",
        IPv4Address("10.20.2.10"),
        8080,
        pulumi.Output.from_input("http://10.20.2.10:8080"),
        bucket_of("dc-a"),
        key,
        key,
    )
    values = velero_values(Backup(targets={"dc-a": "dc-b"}), mirrors, "1.31.4", "dc-a", target)
    for schedule in values["schedules"].values():
        assert "secrets" in schedule["template"]["excludedResources"]
        assert "secrets" not in schedule["template"].get("includedResources", [])


# --- sites[].storage.rgwVirtualIp: an address keepalived can hold ----------------------------


@pytest.mark.parametrize(
    ("vip", "named"), [("10.10.0.0", "network address"), ("10.10.3.255", "broadcast address")]
)
def test_the_node_networks_own_addresses_are_refused_as_the_rgw_vip(vip, named):
    """10.10.0.0/22's network and broadcast addresses are no host's: keepalived cannot hold
    them, and the model store and the other site's backups would have no RGW."""
    raw = raw_stack_config("prod")
    raw["sites"][0]["storage"]["rgwVirtualIp"] = vip
    allow = raw["sites"][1]["network"]["egressAllowList"]
    allow[allow.index("10.10.2.10/32")] = f"{vip}/32"
    issue = _issues(raw)["sites[0].storage.rgwVirtualIp"]
    assert named in issue and "fix: pick a free address in 10.10.0.0/22" in issue


# --- the bucket copies' deletion guard, per Job ---------------------------------------------------
def test_a_sync_job_is_not_retried_past_its_deletion_guard():
    """`--max-delete` bounds one rclone run (its threshold is a fatal error: rclone itself does
    not retry). But the CronJob's Job had backoffLimit 2: a sync that stopped on its guard
    (a wiped source) failed its pod, and Kubernetes started two more, each deleting another
    --max-delete objects: three times the stated bound in one scheduled run. A sync's Job is
    not retried (the next day's run is the retry); the model copy, which deletes nothing,
    still is."""
    from components.config import Backup
    from components.storage.bucket_copy_spec import cronjob_spec, site_copies

    copies = site_copies(
        "dc-a",
        "deepseek-models",
        "http://10.10.2.10:8080",
        "http://10.20.2.10:8080",
        {"velero": "velero-dc-a", "etcd": "etcd-dc-a"},
        Backup(),
        3,
    )
    for copy in copies:
        job = cronjob_spec(copy, "0 5 * * *", "mirror/rclone:1.68.2", "dc-a")["jobTemplate"]
        attempts = 1 + job["spec"]["backoffLimit"]
        if copy.verb == "sync":
            assert attempts == 1, (copy.job, attempts)
        else:
            assert attempts > 1, copy.job
