"""The data layer's scripts, attacked with the inputs a bad config or a hostile merge request
would give them. Every command that could change this machine is a stand-in here: the scripts
run under bash with a PATH whose first directory records the calls that would write."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.paths import PROJECT_DIR

in_the_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="the host-script harness runs each script as root in namespaces it makes",
)

LIB = PROJECT_DIR / "components" / "remote" / "lib.sh"
MODEL_CACHE_DIR = PROJECT_DIR / "components" / "storage" / "scripts" / "model-cache-dir.sh"


def _run_with_recorded_install(script: Path, environment: dict[str, str], tmp_path: Path):
    """`script` after lib.sh on bash's stdin, `install` replaced by a stand-in that only
    records its arguments: (exit status, stderr, the recorded install calls)."""
    standins = tmp_path / "bin"
    standins.mkdir()
    calls = tmp_path / "install-calls"
    install = standins / "install"
    install.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    install.chmod(0o755)
    path = f"{standins}:/usr/bin:/bin"
    done = subprocess.run(
        ["env", "-i", f"PATH={path}", *(f"{k}={v}" for k, v in environment.items()), "bash", "-s"],
        input=LIB.read_text() + "\n" + script.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, done.stderr, recorded


@pytest.mark.skipif(not MODEL_CACHE_DIR.exists(), reason="model-cache-dir.sh not written yet")
@pytest.mark.parametrize(
    "path",
    [
        "/opt/cni/bin",
        "/var/lib/kubelet",
        "/var/lib/containerd",
        "/var/lib/deepseek",
        "/var/lib/deepseek/applied",
        "/var/lib/deepseek/local-path/pvc-1",
        "/mnt",
    ],
)
def test_the_cache_directory_step_refuses_another_programs_directory(path, tmp_path):
    status, stderr, installs = _run_with_recorded_install(
        MODEL_CACHE_DIR, {"CACHE_PATH": path, "CACHE_UID": "10001"}, tmp_path
    )
    assert installs == [], f"would run install {installs}"
    assert status != 0 and "CACHE_PATH" in stderr


@pytest.mark.skipif(not MODEL_CACHE_DIR.exists(), reason="model-cache-dir.sh not written yet")
def test_the_stand_in_sees_what_the_step_would_do(tmp_path):
    """The control: for a data directory the step does run install, so the refusal above is
    the script's and not the stand-in's."""
    # A data area's directory (config's default area); install is the stand-in's.
    cache = "/var/lib/deepseek/attack-control-cache"
    status, stderr, installs = _run_with_recorded_install(
        MODEL_CACHE_DIR, {"CACHE_PATH": cache, "CACHE_UID": "10001"}, tmp_path
    )
    assert status == 0, stderr
    assert installs == [f"-d -o 10001 -g 10001 -m 0755 {cache}"]


# --- the etcd snapshot's retention, fed a hostile listing ---------------------------------------
SNAPSHOT = PROJECT_DIR / "components" / "kubernetes" / "scripts" / "etcd-snapshot" / "snapshot.sh"
ETCDCTL_STANDIN = """#!/bin/sh
# snapshot save PATH / snapshot status PATH --write-out=json
for last; do :; done
case "$*" in
  *"snapshot save"*) printf 'stand-in etcd snapshot' > "$last" ;;
  *"snapshot status"*) echo '{"hash":1,"revision":7,"totalKey":3,"totalSize":24}' ;;
