"""Imports run one way (ARCHITECTURE.md, Layout): facts and config ← shared helpers ← a layer's
modules ← site ← platform. A layer never imports another layer: what one layer gives another
travels as an Output through Args, and what both must agree on (names, labels, ports) lives in
`contracts.py`. Read from the source, so a new import that crosses a seam fails here."""

import ast
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
NOT_LAYERS = {"config", "validation", "remote"}
"""Packages below every layer: the config models, the checks across them and the remote-step
runner (registry, runner, lib.sh) that metal and kubernetes both run their scripts through."""
LAYERS = sorted(
    p.name
    for p in COMPONENTS.iterdir()
    if (p / "__init__.py").exists() and p.name not in NOT_LAYERS
)
FACTS = {"contracts", "catalog"}
"""Import nothing of the project but each other (catalog and contracts: nothing at all)."""
SHARED = {*FACTS, "config", "charts", "network_policy", "inventory", "plan", "context", "remote"}
"""What any layer may import: facts, config, the plan, a site's context, the remote-step runner
and the helpers outside every layer."""


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module an ImportFrom names, relative ones (`from ..serving import x`) resolved
    against the file's package."""
    if node.level == 0:
        return node.module or ""
    package = list(path.relative_to(COMPONENTS.parent).with_suffix("").parts)
    package = package[:-1]  # the file's own package (for __init__.py, the package itself)
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


DYNAMIC = {"import_module", "__import__"}
"""`importlib.import_module("components.x")` and `__import__("components.x")`: a literal
module name is an import all the same."""


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every `components...` module the file imports, at any depth of the file (inside
    functions and `if TYPE_CHECKING:` too), relative, `from components import x` and dynamic
    imports of a literal name included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            if module == "components":
                found |= {f"components.{alias.name}" for alias in node.names}
            elif module.startswith("components."):
                found.add(module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("components.")}
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if (
                name in DYNAMIC
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.startswith("components.")
            ):
                found.add(first.value)
    return found


def _top(module: str) -> str:
    return module.split(".")[1]


SPELLINGS = {
    "import components.serving.sizing as s": "components.serving.sizing",
    "from components import serving": "components.serving",
    "from components.serving import model_service": "components.serving",
    "from ..serving import sizing": "components.serving",
    "from ..serving.sizing import x": "components.serving.sizing",
    "from .. import serving": "components.serving",
    "import importlib\nimportlib.import_module('components.serving.sizing')": (
        "components.serving.sizing"
    ),
    "from importlib import import_module\nimport_module('components.serving')": (
        "components.serving"
    ),
    "__import__('components.serving.sizing')": "components.serving.sizing",
    "def f():\n    from components.serving import sizing": "components.serving",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import components.serving.x": (
        "components.serving.x"
    ),
}


@pytest.mark.parametrize("source", sorted(SPELLINGS))
def test_every_spelling_of_an_import_is_read(source):
    """A crossing is found however it is spelled: relative, from the package, dynamic with a
    literal name, inside a function or a TYPE_CHECKING block."""
    path = COMPONENTS / "gateway" / "example.py"
    assert SPELLINGS[source] in _imports(path, source)
    assert _top(SPELLINGS[source]) == "serving"


def test_relative_imports_resolve_against_the_package():
    init = COMPONENTS / "gateway" / "__init__.py"
    assert _imports(init, "from .routes import x") == {"components.gateway.routes"}
    assert _imports(init, "from ..serving import x") == {"components.serving"}


def test_there_are_layers_to_check():
    assert {"metal", "kubernetes", "serving", "gateway"} <= set(LAYERS)


def test_no_layer_imports_another_layer_or_the_spine():
    crossings = []
    for layer in LAYERS:
        for path in sorted((COMPONENTS / layer).rglob("*.py")):
            for module in sorted(_imports(path)):
                top = _top(module)
                if top == layer or top in SHARED:
                    continue
                crossings.append(f"{path.relative_to(COMPONENTS.parent)} imports {module}")
    assert crossings == []


def test_facts_import_nothing_of_the_project():
    for name in sorted(FACTS):
        assert _imports(COMPONENTS / f"{name}.py") == set(), name


def test_shared_helpers_import_only_facts_and_config():
    """Modules and packages (`config/` is a package: each of its files is read)."""
    read = set()
    for name in sorted(SHARED - FACTS - {"plan", "context", "remote"}):
        paths = [COMPONENTS / f"{name}.py", *sorted((COMPONENTS / name).rglob("*.py"))]
        for path in (p for p in paths if p.exists()):
            read.add(name)
            assert {_top(m) for m in _imports(path)} <= FACTS | {"config"}, path.name
    assert read == SHARED - FACTS - {"plan", "context", "remote"}


def test_the_remote_step_runner_imports_only_itself():
    """`remote/` is below every layer: the layers' scripts are found by the registry's paths,
    never by importing a layer."""
    for path in sorted((COMPONENTS / "remote").rglob("*.py")):
        assert {_top(m) for m in _imports(path)} <= {"remote"}, path.name


def _file(module: str) -> Path:
    path = COMPONENTS.parent / (module.replace(".", "/") + ".py")
    return path if path.exists() else path.with_suffix("") / "__init__.py"


def test_the_plan_is_pure_and_below_what_reads_it():
    """`plan.py` calls the layers' pure planning functions once; none of what it imports
    (at any depth, config aside: its secrets are typed as Pulumi Outputs) talks to Pulumi or
    reads the plan back."""
    seen, todo = set(), ["components.plan"]
    while todo:
        module = todo.pop()
        if module in seen or module.startswith("components.config"):
            continue
        seen.add(module)
        source = _file(module).read_text()
        assert "import pulumi" not in source, module
        imported = _imports(_file(module))
        if module != "components.plan":
            assert "components.plan" not in imported, module
        todo += sorted(imported)
    assert "components.serving.capacity" in seen
