"""The serving layer of one site: the model store's credentials, the queue-time metrics
adapter, and one `ModelService` per model of the stack, as the site's plan sizes them."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Monitoring, Serving
from components.context import SiteContext
from components.serving.model_service import (
    MODEL_STORE_SECRET,
    ModelService,
    ModelServiceArgs,
    routes,
)
from components.serving.queue_metrics_adapter import QueueMetricsAdapter, QueueMetricsArgs


def rclone_config(access_key_id: str, secret_access_key: str) -> str:
    """rclone's credentials for the site's S3 store (Ceph RGW). The endpoint is not secret:
    it stands in the pod spec (RCLONE_CONFIG_STORE_ENDPOINT), where reviews and the policy
    pack see where weights come from."""
    return (
        "[store]\n"
        "type = s3\n"
        "provider = Ceph\n"
        f"access_key_id = {access_key_id}\n"
        f"secret_access_key = {secret_access_key}\n"
    )


@dataclass(frozen=True)
class SiteServingArgs:
    """Inputs of `SiteServing`."""

    ctx: SiteContext
    """The site, and in its plan what it serves: replicas, ceilings and estimates per model."""
    serving: Serving
    monitoring: Monitoring
    priority_classes: list[pulumi.Resource]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]


class SiteServing(pulumi.ComponentResource):
    """Models served at one site (`deepseek:serving:SiteServing`)."""

    models: pulumi.Output[dict]
    """Per model: replicas at rest and at most, the throughput estimate, the routes."""
    routes: dict[str, list[dict]]
    """Model → its Services and the share of traffic each gets, for the gateway's routes."""

    def __init__(
        self, name: str, args: SiteServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:serving:SiteServing", name, None, opts)
        ctx = args.ctx
        site, site_plan = ctx.site, ctx.plan
        if site_plan.capacity_problems:
            # Validation refuses these before anything is registered: reaching here is a bug.
            raise ValueError(
                f"site {site.name}: serving plan has problems validation did not report: "
                + "; ".join(p.problem for p in site_plan.capacity_problems)
            )
        plans = site_plan.serving
        self.routes = {name: routes(plan) for name, plan in plans.items()}
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        store = k8s.core.v1.Secret(
            f"{name}-model-store",
            metadata={"name": MODEL_STORE_SECRET, "namespace": contracts.INFERENCE},
            type="Opaque",
            string_data={
                "rclone.conf": pulumi.Output.secret(
                    pulumi.Output.all(args.access_key_id, args.secret_access_key).apply(
                        lambda keys: rclone_config(*keys)
                    )
                )
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.INFERENCE)])
            ),
        )
        QueueMetricsAdapter(
            f"{name}-queue-metrics",
            QueueMetricsArgs(ctx, args.serving),
            pulumi.ResourceOptions(parent=self),
        )
        services = {
            model_name: ModelService(
                f"{name}-{model_name}",
                ModelServiceArgs(
                    ctx,
                    model_plan,
                    args.serving,
                    args.monitoring,
                    [ctx.namespace(contracts.INFERENCE), store, *args.priority_classes],
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for model_name, model_plan in plans.items()
        }
        self.models = pulumi.Output.from_input(
            {
                model_name: {
                    # As this site serves it (its placement's, or the deployment's defaults).
                    "gpuModel": plan.deployment.gpu_model,
                    "precision": plan.deployment.precision,
                    "tensorParallelSize": plan.deployment.tensor_parallel_size,
                    "replicas": plan.replicas,
                    "maxReplicas": plan.max_replicas,
                    "canaryReplicas": plan.canary_replicas,
                    "estimatedRequestsPerSecondPerReplica": round(
                        plan.estimate.requests_per_second, 2
                    ),
                    "estimatedRequestsPerSecondAtCeiling": round(plan.capacity_rps, 2),
                    "routes": services[model_name].routes,
                }
                for model_name, plan in plans.items()
            }
        )
        for warning in (*site_plan.dr_warnings, *site_plan.canary_warnings):
            pulumi.log.warn(warning, self)
        self.register_outputs({"models": self.models})
