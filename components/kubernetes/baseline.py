"""Namespaces per purpose with Pod Security labels, quotas and default limits, and the
PriorityClasses that let inference preempt training."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts

# Per workload namespace: a ceiling so one tenant cannot starve the cluster.
QUOTAS = {
    contracts.INFERENCE: {
        "requests.cpu": "256",
        "requests.memory": "2Ti",
        "requests.nvidia.com/gpu": "64",
    },
    contracts.TRAINING: {
        "requests.cpu": "256",
        "requests.memory": "2Ti",
        "requests.nvidia.com/gpu": "64",
    },
    contracts.MONITORING: {"requests.cpu": "32", "requests.memory": "128Gi"},
    contracts.GATEWAY: {"requests.cpu": "32", "requests.memory": "64Gi"},
}


PRIORITY_CLASSES = (
    (
        "high",
        contracts.HIGH_PRIORITY,
        1_000_000,
        "PreemptLowerPriority",
        "Online inference: preempts training and batch work (the guide's class).",
    ),
    (
        "batch",
        contracts.BATCH_PRIORITY,
        1_000,
        "Never",
        "Training and batch jobs: run on spare capacity, never preempt.",
    ),
)


@dataclass(frozen=True)
class BaselineArgs:
    """Inputs of `Baseline`."""

    provider: k8s.Provider
    """The site cluster's provider."""
    privileged_namespaces: tuple[str, ...] = contracts.PRIVILEGED_BY_DEFAULT
    """System namespaces whose Pod Security level is privileged."""


class Baseline(pulumi.ComponentResource):
    """Namespaces, quotas, limit ranges, priority classes (`deepseek:kubernetes:Baseline`)."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    priority_classes: list[k8s.scheduling.v1.PriorityClass]

    def __init__(
        self, name: str, args: BaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:kubernetes:Baseline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespaces = {}
        for namespace in (*contracts.WORKLOAD_NAMESPACES, *contracts.SYSTEM_NAMESPACES):
            level = "privileged" if namespace in args.privileged_namespaces else "restricted"
            self.namespaces[namespace] = k8s.core.v1.Namespace(
                f"{name}-ns-{namespace}",
                metadata={
                    "name": namespace,
                    "labels": {
                        "deepseek.bank/purpose": namespace,
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                },
                opts=child,
            )
        for namespace, hard in QUOTAS.items():
            in_namespace = pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[self.namespaces[namespace]]
            )
            k8s.core.v1.ResourceQuota(
                f"{name}-quota-{namespace}",
                metadata={"name": "default", "namespace": namespace},
                spec={"hard": hard},
                opts=in_namespace,
            )
            k8s.core.v1.LimitRange(
                f"{name}-limits-{namespace}",
                metadata={"name": "default", "namespace": namespace},
                spec={
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"cpu": "1", "memory": "1Gi"},
                            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        }
                    ]
                },
                opts=in_namespace,
            )
        self.priority_classes = []
        for suffix, class_name, value, preemption, description in PRIORITY_CLASSES:
            priority_class = k8s.scheduling.v1.PriorityClass(
                f"{name}-priority-{suffix}",
                metadata={"name": class_name},
                value=value,
                global_default=False,
                preemption_policy=preemption,
                description=description,
                opts=child,
            )
            self.priority_classes.append(priority_class)
        self.register_outputs({})
