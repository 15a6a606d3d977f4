"""Kubeflow training operator, so MPIJobs run, and the guide's `deepseek-train` MPIJob as an
opt-in example (launcher + workers, 8 slots per worker, image from the internal registry)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Kubernetes, Mirrors
from components.context import SiteContext


def mpijob_spec(kubernetes: Kubernetes, mirrors: Mirrors, region: str) -> dict:
    example = kubernetes.training_example
    image = f"{mirrors.image_registry}/{example.image}"
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod = {
        "priorityClassName": contracts.BATCH_PRIORITY,
        "automountServiceAccountToken": False,
        # Training data stays in the site's region: its nodes only.
        "nodeSelector": {
            contracts.NODE_POOL_LABEL: contracts.TRAINING_POOL,
            contracts.REGION_LABEL: region,
        },
        "tolerations": [
            {"key": contracts.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
        ],
    }
    worker_resources = {
        "nvidia.com/gpu": str(example.slots_per_worker),
        "cpu": "32",
        "memory": "256Gi",
    }
    return {
        "slotsPerWorker": example.slots_per_worker,
        "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 3},
        "mpiReplicaSpecs": {
            "Launcher": {
                "replicas": 1,
                "template": {
                    "spec": {
                        **pod,
                        "containers": [
                            {
                                "name": "launcher",
                                "image": image,
                                "command": [
                                    "mpirun",
                                    "--allow-run-as-root",
                                    "-np",
                                    str(example.workers * example.slots_per_worker),
                                    "python",
                                    "train.py",
                                ],
                                "resources": {
                                    "requests": {"cpu": "1", "memory": "2Gi"},
                                    "limits": {"cpu": "1", "memory": "2Gi"},
                                },
                                "securityContext": security,
                            }
                        ],
                    }
                },
            },
            "Worker": {
                "replicas": example.workers,
                "template": {
                    "spec": {
                        **pod,
                        "containers": [
                            {
                                "name": "worker",
                                "image": image,
                                # GPU requests equal limits: exactly what runs is reserved.
                                "resources": {
                                    "requests": worker_resources,
                                    "limits": worker_resources,
                                },
                                "securityContext": security,
                            }
                        ],
                    }
                },
            },
        },
    }


@dataclass(frozen=True)
class TrainingArgs:
    """Inputs of `TrainingOperator`."""

    ctx: SiteContext
    kubernetes: Kubernetes
    """The chart version and the optional example job."""


class TrainingOperator(pulumi.ComponentResource):
    """The training-operator chart and the optional example job
    (`deepseek:kubernetes:TrainingOperator`)."""

    def __init__(self, name: str, args: TrainingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("deepseek:kubernetes:TrainingOperator", name, None, opts)
        ctx = args.ctx
        operator_image = mirror(ctx.mirrors, "docker.io/kubeflow/training-operator")
        release = mirrored_release(
            f"{name}-training-operator",
            chart="training-operator",
            version=args.kubernetes.training_operator_chart_version,
            namespace=contracts.KUBEFLOW,
            values={"image": {"repository": operator_image}},
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions(
                parent=self, provider=ctx.provider, depends_on=[ctx.namespace(contracts.KUBEFLOW)]
            ),
        )
        if args.kubernetes.training_example.enabled:
            k8s.apiextensions.CustomResource(
                f"{name}-deepseek-train",
                api_version="kubeflow.org/v1",
                kind="MPIJob",
                metadata={"name": "deepseek-train", "namespace": contracts.TRAINING},
                spec=mpijob_spec(args.kubernetes, ctx.mirrors, ctx.site.region),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=ctx.provider,
                    depends_on=[release, ctx.namespace(contracts.TRAINING)],
                ),
            )
        self.register_outputs({})
