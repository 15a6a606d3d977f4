"""The etcd snapshot a control plane's timer takes, run for real: the script the etcd-snapshot
step installs (/usr/local/lib/deepseek/etcd-snapshot), run once as its service runs it,

- in the host-script sandbox (tests/external/sandbox) after the step itself, against the
  stand-ins for etcdctl (a snapshot of the sandbox's member) and for another site's RGW
  (curl's remote S3 store): the object it uploads decrypts, with the site's key, to the
  member's snapshot; this host's expired uploads go and nothing else does; the host is left
  as it was (no snapshot, plain or encrypted, on it); no secret reaches a command line or an
  environment; and the step run again afterwards changes nothing;
- against the real radosgw of `real_ceph` (tests/external/ceph_server.py), outside the sandbox
  (which has no network to it) with its paths under ETCD_SNAPSHOT_ROOT: upload, listing and
  retention through Ceph 16.2's S3 with Debian's curl, the object decrypting with openssl.

And the units it installs, as systemd itself reads them (`systemd-analyze verify`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.kubernetes.etcd_snapshot_spec import (
    INSTALLED_SCRIPT,
    SNAPSHOT_SCRIPT,
    UNIT,
    service_unit,
    timer_unit,
)
from tests.external.sandbox import Sandbox
from tests.external.sandbox.harness import CONTROL_IN_SANDBOX, _parse_execve
from tests.external.test_host_scripts import BY_ID, ETCD_SNAPSHOT_KEY, SECRETS, Harness

NODE = "dca-cp-1"
SNAPSHOT_NAME = re.compile(rf"{NODE}/[0-9]{{8}}T[0-9]{{6}}Z\.db\.enc")
CIPHER = ["-aes-256-cbc", "-pbkdf2", "-iter", "200000", "-md", "sha256"]

in_the_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="the host-script harness runs each script as root in namespaces it makes",
)


def decrypt(sealed: bytes, key: str, workdir: Path) -> bytes:
    """The snapshot inside an uploaded object, as the README's restore decrypts it (openssl
    of this machine, the key in a file)."""
    key_file = workdir / "key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    result = subprocess.run(
        ["openssl", "enc", "-d", *CIPHER, "-pass", f"file:{key_file}"],
        input=sealed,
        capture_output=True,
        check=True,
    )
    return result.stdout


# --- the sandbox: the step, then its timer's script ---------------------------------------------
class RemoteRgw:
    """The other site's RGW as the sandboxed host's curl reaches it: the harness's S3 store in
    the sandbox's control folder (standins/_s3/store.py)."""

    def __init__(self, sandbox: Sandbox, endpoint: str, bucket: str) -> None:
        self.root = sandbox.root / "control" / "s3"
        self.bucket = bucket
        self.objects = self.root / "objects" / bucket
        self.objects.mkdir(parents=True)
        (self.root / "endpoint").write_text(endpoint + "\n")
        self.grant(SECRETS["RGW_ACCESS_KEY"], SECRETS["RGW_SECRET_KEY"])

    def grant(self, access: str, secret: str) -> None:
        (self.root / "users").write_text(f"{access} {secret} {self.bucket}\n")

    @property
    def index(self) -> dict[str, dict]:
        path = self.objects / ".index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def put(self, key: str, body: bytes, days_old: float) -> None:
        """An object uploaded `days_old` days ago."""
        index = self.index
        moment = time.gmtime(time.time() - days_old * 86400)
        index[key] = {
            "LastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", moment),
            "Size": len(body),
            "ETag": hashlib.md5(body).hexdigest(),  # noqa: S324 (S3's ETag)
        }
        (self.objects / urllib.parse.quote(key, safe="")).write_bytes(body)
        (self.objects / ".index.json").write_text(json.dumps(index))

    def get(self, key: str) -> bytes:
        return (self.objects / urllib.parse.quote(key, safe="")).read_bytes()


@pytest.fixture(scope="module")
def harness(prod_graph) -> Iterator[Harness]:
    harness = Harness(prod_graph)
    yield harness
    harness.close()
    for sandbox in harness._prepared.values():
        sandbox.stop()


@pytest.fixture
def control_plane(harness) -> Iterator[tuple[Sandbox, dict[str, str]]]:
    """A control plane after kubeadm init and the etcd-snapshot step, and the step's inputs."""
    case = BY_ID["etcd-snapshot"]
    sandbox = harness.clone(harness.prepared(case), case)
    harness.run(sandbox, case)
    yield sandbox, case.environment(harness.graph)
    harness.stop(sandbox)


