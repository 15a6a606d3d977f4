"""What the Ceph steps must get right, one by one, in the host-script sandbox (the generic
converge / re-run / recovery / shape tests of tests/external/test_host_scripts.py cover them
too): Ceph's packages from its own repository at the image's version, the bootstrap's guard
(its own cluster left alone, another refused, a half-done one removed and done again), a host
added once, the OSD specs as config declares the disks and their device classes, the pools'
rules per device class and the backup placement on HDD, RGW restarted when its placements
change, and an S3 user's keys rotated without a secret ever on a command line, its bucket on
its placement."""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.external.sandbox import Failure, Sandbox
from tests.external.test_host_scripts import (
    BY_ID,
    FIRST_STORAGE,
    POOLS,
    RGW_ACCESS_KEY,
    RGW_SECRET_KEY,
    ROTATED,
    Case,
    Harness,
    converged,
    describe_difference,
)
from tests.paths import LOCAL_FIXTURES

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="the host-script harness runs each script as root in namespaces it makes "
    "(unshare): run the tests as root on Linux",
)

OTHER_FSID = "0b0e6b3e-5d2f-4c8e-9b1a-2f8c3d4e5f60"


@pytest.fixture(scope="module")
def harness(prod) -> Iterator[Harness]:
    harness = Harness(prod)
    yield harness
    harness.close()
    for sandbox in harness._prepared.values():
        sandbox.stop()


def fresh(harness: Harness, case_id: str) -> tuple[Case, Sandbox]:
    """A copy of the host as the case's step finds it."""
    case = BY_ID[case_id]
    return case, harness.clone(harness.prepared(case), case)


def store(sandbox: Sandbox) -> Path:
    """The sandbox cluster's store (the stand-ins' monitor store), readable from here."""
    fsid = ""
    for line in sandbox.path("/etc/ceph/ceph.conf").read_text().splitlines():
        if line.strip().startswith("fsid"):
            fsid = line.split("=", 1)[1].strip()
    (found,) = sandbox.path(f"/var/lib/ceph/{fsid}").glob("mon.*/standin")
    return found


def tools(run) -> list[str]:
    return [" ".join([call.tool, *call.argv[:3]]) for call in run.calls]


