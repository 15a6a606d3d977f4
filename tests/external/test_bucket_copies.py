"""The cross-site bucket copies' objects and command lines, outside the program:

- prod's BucketCopies objects pass kubernetes-validate (strict, for the pinned version) and
  checkov's Kubernetes checks (each skip with its reason), and the policy pack configured for
  prod finds nothing in them, while it does judge them: without the stack's own object stores
  on its list, every copy job's endpoints are refused.
- each CronJob's exact command line (its args and environment from prod's graph; the secret
  references resolved to the keys of real RGW users, both sites' endpoints to the one real
  radosgw of `real_ceph`) run with Debian's rclone (1.60; the image pins 1.68.2, the flags
  are the same): the model copy copies once and then nothing, keeps what home deletes and
  fails rather than overwrite a changed revision; the backup syncs mirror the source's expiry
  and stop at their --max-delete guard when the source is wiped."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from offline.manifests import is_plain_manifest, write_manifests
from offline.policy import policy_server
from tests.paths import PROJECT_DIR
from tools.policy_config import generate

CHECKOV = PROJECT_DIR / ".venv-validators" / "bin" / "checkov"
COPIES = "deepseek:storage:BucketCopies"
SITE = "dc-b"
"""The site whose jobs run here (dc-a's etcd-dc-a bucket is the etcd snapshot test's)."""


def _ours(graph) -> set[str]:
    components = {r.urn for r in graph.by_type(COPIES)}
    return {r.urn for r in graph.resources if components & set(graph.ancestors(r.urn))}


@pytest.fixture(scope="module")
def copy_files(prod_graph, tmp_path_factory):
    """The objects under the BucketCopies components, written as `make manifests` writes."""
    ours = _ours(prod_graph)
    kept = [r for r in prod_graph.resources if not is_plain_manifest(r) or r.urn in ours]
    subset = type(prod_graph)(**{**prod_graph.__dict__, "resources": kept})
    directory = tmp_path_factory.mktemp("bucket-copies-manifests")
    return directory, write_manifests(subset, directory)


def test_the_copies_objects_are_written_per_site(copy_files):
    _, files = copy_files
    kinds = sorted((path.parent.name, yaml.safe_load(path.read_text())["kind"]) for path in files)
    per_site = ["CronJob"] * 3 + ["Namespace"] + ["NetworkPolicy"] * 3 + ["Secret"]
    assert kinds == [("dc-a", kind) for kind in per_site] + [("dc-b", kind) for kind in per_site]


def test_kubernetes_validate_strict_for_the_pinned_version(prod_config, copy_files):
    _, files = copy_files
    problems = []
    for path in files:
        document = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(document, prod_config.kubernetes.version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{path.name}: no schema for {document['kind']}")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path.name}: {error.message}")
    assert problems == []


def test_checkov_kubernetes_checks_pass_and_every_skip_has_a_reason(copy_files):
    directory, _ = copy_files
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", "--skip-download"]
        + ["-o", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    report = json.loads(result.stdout)
    report = report if isinstance(report, dict) else report[0]
    results = report["results"]
    assert [(c["check_id"], c["file_path"]) for c in results["failed_checks"]] == []
    # The CronJobs' pod checks ran (security context, limits, seccomp, capabilities, uid...).
    cronjob_passes = {
        c["check_id"] for c in results["passed_checks"] if "cronjob" in c["file_path"].lower()
    }
    assert {"CKV_K8S_22", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_40"} <= cronjob_passes
    skipped = results.get("skipped_checks", [])
    assert {s["check_id"] for s in skipped} == {"CKV_K8S_35", "CKV_K8S_43"}
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), check["check_id"]


def test_the_pack_finds_nothing_in_the_copies_and_judges_their_endpoints(prod_graph):
    pack_config = generate("prod")
    ours = _ours(prod_graph)
    without_stores = copy.deepcopy(pack_config)
    without_stores["replication-targets-in-jurisdiction"]["allowedObjectStores"] = []
    with policy_server("prod") as server:
        server.configure(pack_config)
        found = [(v.policy, v.name, v.message) for v in server.analyze(prod_graph) if v.urn in ours]
        server.configure(without_stores)
        refused = {(v.policy, v.name) for v in server.analyze(prod_graph) if v.urn in ours}
    assert found == []
    # The RGW endpoints in the jobs' environment are allowed as the stack's own stores only.
    assert refused == {
        ("replication-targets-in-jurisdiction", f"deepseek-{site}-bucket-copies-{job}")
        for site in ("dc-a", "dc-b")
        for job in ("copy-models", "copy-backups", "copy-etcd-snapshots")
    }


# --- the command lines against the real radosgw ------------------------------------------------

USERS = {
    "home": ("model-store", "deepseek-models"),
    "models": (f"models-{SITE}", f"models-{SITE}"),
    "velero": (f"velero-{SITE}", f"velero-{SITE}"),
    "etcd": (f"etcd-{SITE}", f"etcd-{SITE}"),
    "copy": ("backup-copies", "backup-copies"),
}
"""Each remote of dc-b's jobs → the RGW user (and its bucket) whose keys it holds."""


