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
