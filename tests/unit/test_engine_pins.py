"""The engine's pins (tools/engine/versions.env) and the Python packages agree: the CLI runs
the SDK we pin, and each provider plugin is the version its Python package registers with."""

import re
from importlib import metadata

import pytest

from tests.paths import PROJECT_DIR, engine_pins

PACKAGES = {
    "pulumi": "PULUMI_PYTHON_SDK_VERSION",
    "pulumi-command": "PROVIDER_COMMAND_VERSION",
    "pulumi-random": "PROVIDER_RANDOM_VERSION",
    "pulumi-kubernetes": "PROVIDER_KUBERNETES_VERSION",
    "pulumi-policy": "PULUMI_POLICY_VERSION",
}


def _exact_pins(path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*([=~<>!]=?)\s*([^\s#;,]+)", line)
        if match and match.group(1) in PACKAGES:
            assert match.group(2) == "==", f"{path.name}: {line!r} must pin exactly (==)"
            found[match.group(1)] = match.group(3)
    return found


def test_requirements_pin_what_the_engine_engine_pins():
    versions = engine_pins()
    program = _exact_pins(PROJECT_DIR / "requirements.txt")
    assert set(program) == set(PACKAGES)
    for package, key in PACKAGES.items():
        assert program[package] == versions[key], package
    policy = _exact_pins(PROJECT_DIR / "policies" / "requirements.txt")
    for package, version in policy.items():
        assert version == versions[PACKAGES[package]], package


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_installed_package_is_the_pinned_one(package):
    assert metadata.version(package) == engine_pins()[PACKAGES[package]]


def test_the_cli_is_not_older_than_the_sdk():
    versions = engine_pins()
    cli = tuple(int(p) for p in versions["PULUMI_CLI_VERSION"].lstrip("v").split("."))
    sdk = tuple(int(p) for p in versions["PULUMI_PYTHON_SDK_VERSION"].split("."))
    assert cli >= sdk
