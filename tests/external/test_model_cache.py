"""The model cache's fill script (components/storage/jobs/model-cache-fill.sh) against a real
radosgw (the `real_ceph` fixture: Ceph 16.2 from Debian's packages, on loopback).

The script runs under dash, a POSIX shell without bash's extensions (the fill image's shell
is busybox's ash), with Debian's curl on PATH behind a stand-in that logs each request's
arguments and can fail one download, so a test sees what the script fetched, that the
credentials never reached a command line, and how it recovers from a failure half-way."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.storage.model_cache_manifests import (
    COMPLETE_MARKER,
    FILL_SCRIPT,
    curl_credentials,
)

SIGV4 = "aws:amz:us-east-1:s3"
BUCKET = "model-cache-test"
PREFIX = "DeepSeek-R1-Distill-Llama-8B/fp16/2025-01-20"

CURL_STAND_IN = """#!/bin/sh
# Logs curl's arguments, one request a line, then runs the real curl; fails the request
# whose URL ends with $FAIL_URL_SUFFIX (as a dropped connection would) when it is set.
for argument in "$@"; do printf '%s\\t' "$argument"; done >>"$CURL_LOG"
printf '\\n' >>"$CURL_LOG"
for argument in "$@"; do last=$argument; done
if [ -n "${FAIL_URL_SUFFIX:-}" ]; then
    case "$last" in *"$FAIL_URL_SUFFIX") echo "curl: (56) Recv failure" >&2; exit 56 ;; esac
fi
exec REAL_CURL "$@"
"""


@dataclass(frozen=True)
class Store:
    endpoint: str
    access_key: str
    secret_key: str
    credentials: Path
    """curl's config file as the program renders it into the fill Job's Secret."""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    requests: list[list[str]]
    """curl's arguments, per request."""

    @property
    def urls(self) -> list[str]:
        return [request[-1] for request in self.requests]

    def downloads(self) -> list[str]:
        """The object keys fetched (listings left out)."""
        return [url.split(f"/{BUCKET}/", 1)[1] for url in self.urls if f"/{BUCKET}/" in url]


def _curl(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--aws-sigv4",
            SIGV4,
            "--config",
            str(store.credentials),
            *args,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def put(store: Store, key: str, content: bytes, tmp_path: Path) -> None:
    local = tmp_path / "upload"
    local.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    # -X PUT with the body, not --upload-file: that appends the file's name to a key ending in
    # '/' (the folder marker below).
    _curl(store, "-H", f"x-amz-content-sha256: {digest}", "-X", "PUT",
          "--data-binary", f"@{local}", f"{store.endpoint}/{BUCKET}/{key}")  # fmt: skip


@pytest.fixture(scope="module")
def store(real_ceph, tmp_path_factory) -> Store:
    created = real_ceph.run(["radosgw-admin", "user", "create", "--uid", "model-cache-fill",
                             "--display-name", "Model cache fill"])  # fmt: skip
    (keys,) = json.loads(created.stdout)["keys"]
    credentials = tmp_path_factory.mktemp("credentials") / "curlrc"
    credentials.write_text(curl_credentials(keys["access_key"], keys["secret_key"]))
    credentials.chmod(0o600)
    found = Store(real_ceph.rgw_endpoint, keys["access_key"], keys["secret_key"], credentials)
    _curl(found, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", "PUT",
          f"{found.endpoint}/{BUCKET}")  # fmt: skip
    return found


@pytest.fixture(scope="module")
def revision(store, tmp_path_factory) -> dict[str, bytes]:
    """Five objects of one revision (the layout a model repository has), more than one
    listing page at MAX_KEYS=2, plus a folder marker and a neighbour revision that must not
    be fetched."""
    tmp_path = tmp_path_factory.mktemp("objects")
    files = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"]}\n',
        "generation_config.json": b'{"temperature": 0.6}\n',
        "model-00001-of-00002.safetensors": os.urandom(300_000),
        "model-00002-of-00002.safetensors": os.urandom(200_000),
        "tokenizer/tokenizer.json": b'{"version": "1.0"}\n',
    }
    for name, content in files.items():
        put(store, f"{PREFIX}/{name}", content, tmp_path)
    put(store, f"{PREFIX}/", b"", tmp_path)  # a folder marker, as some uploaders write
    put(store, "DeepSeek-R1-Distill-Llama-8B/fp16/2025-01-200/config.json", b"{}", tmp_path)
    return files