esac
"""
CURL_STANDIN = """#!/usr/bin/env python3
# The target's RGW: PUT stores, GET lists STORE's objects (a JSON list of [key, LastModified],
# keys as raw XML text), DELETE records the key. Answers like curl's --write-out.
import json, sys, time, urllib.parse
args = sys.argv[1:]
method = args[args.index("--request") + 1]
url = urllib.parse.urlsplit(args[-1])
store = sys.argv[0] + ".store"
objects = json.load(open(store))
if method == "PUT":
    key = url.path.split("/", 2)[2]
    ahead = float(open(sys.argv[0] + ".ahead").read())
    moment = time.gmtime(time.time() + ahead)
    objects.append([key, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", moment)])
    json.dump(objects, open(store, "w"))
    print("\\n200", end="")
elif method == "GET":
    contents = "".join(
        f"<Contents><Key>{k}</Key><LastModified>{m}</LastModified></Contents>" for k, m in objects
    )
    print('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          f"{contents}<IsTruncated>false</IsTruncated></ListBucketResult>\\n200", end="")
else:
    with open(sys.argv[0] + ".deleted", "a") as deleted:
        deleted.write(urllib.parse.unquote(url.path.split("/", 2)[2]) + "\\n")
    print("\\n204", end="")
"""


def _snapshot_run(tmp_path: Path, listed: list[list[str]], upload_days_ago: float = 0):
    """The installed snapshot script under ETCD_SNAPSHOT_ROOT, etcdctl and the RGW (curl)
    stand-ins on PATH, the RGW already holding `listed` and stamping the upload with its clock
    `upload_days_ago`: (the run, the keys it deleted)."""
    root = tmp_path / "root"
    config = root / "etc" / "deepseek" / "etcd-snapshot"
    config.mkdir(parents=True)
    (root / "var" / "lib" / "deepseek" / "etcd-snapshot").mkdir(parents=True)
    (root / "run").mkdir()
    (config / "settings").write_text(
        "ENDPOINT=http://10.20.0.50:7480\nBUCKET=etcd-dc-a\nNODE=dca-cp-1\n"
        "RETENTION_SECONDS=2592000\n"
    )
    (config / "key").write_text("k" * 64 + "\n")
    (config / "s3.curl").write_text('user = "ACCESSKEY0123456789:secret01234567890123456"\n')
    standins = tmp_path / "bin"
    standins.mkdir()
    for name, text in (("etcdctl", ETCDCTL_STANDIN), ("curl", CURL_STANDIN)):
        (standins / name).write_text(text)
        (standins / name).chmod(0o755)
    (standins / "curl.store").write_text(json.dumps(listed))
    (standins / "curl.ahead").write_text(str(-upload_days_ago * 86400))
    run = subprocess.run(
        [
            "env",
            "-i",
            f"PATH={standins}:/usr/bin:/bin",
            f"ETCD_SNAPSHOT_ROOT={root}",
            "bash",
            str(SNAPSHOT),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=30,
    )
    deleted = standins / "curl.deleted"
    return run, deleted.read_text().splitlines() if deleted.exists() else []


def _days_ago(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - days * 86400))


def test_a_key_in_the_listing_cannot_forge_another_snapshots_age(tmp_path):
    """An object named `dca-cp-1/x` + a line break + `0 dca-cp-1/<yesterday>.db.enc` (S3 keys
    may hold any character; the listing's XML carries it as &#10;) printed two lines into the
    script's own `seconds key` listing: the second made yesterday's snapshot, well inside the
    30 days kept, look 56 years old, and the run deleted it; one ending in a line break and
    `next x` set a continuation token the store never gave, and the run listed for ever."""
    yesterday = "dca-cp-1/20200101T000000Z.db.enc"
    listed = [
        [yesterday, _days_ago(1)],
        [f"dca-cp-1/x&#10;0 {yesterday}", _days_ago(1)],
        ["dca-cp-1/y&#10;next x", _days_ago(1)],
    ]
    run, deleted = _snapshot_run(tmp_path, listed)
    assert "uploaded http://10.20.0.50:7480/etcd-dc-a/dca-cp-1/" in run.stdout, run.stderr
    assert deleted == [], deleted


def test_the_snapshot_retention_still_deletes_an_expired_snapshot(tmp_path):
    """The control: the same run deletes this host's snapshot older than the 30 days, and not
    dca-cp-10's (a host whose name starts with this one's)."""
    expired = "dca-cp-1/20200101T000000Z.db.enc"
    listed = [[expired, _days_ago(31)], ["dca-cp-10/20200101T000000Z.db.enc", _days_ago(31)]]
    run, deleted = _snapshot_run(tmp_path, listed)
    assert run.returncode == 0, run.stderr
    assert deleted == [expired]


def test_a_clock_jump_at_the_target_cannot_expire_every_snapshot_at_once(tmp_path):
    """Retention measures age against the LastModified RGW gives the new upload. An RGW clock
    a year ahead (a bad NTP answer; the host's own clock follows the same servers, so SigV4
    still signs) made every earlier snapshot of this host 'expired', and one run deleted all
    of them, leaving only the snapshot just taken. One run deletes at most MAX_DELETE, the
    oldest first, and fails naming the rest, as rclone's --max-delete does for the copies."""
    earlier = [[f"dca-cp-1/202001{day:02d}T000000Z.db.enc", _days_ago(11 - day)]
               for day in range(1, 11)]  # fmt: skip
    # The new upload is stamped by this RGW a year ahead, as the earlier ones were not.
    run, deleted = _snapshot_run(tmp_path, earlier, upload_days_ago=-366)
    assert "uploaded http://10.20.0.50:7480/etcd-dc-a/dca-cp-1/" in run.stdout, run.stderr
    assert deleted == [key for key, _ in earlier[:4]], deleted
    assert run.returncode != 0 and "10 of this host's snapshots expired at once" in run.stderr


# --- RGW's backup placement, re-pointed by hand ---------------------------------------------------
@pytest.fixture(scope="module")
def harness_of_ceph(prod_graph):
    from tests.external.test_host_scripts import Harness

    harness = Harness(prod_graph)
    yield harness
    harness.close()
    for sandbox in harness._prepared.values():
        sandbox.stop()


@in_the_sandbox
def test_a_backup_placement_repointed_by_hand_is_refused_not_moved_back(harness_of_ceph):
    """Someone pointed the zone's `backups` placement at another data pool by hand (`radosgw-admin
    zone placement modify`), and RGW wrote backups there since. RGW finds an object's data
    through its bucket's placement at read time, so ceph-pools' `zone placement modify` back
    to default.rgw.backups.data hid every object written in between (the other sites' Velero
    backups, their etcd snapshots) without a word. Either move loses what the other pool
    holds: refused, naming both pools, nothing changed."""
    from tests.external.test_storage_scripts import fresh, store

    harness = harness_of_ceph
    case, sandbox = fresh(harness, "ceph-pools")
    assert harness.run(sandbox, case).ok
    hand = sandbox.exec(
        "sudo", "radosgw-admin", "zone", "placement", "modify", "--rgw-zone", "default",
        "--placement-id", "backups", "--data-pool", "default.rgw.buckets.data",
    )  # fmt: skip
    assert hand.returncode == 0, hand.stderr
    zone = store(sandbox) / "rgw" / "zone.json"
    before = zone.read_text()
    refused = sandbox.run(case.step, case.environment(harness.graph))
    assert not refused.ok, refused.explain()
    assert "default.rgw.buckets.data" in refused.stderr, refused.stderr
    assert "default.rgw.backups.data" in refused.stderr, refused.stderr
    assert zone.read_text() == before
    harness.stop(sandbox)