# --- the bootstrap's guard ----------------------------------------------------------------
def test_a_bootstrapped_cluster_of_the_stacks_fsid_is_left_alone(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    first = harness.run(sandbox, case)
    fsid = case.environment(harness.graph)["FSID"]
    assert first.result["fsid"] == fsid and first.result["changed"] is True
    assert first.result["publicKey"].endswith(f" ceph-{fsid}")
    again = harness.run(sandbox, case)
    assert again.result["changed"] is False and not again.host_changed
    assert not [c for c in again.calls if c.tool == "cephadm" and "bootstrap" in c.argv]
    assert (again.result["fsid"], again.result["publicKey"]) == (fsid, first.result["publicKey"])
    harness.stop(sandbox)


def test_a_cluster_of_another_fsid_is_refused_naming_both(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    harness.run(sandbox, case)
    environment = {**case.environment(harness.graph), "FSID": OTHER_FSID}
    refused = sandbox.run(case.step, environment)
    assert not refused.ok, refused.explain()
    ours = case.environment(harness.graph)["FSID"]
    assert ours in refused.stderr and OTHER_FSID in refused.stderr, refused.stderr
    assert "nothing was changed" in refused.stderr
    assert not refused.host_changed
    assert not [c for c in refused.calls if c.tool == "cephadm" and c.argv[0] != "ls"]
    harness.stop(sandbox)


def test_daemons_of_another_cluster_without_a_ceph_conf_are_refused(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    other = sandbox.path(f"/var/lib/ceph/{OTHER_FSID}/mon.dca-ceph-1")
    other.mkdir(parents=True)
    refused = sandbox.run(case.step, case.environment(harness.graph))
    assert not refused.ok and OTHER_FSID in refused.stderr, refused.explain()
    assert not refused.host_changed
    assert [c.argv[:1] for c in refused.calls if c.tool == "cephadm"] == [("ls",)]
    harness.stop(sandbox)


def test_a_half_done_bootstrap_is_removed_and_done_again(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    clean_run, clean_state = harness.clean(case)
    (bootstrap,) = [c for c in clean_run.calls if c.tool == "cephadm" and "bootstrap" in c.argv]
    failed = harness.run(sandbox, case, fail=Failure(bootstrap, 1, "late"))
    assert not failed.ok
    fsid = case.environment(harness.graph)["FSID"]
    # What a bootstrap killed half-way leaves: its daemons' dirs, ceph.conf, the keyring.
    assert sandbox.path(f"/var/lib/ceph/{fsid}").is_dir()
    assert sandbox.path("/etc/ceph/ceph.conf").exists()
    assert not sandbox.path("/etc/ceph/ceph.pub").exists()
    redone = harness.run(sandbox, case)
    assert tools(redone).index("cephadm rm-cluster --force --fsid") < tools(redone).index(
        "cephadm --image " + case.environment(harness.graph)["CEPH_IMAGE"] + " bootstrap"
    )
    (removal,) = [c for c in redone.calls if c.argv[:1] == ("rm-cluster",)]
    assert removal.argv == ("rm-cluster", "--force", "--fsid", fsid)
    assert converged(sandbox) == clean_state, "\n".join(
        describe_difference(clean_state, converged(sandbox))
    )
    assert harness.run(sandbox, case).result["changed"] is False
    harness.stop(sandbox)


def test_an_incomplete_cluster_with_osds_is_never_removed(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    harness.run(sandbox, case)
    fsid = case.environment(harness.graph)["FSID"]
    sandbox.path(f"/var/lib/ceph/{fsid}/osd.0").mkdir()
    sandbox.path("/etc/ceph/ceph.pub").unlink()
    refused = sandbox.run(case.step, case.environment(harness.graph))
    assert not refused.ok and "has OSDs (" in refused.stderr, refused.explain()
    assert "osd.0" in refused.stderr and not refused.host_changed
    assert not [c for c in refused.calls if c.argv[:1] == ("rm-cluster",)]
    harness.stop(sandbox)


def test_the_bootstrap_refuses_a_host_whose_hostname_is_not_its_name(harness):
    case, sandbox = fresh(harness, "ceph-bootstrap")
    refused = sandbox.run(case.step, {**case.environment(harness.graph), "HOST_NAME": "ceph-9"})
    assert not refused.ok and "HOST_NAME refused" in refused.stderr, refused.explain()
    assert "this host's hostname (dca-ceph-1)" in refused.stderr
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)


# --- hosts ----------------------------------------------------------------------------------
def test_a_host_is_added_once_and_moved_when_its_address_changes(harness):
    case, sandbox = fresh(harness, "ceph-host-add")
    environment = case.environment(harness.graph)
    added = harness.run(sandbox, case)
    (add,) = [c for c in added.calls if c.argv[:3] == ("orch", "host", "add")]
    assert add.argv == (
        "orch", "host", "add", "dca-ceph-2", environment["HOST_ADDRESS"], "--labels", "_admin",
    )  # fmt: skip
    again = harness.run(sandbox, case)
    assert again.result["changed"] is False
    assert [c.argv[:3] for c in again.calls] == [("orch", "host", "ls")]
    moved = sandbox.run(case.step, {**environment, "HOST_ADDRESS": "10.10.2.99"})
    assert moved.ok and moved.result["changed"] is True, moved.explain()
    assert [c.argv for c in moved.calls if c.argv[2:3] == ("set-addr",)] == [
        ("orch", "host", "set-addr", "dca-ceph-2", "10.10.2.99")
    ]
    hosts = (store(sandbox) / "hosts").read_text()
    assert "dca-ceph-2\t10.10.2.99\t_admin" in hosts
    harness.stop(sandbox)


def test_host_prep_installs_cephs_packages_from_its_repository_at_the_images_version(harness):
    case, sandbox = fresh(harness, "ceph-host-prep-first")
    environment = case.environment(harness.graph)
    repository, version = environment["CEPH_APT_REPO"], environment["CEPH_VERSION"]
    assert repository == "https://apt.bank.internal/ceph/debian-reef" and version == "18.2.4"
    run = harness.run(sandbox, case)
    codename = next(
        line.split("=", 1)[1].strip('"')
        for line in sandbox.path("/etc/os-release").read_text().splitlines()
        if line.startswith("VERSION_CODENAME=")
    )
    assert sandbox.path("/etc/apt/sources.list.d/deepseek-ceph.list").read_text().splitlines() == [
        "# Managed by deepseek-onprem: Ceph's packages from the internal mirror of its repository.",
        f"deb {repository} {codename} main",
    ]
    pin = sandbox.path("/etc/apt/preferences.d/deepseek-ceph").read_text()
    assert f"\nPin: version {version}-*\nPin-Priority: 1001\n" in pin
    assert "|cephadm|" in pin.replace("(", "|") and "|ceph-common|" in pin
    # apt read the new source before installing, and Ceph's packages came from it.
    calls = [" ".join([c.tool, *c.argv[:2]]) for c in run.calls if c.tool == "apt-get"]
    assert calls.index("apt-get update") < next(
        n for n, c in enumerate(calls) if c.startswith("apt-get install")
    )
    packages = {
        line.split("\t")[0]: line.split("\t")
        for line in sandbox.path("/var/lib/standin/dpkg/status").read_text().splitlines()
    }
    for name in ("cephadm", "ceph-common"):
        assert packages[name][4] == repository, packages[name]
        assert packages[name][1].startswith(f"{version}-"), packages[name]
    assert packages["podman"][4] != repository
    assert run.result["cephadm"].startswith(version)
    refused = sandbox.run(case.step, {**environment, "CEPH_APT_REPO": "https://x/$(id)"})
    assert not refused.ok and "CEPH_APT_REPO refused" in refused.stderr, refused.explain()
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)


def test_host_prep_authorizes_cephadms_key_beside_the_keys_already_there(harness):
    case, sandbox = fresh(harness, "ceph-host-prep-other")
    keys = sandbox.path("/root/.ssh/authorized_keys")
    keys.parent.mkdir(mode=0o700, exist_ok=True)
    keys.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOperatorKeyOperatorKey0 ops")
    run = harness.run(sandbox, case)
    key = case.environment(harness.graph)["CEPHADM_PUBLIC_KEY"]
    assert key.startswith("ssh-rsa ") and " ceph-" in key  # cephadm's, from the bootstrap
    lines = keys.read_text().splitlines()
    assert lines == [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOperatorKeyOperatorKey0 ops",
        key,
    ]
    assert run.result["cephadm"].startswith(case.environment(harness.graph)["CEPH_VERSION"])
    # A key with a line break would add a line of its own choosing: refused first.
    refused = sandbox.run(
        case.step,
        {**case.environment(harness.graph), "CEPHADM_PUBLIC_KEY": key + "\ncommand=x ssh-rsa A"},
    )
    assert not refused.ok and "CEPHADM_PUBLIC_KEY refused" in refused.stderr
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)


# --- OSDs -----------------------------------------------------------------------------------
def test_the_osd_specs_are_applied_as_config_declares_the_disks(harness):
    case, sandbox = fresh(harness, "ceph-osds")
    environment = case.environment(harness.graph)
    run = harness.run(sandbox, case)
    specs = "/etc/deepseek/ceph/cluster-services.yaml"
    assert sandbox.path(specs).read_text() == environment["SERVICE_SPECS"] + "\n"
    assert [c.argv for c in run.calls if c.argv[:2] == ("orch", "apply")] == [
        ("orch", "apply", "-i", specs)
    ]
    documents = list(yaml.safe_load_all(environment["SERVICE_SPECS"]))
    assert documents[0] == {
        "service_type": "mon",
        "placement": {"hosts": ["dca-ceph-1", "dca-ceph-2", "dca-ceph-3"]},
    }
    # One OSD service per host and device class, each naming its class: prod's storage hosts
    # have four NVMe drives and two HDDs.
    disks = {"nvme": [f"/dev/nvme{n}n1" for n in range(4)], "hdd": ["/dev/sda", "/dev/sdb"]}
    services = [(f"dca-ceph-{n}", device_class) for n in (1, 2, 3) for device_class in disks]
    assert len(documents) == 1 + len(services)
    for (host, device_class), document in zip(services, documents[1:], strict=True):
        assert document == {
            "service_type": "osd",
            "service_id": f"{host}-{device_class}",
            "placement": {"hosts": [host]},
            "spec": {
                "data_devices": {"paths": disks[device_class]},
                "crush_device_class": device_class,
            },
        }
        applied = (store(sandbox) / f"services/osd.{host}-{device_class}.json").read_text()
        assert json.loads(applied) == document
    assert (run.result["osdsExpected"], run.result["osdsUp"]) == ("18", "18")
    # The OSDs carry the class config gives (Ceph would call the NVMe drives ssd).
    tree = json.loads(sandbox.exec("sudo", "ceph", "osd", "tree", "--format", "json").stdout)
    classes = {(n["device_class"]) for n in tree["nodes"] if n["type"] == "osd"}
    assert classes == {"nvme", "hdd"}
    # Applied again only when the specs differ from what was applied, or a service is gone.
    assert not [c for c in harness.run(sandbox, case).calls if c.argv[:2] == ("orch", "apply")]
    (store(sandbox) / "services/osd.dca-ceph-3-hdd.json").unlink()
    back = harness.run(sandbox, case)
    assert [c.argv[:2] for c in back.calls if c.argv[:2] == ("orch", "apply")] == [
        ("orch", "apply")
    ]
    harness.stop(sandbox)


def test_the_osd_step_applies_nothing_but_monitors_and_osds(harness):
    case, sandbox = fresh(harness, "ceph-osds")
    environment = case.environment(harness.graph)
    rgw = BY_ID["ceph-rgw"].environment(harness.graph)["RGW_SPECS"]
    refused = sandbox.run(
        case.step, {**environment, "SERVICE_SPECS": environment["SERVICE_SPECS"] + "---\n" + rgw}
    )
    assert not refused.ok and "SERVICE_SPECS refused" in refused.stderr, refused.explain()
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)


def test_the_osd_step_fails_naming_the_count_when_osds_do_not_come_up(harness):
    case, sandbox = fresh(harness, "ceph-osds")
    run = sandbox.run(
        case.step,
        {**case.environment(harness.graph), "OSDS_EXPECTED": "19"},
        tuning={"OSD_READY_SECONDS": "1"},
    )
    assert not run.ok and "18 of 19 OSDs up after 1s" in run.stderr, run.explain()
    harness.stop(sandbox)


# --- pools ----------------------------------------------------------------------------------
def test_the_pool_follows_config_and_a_rule_of_another_failure_domain_is_refused(harness):
    case, sandbox = fresh(harness, "ceph-pools")
    environment = case.environment(harness.graph)
    assert (environment["DEVICE_CLASSES"], environment["BACKUP_CLASS"]) == ("nvme hdd", "hdd")
    harness.run(sandbox, case)
    base = environment["CRUSH_RULE"]
    pool = (store(sandbox) / f"pools/{environment['RBD_POOL']}").read_text()
    assert "size=3\n" in pool and "min_size=2\n" in pool
    assert f"crush_rule={base}-nvme\n" in pool and "applications=rbd\n" in pool
    rules = (store(sandbox) / "rules").read_text()
    for device_class in ("nvme", "hdd"):
        assert f"\t{base}-{device_class}\tdefault\thost\t{device_class}\n" in rules
    # Two copies, both to write: size first (Ceph resets min_size with it, to 1), then min_size.
    changed = sandbox.run(case.step, {**environment, "REPLICA_SIZE": "2", "MIN_SIZE": "2"})
    assert changed.ok and changed.result["changed"] is True, changed.explain()
    sets = [c.argv[3:] for c in changed.calls if c.argv[:3] == ("osd", "pool", "set")]
    assert [s for s in sets if s[0] == environment["RBD_POOL"]] == [
        (environment["RBD_POOL"], "size", "2"),
        (environment["RBD_POOL"], "min_size", "2"),
    ]
    # A rule of that name placing copies per OSD: nothing changes.
    sandbox.exec(
        "sudo", "ceph", "osd", "crush", "rule", "create-replicated", "by-osd-nvme", "default", "osd"
    )
    refused = sandbox.run(case.step, {**environment, "CRUSH_RULE": "by-osd"})
    assert not refused.ok and "failure domain 'osd'" in refused.stderr, refused.explain()
    assert not refused.host_changed
    harness.stop(sandbox)


# --- S3 users ---------------------------------------------------------------------------------
def user_keys(sandbox: Sandbox, user: str) -> list[tuple[str, str]]:
    document = json.loads((store(sandbox) / f"rgw/users/{user}.json").read_text())
    return [(k["access_key"], k["secret_key"]) for k in document["keys"]]


def test_a_users_keys_are_rotated_and_its_bucket_kept(harness):
    case, sandbox = fresh(harness, "ceph-rgw-user")
    environment = case.environment(harness.graph)
    first = harness.run(sandbox, case)
    assert first.result == {
        "changed": True,
        "user": "model-store",
        "bucket": environment["BUCKET"],
        "placement": "default-placement",
    }
    assert user_keys(sandbox, "model-store") == [(RGW_ACCESS_KEY, RGW_SECRET_KEY)]
    bucket = store(sandbox) / "rgw" / "buckets" / environment["BUCKET"]
    assert bucket.read_text() == "owner=model-store\nplacement=default-placement\n"
    (put,) = [c for c in first.calls if c.tool == "curl"]
    assert put.argv[-1] == f"{environment['RGW_ENDPOINT']}/{environment['BUCKET']}"

    rotated = sandbox.run(case.step, environment, ROTATED)
    assert rotated.ok and rotated.result["changed"] is True, rotated.explain()
    assert user_keys(sandbox, "model-store") == [
        (ROTATED["RGW_ACCESS_KEY"], ROTATED["RGW_SECRET_KEY"])
    ]
    # The bucket stays, and is not created again.
    assert bucket.read_text() == "owner=model-store\nplacement=default-placement\n"
    assert not [c for c in rotated.calls if c.tool == "curl"]
    assert [c.argv[:2] for c in rotated.calls if c.tool == "radosgw-admin"] == [
        ("metadata", "get"),
        ("metadata", "put"),
        ("bucket", "stats"),
    ]
    again = sandbox.run(case.step, environment, ROTATED)
    assert again.ok and again.result["changed"] is False and not again.host_changed
    harness.stop(sandbox)


def test_a_bucket_owned_by_another_user_is_refused(harness):
    case, sandbox = fresh(harness, "ceph-rgw-user")
    environment = case.environment(harness.graph)
    harness.run(sandbox, case)
    other = {**environment, "RGW_USER": "backups-dc-b"}
    refused = sandbox.run(case.step, other, ROTATED)
    assert not refused.ok, refused.explain()
    assert f"bucket {environment['BUCKET']} exists, owned by model-store" in refused.stderr
    bucket = store(sandbox) / "rgw" / "buckets" / environment["BUCKET"]
    assert bucket.read_text() == "owner=model-store\nplacement=default-placement\n"
    harness.stop(sandbox)


def test_secret_keys_that_do_not_fit_are_refused_without_showing_them(harness):
    case, sandbox = fresh(harness, "ceph-rgw-user")
    bad = {"RGW_ACCESS_KEY": RGW_ACCESS_KEY, "RGW_SECRET_KEY": 'x" ; rm -rf / ; "' + "y" * 30}
    refused = sandbox.run(case.step, case.environment(harness.graph), bad)
    assert not refused.ok and "RGW_SECRET_KEY refused" in refused.stderr, refused.explain()
    assert bad["RGW_SECRET_KEY"] not in refused.stderr + refused.stdout
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)


