"""Reads `deepseek-onprem:*` stack config, validates it, and fails with every problem at once.

`validate_config` is pure (a dict in, a `PlatformConfig` or a `ConfigError` out) so tests can
call it directly; `load_stack_config` adds what needs the Pulumi runtime: secrets and the
list of keys actually set. (`PlatformSecrets` lives in `components.config`; it is
re-exported here for the components that import it from this module.)
"""

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from components.config import (
    CONFIG_KEYS,
    PROJECT,
    SECRET_KEYS,
    SECRET_KEYS_FOR_GATEWAY,
    SECRET_KEYS_FOR_MODELS,
    PlatformConfig,
    PlatformSecrets,
    not_built,
)
from components.config.secrets import model_store_secrets_needed
from components.validation import (
    ConfigError,
    ConfigIssue,
    check_inventory,
    check_stack_reference,
    issues_from_validation_error,
)

# Keys people put at the top level that belong inside a site.
_MISPLACED = {
    "hosts": "hosts outside any site: every host, worker or not, belongs to a site "
    "(move it under sites[i].hosts)",
    "network": "a network outside any site: each site has its own (sites[i].network)",
}

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "PlatformSecrets",
    "issues_from_validation_error",
    "load_stack_config",
    "validate_config",
]


def validate_config(raw: dict[str, Any], stack: str = "stack") -> PlatformConfig:
    """Validates the stack's `deepseek-onprem:*` values (keys without the project prefix).

    Two stages, each reporting all of its problems: the per-field checks (pydantic), then the
    cross-field rules of `components.validation`. A config with a per-field problem never
    reaches the second stage, since those rules compare values the first stage found wrong or
    missing; fixing the reported fields may reveal cross-field problems."""
    try:
        config = PlatformConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(stack, issues_from_validation_error(error), fields_only=True) from None
    issues = check_stack_reference(config, stack) + check_inventory(config)
    if issues:
        raise ConfigError(stack, issues)
    return config


def _keys_set() -> set[str]:
    # The SDK has no public "list config keys"; the engine hands config to the program
    # either through set_all_config (CONFIG) or the PULUMI_CONFIG environment variable.
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT}:"
    return {key.removeprefix(prefix) for key in keys if key.startswith(prefix)}


def load_stack_config() -> tuple[PlatformConfig, PlatformSecrets]:
    """Reads and validates the current stack's config; raises `ConfigError` (a RunError)."""
    stack = pulumi.get_stack()
    config = pulumi.Config(PROJECT)
    issues: list[ConfigIssue] = []

    known = CONFIG_KEYS + tuple(SECRET_KEYS)
    for key in sorted(_keys_set() - set(known)):
        issues.append(
            ConfigIssue(key, "(set)", *not_built(key))
            if not_built(key)
            else ConfigIssue(
                key,
                "(set)",
                _MISPLACED.get(key, "unknown config key"),
                f"remove it or correct its spelling; known keys: {', '.join(known)}",
            )
        )

    raw: dict[str, Any] = {}
    stored_as_secret = [
        key for key in CONFIG_KEYS if runtime_config.is_config_secret(f"{PROJECT}:{key}")
    ]
    for key in stored_as_secret:
        # `Config.get` decrypts silently: the value would travel as plain data (command
        # lines, manifests, the snapshot) or be quoted by a validation message. Neither
        # happens: the key is refused and its value never read.
        issues.append(
            ConfigIssue(
                key,
                "[secret]",
                "is stored as a secret, but it is plain configuration: the program puts it on "
                "command lines, in manifests and in the snapshot, where it would lose its "
                "protection (its value is neither read nor shown here)",
                f"store it in plain text (`pulumi config set --path {key}...` without "
                f"--secret) and keep credentials out of it; only {', '.join(SECRET_KEYS)} "
                "are secrets",
            )
        )
    for key in CONFIG_KEYS:
        if key in stored_as_secret:
            continue
        try:
            value = config.get_object(key)
        except (json.JSONDecodeError, pulumi.ConfigTypeError):
            issues.append(
                ConfigIssue(
                    key,
                    config.get(key),
                    "is not a YAML structure",
                    "write it as a YAML mapping or list",
                )
            )
            continue
        if value is not None:
            raw[key] = value

    for key, (what, command) in SECRET_KEYS.items():
        full_key = f"{PROJECT}:{key}"
        if runtime_config.get_config(full_key) is None:
            if key in SECRET_KEYS_FOR_MODELS and not model_store_secrets_needed(raw):
                continue
            if key in SECRET_KEYS_FOR_GATEWAY and not raw.get("gateway"):
                continue
            issues.append(ConfigIssue(key, "(not set)", f"{what} is required", f"run `{command}`"))
        elif not runtime_config.is_config_secret(full_key):
            issues.append(
                ConfigIssue(
                    key,
                    "(plain text)",
                    f"{what} is stored unencrypted in the stack file",
                    f"remove it from Pulumi.{stack}.yaml and run `{command}`",
                )
            )

    if stored_as_secret:
        # Without those keys every other check would only report them missing.
        raise ConfigError(stack, issues)
    try:
        platform_config = validate_config(raw, stack)
    except ConfigError as error:
        issues.extend(error.issues)
    if issues:
        raise ConfigError(stack, issues)
    secrets = PlatformSecrets(
        ssh_private_key=config.require_secret("sshPrivateKey"),
        model_store_access_key_id=config.get_secret("modelStoreAccessKeyId"),
        model_store_secret_access_key=config.get_secret("modelStoreSecretAccessKey"),
        gateway_ca_private_key=config.get_secret("gatewayCaPrivateKey"),
    )
    return platform_config, secrets
