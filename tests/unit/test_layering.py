"""Imports run one way (ARCHITECTURE.md, Layout): facts and config ← shared helpers ← a layer's
modules ← site ← platform. A layer never imports another layer: what one layer gives another
travels as an Output through Args, and what both must agree on (names, labels, ports) lives in
`contracts.py`. Read from the source, so a new import that crosses a seam fails here."""

import ast
from pathlib import Path

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


def _imports(path: Path) -> set[str]:
    """Every `components...` module the file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "components":
                found |= {f"components.{alias.name}" for alias in node.names}
            elif node.module.startswith("components."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("components.")}
    return found


def _top(module: str) -> str:
    return module.split(".")[1]


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
    for name in sorted(SHARED - FACTS - {"plan", "context"}):
        path = COMPONENTS / f"{name}.py"
        if path.exists():
            assert {_top(m) for m in _imports(path)} <= FACTS | {"config"}, name


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