def run_snapshot(sandbox: Sandbox, trace: bool = False) -> tuple[subprocess.CompletedProcess, list]:
    """The installed script, as its service runs it (root, no terminal), optionally under
    strace (every execve with its argv and environment)."""
    argv = ["sudo", "--non-interactive"]
    log = sandbox.root / "control" / "snapshot-execve.log"
    if trace:
        argv += ["strace", "-f", "-qq", "-v", "-s", "1000000", "-e", "trace=execve",
                 "-o", f"{CONTROL_IN_SANDBOX}/snapshot-execve.log"]  # fmt: skip
    run = sandbox.exec(*argv, INSTALLED_SCRIPT)
    processes = _parse_execve(log.read_text()) if trace else []
    return run, processes


def members_snapshot(sandbox: Sandbox) -> bytes:
    """What etcdctl saves from the sandbox's member right now (its stand-in's snapshot)."""
    saved = sandbox.exec(
        "sudo", "env", "ETCDCTL_API=3", "etcdctl", "--endpoints=https://127.0.0.1:2379",
        "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
        "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
        "snapshot", "save", "/tmp/reference.db",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    body = sandbox.path("/tmp/reference.db").read_bytes()
    sandbox.exec("rm", "-f", "/tmp/reference.db")
    return body


@in_the_sandbox
def test_the_step_installs_the_script_and_units_the_program_renders(control_plane):
    sandbox, environment = control_plane
    installed = sandbox.path(INSTALLED_SCRIPT)
    assert installed.read_text() == SNAPSHOT_SCRIPT.read_text()
    assert stat.S_IMODE(installed.stat().st_mode) == 0o700
    assert sandbox.path(f"/etc/systemd/system/{UNIT}.service").read_text() == service_unit()
    assert sandbox.path(f"/etc/systemd/system/{UNIT}.timer").read_text() == timer_unit(6)
    config = sandbox.path("/etc/deepseek/etcd-snapshot")
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    for name in ("key", "s3.curl", "settings"):
        info = (config / name).stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600), name
    assert (config / "key").read_text() == ETCD_SNAPSHOT_KEY + "\n"
    settings = (config / "settings").read_text()
    assert f"ENDPOINT={environment['RGW_ENDPOINT']}\n" in settings
    assert f"BUCKET={environment['BUCKET']}\nNODE={NODE}\nRETENTION_SECONDS=2592000\n" in settings
    assert sandbox.exec("sudo", "systemctl", "is-active", f"{UNIT}.timer").stdout == "active\n"
    assert sandbox.exec("sudo", "systemctl", "is-enabled", f"{UNIT}.timer").returncode == 0


@in_the_sandbox
def test_a_new_schedule_reaches_the_running_timer(harness, control_plane):
    """backup.etcdSnapshotHours changed: the timer file is rewritten, systemd reloads it and
    the timer restarts on it (a file rewritten alone would leave the old schedule running)."""
    sandbox, environment = control_plane
    case = BY_ID["etcd-snapshot"]
    twelve = timer_unit(12)
    run = sandbox.run(case.step, {**environment, "TIMER_UNIT": twelve}, case.secret_values())
    assert run.ok and run.result["changed"] is True, run.explain()
    assert [c.argv for c in run.calls if c.tool == "systemctl"][:2] == [
        ("daemon-reload",),
        ("restart", f"{UNIT}.timer"),
    ]
    running = sandbox.path(f"/run/standin-systemd/{UNIT}.timer.active").read_text()
    assert running == f"config={hashlib.sha256(twelve.encode()).hexdigest()[:16]}\n"
    again = sandbox.run(case.step, {**environment, "TIMER_UNIT": twelve}, case.secret_values())
    assert again.ok and again.result["changed"] is False and not again.host_changed


