"""A type token leads to its file: `deepseek:<layer>:<Type>` is class `<Type>` in
`components/<layer>/<snake_of_Type>.py`, or in `components/<layer>.py` when the type is a
layer of its own with no folder (Platform, Site). And a component registers exactly its
public Output attributes, under their camelCase names. Checked for every component either
stack registers."""

import ast
import importlib
import inspect
import re
import textwrap
import types
import typing

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


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _is_output(annotation: object) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_output(a) for a in typing.get_args(annotation))
    return annotation is pulumi.Output or typing.get_origin(annotation) is pulumi.Output


def _optional(annotation: object) -> bool:
    return type(None) in typing.get_args(annotation)


def public_outputs(cls: type) -> dict[str, bool]:
    """camelCase name → whether it may be None, of each public Output the class declares."""
    annotations = cls.__dict__.get("__annotations__", {})
    return {
        camel(name): _optional(annotation)
        for name, annotation in annotations.items()
        if not name.startswith("_") and _is_output(annotation)
    }


def _self_attributes(target: ast.expr) -> set[str]:
    """Names `self.<name>` that an assignment target binds, unpacking included."""
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return {target.attr} if target.value.id == "self" else set()
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_self_attributes(t) for t in target.elts))
    if isinstance(target, ast.Starred):
        return _self_attributes(target.value)
    return set()


def undeclared_attributes(cls: type) -> set[str]:
    """Public attributes the class's methods set on `self` without declaring them: plain,
    unpacking, annotated and augmented assignments, and `setattr(self, "<name>", ...)`."""
    assigned = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                assigned |= _self_attributes(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            assigned |= _self_attributes(node.target)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
        ):
            name = node.args[1]
            literal = isinstance(name, ast.Constant) and isinstance(name.value, str)
            # A name computed at run time cannot be checked: refuse it outright.
            assigned.add(name.value if literal else "<setattr with a computed name>")
    public = {name for name in assigned if not name.startswith("_")}
    return public - set(cls.__dict__.get("__annotations__", {}))


class _Unpacks:
    def __init__(self):
        self.first, (self.second, *self.rest) = 1, (2, 3)


class _Annotates:
    def __init__(self):
        self.hidden: int = 1
        self.counter += 1
        self._private = 0


class _SetsAttr:
    def __init__(self, name):
        setattr(self, "literal", 1)  # noqa: B010 (the spelling under test)
        setattr(self, name, 2)


def test_undeclared_attributes_on_examples():
    assert undeclared_attributes(_Unpacks) == {"first", "second", "rest"}
    assert undeclared_attributes(_Annotates) == {"hidden", "counter"}
    assert undeclared_attributes(_SetsAttr) == {"literal", "<setattr with a computed name>"}


def test_output_rules_on_examples():
    assert camel("preflight_report") == "preflightReport"
    from components.platform import Platform

    assert public_outputs(Platform) == {"siteSummaries": False, "replicationSourceSites": True}


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_every_component_registers_exactly_its_public_outputs(stack, stack_graph):
    graph = stack_graph(stack)
    wrong = []
    for resource in graph.resources:
        if resource.custom or resource.type == "pulumi:pulumi:Stack":
            continue
        module = importlib.import_module(module_of(resource.type))
        cls = getattr(module, resource.type.rsplit(":", 1)[1])
        declared = public_outputs(cls)
        registered = set(graph.component_outputs.get(resource.urn, {}))
        # An output that is None is not registered (the SDK drops it): only optional ones.
        missing = {name for name, optional in declared.items() if not optional} - registered
        unknown = registered - set(declared)
        if missing or unknown:
            wrong.append(f"{resource.name} ({cls.__name__}): missing {missing}, unknown {unknown}")
        if undeclared := undeclared_attributes(cls):
            wrong.append(f"{cls.__name__} sets public attributes it does not declare: {undeclared}")
    assert sorted(set(wrong)) == []
