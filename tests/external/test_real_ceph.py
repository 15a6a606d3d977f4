"""The real Ceph the data layer's steps are tested against (tests/external/ceph_server.py):
that it is a live cluster, and that it does what the layer relies on — a replicated pool with
failure domain host on three host buckets goes active+clean, a client key reaches its pool
and no other, radosgw-admin prints a user's keys, and S3 through curl's --aws-sigv4 works
(with the header and query-string rules Ceph 16.2's radosgw and Debian 12's curl 7.88 need);
and that the data layer's steps acting on a live cluster (ceph-pools, ceph-client-key,
ceph-rgw-user) converge on it for real: a second run changes nothing, drift is put back. On a
second cluster whose hosts each have an `nvme` and an `hdd` OSD: the RBD pool on the NVMe rule
and the backup placement's pool on the HDD rule, a running RGW that knows the placement only
once restarted, and a backup user's bucket whose objects land in the HDD pool.

The outputs the host-script sandbox's stand-ins imitate are kept under tests/fixtures/ceph/
(README there): each test checks that the live output still has the saved one's shape (JSON
keys and types, XML elements, text with the keys replaced). `DEEPSEEK_WRITE_CEPH_FIXTURES=1`
rewrites them from the live cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.remote.steps import parse_result, script_text, shell_command, step
from tests.external import ceph_server
from tests.paths import LOCAL_FIXTURES

FIXTURES = LOCAL_FIXTURES / "ceph"
WRITE_FIXTURES = bool(os.environ.get("DEEPSEEK_WRITE_CEPH_FIXTURES"))

# What the fixtures hold instead of real secrets: the same lengths and alphabets.
FAKE_ACCESS_KEY = "FAKEFAKEFAKEFAKE0000"  # 20 upper-case letters and digits, as radosgw's
FAKE_SECRET_KEY = "fakeSecretKey" * 3 + "0"  # 40 characters, as radosgw's
FAKE_CEPHX_KEY = "AQAAAAAAAAAAABAARkFLRUZBS0VGQUtFRkFLRQ=="  # type 1, time 0, "FAKEFAKE…"

SIGV4 = "aws:amz:us-east-1:s3"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# The elements a ListObjectsV2 result starts with, in radosgw's order.
HEAD_TAGS = ["Name", "Prefix", "MaxKeys", "IsTruncated"]


# --- fixtures of real outputs ---------------------------------------------------------------


def _shape(value: Any) -> Any:
    """The structure of a JSON value: object keys and value types, list elements merged."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, _shape(item))
        return ["list", merged]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def _merge(left: Any, right: Any) -> Any:
    if left is None:
        return right
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted(set(left) | set(right))
        return {key: _merge(left.get(key), right.get(key)) for key in keys}
    return left


def json_shape(text: str) -> Any:
    return _shape(json.loads(text))


def xml_shape(text: str) -> Any:
    """The element tree of an XML document: tags (namespace kept) in order, no text."""

    def walk(element: ET.Element) -> Any:
        return [element.tag, [walk(child) for child in element]]

    return walk(ET.fromstring(text))


def exact(text: str) -> str:
    return text


def keep(name: str, text: str, compare: Callable[[str], Any]) -> None:
    """Saves a real output (secrets already replaced) as fixture `name` when asked to, and
    otherwise checks that the saved one still has the live output's shape."""
    path = FIXTURES / name
    if WRITE_FIXTURES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing: run with DEEPSEEK_WRITE_CEPH_FIXTURES=1"
    assert compare(path.read_text()) == compare(text), (
        f"the live output no longer has the shape of {path} (rewrite it with "
        f"DEEPSEEK_WRITE_CEPH_FIXTURES=1 and update the stand-ins); live output:\n{text[:3000]}"
    )


def without_secrets(text: str, replacements: dict[str, str]) -> str:
    for secret, fake in replacements.items():
        text = text.replace(secret, fake)
    return text


# --- the cluster is real ----------------------------------------------------------------------


def test_the_cluster_is_real_three_osds_up_and_in_under_three_hosts(real_ceph):
    # Real daemons of the installed packages, each alive, each with its own log.
    for name, process in real_ceph.processes.items():
        if name.endswith("-mkfs"):
            assert process.returncode == 0, name
            continue
        assert process.poll() is None, f"{name} exited"
        binary = os.readlink(f"/proc/{process.pid}/exe")
        assert Path(binary).name in {"ceph-mon", "ceph-mgr", "ceph-osd", "radosgw"}, binary
        assert real_ceph.log_path(name).stat().st_size > 0, name
    assert len([n for n in real_ceph.processes if n.startswith("osd.") and "mkfs" not in n]) == 3

    versions = real_ceph.ceph("versions")
    assert versions["overall"], versions
    assert all(v.startswith("ceph version 16.2.") for v in versions["overall"]), versions
    assert sum(versions["osd"].values()) == 3

    status_text = real_ceph.run(["ceph", "status", "--format", "json"]).stdout
    status = json.loads(status_text)
    assert status["osdmap"]["num_osds"] == 3
    assert status["osdmap"]["num_up_osds"] == 3
    assert status["osdmap"]["num_in_osds"] == 3
    assert status["health"]["status"] == "HEALTH_OK", status["health"]
    assert status["quorum_names"] == [ceph_server.MON_ID]
    keep(
        "ceph-status.json",
        # The daemons' metadata (this machine's hostname, kernel, container) left out.
        re.sub(r'"metadata":\{[^{}]*\}', '"metadata":{}', status_text),
        lambda text: (sorted(json.loads(text)), _shape(json.loads(text)["osdmap"])),
    )
    plain = real_ceph.run(["ceph", "-s"]).stdout
    assert "osd: 3 osds: 3 up" in plain and "3 in" in plain, plain

    tree_text = real_ceph.run(["ceph", "osd", "tree", "--format", "json"]).stdout
    nodes = {node["id"]: node for node in json.loads(tree_text)["nodes"]}
    (root,) = [node for node in nodes.values() if node["type"] == "root"]
    assert root["name"] == "default"
    hosts = [nodes[child] for child in root["children"]]
    assert sorted(host["name"] for host in hosts) == ["host0", "host1", "host2"]
    for host in hosts:
        assert host["type"] == "host"
        (osd,) = [nodes[child] for child in host["children"]]
        assert osd["name"] == f"osd.{host['name'].removeprefix('host')}"
        assert osd["status"] == "up" and osd["reweight"] == 1 and osd["crush_weight"] == 1
    keep("ceph-osd-tree.json", tree_text, json_shape)


