"""Smoke tests of `python -m offline` as a real process: what only a process shows (the exit
status through `sys.exit`, output from a fresh interpreter, byte-identical snapshots under
different hash seeds, a memory limit of its own). The other command-line cases call the same
entry point in process (tests/cli.py)."""

import json
import resource
import subprocess
import sys

from offline.stack_files import MAX_EXPANDED_NODES
from tests.bad_stacks import project_with_stack_file, with_extra_config, write_bad_project
from tests.paths import PROJECT_DIR
from tests.stacks import assert_snapshot_shape

# Nine anchors of nine aliases each: 405 characters that expand to 9**9 (387 million) strings.
ALIAS_BOMB = "".join(
    f"  deepseek-onprem:lol{level}: &lol{level} [{', '.join([f'*lol{level - 1}'] * 9)}]\n"
    if level
    else '  deepseek-onprem:lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(10)
)


def _limit_memory() -> None:
    # Without the limit, an expanded bomb would take the machine's memory with it: fail fast.
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))


def _offline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "offline", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard only: nothing here is timed
        preexec_fn=_limit_memory,
    )


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Refused from the composed nodes: expanded, it would not fit the process's 3 GiB."""
    project_with_stack_file(tmp_path, "bomb", with_extra_config(ALIAS_BOMB))
    result = _offline("preview", "bomb", "--no-policy", "-C", str(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == ""  # no resource tree: nothing was registered
    assert "Traceback" not in result.stderr
    assert (
        f"error: Pulumi.bomb.yaml has YAML aliases that expand to more than "
        f"{MAX_EXPANDED_NODES:,} nodes" in result.stderr
    )
    assert "nothing was deployed" in result.stderr
    assert "fix: write the values out instead of nesting aliases" in result.stderr


def test_a_bad_stack_file_exits_1_with_the_message_only(tmp_path):
    stack = write_bad_project("even-control-plane-count", tmp_path)
    result = _offline("snapshot", stack, "-C", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "nothing was deployed" in result.stderr and "fix: " in result.stderr


def test_make_snapshot_prints_only_json_and_is_byte_identical():
    """Two interpreters (two hash seeds): the same bytes, nothing but the JSON document."""
    runs = [_offline("snapshot", "prod") for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    snapshot = json.loads(runs[0].stdout)
    assert_snapshot_shape(snapshot)


def test_preview_prints_both_trees_and_the_policy_summary():
    result = _offline("preview")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Previewing update (prod):" in result.stdout
    assert "Previewing update (dr):" in result.stdout
    assert "└─ deepseek:platform:Platform" in result.stdout
    assert "deepseek:site:Site" in result.stdout
    assert "Policies:" in result.stdout  # the pack ran over both; exit 0: nothing mandatory
