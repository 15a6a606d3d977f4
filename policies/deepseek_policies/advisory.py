"""Advice, not blocking: serving workloads without probes or disruption budgets."""

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from deepseek_policies.common import (
    cluster_of,
    config_value,
    describe,
    kind_of,
    namespace_of,
    selector_matches,
    workload_pod_specs,
)
from deepseek_policies.common import schema as _schema

SERVING = {"type": "array", "items": {"type": "string"}, "default": ["inference", "gateway"]}
LONG_RUNNING = ("Deployment", "StatefulSet")


def _probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) not in LONG_RUNNING:
        return
    if namespace_of(args.props) not in config_value(args, "servingNamespaces", SERVING["default"]):
        return
    for pod in workload_pod_specs(args.resource_type, args.props):
        for container in pod.get("containers") or []:
            missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
            if missing:
                report(
                    f"{describe(args.resource_type, args.props, args.name)} container "
                    f"{container.get('name')} has no {' or '.join(missing)}; add them so "
                    "broken replicas leave the Service and restart."
                )


probes = ResourceValidationPolicy(
    name="serving-has-probes",
    description="Serving containers have readiness and liveness probes.",
    validate=_probes,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=_schema(servingNamespaces=SERVING),
)


def _pdb(args: StackValidationArgs, report: ReportViolation) -> None:
    namespaces = config_value(args, "servingNamespaces", SERVING["default"])
    budgets = [
        (cluster_of(r), namespace_of(r.props), (r.props.get("spec") or {}).get("selector"))
        for r in args.resources
        if kind_of(r.resource_type) == "PodDisruptionBudget"
    ]
    for r in args.resources:
        if kind_of(r.resource_type) not in LONG_RUNNING:
            continue
        namespace = namespace_of(r.props)
        if namespace not in namespaces:
            continue
        labels = (((r.props.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        cluster = cluster_of(r)
        if not any(
            (c, ns) == (cluster, namespace) and selector_matches(sel, labels)
            for c, ns, sel in budgets
        ):
            report(
                f"{describe(r.resource_type, r.props, r.name)} has no PodDisruptionBudget; "
                "add one so drains keep replicas serving.",
                r.urn,
            )


pdb = StackValidationPolicy(
    name="serving-has-disruption-budget",
    description="Serving workloads have a PodDisruptionBudget.",
    validate=_pdb,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=_schema(servingNamespaces=SERVING),
)

POLICIES = [probes, pdb]