# --- pools on a host failure domain ------------------------------------------------------------


def _pgs_of(cluster, pool: str) -> list[dict]:
    listed = cluster.run(f"ceph pg ls-by-pool {pool} --format json").stdout
    return json.loads(listed)["pg_stats"]


def _wait_pgs_active_clean(cluster, pool: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        pgs = _pgs_of(cluster, pool)
        if len(pgs) == count and all(pg["state"] == "active+clean" for pg in pgs):
            return pgs
        assert time.monotonic() < deadline, (
            f"{pool}'s placement groups are not active+clean within {timeout:.0f} s: "
            f"{sorted((pg['pgid'], pg['state']) for pg in pgs)}"
        )
        time.sleep(0.25)


def test_a_replicated_pool_on_failure_domain_host_goes_active_clean(real_ceph):
    rule, pool = "test-replicated-host", "test-rbd"
    created = real_ceph.run(f"ceph osd crush rule create-replicated {rule} default host")
    assert created.stderr == ""
    # Idempotent by name only: a second create, even with another failure domain, exits 0
    # and changes nothing. A step must compare the rule's dump, not trust the exit status.
    for domain in ("host", "osd"):
        again = real_ceph.run(f"ceph osd crush rule create-replicated {rule} default {domain}")
        assert again.stderr.strip() == f"rule {rule} already exists"

    dump_text = real_ceph.run(f"ceph osd crush rule dump {rule} --format json").stdout
    dump = json.loads(dump_text)
    assert dump["rule_name"] == rule and dump["type"] == 1  # 1: replicated
    assert dump["steps"] == [
        {"op": "take", "item": -1, "item_name": "default"},
        {"op": "chooseleaf_firstn", "num": 0, "type": "host"},
        {"op": "emit"},
    ]
    keep("ceph-osd-crush-rule-dump.json", dump_text, json_shape)

    first = real_ceph.run(f"ceph osd pool create {pool} 8 8 replicated {rule}")
    assert first.stderr.strip() == f"pool '{pool}' created"
    # `pool create` is idempotent by name too: the same message for any arguments.
    for arguments in (f"{pool} 8 8 replicated {rule}", pool):
        again = real_ceph.run(f"ceph osd pool create {arguments}")
        assert again.stderr.strip() == f"pool '{pool}' already exists"
    pool_id = real_ceph.ceph("osd", "pool", "ls", "detail")
    pool_id = {p["pool_name"]: p["pool_id"] for p in pool_id}[pool]
    for key, value in (("size", "3"), ("min_size", "2"), ("size", "3")):
        result = real_ceph.run(f"ceph osd pool set {pool} {key} {value}")
        assert result.stderr.strip() == f"set pool {pool_id} {key} to {value}"
    for _ in range(2):
        enabled = real_ceph.run(f"ceph osd pool application enable {pool} rbd")
        assert enabled.stderr.strip() == f"enabled application 'rbd' on pool '{pool}'"

    settings = real_ceph.ceph("osd", "pool", "get", pool, "all")
    assert (settings["size"], settings["min_size"], settings["crush_rule"]) == (3, 2, rule)
    keep(
        "ceph-osd-pool-get-all.json",
        real_ceph.run(f"ceph osd pool get {pool} all --format json").stdout,
        json_shape,
    )

    pgs = _wait_pgs_active_clean(real_ceph, pool, 8)
    # The failure domain is real: each PG's three copies lie on three different hosts.
    tree = real_ceph.ceph("osd", "tree")["nodes"]
    host_of = {osd: n["name"] for n in tree if n["type"] == "host" for osd in n["children"]}
    for pg in pgs:
        assert len(pg["acting"]) == 3, pg["pgid"]
        assert len({host_of[osd] for osd in pg["acting"]}) == 3, (pg["pgid"], pg["acting"])

    detail_text = real_ceph.run("ceph osd pool ls detail --format json")
    detail = {p["pool_name"]: p for p in json.loads(detail_text.stdout)}[pool]
    assert (detail["size"], detail["min_size"], detail["pg_num"]) == (3, 2, 8)
    assert detail["crush_rule"] == dump["rule_id"]
    assert detail["application_metadata"] == {"rbd": {}}
    keep("ceph-osd-pool-ls-detail.json", detail_text.stdout, json_shape)


# --- a client key (ceph-csi) ------------------------------------------------------------------


def test_a_client_key_reaches_its_pool_and_no_other(real_ceph, tmp_path):
    mine, other, entity = "test-kube", "test-other", "client.test-csi"
    for pool in (mine, other):
        real_ceph.run(f"ceph osd pool create {pool} 8 8")
        real_ceph.run(f"ceph osd pool application enable {pool} rbd")
    caps = f"mon 'profile rbd' osd 'profile rbd pool={mine}' mgr 'profile rbd pool={mine}'"
    created = real_ceph.run(f"ceph auth get-or-create {entity} {caps}")
    key = re.fullmatch(rf"\[{entity}\]\n\tkey = (\S+)\n", created.stdout)
    assert key, created.stdout
    key = key.group(1)
    assert len(key) == 40 and key.startswith("AQ")
    # The same caps again: the same key, the same output; other caps: refused, key kept.
    assert real_ceph.run(f"ceph auth get-or-create {entity} {caps}").stdout == created.stdout
    refused = real_ceph.run(
        f"ceph auth get-or-create {entity} mon 'profile rbd' osd 'profile rbd'", check=False
    )
    assert refused.returncode == 22
    assert (
        refused.stderr.strip()
        == f"Error EINVAL: key for {entity} exists but cap osd does not match"
    )
    as_json = real_ceph.run(f"ceph auth get-or-create {entity} {caps} --format json")
    assert json.loads(as_json.stdout) == [
        {
            "entity": entity,
            "key": key,
            "caps": {
                "mgr": f"profile rbd pool={mine}",
                "mon": "profile rbd",
                "osd": f"profile rbd pool={mine}",
            },
        }
    ]
    got = real_ceph.run(f"ceph auth get {entity}")
    assert got.stderr.strip() == f"exported keyring for {entity}"
    assert real_ceph.run(f"ceph auth print-key {entity}").stdout == key  # no newline
    missing = real_ceph.run("ceph auth get client.nobody", check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "Error ENOENT: failed to find client.nobody in keyring"
    fake = {key: FAKE_CEPHX_KEY}
    keep("ceph-auth-get-or-create.txt", without_secrets(created.stdout, fake), exact)
    keep("ceph-auth-get-or-create.json", without_secrets(as_json.stdout, fake), exact)
    keep("ceph-auth-get.txt", without_secrets(got.stdout, fake), exact)

    # cephx is on: the key works on its pool (objects and an RBD image), not on another.
    keyring = tmp_path / "keyring"
    keyring.write_text(created.stdout)
    as_client = ["--id", entity.removeprefix("client."), "--keyring", str(keyring)]
    payload = tmp_path / "payload"
    payload.write_bytes(b"weights")
    real_ceph.run(["rados", *as_client, "-p", mine, "put", "probe", str(payload)])
    real_ceph.run(["rbd", *as_client, "create", f"{mine}/image", "--size", "16M"])
    assert real_ceph.run(["rbd", *as_client, "ls", mine]).stdout.split() == ["image"]
    denied = real_ceph.run(
        ["rados", *as_client, "-p", other, "put", "probe", str(payload)], check=False
    )
    assert denied.returncode != 0
    assert "Operation not permitted" in denied.stderr, denied.stderr
    keyring.write_text(created.stdout.replace(key, FAKE_CEPHX_KEY))
    wrong = real_ceph.run(["rados", *as_client, "-p", mine, "ls"], check=False, timeout=30)
    assert wrong.returncode != 0


# --- radosgw ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3User:
    uid: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="module")
def s3_user(real_ceph) -> S3User:
    created = real_ceph.run(
        "radosgw-admin user create --uid test-cache --display-name 'Model cache'"
    )
    (keys,) = json.loads(created.stdout)["keys"]
    return S3User("test-cache", keys["access_key"], keys["secret_key"])


def test_radosgw_admin_prints_a_users_keys(real_ceph, s3_user):
    uid = "test-keys"
    created = real_ceph.run(f"radosgw-admin user create --uid {uid} --display-name Keys")
    user = json.loads(created.stdout)
    (keys,) = user["keys"]
    assert keys["user"] == uid
    assert re.fullmatch(r"[A-Z0-9]{20}", keys["access_key"]), keys["access_key"]
    assert re.fullmatch(r"[A-Za-z0-9]{40}", keys["secret_key"]), keys["secret_key"]
    assert (user["user_id"], user["display_name"], user["suspended"]) == (uid, "Keys", 0)
    # Not idempotent: a second create exits 17 (EEXIST) and prints nothing on stdout;
    # `user info` is how a step finds the existing keys.
    again = real_ceph.run(f"radosgw-admin user create --uid {uid} --display-name Keys", check=False)
    assert (again.returncode, again.stdout) == (17, "")
    assert (
        again.stderr.strip()
        == f"could not create user: unable to parse parameters, user: {uid} exists"
    )
    info = real_ceph.run(["radosgw-admin", "user", "info", "--uid", uid])
    assert info.stdout == created.stdout
    missing = real_ceph.run(["radosgw-admin", "user", "info", "--uid", "nobody"], check=False)
    assert (missing.returncode, missing.stdout) == (22, "")
    assert missing.stderr.strip() == "could not fetch user info: no user info saved"
    fake = {keys["access_key"]: FAKE_ACCESS_KEY, keys["secret_key"]: FAKE_SECRET_KEY}
    keep("radosgw-admin-user-create.json", without_secrets(created.stdout, fake), exact)
    keep("radosgw-admin-user-info.json", without_secrets(info.stdout, fake), exact)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def s3(
    cluster,
    user: S3User,
    method: str,
    path: str,
    *,
    upload: Path | None = None,
    payload_hash: str | None = UNSIGNED_PAYLOAD,
    secret: str | None = None,
) -> Response:
    """One request through curl as the model cache's fill script makes it:
    `curl --aws-sigv4 "aws:amz:us-east-1:s3" --user KEY:SECRET -H "x-amz-content-sha256: …"`
    (`payload_hash=None` leaves the header out)."""
    out = cluster.root / "s3-body"
    headers = cluster.root / "s3-headers"
    argv = ["curl", "--silent", "--show-error", "--aws-sigv4", SIGV4]
    argv += ["--user", f"{user.access_key}:{secret or user.secret_key}"]
    argv += ["--dump-header", str(headers), "--output", str(out), "--write-out", "%{http_code}"]
    if payload_hash is not None:
        argv += ["-H", f"x-amz-content-sha256: {payload_hash}"]
    if method == "HEAD":
        argv += ["--head"]
    elif upload is not None:
        argv += ["--upload-file", str(upload)]
    else:
        argv += ["-X", method]
    result = cluster.run([*argv, cluster.rgw_endpoint + path], timeout=30)
    # The last block of headers (an upload's `100 CONTINUE` comes first).
    block = headers.read_text().replace("\r\n", "\n").strip().split("\n\n")[-1].splitlines()
    parsed = {}
    for line in block[1:]:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Response(int(result.stdout), parsed, out.read_bytes() if out.exists() else b"")


def _error_code(response: Response) -> str:
    root = ET.fromstring(response.text)
    assert root.tag == "Error"
    return root.findtext("Code")


def _listing(response: Response) -> dict[str, Any]:
    root = ET.fromstring(response.text)
    assert root.tag == f"{S3_NS}ListBucketResult", response.text

    def field_(name: str, element: ET.Element = root) -> str | None:
        return element.findtext(f"{S3_NS}{name}")

    contents = [
        {
            "Key": field_("Key", c),
            "ETag": field_("ETag", c),
            "Size": int(field_("Size", c)),
            "StorageClass": field_("StorageClass", c),
            "Type": field_("Type", c),
        }
        for c in root.findall(f"{S3_NS}Contents")
    ]
    return {
        "tags": [child.tag.removeprefix(S3_NS) for child in root],
        "Name": field_("Name"),
        "Prefix": field_("Prefix"),
        "MaxKeys": field_("MaxKeys"),
        "IsTruncated": field_("IsTruncated"),
        "KeyCount": field_("KeyCount"),
        "NextContinuationToken": field_("NextContinuationToken"),
        "ContinuationToken": field_("ContinuationToken"),
        "Contents": contents,
    }


def test_s3_put_get_and_list_through_curl_sigv4(real_ceph, s3_user, tmp_path):
    bucket = "test-models"
    # Debian 12's curl (7.88) signs the payload's hash without sending x-amz-content-sha256;
    # radosgw then takes the payload as unsigned and refuses the signature. Every request
    # needs the header: the body's SHA-256 (hex) or UNSIGNED-PAYLOAD.
    bare = s3(real_ceph, s3_user, "PUT", f"/{bucket}", payload_hash=None)
    assert (bare.status, _error_code(bare)) == (403, "SignatureDoesNotMatch")

    created = s3(real_ceph, s3_user, "PUT", f"/{bucket}")
    assert (created.status, created.body) == (200, b"")
    # Creating a bucket its owner already has is a no-op: 200 again.
    assert s3(real_ceph, s3_user, "PUT", f"/{bucket}").status == 200
    head = s3(real_ceph, s3_user, "HEAD", f"/{bucket}")
    assert head.status == 200 and head.headers["x-rgw-object-count"] == "0"

    files = {
        "deepseek/rev1/config.json": b'{"model": "deepseek"}\n',
        "deepseek/rev1/model-00001.safetensors": os.urandom(70_000),
    }
    for key, content in files.items():
        local = tmp_path / "upload"
        local.write_bytes(content)
        digest = hashlib.sha256(content).hexdigest()
        put = s3(real_ceph, s3_user, "PUT", f"/{bucket}/{key}", upload=local, payload_hash=digest)
        assert put.status == 200, put.text
        assert put.headers["etag"] == f'"{hashlib.md5(content).hexdigest()}"'
    local.write_bytes(b"tampered")
    other_digest = hashlib.sha256(b"other").hexdigest()
    mismatch = s3(
        real_ceph, s3_user, "PUT", f"/{bucket}/x", upload=local, payload_hash=other_digest
    )
    assert (mismatch.status, _error_code(mismatch)) == (400, "XAmzContentSHA256Mismatch")

    for key, content in files.items():
        got = s3(real_ceph, s3_user, "GET", f"/{bucket}/{key}")
        assert (got.status, got.body) == (200, content)
        head = s3(real_ceph, s3_user, "HEAD", f"/{bucket}/{key}")
        assert head.status == 200
        assert head.headers["content-length"] == str(len(content))
        assert head.headers["etag"] == f'"{hashlib.md5(content).hexdigest()}"'

    # ListObjectsV2: curl signs the query string as written, so the parameters must be in
    # name order and their values already percent-encoded (`/` as %2F), or radosgw refuses.
    prefix = urllib.parse.quote("deepseek/rev1/", safe="")
    listed = s3(real_ceph, s3_user, "GET", f"/{bucket}?list-type=2&prefix={prefix}")
    assert listed.status == 200
    assert listed.headers["content-type"] == "application/xml"
    listing = _listing(listed)
    assert listing["tags"] == [*HEAD_TAGS, "Contents", "Contents", "KeyCount"]
    assert (listing["Name"], listing["Prefix"], listing["MaxKeys"]) == (
        bucket,
        "deepseek/rev1/",
        "1000",
    )
    assert (listing["IsTruncated"], listing["KeyCount"]) == ("false", "2")
    assert listing["Contents"] == [
        {
            "Key": key,
            "ETag": f'"{hashlib.md5(content).hexdigest()}"',
            "Size": len(content),
            "StorageClass": "STANDARD",
            "Type": "Normal",
        }
        for key, content in sorted(files.items())
    ]
    assert "&quot;" in listed.text  # the ETag's quotes, escaped in the XML text
    keep("s3-list-objects-v2.xml", listed.text, xml_shape)

    for query in (f"prefix={prefix}&list-type=2", "list-type=2&prefix=deepseek/rev1/"):
        refused = s3(real_ceph, s3_user, "GET", f"/{bucket}?{query}")
        assert (refused.status, _error_code(refused)) == (403, "SignatureDoesNotMatch"), query

    empty = s3(real_ceph, s3_user, "GET", f"/{bucket}?list-type=2&prefix=nothing%2F")
    assert empty.status == 200
    assert _listing(empty)["tags"] == [*HEAD_TAGS, "KeyCount"]
    assert _listing(empty)["KeyCount"] == "0"
    keep("s3-list-objects-v2-empty.xml", empty.text, xml_shape)

    # Pages: NextContinuationToken (here the last key itself), sent back percent-encoded
    # ahead of list-type (name order).
    page = s3(real_ceph, s3_user, "GET", f"/{bucket}?list-type=2&max-keys=1&prefix={prefix}")
    first = _listing(page)
    assert first["tags"] == [*HEAD_TAGS, "Contents", "NextContinuationToken", "KeyCount"]
    assert (first["IsTruncated"], first["KeyCount"]) == ("true", "1")
    keep("s3-list-objects-v2-truncated.xml", page.text, xml_shape)
    token = urllib.parse.quote(first["NextContinuationToken"], safe="")
    query = f"continuation-token={token}&list-type=2&max-keys=1&prefix={prefix}"
    rest = _listing(s3(real_ceph, s3_user, "GET", f"/{bucket}?{query}"))
    assert (
        rest["IsTruncated"] == "false"
        and rest["ContinuationToken"] == first["NextContinuationToken"]
    )
    assert [c["Key"] for c in first["Contents"] + rest["Contents"]] == sorted(files)

    missing = s3(real_ceph, s3_user, "GET", f"/{bucket}/deepseek/rev1/missing")
    assert (missing.status, _error_code(missing)) == (404, "NoSuchKey")
    keep("s3-error-no-such-key.xml", missing.text, xml_shape)
    assert s3(real_ceph, s3_user, "HEAD", f"/{bucket}/deepseek/rev1/missing").status == 404
    no_bucket = s3(real_ceph, s3_user, "GET", "/no-such-bucket/key")
    assert (no_bucket.status, _error_code(no_bucket)) == (404, "NoSuchBucket")
    wrong = s3(real_ceph, s3_user, "GET", f"/{bucket}/deepseek/rev1/config.json", secret="x" * 40)
    assert (wrong.status, _error_code(wrong)) == (403, "SignatureDoesNotMatch")
    keep("s3-error-signature-does-not-match.xml", wrong.text, xml_shape)
    deleted = s3(real_ceph, s3_user, "DELETE", f"/{bucket}/deepseek/rev1/never-was")
    assert deleted.status == 204  # deleting a missing key succeeds


# --- the fixture's own guarantees ---------------------------------------------------------------


def test_a_boot_that_fails_says_why_and_leaves_no_process():
    with pytest.raises(ceph_server.CephBootError) as raised:
        ceph_server.start(timeout=2)
    message = str(raised.value)
    assert "within the boot timeout (2 s)" in message, message
    assert "(last lines) ---" in message, message
    cluster = raised.value.cluster
    assert cluster is not None and cluster.stopped
    assert cluster.processes
    assert all(process.poll() is not None for process in cluster.processes.values())
    assert not cluster.root.exists() or os.environ.get("DEEPSEEK_KEEP_CEPH")


def test_without_the_packages_the_boot_names_the_install_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ceph_server.CephBootError) as raised:
        ceph_server.start()
    message = str(raised.value)
    assert "ceph-mon, ceph-mgr, ceph-osd, radosgw" in message, message
    assert "bash tools/system-packages.sh" in message
    assert "apt-get install --no-install-recommends ceph-mon ceph-mgr ceph-osd radosgw" in message


