"""ruff, the project's Python linter, passes on the whole tree."""

import subprocess
import sys

from tests.paths import PROJECT_DIR


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
