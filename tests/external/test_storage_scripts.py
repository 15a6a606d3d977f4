"""What the Ceph steps must get right, one by one, in the host-script sandbox (the generic
converge / re-run / recovery / shape tests of tests/external/test_host_scripts.py cover them
too): the bootstrap's guard (its own cluster left alone, another refused, a half-done one
removed and done again), a host added once, the OSD specs as config declares the disks, the
pools' rule, and an S3 user's keys rotated without a secret ever on a command line."""

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
    RGW_ACCESS_KEY,
    RGW_SECRET_KEY,
    ROTATED,
    Case,
    Harness,
    converged,
    describe_difference,
)

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
    disks = [f"/dev/nvme{n}n1" for n in range(4)]
    for number, document in enumerate(documents[1:], start=1):
        host = f"dca-ceph-{number}"
        assert document == {
            "service_type": "osd",
            "service_id": host,
            "placement": {"hosts": [host]},
            "spec": {"data_devices": {"paths": disks}},
        }
        applied = (store(sandbox) / f"services/osd.{host}.json").read_text()
        assert json.loads(applied) == document
    assert (run.result["osdsExpected"], run.result["osdsUp"]) == ("12", "12")
    # Applied again only when the specs differ from what was applied, or a service is gone.
    assert not [c for c in harness.run(sandbox, case).calls if c.argv[:2] == ("orch", "apply")]
    (store(sandbox) / "services/osd.dca-ceph-3.json").unlink()
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
        {**case.environment(harness.graph), "OSDS_EXPECTED": "13"},
        tuning={"OSD_READY_SECONDS": "1"},
    )
    assert not run.ok and "12 of 13 OSDs up after 1s" in run.stderr, run.explain()
    harness.stop(sandbox)


# --- pools ----------------------------------------------------------------------------------
def test_the_pool_follows_config_and_a_rule_of_another_failure_domain_is_refused(harness):
    case, sandbox = fresh(harness, "ceph-pools")
    environment = case.environment(harness.graph)
    harness.run(sandbox, case)
    pool = (store(sandbox) / f"pools/{environment['RBD_POOL']}").read_text()
    assert "size=3\n" in pool and "min_size=2\n" in pool
    assert f"crush_rule={environment['CRUSH_RULE']}\n" in pool and "applications=rbd\n" in pool
    rules = (store(sandbox) / "rules").read_text()
    assert f"\t{environment['CRUSH_RULE']}\tdefault\thost\n" in rules
    # Four copies, three to write: size first (Ceph resets min_size with it), then min_size.
    changed = sandbox.run(case.step, {**environment, "REPLICA_SIZE": "4", "MIN_SIZE": "3"})
    assert changed.ok and changed.result["changed"] is True, changed.explain()
    sets = [c.argv[3:] for c in changed.calls if c.argv[:3] == ("osd", "pool", "set")]
    assert sets == [
        (environment["RBD_POOL"], "size", "4"),
        (environment["RBD_POOL"], "min_size", "3"),
    ]
    # A rule of that name placing copies per OSD: nothing changes.
    sandbox.exec(
        "sudo", "ceph", "osd", "crush", "rule", "create-replicated", "by-osd", "default", "osd"
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
    }
    assert user_keys(sandbox, "model-store") == [(RGW_ACCESS_KEY, RGW_SECRET_KEY)]
    bucket = store(sandbox) / "rgw" / "buckets" / environment["BUCKET"]
    assert bucket.read_text() == "owner=model-store\n"
    (put,) = [c for c in first.calls if c.tool == "curl"]
    assert put.argv[-1] == f"{environment['RGW_ENDPOINT']}/{environment['BUCKET']}"

    rotated = sandbox.run(case.step, environment, ROTATED)
    assert rotated.ok and rotated.result["changed"] is True, rotated.explain()
    assert user_keys(sandbox, "model-store") == [
        (ROTATED["RGW_ACCESS_KEY"], ROTATED["RGW_SECRET_KEY"])
    ]
    # The bucket stays, and is not created again.
    assert bucket.read_text() == "owner=model-store\n"
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
    assert bucket.read_text() == "owner=model-store\n"
    harness.stop(sandbox)


def test_secret_keys_that_do_not_fit_are_refused_without_showing_them(harness):
    case, sandbox = fresh(harness, "ceph-rgw-user")
    bad = {"RGW_ACCESS_KEY": RGW_ACCESS_KEY, "RGW_SECRET_KEY": 'x" ; rm -rf / ; "' + "y" * 30}
    refused = sandbox.run(case.step, case.environment(harness.graph), bad)
    assert not refused.ok and "RGW_SECRET_KEY refused" in refused.stderr, refused.explain()
    assert bad["RGW_SECRET_KEY"] not in refused.stderr + refused.stdout
    assert not refused.calls and not refused.host_changed
    harness.stop(sandbox)