def test_every_daemon_logs_to_its_own_file(real_ceph):
    names = {f"mon.{ceph_server.MON_ID}", f"mgr.{ceph_server.MGR_ID}", ceph_server.RGW_NAME}
    names |= {f"osd.{n}" for n in range(ceph_server.OSD_COUNT)}
    for name in names:
        assert real_ceph.log_path(name).exists(), name
    assert subprocess.run(["ceph", "--version"], capture_output=True, text=True).stdout.startswith(
        "ceph version 16.2."
    )


# --- the data layer's steps, for real ---------------------------------------------------------
# Each step's script runs as its SSH step runs it: `sudo --non-interactive env K=V … bash -s`
# (components.remote.steps.shell_command) in an SSH session's environment, with lib.sh and the
# script on stdin (script_text) and the secrets as `export` lines ahead of them (as
# components.remote.runner.with_secrets puts them). On a storage host cephadm leaves
# /etc/ceph/ceph.conf and the admin keyring; here CEPH_CONF, on the command line because sudo
# resets the environment, points the real `ceph`, `rados`, `rbd` and `radosgw-admin` at the
# test's cluster. The scripts write nothing on this machine but their mktemp files.

SSH_SESSION_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class StepRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None


def run_step(
    cluster, name: str, inputs: dict[str, str], secrets: dict[str, str] | None = None
) -> StepRun:
    spec = step(name)
    stdin = "".join(
        f"export {key}={shlex.quote(value)}\n" for key, value in sorted((secrets or {}).items())
    )
    stdin += script_text(spec.script)
    command = shell_command({**inputs, "CEPH_CONF": str(cluster.conf)})
    ran = subprocess.run(
        ["bash", "-c", command],
        input=stdin,
        env=SSH_SESSION_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result = parse_result(name, ran.stdout) if ran.returncode == 0 else None
    return StepRun(ran.returncode, ran.stdout, ran.stderr, result)


def converges(cluster, name: str, inputs: dict[str, str], **kwargs) -> dict[str, Any]:
    """Runs a step twice: the first run changes something, the second nothing and reports
    the same result. Returns the result."""
    first = run_step(cluster, name, inputs, **kwargs)
    assert first.returncode == 0, f"{name} failed:\n{first.stderr}"
    assert first.result["changed"] is True, first.stdout
    second = run_step(cluster, name, inputs, **kwargs)
    assert second.returncode == 0, f"{name} failed on its second run:\n{second.stderr}"
    assert second.result == {**first.result, "changed": False}, second.stdout
    return first.result


def test_the_ceph_pools_step_converges_on_the_real_cluster(real_ceph):
    # This cluster's memstore OSDs are of the class Ceph gives them: hdd, one per host.
    inputs = {
        "REPLICA_SIZE": "3",
        "MIN_SIZE": "2",
        "CRUSH_RULE": "step-host",
        "RBD_POOL": "step-rbd",
        "DEVICE_CLASSES": "hdd",
        "BACKUP_CLASS": "hdd",
        "BACKUP_PLACEMENT": "step-backups",
    }
    result = converges(real_ceph, "ceph-pools", inputs)
    assert result == {
        "changed": True,
        "pool": "step-rbd",
        "crushRule": "step-host-hdd",
        "backupPlacement": "step-backups",
        "backupPool": "default.rgw.step-backups.data",
        "backupCrushRule": "step-host-hdd",
    }

    rule = real_ceph.ceph("osd", "crush", "rule", "dump", "step-host-hdd")
    assert [s.get("type") for s in rule["steps"] if s["op"].startswith("choose")] == ["host"]
    assert rule["steps"][0]["item_name"] == "default~hdd"
    settings = real_ceph.ceph("osd", "pool", "get", "step-rbd", "all")
    assert (settings["size"], settings["min_size"], settings["crush_rule"]) == (
        3,
        2,
        "step-host-hdd",
    )
    assert real_ceph.ceph("osd", "pool", "application", "get", "step-rbd") == {"rbd": {}}
    real_ceph.run("rados -p step-rbd stat rbd_info")  # rbd pool init ran
    defaults = {
        e["name"]: e["value"] for e in real_ceph.ceph("config", "dump") if e["section"] == "global"
    }
    assert defaults["osd_pool_default_size"] == "3"
    assert defaults["osd_pool_default_min_size"] == "2"
    assert defaults["osd_pool_default_crush_rule"] == str(rule["rule_id"])
    pgs = _wait_pgs_active_clean(real_ceph, "step-rbd", settings["pg_num"])
    assert all(len(pg["acting"]) == 3 for pg in pgs)

    # Drift is put back, once.
    real_ceph.run("ceph osd pool set step-rbd min_size 1")
    drifted = run_step(real_ceph, "ceph-pools", inputs)
    assert drifted.returncode == 0, drifted.stderr
    assert drifted.result["changed"] is True
    assert real_ceph.ceph("osd", "pool", "get", "step-rbd", "min_size")["min_size"] == 2
    assert run_step(real_ceph, "ceph-pools", inputs).result["changed"] is False

    # A rule of that name placing copies per OSD is refused, and nothing is changed.
    real_ceph.run("ceph osd crush rule create-replicated step-per-osd-hdd default osd hdd")
    before = real_ceph.run("ceph osd pool ls").stdout
    refused = run_step(real_ceph, "ceph-pools", {**inputs, "CRUSH_RULE": "step-per-osd"})
    assert refused.returncode == 1
    assert (
        "taking 'default~hdd' with failure domain 'osd', not 'default~hdd' (class hdd under "
        "root default) with 'host'" in refused.stderr
    ), refused.stderr
    assert real_ceph.run("ceph osd pool ls").stdout == before


def test_the_ceph_client_key_step_converges_on_the_real_cluster(real_ceph, tmp_path):
    real_ceph.run("ceph osd pool create step-csi-pool 8 8")
    real_ceph.run("ceph osd pool application enable step-csi-pool rbd")
    inputs = {"CSI_USER": "step-csi", "RBD_POOL": "step-csi-pool"}
    result = converges(real_ceph, "ceph-client-key", inputs)
    assert result["user"] == "step-csi"
    assert result["key"] == real_ceph.run("ceph auth print-key client.step-csi").stdout
    caps = real_ceph.ceph("auth", "get", "client.step-csi")[0]["caps"]
    assert caps == {
        "mon": "profile rbd",
        "osd": "profile rbd pool=step-csi-pool",
        "mgr": "profile rbd pool=step-csi-pool",
    }

    # Its caps changed by hand are set again; the key stays.
    real_ceph.run("ceph auth caps client.step-csi mon 'profile rbd' osd 'profile rbd'")
    again = run_step(real_ceph, "ceph-client-key", inputs)
    assert again.returncode == 0, again.stderr
    assert again.result == {**result, "changed": True}
    assert real_ceph.ceph("auth", "get", "client.step-csi")[0]["caps"] == caps

    # The key the step reports maps images in its pool with cephx.
    keyring = tmp_path / "keyring"
    keyring.write_text(f"[client.step-csi]\n\tkey = {result['key']}\n")
    as_csi = f"--id step-csi --keyring {keyring}"
    real_ceph.run(f"rbd {as_csi} create step-csi-pool/volume --size 8M")
    assert real_ceph.run(f"rbd {as_csi} ls step-csi-pool").stdout.split() == ["volume"]


def _rgw_keys() -> dict[str, str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    access = "".join(alphabet[b % len(alphabet)] for b in os.urandom(20))
    secret = base64.b64encode(os.urandom(30)).decode().replace("+", "A").replace("/", "B")
    return {"RGW_ACCESS_KEY": access, "RGW_SECRET_KEY": secret}


def test_the_ceph_rgw_user_step_converges_on_the_real_cluster(real_ceph, s3_user):
    inputs = {
        "RGW_USER": "step-cache",
        "BUCKET": "step-models",
        "PLACEMENT": "default-placement",
        "RGW_ENDPOINT": real_ceph.rgw_endpoint,
    }
    keys = _rgw_keys()
    result = converges(real_ceph, "ceph-rgw-user", inputs, secrets=keys)
    assert result == {
        "changed": True,
        "user": "step-cache",
        "bucket": "step-models",
        "placement": "default-placement",
    }
    user = json.loads(real_ceph.run("radosgw-admin user info --uid step-cache").stdout)
    assert user["keys"] == [
        {
            "user": "step-cache",
            "access_key": keys["RGW_ACCESS_KEY"],
            "secret_key": keys["RGW_SECRET_KEY"],
        }
    ]
    stats = json.loads(real_ceph.run("radosgw-admin bucket stats --bucket=step-models").stdout)
    assert stats["owner"] == "step-cache"
    as_step_user = S3User("step-cache", keys["RGW_ACCESS_KEY"], keys["RGW_SECRET_KEY"])
    listed = s3(real_ceph, as_step_user, "GET", "/step-models?list-type=2")
    assert listed.status == 200 and _listing(listed)["KeyCount"] == "0"

    # Rotation: new keys replace the old ones, which S3 then refuses.
    rotated = _rgw_keys()
    after = run_step(real_ceph, "ceph-rgw-user", inputs, secrets=rotated)
    assert after.returncode == 0, after.stderr
    assert after.result == result  # changed: true
    old = s3(real_ceph, as_step_user, "GET", "/step-models?list-type=2")
    assert (old.status, _error_code(old)) == (403, "InvalidAccessKeyId")
    new_user = S3User("step-cache", rotated["RGW_ACCESS_KEY"], rotated["RGW_SECRET_KEY"])
    assert s3(real_ceph, new_user, "GET", "/step-models?list-type=2").status == 200
    assert run_step(real_ceph, "ceph-rgw-user", inputs, secrets=rotated).result["changed"] is False

    # A bucket another user owns is refused.
    assert s3(real_ceph, s3_user, "PUT", "/step-foreign").status == 200
    foreign_inputs = {**inputs, "BUCKET": "step-foreign"}
    foreign = run_step(real_ceph, "ceph-rgw-user", foreign_inputs, secrets=rotated)
    assert foreign.returncode == 1
    assert f"owned by {s3_user.uid}, not step-cache" in foreign.stderr, foreign.stderr


# --- device classes: data on the fastest, backups on HDD ----------------------------------------


@pytest.fixture(scope="module")
def two_class_ceph():
    """A cluster of its own whose hosts each have an nvme and an hdd OSD (six in all): each
    class has a copy's host per host, as prod's storage hosts."""
    try:
        cluster = ceph_server.start(device_classes=("nvme", "hdd"))
    except ceph_server.CephBootError as error:
        pytest.fail(f"the two-class cluster did not boot: {error}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


CLASS_INPUTS = {
    "REPLICA_SIZE": "3",
    "MIN_SIZE": "2",
    "CRUSH_RULE": "replicated-host",
    "RBD_POOL": "kubernetes",
    "DEVICE_CLASSES": "nvme hdd",
    "BACKUP_CLASS": "hdd",
    "BACKUP_PLACEMENT": "backups",
}


def _osds_of(cluster, pool: str) -> set[int]:
    return {osd for pg in _pgs_of(cluster, pool) for osd in pg["acting"]}


def test_a_class_without_osds_on_enough_hosts_is_refused_unchanged(two_class_ceph):
    before = two_class_ceph.run("ceph osd pool ls").stdout
    refused = run_step(
        two_class_ceph,
        "ceph-pools",
        {**CLASS_INPUTS, "DEVICE_CLASSES": "nvme ssd hdd", "BACKUP_CLASS": "ssd"},
    )
    assert refused.returncode == 1
    assert "device class ssd has OSDs on 0 host(s), and its pools need 3" in refused.stderr
    assert "hdd on host0, host1, host2; nvme on host0, host1, host2" in refused.stderr
    assert two_class_ceph.run("ceph osd pool ls").stdout == before
    assert two_class_ceph.ceph("osd", "crush", "rule", "ls") == ["replicated_rule"]


def test_volumes_land_on_nvme_and_a_backup_users_bucket_on_the_hdd_pool(two_class_ceph, tmp_path):
    cluster = two_class_ceph
    tree_text = cluster.run("ceph osd tree --format json").stdout
    nodes = json.loads(tree_text)["nodes"]
    by_class = {c: {n["id"] for n in nodes if n.get("device_class") == c} for c in ("nvme", "hdd")}
    assert len(by_class["nvme"]) == len(by_class["hdd"]) == 3
    keep("ceph-osd-tree-device-classes.json", tree_text, json_shape)

    # A running RGW was started before the placement existed.
    result = converges(cluster, "ceph-pools", CLASS_INPUTS)
    assert (result["crushRule"], result["backupCrushRule"]) == (
        "replicated-host-nvme",
        "replicated-host-hdd",
    )
    rule_text = cluster.run("ceph osd crush rule dump replicated-host-hdd --format json").stdout
    assert json.loads(rule_text)["steps"][0]["item_name"] == "default~hdd"
    keep("ceph-osd-crush-rule-dump-device-class.json", rule_text, json_shape)
    rules = {r["rule_name"]: r["rule_id"] for r in cluster.ceph("osd", "crush", "rule", "dump")}
    detail = {p["pool_name"]: p for p in cluster.ceph("osd", "pool", "ls", "detail")}
    assert detail["kubernetes"]["crush_rule"] == rules["replicated-host-nvme"]
    assert detail["default.rgw.backups.data"]["crush_rule"] == rules["replicated-host-hdd"]
    for name, pool in detail.items():
        if "rgw" in pool["application_metadata"] and name != "default.rgw.backups.data":
            assert pool["crush_rule"] == rules["replicated-host-nvme"], name
    # The rules are real: each pool's copies sit on its class's OSDs only, one per host.
    _wait_pgs_active_clean(cluster, "kubernetes", detail["kubernetes"]["pg_num"])
    _wait_pgs_active_clean(cluster, "default.rgw.backups.data", 8)
    assert _osds_of(cluster, "kubernetes") == by_class["nvme"]
    assert _osds_of(cluster, "default.rgw.backups.data") == by_class["hdd"]
    for kind in ("zonegroup", "zone"):
        listed = cluster.run(f"radosgw-admin {kind} placement list").stdout
        assert "backups" in listed
        keep(f"radosgw-admin-{kind}-placement-list.json", listed, json_shape)
        keep(
            f"radosgw-admin-{kind}-get.json",
            cluster.run(f"radosgw-admin {kind} get").stdout,
            json_shape,
        )

    backup_inputs = {
        "RGW_USER": "velero-dc-b",
        "BUCKET": "velero-dc-b",
        "PLACEMENT": "backups",
        "RGW_ENDPOINT": cluster.rgw_endpoint,
    }
    keys = _rgw_keys()
    # RGW reads its placements at start: until restarted it refuses the new one, by name.
    stale = run_step(cluster, "ceph-rgw-user", backup_inputs, secrets=keys)
    assert stale.returncode == 1
    assert "<Code>InvalidLocationConstraint</Code>" in stale.stderr, stale.stderr
    assert "creating bucket velero-dc-b at" in stale.stderr
    error = stale.stderr[stale.stderr.index("<?xml") : stale.stderr.index("</Error>") + 8]
    keep("s3-error-invalid-location-constraint.xml", error, xml_shape)
    cluster.restart_rgw()  # what ceph-rgw does (`ceph orch restart rgw.<site>`)

    result = converges(cluster, "ceph-rgw-user", backup_inputs, secrets=keys)
    assert result == {
        "changed": True,
        "user": "velero-dc-b",
        "bucket": "velero-dc-b",
        "placement": "backups",
    }
    stats_text = cluster.run("radosgw-admin bucket stats --bucket=velero-dc-b").stdout
    stats = json.loads(stats_text)
    assert (stats["owner"], stats["placement_rule"]) == ("velero-dc-b", "backups")
    keep("radosgw-admin-bucket-stats.json", stats_text, json_shape)
    user = json.loads(cluster.run("radosgw-admin user info --uid velero-dc-b").stdout)
    assert user["default_placement"] == "backups"

    # The model store's bucket on the default placement, beside it.
    model_keys = _rgw_keys()
    model_inputs = {**backup_inputs, "RGW_USER": "model-store", "BUCKET": "deepseek-models"}
    model_inputs["PLACEMENT"] = "default-placement"
    converges(cluster, "ceph-rgw-user", model_inputs, secrets=model_keys)

    # An object written to each: the backup lands in the HDD pool, the weights in the NVMe one.
    payload = tmp_path / "payload"
    for user_keys, bucket, key in (
        (keys, "velero-dc-b", "backups/daily/velero-backup.json"),
        (model_keys, "deepseek-models", "r1/bf16/rev1/config.json"),
    ):
        payload.write_bytes(os.urandom(4096))
        digest = hashlib.sha256(payload.read_bytes()).hexdigest()
        writer = S3User(bucket, user_keys["RGW_ACCESS_KEY"], user_keys["RGW_SECRET_KEY"])
        put = s3(cluster, writer, "PUT", f"/{bucket}/{key}", upload=payload, payload_hash=digest)
        assert put.status == 200, put.text
    backup_objects = cluster.run("rados -p default.rgw.backups.data ls").stdout.splitlines()
    model_objects = cluster.run("rados -p default.rgw.buckets.data ls").stdout.splitlines()
    assert [o for o in backup_objects if o.endswith("_backups/daily/velero-backup.json")]
    assert not [o for o in backup_objects if "config.json" in o]
    assert [o for o in model_objects if o.endswith("_r1/bf16/rev1/config.json")]
    assert not [o for o in model_objects if "velero-backup" in o]
    # RGW made the default placement's data pool itself, on the default rule: NVMe.
    made = {p["pool_name"]: p for p in cluster.ceph("osd", "pool", "ls", "detail")}
    assert made["default.rgw.buckets.data"]["crush_rule"] == rules["replicated-host-nvme"]
    _wait_pgs_active_clean(cluster, "default.rgw.buckets.data", 8)
    assert _osds_of(cluster, "default.rgw.buckets.data") == by_class["nvme"]

    # The model bucket asked for on the backup placement: refused, the bucket untouched.
    moved = run_step(
        cluster, "ceph-rgw-user", {**model_inputs, "PLACEMENT": "backups"}, secrets=model_keys
    )
    assert moved.returncode == 1
    assert "exists on placement default-placement, not backups" in moved.stderr, moved.stderr
