"""The data layer's scripts, attacked with the inputs a bad config or a hostile merge request
would give them. Every command that could change this machine is a stand-in here: the scripts
run under bash with a PATH whose first directory records the calls that would write."""

import subprocess
from pathlib import Path

import pytest

from tests.paths import PROJECT_DIR

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