@in_the_sandbox
def test_the_timers_script_uploads_an_encrypted_snapshot_and_expires_only_its_own(
    harness, control_plane, tmp_path
):
    sandbox, environment = control_plane
    rgw = RemoteRgw(sandbox, environment["RGW_ENDPOINT"], environment["BUCKET"])
    expired = f"{NODE}/20240101T000000Z.db.enc"
    kept = {
        f"{NODE}/20240301T060000Z.db.enc": 29,  # within the 30 days
        "dca-cp-2/20240101T000000Z.db.enc": 45,  # another control plane's
        f"{NODE}/notes.txt": 45,  # not a snapshot of ours
    }
    rgw.put(expired, b"old", days_old=31)
    for key, days in kept.items():
        rgw.put(key, b"other", days_old=days)
    # Pages of two keys: the listing of this host's prefix takes two (continuation token).
    (rgw.root / "page-size").write_text("2\n")
    expected = members_snapshot(sandbox)
    before = sandbox.state()

    run, processes = run_snapshot(sandbox, trace=True)
    assert run.returncode == 0, run.stdout + run.stderr

    (uploaded,) = [key for key in rgw.index if SNAPSHOT_NAME.fullmatch(key) and key != expired
                   and key not in kept]  # fmt: skip
    sealed = rgw.get(uploaded)
    assert expected not in sealed and b"stand-in etcd snapshot" not in sealed
    assert decrypt(sealed, ETCD_SNAPSHOT_KEY, tmp_path) == expected
    assert set(rgw.index) == {uploaded, *kept}, "only this host's expired snapshot goes"
    assert (
        f"deleted {expired}" in run.stdout
        and f"uploaded {environment['RGW_ENDPOINT']}" in run.stdout
    )
    # Nothing of the run stays on the host: no snapshot, plain or encrypted, no work folder.
    assert sandbox.state() == before, sandbox.state().keys() - before.keys()
    # The keys reached curl on its stdin and openssl from a file: never a command line or an
    # environment of any process the run started.
    assert any(p.argv[:1] == ("curl",) for p in processes)
    listings = [
        p.argv[-1] for p in processes if p.argv[:1] == ("curl",) and "list-type=2" in p.argv[-1]
    ]
    assert len(listings) == 2 and "?continuation-token=" in listings[1], listings
    assert any(p.argv[:2] == ("openssl", "enc") for p in processes)
    for name, secret in SECRETS.items():
        for process in processes:
            assert secret not in "\0".join(process.argv), (name, process.argv[:3])
            assert secret not in "\0".join(process.environment), (name, process.argv[:3])
        assert secret not in run.stdout + run.stderr, name

    # The step run again afterwards changes nothing.
    case = BY_ID["etcd-snapshot"]
    again = harness.run(sandbox, case)
    assert again.result["changed"] is False and not again.host_changed, again.explain()


@in_the_sandbox
def test_a_refused_upload_deletes_nothing_and_leaves_nothing_on_the_host(control_plane):
    sandbox, environment = control_plane
    rgw = RemoteRgw(sandbox, environment["RGW_ENDPOINT"], environment["BUCKET"])
    rgw.put(f"{NODE}/20240101T000000Z.db.enc", b"old", days_old=90)
    rgw.grant(SECRETS["RGW_ACCESS_KEY"], "rotated" * 6)  # the target holds other keys now
    before = sandbox.state()
    run, _ = run_snapshot(sandbox)
    assert run.returncode != 0
    assert "SignatureDoesNotMatch" in run.stderr and "answered 403" in run.stderr, run.stderr
    assert list(rgw.index) == [f"{NODE}/20240101T000000Z.db.enc"]
    assert sandbox.state() == before


@in_the_sandbox
def test_without_its_member_no_snapshot_is_uploaded(control_plane):
    """etcd down (its static pod gone): etcdctl fails, the run fails, nothing reaches the RGW."""
    sandbox, environment = control_plane
    rgw = RemoteRgw(sandbox, environment["RGW_ENDPOINT"], environment["BUCKET"])
    sandbox.exec("sudo", "mv", "/etc/kubernetes/manifests/etcd.yaml", "/root/etcd.yaml")
    before = sandbox.state()
    run, _ = run_snapshot(sandbox)
    assert run.returncode != 0 and "context deadline exceeded" in run.stderr, run.stderr
    assert rgw.index == {}
    assert sandbox.state() == before


# --- the units, as systemd reads them ------------------------------------------------------------
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("hours", [6, 1, 5, 168])
def test_systemd_accepts_the_units(tmp_path, hours):
    script = tmp_path / "etcd-snapshot"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o700)
    service = tmp_path / f"{UNIT}.service"
    service.write_text(service_unit().replace(INSTALLED_SCRIPT, str(script)))
    timer = tmp_path / f"{UNIT}.timer"
    timer.write_text(timer_unit(hours))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(service), str(timer)],
        capture_output=True,
        text=True,
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        # A machine without systemd as PID 1 (a container) says so; not about our units.
        if UNIT in line or "Unknown" in line or "Invalid" in line
    ]
    assert result.returncode == 0 and not problems, result.stderr


