"""One model at one site: Triton pods (stable, and a canary when config has one), their
Services, disruption budgets and the autoscaler on Triton's queue time.

The pod specs are pure functions of the validated config and the site's serving plan, so
tests read them without a Pulumi runtime."""

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.catalog import GPU_MODELS, MODELS, PRECISION_BYTES
from components.charts import checkov_skips, mirror
from components.config import Mirrors, Monitoring, Serving, Site
from components.context import SiteContext
from components.contracts import TRITON_GRPC_PORT, TRITON_HTTP_PORT, TRITON_METRICS_PORT
from components.network_policy import in_namespace
from components.serving.autoscaling import QUEUE_TIME_METRIC, hpa_spec
from components.serving.cached_weights import WeightsCache
from components.serving.capacity import ServingPlan
from components.serving.triton import MODEL_ROOT, WEIGHTS_ROOT, model_repository, weights_path

TRITON_UID = 10001
"""A UID no image user owns (checkov CKV_K8S_40): Triton's files under /opt/tritonserver are
world-readable, everything it writes goes to /tmp, and the cached weights are world-readable."""
CACHE_ROOT = "/model-cache"
"""Where the pods mount the node-local model cache (read-only)."""
GIB = 2**30
CACHE_CHECK = (
    'if [ ! -f "$WEIGHTS/$MARKER" ]; then '
    'echo "the model cache on node $NODE_NAME holds no complete copy of $REVISION: its fill '
    "Job (label deepseek.bank/node=$NODE_NAME, app.kubernetes.io/name=model-cache-fill in "
    'this namespace) must succeed first; Triton never downloads weights itself" >&2; exit 1; fi; '
    'ln -sfn "$WEIGHTS" "$LINK"'
)
"""The init container's check: the revision is whole in this node's cache (its fill Job wrote
the marker), then the revision-free path Triton's model repository names points at it."""


def weights_gib(plan: ServingPlan) -> float:
    d = plan.deployment
    return MODELS[d.model].parameters_b * 1e9 * PRECISION_BYTES[d.precision] / GIB


def startup_budget_seconds(plan: ServingPlan) -> int:
    """Time Triton may take from start to ready: loading the weights from the pod's disk
    into the GPUs (10 s per GiB, a slow disk's pace) plus 10 minutes of engine start-up
    (CUDA graphs, KV-cache allocation, warm-up)."""
    return 600 + math.ceil(10 * weights_gib(plan))


def _product_names(plan: ServingPlan) -> list[str]:
    """`nvidia.com/gpu.product` values GPU Feature Discovery gives nodes with this GPU model:
    the product name with '-' for ' ', and '-SHARED' appended on time-sliced GPUs."""
    base = [n.replace(" ", "-") for n in GPU_MODELS[plan.deployment.gpu_model].smi_product_names]
    return [n + "-SHARED" for n in base] if plan.share.mode == "time-slicing" else base


def labels(plan: ServingPlan, track: str) -> dict[str, str]:
    return {
        **contracts.TRITON_POD_LABELS,
        "app.kubernetes.io/instance": plan.deployment.name,
        "app.kubernetes.io/part-of": "deepseek-serving",
        "deepseek.bank/track": track,
    }


def _security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": TRITON_UID,
        "runAsGroup": TRITON_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def triton_resources(plan: ServingPlan) -> dict[str, str]:
    """Requests (equal to limits) of the Triton container: GPUs, CPU, memory, scratch."""
    gpus = plan.deployment.tensor_parallel_size
    return {
        plan.share.resource: str(gpus),
        "cpu": str(4 * gpus),
        # /dev/shm is memory-backed and counts against this limit.
        "memory": f"{16 * gpus + _shm_gib(plan)}Gi",
        # Logs and /tmp only: the weights stay in the node's cache.
        "ephemeral-storage": "10Gi",
    }


def _shm_gib(plan: ServingPlan) -> int:
    return 2 * plan.deployment.tensor_parallel_size  # NCCL and vLLM's workers use /dev/shm


def scheduling(plan: ServingPlan, site: Site) -> dict:
    """What decides the node a replica lands on: data locality (the site's own region and
    inference pool), the GPU model and product, the GPU taint, and the GPUs it requests."""
    resources = triton_resources(plan)
    return {
        "nodeSelector": {
            contracts.REGION_LABEL: site.region,
            contracts.NODE_POOL_LABEL: contracts.INFERENCE_POOL,
            contracts.GPU_MODEL_LABEL: plan.deployment.gpu_model,
        },
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": contracts.GPU_PRODUCT_LABEL,
                                    "operator": "In",
                                    "values": _product_names(plan),
                                }
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [
            {
                "key": contracts.GPU_TAINT_KEY,
                "operator": "Equal",
                "value": contracts.INFERENCE_POOL,
                "effect": "NoSchedule",
            }
        ],
        "containers": [{"name": "triton", "resources": {"requests": resources}}],
    }