def test_backups_get_an_rgw_placement_whose_pool_is_on_the_hdd_rule(harness):
    case, sandbox = fresh(harness, "ceph-pools")
    environment = case.environment(harness.graph)
    run = harness.run(sandbox, case)
    base = environment["CRUSH_RULE"]
    assert run.result == {
        "changed": True,
        "pool": environment["RBD_POOL"],
        "crushRule": f"{base}-nvme",
        "backupPlacement": "backups",
        "backupPool": "default.rgw.backups.data",
        "backupCrushRule": f"{base}-hdd",
    }
    backup_pool = (store(sandbox) / "pools/default.rgw.backups.data").read_text()
    assert f"crush_rule={base}-hdd\n" in backup_pool and "applications=rgw\n" in backup_pool
    zone = json.loads((store(sandbox) / "rgw/zone.json").read_text())
    (backups,) = [p["val"] for p in zone["placement_pools"] if p["key"] == "backups"]
    assert backups["storage_classes"] == {"STANDARD": {"data_pool": "default.rgw.backups.data"}}
    # Its index and multipart parts share the default placement's pools (on the fast class).
    assert (backups["index_pool"], backups["data_extra_pool"]) == (
        "default.rgw.buckets.index",
        "default.rgw.buckets.non-ec",
    )
    zonegroup = json.loads((store(sandbox) / "rgw/zonegroup.json").read_text())
    assert [t["name"] for t in zonegroup["placement_targets"]] == ["default-placement", "backups"]
    # RGW's own pools, made with the zone before RGW ran, took the fast rule as the default.
    for name in (".rgw.root", "default.rgw.meta"):
        assert f"crush_rule={base}-nvme\n" in (store(sandbox) / f"pools/{name}").read_text()
    defaults = dict(
        line.split("\t")[1:] for line in (store(sandbox) / "config").read_text().splitlines()
    )
    nvme_id = next(
        line.split("\t")[0]
        for line in (store(sandbox) / "rules").read_text().splitlines()
        if line.split("\t")[1] == f"{base}-nvme"
    )
    assert defaults["osd_pool_default_crush_rule"] == nvme_id

    # An RGW pool moved to another rule by hand goes back to the fast one; the backup pool
    # stays on HDD.
    sandbox.exec(
        "sudo", "ceph", "osd", "pool", "set", "default.rgw.meta", "crush_rule", f"{base}-hdd"
    )
    moved = harness.run(sandbox, case)
    assert moved.result["changed"] is True
    assert [c.argv[3:] for c in moved.calls if c.argv[:3] == ("osd", "pool", "set")] == [
        ("default.rgw.meta", "crush_rule", f"{base}-nvme")
    ]
    assert harness.run(sandbox, case).result["changed"] is False
    harness.stop(sandbox)


