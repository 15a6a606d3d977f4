"""Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` into the config map the engine would hand
the program: `project:key` -> string (objects as JSON), plus the list of secret keys."""

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
# libyaml's loader when PyYAML has it: a 1,000-host stack file loads in milliseconds.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 8 * 1024 * 1024
"""A generated 1,000-host stack file is about 0.3 MiB."""
MAX_EXPANDED_NODES = 1_000_000
"""YAML nodes a file may hold with every alias expanded (a 1,000-host stack has about 30,000):
a few kilobytes of nested aliases would otherwise expand to billions of objects."""


class StackFileError(Exception):
    """A stack file is missing or not valid YAML."""


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return _read_yaml(project_dir / "Pulumi.yaml")["name"]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_size(root: yaml.Node, limit: int) -> tuple[int | None, bool]:
    """How many nodes the document holds once aliases are expanded, counted on the composed
    graph (where an alias is the anchored node itself, so composing stays linear) without
    expanding anything: (None, False) past `limit`, (None, True) for an alias to one of its
    own ancestors, which no expansion ends."""
    size: dict[int, int] = {}
    ancestors: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_counted = pending.pop()
        key = id(node)
        if children_counted:
            ancestors.discard(key)
            total = 1 + sum(size[id(child)] for child in _children(node))
            if total > limit:
                return None, False
            size[key] = total
        elif key not in size:
            if key in ancestors:
                return None, True
            ancestors.add(key)
            pending.append((node, True))
            pending.extend((child, False) for child in _children(node) if id(child) not in size)
    return size[id(root)], False


def _duplicate_key(root: yaml.Node) -> tuple[str, yaml.Node, yaml.Node] | None:
    """The first key a mapping gives twice, with both places. PyYAML keeps the last one
    silently; the Pulumi CLI (Go's yaml.v3) refuses the file, and a reviewer reading the
    first would approve what the second replaces."""
    seen_nodes: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[tuple[str, str], yaml.Node] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    first = keys.setdefault((key.tag, key.value), key)
                    if first is not key:
                        return key.value, first, key
        pending.extend(_children(node))
    return None


_TAG = "tag:yaml.org,2002:"
# What the Pulumi CLI (Go's yaml.v3) reads otherwise than PyYAML (YAML 1.1), found by running
# both on each spelling (tests/engine/test_cli.py does it with the built CLI): `on`, `yes`,
# `off`, `no` are booleans here and strings there; `1:30` is 90 here and a string there; a
# date is a date here and a string there; `0o17`, `08`, `1e3` and `1.5e3` are strings here and
# numbers there; `1.0`, `1.` and `1.0e+3` are floats here and integers there (a string field
# would read "1.0" here and "1" there; 1e21 and above keep their exponent); `.inf` and `.nan`
# are floats here and refused there.
# `017`, `1_000`, `+12`, `0x1F`, `0b101` and `1_0.5` are read alike.
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_GO_NUMBER = re.compile(
    r"[-+]?(0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9][0-9_]*"
    r"|([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)"
)


def _reads_otherwise(node: yaml.ScalarNode, value: object) -> bool:
    kind = node.tag.removeprefix(_TAG)
    text = node.value
    if kind == "bool":
        return not _CORE_BOOL.fullmatch(text)
    if kind == "int":
        return ":" in text
    if kind == "float":
        # The CLI writes a whole float below 1e21 as an integer (Go's JSON encoding).
        return (
            ":" in text
            or not math.isfinite(value)
            or (float(value).is_integer() and abs(value) < 1e21)
        )
    if kind == "timestamp":
        return True
    if kind == "str":
        return bool(_GO_NUMBER.fullmatch(text)) and any(c.isdigit() for c in text)
    return False


def _read_differently(root: yaml.Node) -> yaml.ScalarNode | None:
    """The first plain scalar that PyYAML types otherwise than the Pulumi CLI: the offline
    evaluation and `pulumi up` would see two configs."""
    seen: set[int] = set()
    pending = [root]
    constructor = yaml.SafeLoader("")
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.style:  # quoted or a block scalar: a string for both
                continue
            kind = node.tag.removeprefix(_TAG)
            value = constructor.construct_object(node) if kind == "float" else None
            if _reads_otherwise(node, value):
                return node
        pending.extend(_children(node))
    return None


def _load_bounded(path: Path, text: str) -> Any:
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        duplicate = _duplicate_key(root)
        if duplicate is not None:
            key, first, second = duplicate
            raise StackFileError(
                f"{path.name} gives the key {key!r} twice (lines {first.start_mark.line + 1} "
                f"and {second.start_mark.line + 1}): YAML keeps only the second, which the "
                "first hides from whoever reads the file; nothing was deployed.\n"
                "    fix: keep one of them (the Pulumi CLI refuses the file as it is)"
            )
        ambiguous = _read_differently(root)
        if ambiguous is not None:
            kind = ambiguous.tag.removeprefix(_TAG)
            raise StackFileError(
                f"{path.name} line {ambiguous.start_mark.line + 1}: `{ambiguous.value}` is read "
                f"as a {'string' if kind == 'str' else kind} here (YAML 1.1) and otherwise by "
                "the Pulumi CLI (YAML 1.2): the offline evaluation and `pulumi up` would not "
                "see the same config; nothing was deployed.\n"
                f'    fix: quote it ("{ambiguous.value}") for a string, or write a plain '
                "number or true/false"
            )
        # Without an anchor (`&`) there is no alias: the composed graph is the document.
        expanded, recursive = (
            _expanded_size(root, MAX_EXPANDED_NODES) if "&" in text else (0, False)
        )
        if expanded is None:
            problem = (
                "has an alias inside the very node it names, which never ends expanding"
                if recursive
                else f"has YAML aliases that expand to more than {MAX_EXPANDED_NODES:,} nodes "
                f"(from {len(text):,} characters)"
            )
            raise StackFileError(
                f"{path.name} {problem}; nothing was deployed.\n"
                "    fix: write the values out instead of nesting aliases (&anchor / *alias); "
                "a stack file never needs more than a few"
            )
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise StackFileError(
            f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; nothing was "
            "deployed.\n    fix: a stack file holds config, not data: move what makes it this "
            "large out of it"
        )
    try:
        loaded = _load_bounded(path, raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise StackFileError(
            f"{path.name} is not UTF-8 text ({error.reason} at byte {error.start}); nothing "
            "was deployed.\n    fix: save it as UTF-8"
        ) from None
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
