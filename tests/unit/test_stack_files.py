"""Stack files are read with limits: size, alias expansion, and StackReference cycles are
refused with a message naming the file or the stacks, through the offline command (in this
process; the alias bomb, which needs a memory limit of its own, runs in a real process in
tests/external/test_offline_cli.py)."""

import pytest
import yaml

from offline.bench import generated_inventory
from offline.stack_files import (
    MAX_FILE_BYTES,
    StackFileError,
    read_stack_config,
)
from tests.bad_stacks import project_with_stack_file, with_extra_config
from tests.cli import run_offline
from tests.paths import PROJECT_DIR

RECURSIVE_ALIAS = "  deepseek-onprem:loop: &loop [*loop]\n"


def test_an_alias_inside_its_own_node_is_refused(tmp_path, capsys):
    """No expansion of it ends (the alias bomb, which does end, is in test_offline_cli)."""
    project_with_stack_file(tmp_path, "bomb", with_extra_config(RECURSIVE_ALIAS))
    status, out, err = run_offline(capsys, "preview", "bomb", "--no-policy", "-C", str(tmp_path))
    assert status == 1, err[-2000:]
    assert out == ""  # no resource tree: nothing was registered
    assert "Traceback" not in err
    assert "error: Pulumi.bomb.yaml has an alias inside the very node it names" in err
    assert "nothing was deployed" in err
    assert "fix: write the values out instead of nesting aliases" in err


def test_a_few_aliases_are_fine(tmp_path):
    """Anchors that expand modestly (shared NIC lists, say) load as the values they name."""
    text = (
        "config:\n"
        "  deepseek-onprem:nics: &nics [{name: ens1f0, speedGbps: 25}]\n"
        "  deepseek-onprem:more: {a: *nics, b: *nics}\n"
    )
    project_with_stack_file(tmp_path, "small", text)
    config, _ = read_stack_config("small", tmp_path)
    assert config["deepseek-onprem:more"] == (
        '{"a": [{"name": "ens1f0", "speedGbps": 25}], "b": [{"name": "ens1f0", "speedGbps": 25}]}'
    )


def test_oversized_stack_files_are_refused_unread(tmp_path):
    project_with_stack_file(
        tmp_path, "huge", "config:\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    )
    with pytest.raises(StackFileError) as caught:
        read_stack_config("huge", tmp_path)
    assert str(caught.value).startswith("Pulumi.huge.yaml is larger than 8 MiB")
    assert "fix: " in str(caught.value)


def test_a_thousand_host_stack_file_loads(tmp_path):
    """Inside the size and alias-expansion limits (`make bench` prints how fast it loads)."""
    text = yaml.safe_dump(generated_inventory(1000))
    project_with_stack_file(tmp_path, "big", text)
    config, _ = read_stack_config("big", tmp_path)
    assert config["deepseek-onprem:sites"].count('"hostKey"') >= 1000


def test_stack_reference_cycles_are_refused(tmp_path, capsys):
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
    status, out, err = run_offline(capsys, "preview", "dr-a", "--no-policy", "-C", str(tmp_path))
    assert status == 1, err[-2000:]
    assert out == ""
    assert "Traceback" not in err
    assert "closes a cycle (dr-a -> dr-b -> dr-a)" in err
    assert "nothing was deployed" in err
    assert "fix: only a DR stack reads another stack" in err


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
def test_a_key_given_twice_is_refused(extra, key, tmp_path, capsys):
    """PyYAML keeps the last of two equal keys without a word; the real CLI refuses the file.
    The offline evaluation refuses it too, naming the key and both lines."""
    project_with_stack_file(tmp_path, "twice", with_extra_config(extra))
    status, out, err = run_offline(capsys, "preview", "twice", "--no-policy", "-C", str(tmp_path))
    assert status == 1, err[-2000:]
    assert out == ""
    assert "Traceback" not in err
    assert f"error: Pulumi.twice.yaml gives the key {key!r} twice (lines " in err
    assert "fix: keep one of them" in err


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    text = (
        "config:\n"
        "  deepseek-onprem:base: &base {a: 1, b: 2}\n"
        "  deepseek-onprem:more: {<<: *base, b: 3}\n"
    )
    project_with_stack_file(tmp_path, "merge", text)
    config, _ = read_stack_config("merge", tmp_path)
    assert config["deepseek-onprem:more"] == '{"a": 1, "b": 3}'


@pytest.mark.parametrize(
    "value",
    [
        "on",
        "yes",
        "Off",
        "NO",
        "1:30",
        "2025-01-20",
        "0o17",
        "08",
        "1e3",
        "1.5e3",
        "1.0",
        "25.0",
        ".inf",
        "-.inf",
        ".nan",
    ],
)
def test_a_scalar_the_cli_reads_otherwise_is_refused(value, tmp_path, capsys):
    """PyYAML reads YAML 1.1, the Pulumi CLI Go's yaml.v3: `on` is true here and "on" there,
    `0o17` a string here and fifteen there, `25.0` a float here and the integer 25 there (a
    string field reads "25.0" and "25"). The engine lane (tests/engine/test_cli.py) checks the
    whole list against the built CLI; the offline evaluation refuses each, naming the line."""
    extra = f"  deepseek-onprem:preflight:\n    note: {value}\n"
    project_with_stack_file(tmp_path, "yaml11", with_extra_config(extra))
    status, out, err = run_offline(capsys, "preview", "yaml11", "--no-policy", "-C", str(tmp_path))
    assert status == 1, err[-2000:]
    assert out == ""
    assert "Traceback" not in err
    assert "error: Pulumi.yaml11.yaml line " in err
    assert f"`{value}` is read as a" in err
    assert f'fix: quote it ("{value}")' in err


@pytest.mark.parametrize(
    "value",
    [
        "'on'",
        '"017"',
        "true",
        "17",
        "017",
        "1_000",
        "+12",
        "0x1F",
        "-3",
        "1.5",
        ".5",
        "~",
        "y",
        "1.0e+308",
    ],
)
def test_scalars_both_readers_agree_on_load(value, tmp_path):
    project_with_stack_file(
        tmp_path, "agree", with_extra_config(f"  deepseek-onprem:preflight:\n    note: {value}\n")
    )
    config, _ = read_stack_config("agree", tmp_path)
    assert "deepseek-onprem:preflight" in config
