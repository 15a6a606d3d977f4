"""The pinned CLI on the project's own Pulumi files: how it reads the stack config the
offline evaluation reads, and what it does with the committed secret placeholders."""

import json
import subprocess

import pytest
import yaml

from components.config import SECRET_KEYS
from offline.stack_files import _LOADER, _read_differently, read_stack_config
from tests.paths import engine_pins

STACKS = ("prod", "dr")


def test_the_cli_is_the_pinned_release(engine):
    assert engine.part("cli")["status"] == "built"
    printed = subprocess.run(
        [str(engine.pulumi), "version"], capture_output=True, text=True, check=True
    )
    assert printed.stdout.strip() == engine_pins()["PULUMI_CLI_VERSION"]


def test_every_blocked_part_says_why(engine):
    # A blocked part carries the go command's own reason, never an empty one.
    for part in engine.status["parts"]:
        assert part["status"] in {"built", "blocked"}, part
        if part["status"] == "blocked":
            assert len(part["detail"]) > 20, part


def _cli_config(workspace, stack: str) -> dict:
    workspace.run("stack", "init", stack)
    return json.loads(workspace.run("config", "--json", "--stack", stack).stdout)


@pytest.mark.parametrize("stack", STACKS)
def test_the_engine_reads_every_value_the_offline_evaluation_reads(workspace, stack):
    # The offline evaluation reads the stack file with PyYAML (YAML 1.1) and turns each value
    # into the string the engine would pass; the CLI reads it with its own YAML (1.2). Any
    # difference (a `yes`, an octal, a date, a float's spelling) is a program that sees one
    # config offline and another under `pulumi up`.
    offline, offline_secrets = read_stack_config(stack)
    engine = _cli_config(workspace, stack)

    assert set(engine) == set(offline)
    assert sorted(k for k, v in engine.items() if v.get("secret")) == offline_secrets
    for key, entry in engine.items():
        if entry.get("secret"):
            continue
        if entry.get("objectValue") is not None:
            assert entry["objectValue"] == json.loads(offline[key]), key
        else:
            assert entry["value"] == offline[key], key


@pytest.mark.parametrize("stack", STACKS)
def test_secret_placeholders_stop_the_engine_until_each_is_set(workspace, engine, stack):
    workspace.run("stack", "init", stack)
    refused = workspace.run("preview", "--stack", stack, check=False)
    assert refused.returncode != 0
    # The committed `secure:` placeholders are no ciphertext of this stack's passphrase: the CLI
    # stops before the program runs, with a message that names no key (the README says so).
    assert "validating stack config: bad value" in refused.stdout + refused.stderr

    values = {
        key: f"engine-test-{key}-{i}-{workspace.env['PULUMI_CONFIG_PASSPHRASE'][:8]}"
        for i, key in enumerate(SECRET_KEYS)
    }
    for key, value in values.items():
        workspace.run("config", "set", "--secret", key, "--stack", stack, stdin=value)
    stack_file = (workspace.project / f"Pulumi.{stack}.yaml").read_text()
    for key, value in values.items():
        assert value not in stack_file, f"{key} stored in plain text"
        got = workspace.run("config", "get", key, "--stack", stack).stdout.strip()
        assert got == value

    # With every secret set, the engine gets past the config and reaches the program.
    previewed = workspace.run("preview", "--stack", stack, check=False)
    said = previewed.stdout + previewed.stderr
    assert "decrypt" not in said
    if engine.part("language-python")["status"] == "blocked":
        # The one thing left that stops it: no Python language host could be built (status.json
        # says why). When that part builds, this test must be extended to a real preview.
        assert "no language plugin 'pulumi-language-python' found" in said, said
    else:
        pytest.fail("the language host is built: extend this test to a real preview")


SPELLINGS = (
    "on yes Off NO y n True 017 012345 08 1_000 +12 -0 0b101 0b2 -0x1F 0x1F 0x 0o17 0o8 1_ _1 "
    "1_0.5 0.5 .5 -.5 1. 1.0 0. 0.0 25.0 24.12 1.5 1.0e+3 1e3 1.5e3 +1.5e-3 1e 1:30 2025-01-20 "
    ".inf +.inf .NaN ~ null 10.10.0.0/22 1.31.4 1.0e+20 1.0e+21 1.0e+308"
).split()


def test_the_offline_reader_refuses_exactly_the_spellings_the_cli_reads_otherwise(workspace):
    """Each spelling as a plain scalar in a config object, read by the CLI (`pulumi config
    --json`) and by PyYAML: the offline reader must refuse exactly those the two read as
    different values or types (or the CLI refuses)."""
    workspace.run("stack", "init", "probe")
    stack_file = workspace.project / "Pulumi.probe.yaml"
    salt = [line for line in stack_file.read_text().splitlines() if line.startswith("encrypt")]
    wrong = []
    for spelling in SPELLINGS:
        text = f"config:\n  deepseek-onprem:probe:\n    k: {spelling}\n" + "\n".join(salt) + "\n"
        stack_file.write_text(text)
        read = workspace.run("config", "--json", "--stack", "probe", check=False)
        mine = yaml.safe_load(text)["config"]["deepseek-onprem:probe"]["k"]
        if read.returncode != 0:
            differs = True
        else:
            theirs = json.loads(read.stdout)["deepseek-onprem:probe"]["objectValue"]["k"]
            try:
                mine = json.loads(json.dumps(mine))
            except (TypeError, ValueError):
                mine = object()  # a date: no JSON value at all
            differs = not (theirs == mine and type(theirs) is type(mine))
        loader = _LOADER(text)
        try:
            refused = _read_differently(loader.get_single_node()) is not None
        finally:
            loader.dispose()
        if differs != refused:
            wrong.append(f"{spelling}: read otherwise {differs}, refused {refused}")
    assert wrong == []
