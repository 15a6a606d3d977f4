"""What every config model shares: the base model (camelCase keys, unknown keys refused), the
project name, names that are DNS labels, GPU model names, chart versions and networks that
must stay internal."""

import ipaddress
import types
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core.core_schema import ValidationInfo

from components.catalog import GPU_MODELS, known_gpu_models

PROJECT = "deepseek-onprem"

DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
"""A name that must also be a valid Kubernetes node / DNS label."""


class Model(BaseModel):
    """Base for every config model: camelCase keys in YAML, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # `.inf` and `.nan` are valid YAML floats: refused here, naming the field, rather
        # than surfacing later as an OverflowError in sizing or cost arithmetic.
        allow_inf_nan=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads true/false as 1/0 in a number field: `retentionDays:
        # true` would keep one day of backups. A boolean is refused where a number belongs.
        if isinstance(value, bool) and info.field_name is not None:
            if _numeric(cls.model_fields[info.field_name].annotation):
                raise FieldError(
                    f"{str(value).lower()} is a boolean, not a number", "write a number"
                )
        return value


def _numeric(annotation: Any) -> bool:
    """An int or float field (optional or not) that takes no boolean."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        return bool not in members and any(_numeric(member) for member in members)
    return annotation in (int, float)


class FieldError(ValueError):
    """What a field validator found wrong, and the fix, kept apart: the loader turns it into a
    `ConfigIssue` without parsing a message. Its text reads `<problem>; fix: <fix>` for
    whoever prints the pydantic error itself."""

    def __init__(self, problem: str, fix: str):
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.fix = fix


def _known_gpu_model(model: str) -> str:
    if model not in GPU_MODELS:
        raise FieldError("unknown GPU model", f"use one of {known_gpu_models()}")
    return model


GpuModelName = Annotated[str, AfterValidator(_known_gpu_model)]
"""A GPU model the catalog knows, e.g. 'A100-80GB'."""


CHART_VERSION = r"^v?(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){2}$"
"""A chart's SemVer release (`1.8.1`, `v1.16.2`): three numbers, no empty part or leading zero."""


def internal_network(verb: str, fix: str) -> AfterValidator:
    """A validator for one item of a list of networks: refuses a network wider than a /8 (a
    large part of the internet). Per item, so every such network of a list is reported."""

    def check(cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if cidr.prefixlen < 8:
            raise FieldError(f"{cidr} {verb} a large part of the internet", fix)
        return cidr

    return AfterValidator(check)
