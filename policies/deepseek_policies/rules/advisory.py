"""Advice, not blocking: serving workloads without probes or disruption budgets."""

from collections.abc import Mapping

from deepseek_policies.rules.objects import (
    StackResource,
    config_value,
    describe,
    kind_of,
    namespace_of,
    selector_matches,
    workload_pod_specs,
)

SERVING = {"type": "array", "items": {"type": "string"}, "default": ["inference", "gateway"]}

LONG_RUNNING = ("Deployment", "StatefulSet")


def judge_probes(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    if kind_of(resource_type) not in LONG_RUNNING:
        return
    if namespace_of(props) not in config_value(config, "servingNamespaces", SERVING["default"]):
        return
    for pod in workload_pod_specs(resource_type, props):
        for container in pod.get("containers") or []:
            missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
            if missing:
                yield (
                    f"{describe(resource_type, props, name)} container "
                    f"{container.get('name')} has no {' or '.join(missing)}; add them so "
                    "broken replicas leave the Service and restart."
                )


def judge_pdb(resources: list[StackResource], config: Mapping):
    namespaces = config_value(config, "servingNamespaces", SERVING["default"])
    budgets = [
        (r.cluster, namespace_of(r.props), (r.props.get("spec") or {}).get("selector"))
        for r in resources
        if kind_of(r.resource_type) == "PodDisruptionBudget"
    ]
    for r in resources:
        if kind_of(r.resource_type) not in LONG_RUNNING:
            continue
        namespace = namespace_of(r.props)
        if namespace not in namespaces:
            continue
        labels = (((r.props.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        if not any(
            (c, ns) == (r.cluster, namespace) and selector_matches(sel, labels)
            for c, ns, sel in budgets
        ):
            yield (
                r.urn,
                f"{describe(r.resource_type, r.props, r.name)} has no PodDisruptionBudget; "
                "add one so drains keep replicas serving.",
            )