def _curl(cluster, keys: tuple[str, str], *args: str) -> subprocess.CompletedProcess:
    """A request through the machine's curl with SigV4 (the keys on its stdin)."""
    return cluster.run(
        ["curl", "--silent", "--show-error", "--config", "-", "--aws-sigv4",
         "aws:amz:us-east-1:s3", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", *args],
        input=f'user = "{keys[0]}:{keys[1]}"\n',
    )  # fmt: skip


def put(cluster, keys, bucket: str, key: str, body: bytes, tmp_path: Path) -> None:
    local = tmp_path / "body"
    local.write_bytes(body)
    url = f"{cluster.rgw_endpoint}/{bucket}/{key}"
    written = _curl(cluster, keys, "--write-out", "%{http_code}", "--output", "/dev/null",
                    "--upload-file", str(local), url)  # fmt: skip
    assert written.stdout == "200", written


def delete(cluster, keys, bucket: str, key: str) -> None:
    deleted = _curl(cluster, keys, "--write-out", "%{http_code}", "--output", "/dev/null",
                    "-X", "DELETE", f"{cluster.rgw_endpoint}/{bucket}/{key}")  # fmt: skip
    assert deleted.stdout == "204", deleted


def listing(cluster, keys, bucket: str, prefix: str = "") -> dict[str, tuple[str, str]]:
    """Key → (ETag, LastModified) of every object under `prefix` (one page: fewer than 1000)."""
    # SigV4 signs the query as sent: the prefix's '/' encoded, as RGW's canonical query has it.
    query = f"list-type=2&prefix={urllib.parse.quote(prefix, safe='')}"
    listed = _curl(cluster, keys, f"{cluster.rgw_endpoint}/{bucket}?{query}")
    assert "<IsTruncated>false</IsTruncated>" in listed.stdout, listed.stdout
    return {
        key.removeprefix(prefix): (etag, modified)
        for key, modified, etag in re.findall(
            r"<Key>([^<]+)</Key><LastModified>([^<]+)</LastModified><ETag>([^<]+)</ETag>",
            listed.stdout.replace("&quot;", '"'),
        )
    }


@pytest.fixture(scope="module")
def rgw_users(real_ceph) -> dict[str, tuple[str, str]]:
    """The users and buckets the Ceph steps make for dc-b's copies, on the one radosgw that
    plays both sites here: remote → (access key, secret key)."""
    if shutil.which("rclone") is None:
        pytest.fail(
            "rclone is not installed: run `bash tools/system-packages.sh` as root", pytrace=False
        )
    keys = {}
    for remote, (uid, bucket) in USERS.items():
        made = real_ceph.run(
            ["radosgw-admin", "user", "create", "--uid", uid, "--display-name", uid]
        )
        (pair,) = json.loads(made.stdout)["keys"]
        keys[remote] = (pair["access_key"], pair["secret_key"])
        made = _curl(real_ceph, keys[remote], "--write-out", "%{http_code}", "--output",
                     "/dev/null", "-X", "PUT", f"{real_ceph.rgw_endpoint}/{bucket}")  # fmt: skip
        assert made.stdout == "200", made
    return keys


def _container(prod_graph, job: str) -> dict:
    (resource,) = [
        r for r in prod_graph.resources if r.name == f"deepseek-{SITE}-bucket-copies-{job}"
    ]
    (container,) = resource.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def run_job(prod_graph, real_ceph, rgw_users, job: str, tmp_path: Path):
    """The CronJob's container as the pod runs it: its args after the image's entrypoint
    (rclone), its environment with each secretKeyRef resolved to the real user's key, the
    endpoints (both sites' RGW virtual IPs) to the real radosgw, /tmp to a scratch folder."""
    container = _container(prod_graph, job)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    environment = {"PATH": os.environ["PATH"]}
    for entry in container["env"]:
        name = entry["name"]
        if "valueFrom" in entry:
            remote, _, kind = entry["valueFrom"]["secretKeyRef"]["key"].partition("-")
            environment[name] = rgw_users[remote][0 if kind == "access-key-id" else 1]
        elif name.endswith("_ENDPOINT"):
            assert entry["value"].startswith("http://10.") and entry["value"].endswith(":8080")
            environment[name] = real_ceph.rgw_endpoint
        elif entry["value"].startswith("/tmp"):
            environment[name] = str(scratch) + entry["value"].removeprefix("/tmp")
        else:
            environment[name] = entry["value"]
    result = subprocess.run(
        ["rclone", *container["args"]],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for remote_keys in rgw_users.values():
        assert remote_keys[1] not in result.stdout + result.stderr
    return result


def test_the_model_copy_copies_once_keeps_deletions_and_refuses_overwrites(
    prod_graph, real_ceph, rgw_users, tmp_path
):
    home, models = rgw_users["home"], rgw_users["models"]
    revisions = {
        "r1-qwen-32b/bf16/2025-01-20/config.json": b'{"architectures": ["Qwen2ForCausalLM"]}\n',
        "r1-qwen-32b/bf16/2025-01-20/model-00001-of-00001.safetensors": os.urandom(3_000_000),
        "r1-qwen-32b/bf16/2025-05-28/config.json": b'{"architectures": ["Qwen2ForCausalLM"]}\n\n',
    }
    for key, body in revisions.items():
        put(real_ceph, home, "deepseek-models", key, body, tmp_path)
    source = listing(real_ceph, home, "deepseek-models")

    first = run_job(prod_graph, real_ceph, rgw_users, "copy-models", tmp_path)
    assert first.returncode == 0, first.stderr
    copied = listing(real_ceph, models, f"models-{SITE}")
    assert sorted(copied) == sorted(revisions)
    assert {k: etag for k, (etag, _) in copied.items()} == {k: e for k, (e, _) in source.items()}

    # Again: nothing is copied (every object kept its upload time).
    time.sleep(1.5)
    second = run_job(prod_graph, real_ceph, rgw_users, "copy-models", tmp_path)
    assert second.returncode == 0, second.stderr
    assert listing(real_ceph, models, f"models-{SITE}") == copied

    # A revision deleted at home stays in the copy until someone removes it there.
    removed = "r1-qwen-32b/bf16/2025-01-20/config.json"
    delete(real_ceph, home, "deepseek-models", removed)
    kept = run_job(prod_graph, real_ceph, rgw_users, "copy-models", tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert listing(real_ceph, models, f"models-{SITE}") == copied

    # A revision changed at home (a bad write) fails the run, and the copy keeps the original.
    changed = "r1-qwen-32b/bf16/2025-05-28/config.json"
    put(real_ceph, home, "deepseek-models", changed, b'{"overwritten": true}\n', tmp_path)
    refused = run_job(prod_graph, real_ceph, rgw_users, "copy-models", tmp_path)
    assert refused.returncode != 0
    assert "immutable" in refused.stderr.lower(), refused.stderr
    assert listing(real_ceph, models, f"models-{SITE}") == copied


def test_the_backup_syncs_mirror_expiry_and_stop_at_their_guard(
    prod_graph, real_ceph, rgw_users, tmp_path
):
    etcd, copies = rgw_users["etcd"], rgw_users["copy"]
    args = _container(prod_graph, "copy-etcd-snapshots")["args"]
    guard = int(args[args.index("--max-delete") + 1])
    snapshots = [
        f"dcb-cp-{n % 3 + 1}/2025-06-{n // 4 + 1:02d}T{n % 4 * 6:02d}.db.enc"
        for n in range(guard + 10)
    ]
    for key in snapshots:
        put(real_ceph, etcd, f"etcd-{SITE}", key, os.urandom(2048), tmp_path)
    prefix = f"etcd-{SITE}/"

    first = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    assert first.returncode == 0, first.stderr
    copied = listing(real_ceph, copies, "backup-copies", prefix)
    assert sorted(copied) == sorted(snapshots)
    time.sleep(1.5)
    again = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    assert again.returncode == 0, again.stderr
    assert listing(real_ceph, copies, "backup-copies", prefix) == copied

    # The source's own expiry reaches the copy.
    expired, rest = snapshots[:3], snapshots[3:]
    for key in expired:
        delete(real_ceph, etcd, f"etcd-{SITE}", key)
    mirrored = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    assert mirrored.returncode == 0, mirrored.stderr
    assert sorted(listing(real_ceph, copies, "backup-copies", prefix)) == sorted(rest)

    # A wiped source: the run deletes no more than its guard, and fails saying so.
    for key in rest:
        delete(real_ceph, etcd, f"etcd-{SITE}", key)
    wiped = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    assert wiped.returncode != 0
    assert "max-delete" in wiped.stderr, wiped.stderr
    left = listing(real_ceph, copies, "backup-copies", prefix)
    assert len(left) == len(rest) - guard > 0

    # Velero's bucket, read with its own link's keys, lands beside it.
    velero = rgw_users["velero"]
    for key in (
        "backups/dc-b-daily-20250601/velero-backup.json",
        "kopia/inference/kopia.repository",
    ):
        put(real_ceph, velero, f"velero-{SITE}", key, os.urandom(512), tmp_path)
    synced = run_job(prod_graph, real_ceph, rgw_users, "copy-backups", tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert sorted(listing(real_ceph, copies, "backup-copies", f"velero-{SITE}/")) == [
        "backups/dc-b-daily-20250601/velero-backup.json",
        "kopia/inference/kopia.repository",
    ]


def test_the_etcd_sync_refuses_to_overwrite_a_copied_snapshot(
    prod_graph, real_ceph, rgw_users, tmp_path
):
    """Issue 17 attack: --max-delete bounds what a sync deletes, not what it overwrites. A
    snapshot rewritten at the target (by anyone holding the link's keys: every control plane of
    the source site) replaced the copy at home on the next run, for every snapshot at once; and
    openssl enc carries no MAC, so the garbage showed only at a restore. A snapshot is written
    once: the sync fails (--immutable) and the copy keeps the original."""
    etcd, copies = rgw_users["etcd"], rgw_users["copy"]
    key = "dcb-cp-1/20260101T000000Z.db.enc"
    put(real_ceph, etcd, f"etcd-{SITE}", key, os.urandom(4096), tmp_path)
    first = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    original = listing(real_ceph, copies, "backup-copies", f"etcd-{SITE}/")[key]

    time.sleep(1.5)
    put(real_ceph, etcd, f"etcd-{SITE}", key, os.urandom(4096), tmp_path)
    rewritten = run_job(prod_graph, real_ceph, rgw_users, "copy-etcd-snapshots", tmp_path)
    assert listing(real_ceph, copies, "backup-copies", f"etcd-{SITE}/")[key] == original, (
        first.stderr
    )
    assert rewritten.returncode != 0 and "immutable" in rewritten.stderr.lower(), rewritten.stderr