@pytest.fixture
def fill(store, tmp_path):
    """Runs the script as the fill Job does: its environment, dash, curl behind the logging
    stand-in; returns a Run."""
    real_curl = shutil.which("curl")
    dash = shutil.which("dash")
    assert real_curl and dash, "the test needs curl and dash (Debian's curl and dash packages)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "curl"
    stand_in.write_text(CURL_STAND_IN.replace("REAL_CURL", real_curl))
    stand_in.chmod(0o755)
    cache = tmp_path / "cache"
    cache.mkdir()
    log = tmp_path / "curl.log"

    def run(prefix: str = PREFIX, fail_url_suffix: str = "", **extra: str) -> Run:
        log.write_text("")
        environment = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "ENDPOINT": store.endpoint,
            "BUCKET": BUCKET,
            "PREFIX": prefix,
            "CACHE_DIR": str(cache),
            "CURL_CONFIG": str(store.credentials),
            "WORK_DIR": str(tmp_path),
            "MAX_KEYS": "2",
            "NODE_NAME": "dca-gpu-v100-1",
            "CURL_LOG": str(log),
            "FAIL_URL_SUFFIX": fail_url_suffix,
            **extra,
        }
        result = subprocess.run(
            [dash, str(FILL_SCRIPT)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        requests = [line.rstrip("\t").split("\t") for line in log.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, requests)

    run.cache = cache  # type: ignore[attr-defined]
    return run


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_a_fill_downloads_the_revision_and_a_second_run_downloads_nothing(fill, revision, store):
    first = fill()
    assert first.returncode == 0, first.stderr
    target = fill.cache / PREFIX
    assert _tree(target) == {**revision, COMPLETE_MARKER: (target / COMPLETE_MARKER).read_bytes()}
    assert sorted(first.downloads()) == sorted(f"{PREFIX}/{name}" for name in revision)
    # Five objects and a folder marker at two a page: three listing pages.
    assert len(first.requests) - len(revision) == 3
    assert "5 objects" in first.stdout and "5 downloaded now" in first.stdout
    marker = (target / COMPLETE_MARKER).read_text()
    assert f"objects 5\nbytes {sum(map(len, revision.values()))}\n" in marker
    # Nothing but the revision itself is left beside it: no partial or incoming file.
    assert sorted(p.name for p in target.parent.iterdir()) == ["2025-01-20"]

    second = fill()
    assert second.returncode == 0, second.stderr
    assert second.requests == []  # no listing, no download
    assert "nothing to download" in second.stdout
    assert {**revision, COMPLETE_MARKER: marker.encode()} == _tree(target)


def test_the_credentials_never_reach_a_command_line(fill, revision, store):
    run = fill()
    assert run.returncode == 0, run.stderr
    for request in run.requests:
        assert store.secret_key not in " ".join(request)
        assert store.access_key not in " ".join(request)
        assert request[request.index("--config") + 1] == str(store.credentials)
        assert request[request.index("--aws-sigv4") + 1] == SIGV4


def test_a_fill_cut_half_way_resumes_and_fetches_only_what_is_missing(fill, revision):
    cut = fill(fail_url_suffix="model-00002-of-00002.safetensors")
    assert cut.returncode != 0
    assert "run again to resume" in cut.stderr
    target = fill.cache / PREFIX
    assert not target.exists()  # Triton sees nothing until the revision is whole
    partial = target.parent / ".partial-2025-01-20"
    kept = _tree(partial)
    assert kept and "model-00002-of-00002.safetensors" not in kept
    # A file cut short by an earlier run (wrong size) and one the listing does not name.
    (partial / "config.json").write_bytes(b"{")
    (partial / "stray.bin").write_bytes(b"left over")

    resumed = fill()
    assert resumed.returncode == 0, resumed.stderr
    fetched = sorted(resumed.downloads())
    assert f"{PREFIX}/model-00002-of-00002.safetensors" in fetched
    assert f"{PREFIX}/config.json" in fetched
    # Objects downloaded whole before the cut are not fetched again.
    assert len(fetched) == len(revision) - len(kept) + 1
    tree = _tree(target)
    assert {k: v for k, v in tree.items() if k != COMPLETE_MARKER} == revision
    assert not partial.exists()


def test_an_empty_prefix_and_a_wrong_key_fail_clearly(fill, revision, store, tmp_path):
    never = "DeepSeek-R1-Distill-Llama-8B/fp16/never-uploaded"
    empty = fill(prefix=never)
    assert empty.returncode == 1
    assert f"no objects under s3://{BUCKET}/{never}/" in empty.stderr
    assert "upload the revision there first" in empty.stderr
    assert not (fill.cache / never).exists()

    wrong = tmp_path / "wrong-curlrc"
    wrong.write_text(curl_credentials(store.access_key, "x" * 40))
    refused = fill(CURL_CONFIG=str(wrong))
    assert refused.returncode == 1
    assert "403" in refused.stderr and "listing s3://model-cache-test/" in refused.stderr
    assert not (fill.cache / PREFIX).exists()


def test_a_key_the_cache_cannot_hold_as_a_file_is_refused(fill, store, tmp_path):
    prefix = "DeepSeek-R1-Distill-Llama-8B/fp16/odd-names"
    put(store, f"{prefix}/tokenizer~1.json", b"{}", tmp_path)
    refused = fill(prefix=prefix)
    assert refused.returncode == 1
    assert f"object '{prefix}/tokenizer~1.json' has characters" in refused.stderr
    assert refused.downloads() == []


def test_triton_starts_only_from_a_complete_revision(tmp_path):
    """The serving pods' init container (components/serving/model_service.py CACHE_CHECK):
    a revision without the fill's marker stops the pod with a message naming the fix; a
    whole one is linked where Triton's model repository looks."""
    from components.serving.model_service import CACHE_CHECK

    revision = tmp_path / "cache" / PREFIX
    revision.mkdir(parents=True)
    (tmp_path / "weights").mkdir()
    link = tmp_path / "weights" / "DeepSeek-R1-Distill-Llama-8B-fp16"
    environment = {
        "PATH": os.environ["PATH"],
        "WEIGHTS": str(revision),
        "MARKER": COMPLETE_MARKER,
        "REVISION": PREFIX,
        "LINK": str(link),
        "NODE_NAME": "dca-gpu-v100-1",
    }

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dash", "-c", CACHE_CHECK], env=environment, capture_output=True, text=True
        )

    (revision / "config.json").write_text("{}")  # a half-filled copy has no marker
    refused = check()
    assert refused.returncode == 1
    assert f"node dca-gpu-v100-1 holds no complete copy of {PREFIX}" in refused.stderr
    assert "its fill Job" in refused.stderr and "never downloads" in refused.stderr
    assert not link.exists()
    (revision / COMPLETE_MARKER).write_text("objects 1\n")
    started = check()
    assert started.returncode == 0, started.stderr
    assert os.readlink(link) == str(revision)
    assert check().returncode == 0  # a restart finds the link and replaces it