def test_a_device_class_on_fewer_hosts_than_copies_is_refused_before_any_change(harness):
    case, sandbox = fresh(harness, "ceph-pools")
    # dca-ceph-3's HDDs are not OSDs (their service gone): HDD pools could hold 2 copies.
    (store(sandbox) / "services/osd.dca-ceph-3-hdd.json").unlink()
    refused = sandbox.run(case.step, case.environment(harness.graph))
    assert not refused.ok, refused.explain()
    assert "device class hdd has OSDs on 2 host(s), and its pools need 3" in refused.stderr
    assert "hdd on dca-ceph-1, dca-ceph-2; nvme on dca-ceph-1, dca-ceph-2, dca-ceph-3" in (
        refused.stderr
    ), refused.stderr
    assert "ceph osd crush set-device-class hdd osd.<id>" in refused.stderr
    assert not refused.host_changed
    harness.stop(sandbox)


def test_rgw_is_restarted_when_its_placements_change_and_only_then(harness):
    case, sandbox = fresh(harness, "ceph-rgw")
    first = harness.run(sandbox, case)
    # Deployed just now: it read the placements at its start (backups included); no restart.
    assert not [c for c in first.calls if c.argv[:2] == ("orch", "restart")]
    running = store(sandbox) / "rgw/running-placements"
    assert running.read_text().split() == ["backups", "default-placement"]
    assert harness.run(sandbox, case).result["changed"] is False
    # A placement added while RGW runs (as ceph-pools adds one to a running cluster).
    for argv in (
        ("zonegroup", "placement", "add", "--placement-id", "archive"),
        ("zone", "placement", "add", "--placement-id", "archive", "--data-pool", "archive.data"),
    ):
        sandbox.exec("sudo", "radosgw-admin", *argv)
    assert "archive" not in running.read_text().split()
    restarted = harness.run(sandbox, case)
    assert restarted.result["changed"] is True
    assert [c.argv for c in restarted.calls if c.argv[:2] == ("orch", "restart")] == [
        ("orch", "restart", "rgw.dc-a")
    ]
    assert "archive" in running.read_text().split()
    again = harness.run(sandbox, case)
    assert again.result["changed"] is False
    assert not [c for c in again.calls if c.argv[:2] == ("orch", "restart")]
    harness.stop(sandbox)


