"""Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` into the config map the engine would hand
the program: `project:key` -> string (objects as JSON), plus the list of secret keys."""

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
# libyaml's loader when PyYAML has it: a 1,000-host stack file loads in milliseconds.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StackFileError(Exception):
    """A stack file is missing or not valid YAML."""


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return _read_yaml(project_dir / "Pulumi.yaml")["name"]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.load(path.read_text(), Loader=_LOADER)
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise StackFileError(f"{path.name} must be a YAML mapping")
    return loaded


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _contains_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secure(v) for v in value)
    return False


def _replace_secure(value: Any, key: str) -> Any:
    # The ciphertext can't be decrypted here: every `secure:` value becomes a placeholder
    # and its key is marked secret, as the engine marks a decrypted secret.
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return f"offline-placeholder-secret:{key}"
        return {k: _replace_secure(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, key) for v in value]
    return value


def _engine_string(value: Any) -> str:
    # The engine passes every config value to the language host as a string; structured
    # values as JSON, booleans as true/false.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def read_stack_config(
    stack: str, project_dir: Path = PROJECT_DIR
) -> tuple[dict[str, str], list[str]]:
    """The stack's config as the engine passes it, and the keys that are secrets."""
    project = _read_yaml(project_dir / "Pulumi.yaml")
    stack_file = _read_yaml(project_dir / f"Pulumi.{stack}.yaml")
    name = project["name"]

    merged: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and ("value" in spec or "default" in spec):
            spec = spec.get("value", spec.get("default"))
        elif isinstance(spec, dict) and "type" in spec:
            continue  # a declared key without a value
        merged[_qualify(key, name)] = spec
    for key, value in (stack_file.get("config") or {}).items():
        merged[_qualify(key, name)] = value

    secret_keys = sorted(key for key, value in merged.items() if _contains_secure(value))
    config = {key: _engine_string(_replace_secure(value, key)) for key, value in merged.items()}
    return config, secret_keys
