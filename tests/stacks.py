"""The project's real stack files as the tests read them."""

import yaml

from components.config import SECRET_KEYS
from tests.paths import PROJECT_DIR

PROJECT = "deepseek-onprem"


def raw_stack_config(stack: str) -> dict:
    """`Pulumi.<stack>.yaml`'s config as `validate_config` takes it: keys without the project
    prefix, the secret-only keys left out. A fresh copy on every call, for a test to change."""
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {
        key.split(":", 1)[1]: value
        for key, value in config.items()
        if key.startswith(f"{PROJECT}:") and key.split(":", 1)[1] not in SECRET_KEYS
    }


def assert_snapshot_shape(snapshot: dict) -> None:
    """What `make snapshot` promises: the four top-level keys, resources sorted by URN, each
    with its identity, place in the graph and inputs."""
    assert set(snapshot) == {"project", "stack", "resources", "outputs"}
    assert snapshot["resources"] == sorted(snapshot["resources"], key=lambda r: r["urn"])
    assert set(snapshot["resources"][0]) >= {
        "urn",
        "type",
        "name",
        "custom",
        "parent",
        "dependencies",
        "provider",
        "protect",
        "inputs",
    }