KEYS = {"RGW_ACCESS_KEY": RGW_ACCESS_KEY, "RGW_SECRET_KEY": RGW_SECRET_KEY}


def backup_user_case() -> Case:
    """dc-b's Velero user at dc-a's first storage host, as the graph builds it."""
    return Case(
        "ceph-rgw-user-velero",
        "ceph-rgw-user",
        FIRST_STORAGE,
        before=(*POOLS, "ceph-rgw"),
        node="velero-dc-b",
        secrets=("RGW_ACCESS_KEY", "RGW_SECRET_KEY"),
    )


def test_a_backup_users_bucket_is_made_on_the_backup_placement(harness):
    case = backup_user_case()
    sandbox = harness.clone(harness.prepared(BY_ID["ceph-rgw-user"]), case)
    environment = case.environment(harness.graph)
    assert (environment["RGW_USER"], environment["PLACEMENT"]) == ("velero-dc-b", "backups")
    first = sandbox.run(case.step, environment, KEYS)
    assert first.ok, first.explain()
    assert first.result == {
        "changed": True,
        "user": "velero-dc-b",
        "bucket": "velero-dc-b",
        "placement": "backups",
    }
    (put,) = [c for c in first.calls if c.tool == "curl"]
    body = put.argv[put.argv.index("--data-binary") + 1]
    assert "<LocationConstraint>:backups</LocationConstraint>" in body
    bucket = store(sandbox) / "rgw/buckets/velero-dc-b"
    assert bucket.read_text() == "owner=velero-dc-b\nplacement=backups\n"
    user = json.loads((store(sandbox) / "rgw/users/velero-dc-b.json").read_text())
    assert user["default_placement"] == "backups"
    again = sandbox.run(case.step, environment, KEYS)
    assert again.ok and again.result["changed"] is False and not again.host_changed
    harness.stop(sandbox)


