"""A type token leads to its file: `deepseek:<layer>:<Type>` is class `<Type>` in
`components/<layer>/<snake_of_Type>.py`, or in `components/<layer>.py` when the type is a
layer of its own with no folder (Platform, Site). Checked for every component either stack
registers."""

import importlib
import re

import pulumi
import pytest

from tests.paths import PROJECT_DIR

TOKEN = re.compile(r"deepseek:([a-z]+):([A-Z][A-Za-z0-9]*)")


def snake(type_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()


def module_of(token: str) -> str:
    """The module a token names."""
    match = TOKEN.fullmatch(token)
    assert match, f"{token} is not deepseek:<layer>:<Type>"
    layer, type_name = match.groups()
    if snake(type_name) == layer and not (PROJECT_DIR / "components" / layer).is_dir():
        return f"components.{layer}"
    return f"components.{layer}.{snake(type_name)}"


def component_tokens(graph) -> set[str]:
    return {r.type for r in graph.resources if not r.custom and r.type != "pulumi:pulumi:Stack"}


def test_the_rule_on_examples():
    assert module_of("deepseek:kubernetes:LocalPathProvisioner") == (
        "components.kubernetes.local_path_provisioner"
    )
    assert module_of("deepseek:gateway:Gateway") == "components.gateway.gateway"
    assert module_of("deepseek:site:Site") == "components.site"


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_every_component_lives_in_the_file_its_token_names(stack, stack_graph):
    tokens = component_tokens(stack_graph(stack))
    assert {"deepseek:platform:Platform", "deepseek:metal:Host"} <= tokens
    misplaced = []
    for token in sorted(tokens):
        module_name = module_of(token)
        type_name = token.rsplit(":", 1)[1]
        path = PROJECT_DIR / (module_name.replace(".", "/") + ".py")
        if not path.exists():
            misplaced.append(f"{token}: no file {path.relative_to(PROJECT_DIR)}")
            continue
        cls = getattr(importlib.import_module(module_name), type_name, None)
        if not (
            isinstance(cls, type)
            and issubclass(cls, pulumi.ComponentResource)
            and cls.__module__ == module_name
        ):
            misplaced.append(f"{token}: {module_name} defines no component class {type_name}")
        elif f'"{token}"' not in path.read_text():
            misplaced.append(f"{token}: {module_name} never names its token")
    assert misplaced == []