def pod_template(
    plan: ServingPlan,
    track: str,
    revision: str,
    site: Site,
    serving: Serving,
    mirrors: Mirrors,
    cache: WeightsCache,
) -> dict:
    """The pod of one replica: Triton, reading the revision from the node-local cache that
    its fill Job filled (an init container checks it is whole; nothing is downloaded here)."""
    d = plan.deployment
    release = d.triton_release or serving.triton_release
    flavour = "vllm" if d.backend == "vllm" else "trtllm"
    image = f"{mirror(mirrors, 'nvcr.io/nvidia/tritonserver')}:{release}-{flavour}-python-py3"
    shm_gib = _shm_gib(plan)
    resources = triton_resources(plan)
    placement = scheduling(plan, site)
    key = (d.model, d.precision, revision)
    probe = {"port": "http"}
    budget = startup_budget_seconds(plan)
    return {
        "metadata": {
            "labels": {**labels(plan, track), "deepseek.bank/revision": revision},
            "annotations": {
                # Prometheus scrapes Triton's metrics (queue time feeds the autoscaler).
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(TRITON_METRICS_PORT),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "priorityClassName": contracts.HIGH_PRIORITY,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 120,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": TRITON_UID,
                "runAsGroup": TRITON_UID,
                "fsGroup": TRITON_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            # Data locality: the site's own region and inference pool, and the GPU product.
            "nodeSelector": placement["nodeSelector"],
            "affinity": placement["affinity"],
            "tolerations": placement["tolerations"],
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": labels(plan, track)},
                }
            ],
            "initContainers": [
                {
                    "name": "check-cache",
                    # Triton's own image: no other image, no network.
                    "image": image,
                    "imagePullPolicy": "Always",
                    "command": ["/bin/sh", "-c", CACHE_CHECK],
                    "env": [
                        {"name": "WEIGHTS", "value": f"{CACHE_ROOT}/{cache.paths[key]}"},
                        {"name": "MARKER", "value": cache.complete_marker},
                        {"name": "REVISION", "value": cache.paths[key]},
                        {"name": "LINK", "value": weights_path(d)},
                        {
                            "name": "NODE_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                        },
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    "securityContext": _security(),
                    "volumeMounts": [
                        {"name": "model-cache", "mountPath": CACHE_ROOT, "readOnly": True},
                        {"name": "weights", "mountPath": WEIGHTS_ROOT},
                    ],
                }
            ],
            "containers": [
                {
                    "name": "triton",
                    "image": image,
                    "imagePullPolicy": "Always",
                    "command": ["tritonserver"],
                    "args": [
                        f"--model-repository={MODEL_ROOT}",
                        "--model-control-mode=none",
                        "--strict-readiness=true",
                        "--exit-on-error=true",
                        f"--http-port={TRITON_HTTP_PORT}",
                        f"--grpc-port={TRITON_GRPC_PORT}",
                        f"--metrics-port={TRITON_METRICS_PORT}",
                    ],
                    "ports": [
                        {"name": "http", "containerPort": TRITON_HTTP_PORT, "protocol": "TCP"},
                        {"name": "grpc", "containerPort": TRITON_GRPC_PORT, "protocol": "TCP"},
                        {
                            "name": "metrics",
                            "containerPort": TRITON_METRICS_PORT,
                            "protocol": "TCP",
                        },
                    ],
                    "env": [
                        # No model hub: weights come from the node's cache only.
                        {"name": "HF_HUB_OFFLINE", "value": "1"},
                        {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
                        {"name": "HF_HOME", "value": "/tmp/huggingface"},
                        {"name": "HOME", "value": "/tmp"},
                        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                        {"name": "DO_NOT_TRACK", "value": "1"},
                    ],
                    # GPU requests equal limits: a replica gets exactly the GPUs it was sized for.
                    "resources": {"requests": resources, "limits": resources},
                    "startupProbe": {
                        "httpGet": {"path": "/v2/health/ready", **probe},
                        "periodSeconds": 10,
                        "failureThreshold": math.ceil(budget / 10),
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/v2/health/ready", **probe},
                        "periodSeconds": 10,
                        "timeoutSeconds": 5,
                        "failureThreshold": 3,
                    },
                    "livenessProbe": {
                        "httpGet": {"path": "/v2/health/live", **probe},
                        "periodSeconds": 15,
                        "timeoutSeconds": 5,
                        "failureThreshold": 4,
                    },
                    "securityContext": _security(),
                    "volumeMounts": [
                        {"name": "model-repository", "mountPath": MODEL_ROOT, "readOnly": True},
                        {"name": "model-cache", "mountPath": CACHE_ROOT, "readOnly": True},
                        {"name": "weights", "mountPath": WEIGHTS_ROOT, "readOnly": True},
                        {"name": "shm", "mountPath": "/dev/shm"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "model-repository",
                    "configMap": {
                        "name": repository_config_map(plan),
                        "items": [
                            {"key": _key(path), "path": path}
                            for path in sorted(model_repository(d, plan.share.per_gpu))
                        ],
                    },
                },
                {
                    "name": "model-cache",
                    "persistentVolumeClaim": {"claimName": cache.claim_name, "readOnly": True},
                },
                # Holds one symbolic link: the repository's weights path → the cached revision.
                {"name": "weights", "emptyDir": {"sizeLimit": "1Mi"}},
                {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gib}Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
            ],
        },
    }


def _key(path: str) -> str:
    """ConfigMap key of a repository file (keys may not contain '/')."""
    return path.rsplit("/", 1)[1]


def repository_config_map(plan: ServingPlan) -> str:
    return f"{plan.deployment.name}-model-repository"


def deployment_name(plan: ServingPlan, track: str) -> str:
    return plan.deployment.name if track == "stable" else f"{plan.deployment.name}-canary"


def deployment_manifest(
    plan: ServingPlan,
    track: str,
    site: Site,
    serving: Serving,
    mirrors: Mirrors,
    cache: WeightsCache,
) -> dict:
    """metadata and spec of the Deployment of one track."""
    d = plan.deployment
    revision = d.revision if track == "stable" else d.canary.revision
    return {
        "metadata": {
            "name": deployment_name(plan, track),
            "namespace": contracts.INFERENCE,
            "labels": labels(plan, track),
            "annotations": {
                **checkov_skips(
                    (
                        "CKV_K8S_43",
                        "pinned by tag in the internal mirror; tags are immutable there",
                    ),
                ),
                "deepseek.bank/estimated-requests-per-second": (
                    f"{plan.estimate.requests_per_second:.2f}"
                ),
            },
        },
        "spec": {
            # The stable track's replicas belong to the autoscaler once it runs: this is the
            # count at first deploy and what a re-deploy resets to.
            "replicas": plan.replicas if track == "stable" else plan.canary_replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": startup_budget_seconds(plan) + 600,
            "strategy": {
                # Never below the serving count: a new pod must be ready before an old one
                # goes, and GPUs for one extra replica are kept free by the ceiling.
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "selector": {"matchLabels": labels(plan, track)},
            "template": pod_template(plan, track, revision, site, serving, mirrors, cache),
        },
    }


def service_spec(plan: ServingPlan, track: str) -> dict:
    return {
        "type": "ClusterIP",
        "selector": labels(plan, track),
        "ports": [
            {"name": "http", "port": TRITON_HTTP_PORT, "targetPort": "http", "protocol": "TCP"},
            {"name": "grpc", "port": TRITON_GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
            {
                "name": "metrics",
                "port": TRITON_METRICS_PORT,
                "targetPort": "metrics",
                "protocol": "TCP",
            },
        ],
    }


def network_policy_spec(plan: ServingPlan) -> dict:
    """Who may reach the model's pods, and what they may reach: the gateway on the
    inference ports, monitoring on the metrics port; out, nothing (DNS is the namespace's
    `allow-dns`): the weights are on the node already, the cache's fill Jobs fetched them."""
    return {
        "podSelector": {
            "matchLabels": {
                **contracts.TRITON_POD_LABELS,
                "app.kubernetes.io/instance": plan.deployment.name,
            }
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                # The gateway's Envoy proxies only: nothing else reaches a model.
                "from": [in_namespace(contracts.GATEWAY, contracts.ENVOY_PROXY_LABELS)],
                "ports": [
                    {"protocol": "TCP", "port": TRITON_HTTP_PORT},
                    {"protocol": "TCP", "port": TRITON_GRPC_PORT},
                ],
            },
            {
                "from": [in_namespace(contracts.MONITORING)],
                "ports": [{"protocol": "TCP", "port": TRITON_METRICS_PORT}],
            },
        ],
        "egress": [],
    }


def routes(plan: ServingPlan) -> list[dict[str, object]]:
    """Services of the model and the share of traffic the gateway sends to each."""
    d = plan.deployment
    if d.canary is None:
        return [{"service": d.name, "weight": 100, "revision": d.revision}]
    return [
        {"service": d.name, "weight": 100 - d.canary.weight, "revision": d.revision},
        {"service": f"{d.name}-canary", "weight": d.canary.weight, "revision": d.canary.revision},
    ]


@dataclass(frozen=True)
class ModelServiceArgs:
    """Inputs of `ModelService`."""

    ctx: SiteContext
    plan: ServingPlan
    """The model's deployment at this site: replicas, ceiling, GPU share, estimate."""
    serving: Serving
    monitoring: Monitoring
    cache: WeightsCache
    """The node-local model cache: its claim, each revision's path and fill Jobs."""
    depends_on: list[pulumi.Resource]
    """The inference namespace and the priority classes."""


class ModelService(pulumi.ComponentResource):
    """A model served by Triton at one site (`deepseek:serving:ModelService`)."""

    routes: pulumi.Output[list]
    """The model's Services and the share of traffic the gateway sends to each."""
    queue_time_metric: pulumi.Output[str]
    """The per-pod metric its autoscaler targets."""
    replicas: pulumi.Output[int]
    """Replicas at rest (the autoscaler's minimum)."""
    max_replicas: pulumi.Output[int]
    """The autoscaler's ceiling."""
    estimated_requests_per_second: pulumi.Output[float]
    """Estimated requests per second at the ceiling, canary included."""

    def __init__(
        self, name: str, args: ModelServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        ctx, plan = args.ctx, args.plan
        d = plan.deployment
        super().__init__(
            "deepseek:serving:ModelService",
            name,
            {"model": d.model, "precision": d.precision, "gpuModel": d.gpu_model},
            opts,
        )
        child = pulumi.ResourceOptions(
            parent=self, provider=ctx.provider, depends_on=args.depends_on
        )
        files = model_repository(d, plan.share.per_gpu)
        repository = k8s.core.v1.ConfigMap(
            f"{name}-repository",
            metadata={"name": repository_config_map(plan), "namespace": contracts.INFERENCE},
            data={_key(path): text for path, text in files.items()},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": f"{d.name}-triton", "namespace": contracts.INFERENCE},
            spec=network_policy_spec(plan),
            opts=child,
        )
        tracks = ["stable"] + (["canary"] if d.canary else [])
        for track in tracks:
            suffix = "" if track == "stable" else "-canary"
            manifest = deployment_manifest(
                plan, track, ctx.site, args.serving, ctx.mirrors, args.cache
            )
            revision = d.revision if track == "stable" else d.canary.revision
            deployment = k8s.apps.v1.Deployment(
                f"{name}{suffix}",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        # The rollout starts once every node that may run a replica holds
                        # the revision: its fill Jobs have completed.
                        depends_on=[
                            repository,
                            *args.cache.fills[(d.model, d.precision, revision)],
                        ],
                        # The autoscaler owns the replica count after the first deploy.
                        ignore_changes=["spec.replicas"] if track == "stable" else None,
                    ),
                ),
            )
            k8s.core.v1.Service(
                f"{name}{suffix}-service",
                metadata={
                    "name": deployment_name(plan, track),
                    "namespace": contracts.INFERENCE,
                    "labels": labels(plan, track),
                },
                spec=service_spec(plan, track),
                opts=child,
            )
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}{suffix}-pdb",
                metadata={"name": deployment_name(plan, track), "namespace": contracts.INFERENCE},
                # Drains take one replica at a time; the rest keep serving.
                spec={"maxUnavailable": 1, "selector": {"matchLabels": labels(plan, track)}},
                opts=child,
            )
            if track == "stable":
                k8s.autoscaling.v2.HorizontalPodAutoscaler(
                    f"{name}-autoscaler",
                    metadata={"name": d.name, "namespace": contracts.INFERENCE},
                    spec=hpa_spec(plan, args.serving, args.monitoring, d.name),
                    opts=pulumi.ResourceOptions.merge(
                        child, pulumi.ResourceOptions(depends_on=[deployment])
                    ),
                )
        self.routes = pulumi.Output.from_input(routes(plan))
        self.queue_time_metric = pulumi.Output.from_input(QUEUE_TIME_METRIC)
        self.replicas = pulumi.Output.from_input(plan.replicas)
        self.max_replicas = pulumi.Output.from_input(plan.max_replicas)
        self.estimated_requests_per_second = pulumi.Output.from_input(round(plan.capacity_rps, 2))
        self.register_outputs(
            {
                "routes": self.routes,
                "queueTimeMetric": self.queue_time_metric,
                "replicas": self.replicas,
                "maxReplicas": self.max_replicas,
                "estimatedRequestsPerSecond": self.estimated_requests_per_second,
            }
        )