# --- the real radosgw ----------------------------------------------------------------------------
FAKE_ETCDCTL = """#!/bin/bash
# etcdctl as the snapshot script calls it, on a machine without etcd: `snapshot save FILE`
# writes the bytes of $SNAPSHOT_SOURCE, `snapshot status` reports them.
set -euo pipefail
[[ "${ETCDCTL_API:-}" == 3 ]] || exit 3
file=${@: -1}
case "$*" in
  *"snapshot save"*) cp "${SNAPSHOT_SOURCE}" "${file}"; echo "Snapshot saved at ${file}" ;;
  *"snapshot status"*)
    printf '{"hash":1,"revision":42,"totalKey":7,"totalSize":%s}\n' "$(stat -c %s "${file}")" ;;
  *) exit 1 ;;
esac
"""


def s3_request(cluster, access: str, secret: str, method: str, path: str) -> int:
    """A request through the machine's curl with SigV4 (the keys on its stdin)."""
    result = cluster.run(
        ["curl", "--silent", "--config", "-", "--aws-sigv4", "aws:amz:us-east-1:s3",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", method, "--output", "/dev/null",
         "--write-out", "%{http_code}", cluster.rgw_endpoint + path],
        input=f'user = "{access}:{secret}"\n',
    )  # fmt: skip
    return int(result.stdout)


def listing(cluster, access: str, secret: str, bucket: str) -> list[str]:
    result = cluster.run(
        ["curl", "--silent", "--config", "-", "--aws-sigv4", "aws:amz:us-east-1:s3",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
         f"{cluster.rgw_endpoint}/{bucket}?list-type=2"],
        input=f'user = "{access}:{secret}"\n',
    )  # fmt: skip
    return re.findall(r"<Key>([^<]+)</Key>", result.stdout)


def test_upload_and_retention_against_the_real_radosgw(real_ceph, tmp_path):
    created = real_ceph.run("radosgw-admin user create --uid etcd-dc-a --display-name etcd-dc-a")
    (keys,) = json.loads(created.stdout)["keys"]
    access, secret = keys["access_key"], keys["secret_key"]
    bucket = "etcd-dc-a"
    assert s3_request(real_ceph, access, secret, "PUT", f"/{bucket}") == 200

    root = tmp_path / "root"
    config = root / "etc/deepseek/etcd-snapshot"
    for directory in (config, root / "var/lib/deepseek/etcd-snapshot", root / "run"):
        directory.mkdir(parents=True, mode=0o700)
    key = hashlib.sha256(b"real radosgw etcd key").hexdigest()
    (config / "key").write_text(key + "\n")
    (config / "s3.curl").write_text(f'user = "{access}:{secret}"\n')
    # A retention of 3 s: the second run expires the first's upload.
    (config / "settings").write_text(
        f"ENDPOINT={real_ceph.rgw_endpoint}\nBUCKET={bucket}\nNODE={NODE}\nRETENTION_SECONDS=3\n"
    )
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "etcdctl").write_text(FAKE_ETCDCTL)
    (tools / "etcdctl").chmod(0o755)
    source = tmp_path / "member.db"
    environment = {
        "ETCD_SNAPSHOT_ROOT": str(root),
        "PATH": f"{tools}:/usr/bin:/bin:/usr/sbin:/sbin",
        "SNAPSHOT_SOURCE": str(source),
    }

    def snapshot(body: bytes) -> subprocess.CompletedProcess[str]:
        source.write_bytes(body)
        return real_ceph.run(["bash", str(SNAPSHOT_SCRIPT)], env=environment, timeout=120)

    first = snapshot(os.urandom(300_000))
    (one,) = listing(real_ceph, access, secret, bucket)
    assert SNAPSHOT_NAME.fullmatch(one), one
    assert "0 expired snapshot(s)" in first.stdout, first.stdout
    time.sleep(4.5)
    body = os.urandom(200_000)
    second = snapshot(body)
    (two,) = listing(real_ceph, access, secret, bucket)
    assert two != one and f"deleted {one}" in second.stdout, second.stdout
    got = tmp_path / "got"
    real_ceph.run(
        ["curl", "--silent", "--fail", "--config", "-", "--aws-sigv4", "aws:amz:us-east-1:s3",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--output", str(got),
         f"{real_ceph.rgw_endpoint}/{bucket}/{two}"],
        input=f'user = "{access}:{secret}"\n',
    )  # fmt: skip
    assert decrypt(got.read_bytes(), key, tmp_path) == body
    # Nothing stays behind: no snapshot in the spool, no work folder on run/.
    assert list((root / "var/lib/deepseek/etcd-snapshot").iterdir()) == []
    assert list((root / "run").iterdir()) == []
