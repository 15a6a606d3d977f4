"""The real Pulumi engine, as `make engine` built it (tools/engine/build.sh).

`make engine-test` runs these tests with DEEPSEEK_REQUIRE_ENGINE=1: a missing build fails them.
Anywhere else they skip when no engine of the pinned versions has been built."""

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import PROJECT_DIR

BUILD_SCRIPT = PROJECT_DIR / "tools" / "engine" / "build.sh"


def _engine_dir() -> Path | None:
    located = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--locate"], capture_output=True, text=True, check=False
    )
    return Path(located.stdout.strip()) if located.returncode == 0 else None


@dataclass(frozen=True)
class Engine:
    folder: Path
    status: dict

    @property
    def pulumi(self) -> Path:
        return self.folder / "bin" / "pulumi"

    def part(self, name: str) -> dict:
        return next(p for p in self.status["parts"] if p["name"] == name)


@pytest.fixture(scope="session")
def engine() -> Engine:
    folder = _engine_dir()
    if folder is None:
        if os.environ.get("DEEPSEEK_REQUIRE_ENGINE") == "1":
            pytest.fail("no engine built from tools/engine/versions.env: run `make engine`")
        pytest.skip("no engine built from the pinned versions (run `make engine`)")
    return Engine(folder, json.loads((folder / "status.json").read_text()))


@dataclass
class Workspace:
    """A copy of the project's Pulumi files, a file backend and a PULUMI_HOME of the test's own."""

    engine: Engine
    project: Path
    env: dict

    def run(self, *args: str, stdin: str | None = None, check: bool = True):
        done = subprocess.run(
            [str(self.engine.pulumi), *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done


@pytest.fixture
def workspace(engine: Engine, tmp_path: Path) -> Workspace:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    (tmp_path / "state").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    return Workspace(engine, project, env)