def test_a_bucket_on_another_placement_is_refused_and_a_stale_rgw_named(harness):
    case, sandbox = fresh(harness, "ceph-rgw-user")
    environment = case.environment(harness.graph)
    assert environment["PLACEMENT"] == "default-placement"
    harness.run(sandbox, case)
    # The model bucket asked for on the backup placement: it exists on the default one.
    moved = sandbox.run(case.step, {**environment, "PLACEMENT": "backups"}, ROTATED)
    assert not moved.ok, moved.explain()
    assert (
        f"bucket {environment['BUCKET']} exists on placement default-placement, not backups"
        in moved.stderr
    )
    assert not [c for c in moved.calls if c.tool == "curl"]
    # A placement the running RGW did not read at its start: RGW's answer, named.
    (store(sandbox) / "rgw/running-placements").write_text("default-placement\n")
    stale = sandbox.run(
        case.step, {**environment, "BUCKET": "other-bucket", "PLACEMENT": "backups"}, ROTATED
    )
    assert not stale.ok and "InvalidLocationConstraint" in stale.stderr, stale.explain()
    assert "creating bucket other-bucket at" in stale.stderr
    harness.stop(sandbox)


def key_paths(value: object, path: str = "") -> set[tuple[str, str]]:
    """Every (key path, JSON type) of a document, list items merged under `[]`."""
    kind = {dict: "object", list: "array", str: "string", bool: "bool", type(None): "null"}.get(
        type(value), "number"
    )
    found = {(path, kind)}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= key_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= key_paths(item, f"{path}[]")
    return found


