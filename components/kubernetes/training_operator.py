"""Kubeflow training operator, so MPIJobs run, and the guide's `deepseek-train` MPIJob as an
opt-in example (launcher + workers, `-np` = workers × slots, image from the internal registry,
the guide's out-of-memory answers as entrypoint options). Preview warns when no host of the
site could run the example's workers, naming the hosts it would need."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Kubernetes, Mirrors, Site, TrainingExample
from components.context import SiteContext
from components.kubernetes.scheduling import site_nodes, unschedulable

MPIJOB_NAME = "deepseek-train"


def entrypoint_options(example: TrainingExample) -> list[str]:
    """The guide's answers to GPU out-of-memory, as arguments of the training entrypoint."""
    options = []
    if example.gradient_checkpointing:
        options.append("--gradient-checkpointing")
    if example.mixed_precision != "off":
        options += ["--amp-dtype", example.mixed_precision]
    return options


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
                                    # One rank per GPU slot of every worker.
                                    str(example.workers * example.slots_per_worker),
                                    "python",
                                    "train.py",
                                    *entrypoint_options(example),
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


def training_job_unschedulable(kubernetes: Kubernetes, mirrors: Mirrors, site: Site) -> str | None:
    """Why the example's workers cannot all run on the site's hosts (None when they can)."""
    spec = mpijob_spec(kubernetes, mirrors, site.region)
    workers = spec["mpiReplicaSpecs"]["Worker"]
    return unschedulable(
        f"MPIJob {MPIJOB_NAME}'s workers",
        workers["template"]["spec"],
        workers["replicas"],
        site,
        site_nodes(site, kubernetes),
    )


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
            # Opt-in, so a warning rather than an error: the operator and the job are still
            # registered, and the job waits Pending until hosts like these exist.
            problem = training_job_unschedulable(args.kubernetes, ctx.mirrors, ctx.site)
            if problem:
                pulumi.log.warn(
                    f"{problem}: give hosts nodePool: training, or set "
                    "kubernetes.trainingExample.enabled: false",
                    self,
                )
            k8s.apiextensions.CustomResource(
                f"{name}-deepseek-train",
                api_version="kubeflow.org/v1",
                kind="MPIJob",
                metadata={"name": MPIJOB_NAME, "namespace": contracts.TRAINING},
                spec=mpijob_spec(args.kubernetes, ctx.mirrors, ctx.site.region),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=ctx.provider,
                    depends_on=[release, ctx.namespace(contracts.TRAINING)],
                ),
            )
        self.register_outputs({})
