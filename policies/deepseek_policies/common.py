"""The adapters that make a CrossGuard policy of a pure judge (`rules/`), and config schemas
with safe defaults.

A judge is a pure function: `judge(resource_type, props, config, name)` yields one message per
finding for a resource; a stack judge gets `StackResource`s and yields `(urn, message)`. Live
Kubernetes objects are judged with `resource_type_of(obj)` as their type."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from deepseek_policies.rules.objects import StackResource

Judge = Callable[[str, Mapping, Mapping, str], Iterable[str]]
StackJudge = Callable[[list[StackResource], Mapping], Iterable[tuple[str, str]]]

# Every allow-list defaults to empty: a stack whose policy config does not name what it may
# use is refused, never waved through.
LIST = {"type": "array", "items": {"type": "string"}, "default": []}


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=dict(properties))


def resource_policy(
    name: str,
    description: str,
    judge: Judge,
    config_schema: PolicyConfigSchema | None = None,
    enforcement_level: EnforcementLevel | None = None,
) -> ResourceValidationPolicy:
    """A CrossGuard resource policy that only adapts its arguments to `judge`."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        config = args.get_config() or {}
        for message in judge(args.resource_type, args.props, config, args.name):
            report(message)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=config_schema,
        enforcement_level=enforcement_level,
    )


def stack_policy(
    name: str,
    description: str,
    judge: StackJudge,
    config_schema: PolicyConfigSchema | None = None,
    enforcement_level: EnforcementLevel | None = None,
) -> StackValidationPolicy:
    """A CrossGuard stack policy that only adapts its arguments to `judge`."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            StackResource(
                r.resource_type,
                r.props,
                r.urn,
                r.name,
                cluster_of(r),
                bool(getattr(r.opts, "protect", False)),
            )
            for r in args.resources
        ]
        for urn, message in judge(resources, args.get_config() or {}):
            report(message, urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=config_schema,
        enforcement_level=enforcement_level,
    )


def cluster_of(resource: Any) -> str:
    """Resources of one cluster share a provider: its URN tells clusters apart in a stack
    policy (the same namespace or class name exists in every site's cluster)."""
    provider = getattr(resource, "provider", None)
    return getattr(provider, "urn", "") or ""
