"""ruff, the project's Python linter and formatter, passes on the whole tree (`make lint` runs
the same two commands first in both lanes; this keeps a bare `pytest` whole)."""

import subprocess
import sys

import pytest

from tests.paths import PROJECT_DIR


@pytest.mark.parametrize(
    "command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"]
)
def test_ruff_is_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
