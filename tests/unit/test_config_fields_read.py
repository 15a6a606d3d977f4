"""Every config field is read by the program, outside config and validation: a key nothing
reads looks as if it worked and has no effect, so it is refused until its layer reads it
(`components.config.not_built`).

Read from the source: a field counts as read when `.<field name>` appears in a module of
`components/` other than the config and validation packages (or in `__main__.py`), or when a
property or public method of its model that reads it does (`ModelDeployment.at_site` reads
`placements`). A grep, so a common name (`name`, `mode`) passes whatever reads it; what it
catches is a field whose name appears nowhere, as `backup.copies` and
`monitoring.retentionDays` did."""

import inspect
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from components.config import NOT_BUILT, PlatformConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOT_READERS = {"config", "validation", "preflight.py", "stack_config.py"}
"""Where reading a field does not count: the models and the checks of the config itself."""

READ_BY_THE_SIMULATOR_ONLY: set[tuple[str, str]] = set()
"""Fields only the offline hardware simulator reads (none now: `Nic.speed_gbps`, once one,
feeds the serving output's cold-load estimate, components/serving/model_load.py)."""
VALIDATION_INPUTS = {
    # The allow-list of the bank's domains: it exists to be compared with every mirror, model
    # store and identity-provider host (validation/mirrors.py).
    ("Mirrors", "internal_domains"),
    # What workloads may reach outside the cluster: every network a layer writes into an
    # egress rule (model store, IdP, the peer gateway) must be inside it (validation/serving.py,
    # validation/gateway.py); the policies are built from those networks, not from the list.
    ("Network", "egress_allow_list"),
}
"""Fields that are inputs of rules, not settings of a layer."""


def _program_source() -> str:
    files = [PROJECT_DIR / "__main__.py"]
    for path in sorted((PROJECT_DIR / "components").rglob("*.py")):
        relative = path.relative_to(PROJECT_DIR / "components")
        if relative.parts[0] not in NOT_READERS:
            files.append(path)
    return "\n".join(path.read_text() for path in files)


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict:
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = model
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
                _models(annotation, seen)
            stack.extend(typing.get_args(annotation))
    return seen


def _read(name: str, source: str) -> bool:
    return re.search(rf"\.{name}\b", source) is not None


def _properties_reading(model: type[BaseModel], field: str) -> list[str]:
    """Properties and methods of the model (e.g. `ModelDeployment.at_site`) that read it."""
    readers = []
    for name, member in vars(model).items():
        function = member.fget if isinstance(member, property) else member
        if inspect.isfunction(function) and not name.startswith("_"):
            if f"self.{field}" in inspect.getsource(function):
                readers.append(name)
    return readers


def test_every_config_field_is_read_outside_config_and_validation():
    source = _program_source()
    models = _models(PlatformConfig, {})
    assert {"PlatformConfig", "Site", "Host", "Nic", "Monitoring", "Gateway"} <= set(models)
    unread = []
    for model in models.values():
        for field in model.model_fields:
            if (model.__name__, field) in READ_BY_THE_SIMULATOR_ONLY | VALIDATION_INPUTS:
                continue
            readers = [field, *_properties_reading(model, field)]
            if not any(_read(name, source) for name in readers):
                unread.append(f"{model.__name__}.{field}")
    assert unread == [], "read by nothing: refuse them in config/not_built.py until read"


def test_the_exceptions_are_fields_and_really_unread():
    source = _program_source()
    models = _models(PlatformConfig, {})
    for model_name, field in READ_BY_THE_SIMULATOR_ONLY | VALIDATION_INPUTS:
        assert field in models[model_name].model_fields, (model_name, field)
        assert not _read(field, source), f"{model_name}.{field} is read now: drop the exception"


def test_keys_refused_until_built_are_not_fields():
    """A key in NOT_BUILT that a model declares again would be accepted and never refused."""
    for path in NOT_BUILT:
        model: type[BaseModel] = PlatformConfig
        *parents, key = re.sub(r"\[\]", "", path).split(".")
        for part in parents:
            fields = {f.alias or n: f for n, f in model.model_fields.items()}
            annotation = fields[part].annotation
            while not (inspect.isclass(annotation) and issubclass(annotation, BaseModel)):
                annotation = next(
                    a
                    for a in typing.get_args(annotation)
                    if inspect.isclass(a) or typing.get_args(a)
                )
            model = annotation
        aliases = {f.alias or n for n, f in model.model_fields.items()}
        assert key not in aliases, path