@pytest.mark.parametrize(
    ("argv", "fixture"),
    [
        (("ceph", "osd", "tree", "--format", "json"), "ceph-osd-tree-device-classes.json"),
        (
            ("ceph", "osd", "crush", "rule", "dump", "replicated-host-hdd", "--format", "json"),
            "ceph-osd-crush-rule-dump-device-class.json",
        ),
        (
            ("ceph", "osd", "pool", "ls", "detail", "--format", "json"),
            "ceph-osd-pool-ls-detail.json",
        ),
        (("radosgw-admin", "zone", "get"), "radosgw-admin-zone-get.json"),
        (("radosgw-admin", "zonegroup", "get"), "radosgw-admin-zonegroup-get.json"),
        (("radosgw-admin", "zone", "placement", "list"), "radosgw-admin-zone-placement-list.json"),
        (
            ("radosgw-admin", "zonegroup", "placement", "list"),
            "radosgw-admin-zonegroup-placement-list.json",
        ),
        (
            ("radosgw-admin", "bucket", "stats", "--bucket=deepseek-models"),
            "radosgw-admin-bucket-stats.json",
        ),
    ],
)
def test_the_stand_ins_print_only_what_ceph_prints(harness, argv, fixture):
    """The stand-ins' outputs the Ceph steps read have the real tools' keys and types
    (tests/fixtures/ceph, captured from Ceph 16.2.15 by test_real_ceph.py): nothing the real
    output lacks, so a script that works on them reads real fields."""
    case, sandbox = fresh(harness, "ceph-rgw-user")
    harness.run(sandbox, case)
    printed = json.loads(sandbox.exec("sudo", *argv).stdout)
    real = json.loads((LOCAL_FIXTURES / "ceph" / fixture).read_text())
    assert key_paths(printed) <= key_paths(real), sorted(key_paths(printed) - key_paths(real))
    harness.stop(sandbox)
