"""Builds bad stack files from the real ones: a YAML case in tests/bad_configs names a base
stack, the fields to set or delete, and the text the error must show."""

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from offline.evaluate import record
from tests.paths import PROJECT_DIR

CASES_DIR = PROJECT_DIR / "tests" / "bad_configs"
PROJECT = "deepseek-onprem"


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def _apply(config: dict[str, Any], path: str, value: Any, delete: bool) -> None:
    key, *rest = _steps(path)
    full_key = f"{PROJECT}:{key}"
    if not rest:
        if delete:
            del config[full_key]
        else:
            config[full_key] = value
        return
    node = config[full_key]
    for step in rest[:-1]:
        node = node[step]
    if delete:
        del node[rest[-1]]
    else:
        node[rest[-1]] = value


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.yaml"))


def load_case(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASES_DIR / f"{name}.yaml").read_text())


def write_bad_project(name: str, directory: Path) -> str:
    """A project in `directory` with stack `name` built from the case; returns the stack."""
    case = load_case(name)
    stack_file = yaml.safe_load((PROJECT_DIR / f"Pulumi.{case['base']}.yaml").read_text())
    config = stack_file["config"]
    for path, value in (case.get("set") or {}).items():
        _apply(config, path, value, delete=False)
    for path in case.get("delete") or []:
        _apply(config, path, None, delete=True)
    project_with_stack_file(directory, name, yaml.safe_dump(stack_file))
    return name


def project_with_stack_file(directory: Path, stack: str, stack_text: str) -> None:
    """A project in `directory` (the real program) whose stack `stack` is `stack_text`."""
    for entry in ("Pulumi.yaml", "__main__.py", "components"):
        (directory / entry).symlink_to(PROJECT_DIR / entry)
    (directory / f"Pulumi.{stack}.yaml").write_text(stack_text)


def with_extra_config(extra: str) -> str:
    """The prod stack file as text, with `extra` lines appended under `config:`."""
    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    assert text.splitlines()[-1].startswith("    ")  # the last key is indented under config
    return text + extra


def evaluate_changed(change, stack: str = "prod"):
    """`stack`'s graph with `change(config)` applied to its config (keys without the project
    prefix), evaluated from a copy of the project; fails the test on any error."""
    stack_file = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    config = {key.split(":", 1)[1]: value for key, value in stack_file["config"].items()}
    change(config)
    stack_file["config"] = {f"{PROJECT}:{key}": value for key, value in config.items()}
    directory = Path(tempfile.mkdtemp(prefix="changed-stack-"))
    try:
        project_with_stack_file(directory, stack, yaml.safe_dump(stack_file))
        graph, error = record(stack, project_dir=directory)
    finally:
        shutil.rmtree(directory)
    assert error is None, error
    return graph
