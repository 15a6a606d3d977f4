"""The serving layer of one site: the queue-time metrics adapter, and one `ModelService` per
model of the stack, as the site's plan sizes them, reading its weights from the node-local
model cache the data layer fills; and per model, the expected cold and warm load."""

from dataclasses import dataclass

import pulumi

from components import contracts
from components.config import Monitoring, Serving, Site
from components.context import SiteContext
from components.serving.cached_weights import WeightsCache
from components.serving.capacity import ServingPlan
from components.serving.model_load import LoadInputs, load_estimate
from components.serving.model_service import ModelService, ModelServiceArgs, routes
from components.serving.queue_metrics_adapter import QueueMetricsAdapter, QueueMetricsArgs


@dataclass(frozen=True)
class SiteServingArgs:
    """Inputs of `SiteServing`."""

    ctx: SiteContext
    """The site, and in its plan what it serves: replicas, ceilings and estimates per model."""
    serving: Serving
    monitoring: Monitoring
    priority_classes: list[pulumi.Resource]
    cache: WeightsCache
    """The node-local model cache (the data layer's): claim, paths, fill Jobs, nodes."""


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
                    args.cache,
                    [ctx.namespace(contracts.INFERENCE), *args.priority_classes],
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
                    "load": self._load(site, plan, args.cache),
                }
                for model_name, plan in plans.items()
            }
        )
        for warning in (*site_plan.dr_warnings, *site_plan.canary_warnings):
            pulumi.log.warn(warning, self)
        self.register_outputs({"models": self.models})

    @staticmethod
    def _load(site: Site, plan: ServingPlan, cache: WeightsCache) -> dict[str, object]:
        """Expected load times of the stable revision: from the site's RGW (its Ceph hosts'
        NICs) or, for an external store, bounded by the GPU hosts' NICs only."""
        d = plan.deployment
        nodes = set(cache.nodes[(d.model, d.precision, d.revision)])
        return load_estimate(
            LoadInputs(
                d.model,
                d.precision,
                [host for host in site.hosts if host.name in nodes],
                [] if site.model_store is not None else site.hosts_with_role("storage"),
            )
        )
