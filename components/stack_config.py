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
    FieldError,
    PlatformConfig,
    PlatformSecrets,
)
from components.preflight import (
    ConfigError,
    ConfigIssue,
    check_inventory,
    check_stack_reference,
)

# What to do about each kind of pydantic error, when the message itself has no fix.
_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove this key or correct its spelling (keys are camelCase)",
    "literal_error": "use one of the values listed",
    "string_pattern_mismatch": "correct the value's format",
    "ip_v4_address": "write an IPv4 address like 10.10.0.11",
    "ip_v4_network": "write a network like 10.10.0.0/22 with the host bits zero",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "too_short": "add entries",
    "list_type": "write a YAML list",
    "model_type": "write a YAML mapping of keys to values",
    "dict_type": "write a YAML mapping of keys to values",
    "string_type": "write a string",
    "bool_type": "write true or false",
    "finite_number": "write a finite number (.inf and .nan are not quantities)",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "greater_than": "raise the value",
    "less_than": "lower the value",
}


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


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def issues_from_validation_error(error: ValidationError) -> list[ConfigIssue]:
    """Turns pydantic's errors into path/value/problem/fix issues: a `FieldError` raised by
    one of our validators carries its own problem and fix; pydantic's own errors get the fix
    for their kind."""
    issues = []
    for err in error.errors(include_url=False):
        raised = err.get("ctx", {}).get("error")
        if isinstance(raised, FieldError):
            problem, fix = raised.problem, raised.fix
        else:
            problem, fix = err["msg"].removeprefix("Value error, "), ""
        value = err.get("input") if err["type"] != "missing" else "(not set)"
        if err["type"] == "string_type" and isinstance(value, bool) and not fix:
            # YAML 1.1 (the CLI's and PyYAML's) reads unquoted NO, no, yes, on, off as
            # booleans: Norway's jurisdiction `NO` arrives as false.
            fix = (
                "quote it: YAML reads an unquoted NO, No, no, yes, on or off as true/false "
                "(e.g. jurisdiction: 'NO')"
            )
        if isinstance(value, (dict, list)):
            value = json.dumps(value)[:80]
        issues.append(
            ConfigIssue(
                _path(err["loc"]),
                value,
                problem[0].lower() + problem[1:] if problem else err["type"],
                fix or _FIXES.get(err["type"], "correct the value"),
            )
        )
    return issues


def validate_config(raw: dict[str, Any], stack: str = "stack") -> PlatformConfig:
    """Validates the stack's `deepseek-onprem:*` values (keys without the project prefix)."""
    try:
        config = PlatformConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(stack, issues_from_validation_error(error)) from None
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
            ConfigIssue(
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
            if key in SECRET_KEYS_FOR_MODELS and not raw.get("models"):
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
