"""Stack files are read with limits: size, alias expansion, and StackReference cycles are
refused with a message naming the file or the stacks, through the real offline command."""

import resource
import subprocess
import sys
import time

import pytest
import yaml

from offline.bench import generated_inventory
from offline.stack_files import (
    MAX_EXPANDED_NODES,
    MAX_FILE_BYTES,
    StackFileError,
    read_stack_config,
)
from tests.paths import PROJECT_DIR

# Nine anchors of nine aliases each: 405 characters that expand to 9**9 (387 million) strings.
ALIAS_BOMB = "".join(
    f"  deepseek-onprem:lol{level}: &lol{level} [{', '.join([f'*lol{level - 1}'] * 9)}]\n"
    if level
    else '  deepseek-onprem:lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(10)
)
RECURSIVE_ALIAS = "  deepseek-onprem:loop: &loop [*loop]\n"


def _project(directory, stack: str, stack_text: str) -> None:
    for entry in ("Pulumi.yaml", "__main__.py", "components"):
        (directory / entry).symlink_to(PROJECT_DIR / entry)
    (directory / f"Pulumi.{stack}.yaml").write_text(stack_text)


def _with_extra_config(extra: str) -> str:
    """The prod stack file as text, with `extra` lines appended under `config:`."""
    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    assert text.splitlines()[-1].startswith("    ")  # the last key is indented under config
    return text + extra


def _limit_memory() -> None:
    # Without the limit, an expanded bomb would take the machine's memory with it: fail fast.
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))


def _offline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "offline", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (ALIAS_BOMB, f"has YAML aliases that expand to more than {MAX_EXPANDED_NODES:,} nodes"),
        (RECURSIVE_ALIAS, "has an alias inside the very node it names"),
    ],
    ids=["alias-bomb", "recursive-alias"],
)
def test_alias_bombs_are_refused_before_they_expand(extra, expected, tmp_path):
    _project(tmp_path, "bomb", _with_extra_config(extra))
    started = time.monotonic()
    result = _offline("preview", "bomb", "--no-policy", "-C", str(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert result.stdout == ""  # no resource tree: nothing was registered
    assert "Traceback" not in result.stderr
    assert f"error: Pulumi.bomb.yaml {expected}" in result.stderr
    assert "nothing was deployed" in result.stderr
    assert "fix: write the values out instead of nesting aliases" in result.stderr


def test_a_few_aliases_are_fine(tmp_path):
    """Anchors that expand modestly (shared NIC lists, say) load as the values they name."""
    text = (
        "config:\n"
        "  deepseek-onprem:nics: &nics [{name: ens1f0, speedGbps: 25}]\n"
        "  deepseek-onprem:more: {a: *nics, b: *nics}\n"
    )
    _project(tmp_path, "small", text)
    config, _ = read_stack_config("small", tmp_path)
    assert config["deepseek-onprem:more"] == (
        '{"a": [{"name": "ens1f0", "speedGbps": 25}], "b": [{"name": "ens1f0", "speedGbps": 25}]}'
    )


def test_oversized_stack_files_are_refused_unread(tmp_path):
    _project(tmp_path, "huge", "config:\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(StackFileError) as caught:
        read_stack_config("huge", tmp_path)
    assert str(caught.value).startswith("Pulumi.huge.yaml is larger than 8 MiB")
    assert "fix: " in str(caught.value)


def test_a_thousand_host_stack_file_still_loads_fast(tmp_path):
    text = yaml.safe_dump(generated_inventory(1000))
    _project(tmp_path, "big", text)
    started = time.perf_counter()
    config, _ = read_stack_config("big", tmp_path)
    assert time.perf_counter() - started < 1.0
    assert config["deepseek-onprem:sites"].count('"hostKey"') >= 1000


def test_stack_reference_cycles_are_refused(tmp_path):
    """Two DR stacks, each naming the other as its source: both pass validation (neither names
    itself), and the offline evaluation would evaluate them in turn forever."""
    dr = yaml.safe_load((PROJECT_DIR / "Pulumi.dr.yaml").read_text())
    for entry in ("Pulumi.yaml", "__main__.py", "components"):
        (tmp_path / entry).symlink_to(PROJECT_DIR / entry)
    for stack, source in (("dr-a", "dr-b"), ("dr-b", "dr-a")):
        dr["config"]["deepseek-onprem:replication"]["sourceStack"] = (
            f"organization/deepseek-onprem/{source}"
        )
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(dr))
    result = _offline("preview", "dr-a", "--no-policy", "-C", str(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "closes a cycle (dr-a -> dr-b -> dr-a)" in result.stderr
    assert "nothing was deployed" in result.stderr
    assert "fix: only a DR stack reads another stack" in result.stderr


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        # A second mirrors block far below the first: valid, and silently the one that counts.
        (
            "  deepseek-onprem:mirrors:\n"
            "    internalDomains: [bank.internal]\n"
            "    imageRegistry: registry.bank.internal/other\n"
            "    chartRepository: https://charts.bank.internal/stable\n"
            "    aptMirror: https://apt.bank.internal/unreviewed\n"
            "    kubernetesAptRepo: https://apt.bank.internal/kubernetes/core/stable/v1.31/deb/\n",
            "deepseek-onprem:mirrors",
        ),
        (
            "  deepseek-onprem:preflight:\n    fioRuntimeSeconds: 30\n    fioRuntimeSeconds: 5\n",
            "fioRuntimeSeconds",
        ),
    ],
    ids=["top-level", "nested"],
)
def test_a_key_given_twice_is_refused(extra, key, tmp_path):
    """PyYAML keeps the last of two equal keys without a word; the real CLI refuses the file.
    The offline evaluation refuses it too, naming the key and both lines."""
    _project(tmp_path, "twice", _with_extra_config(extra))
    result = _offline("preview", "twice", "--no-policy", "-C", str(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert f"error: Pulumi.twice.yaml gives the key {key!r} twice (lines " in result.stderr
    assert "fix: keep one of them" in result.stderr


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    text = (
        "config:\n"
        "  deepseek-onprem:base: &base {a: 1, b: 2}\n"
        "  deepseek-onprem:more: {<<: *base, b: 3}\n"
    )
    _project(tmp_path, "merge", text)
    config, _ = read_stack_config("merge", tmp_path)
    assert config["deepseek-onprem:more"] == '{"a": 1, "b": 3}'
