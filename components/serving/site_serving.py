"""The serving layer of one site: the model store's credentials, the queue-time metrics
adapter, and one `ModelService` per model of the stack."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.config import Kubernetes, Mirrors, ModelDeployment, Monitoring, Serving, Site
from components.serving.autoscaling import QueueMetricsAdapter, QueueMetricsArgs
from components.serving.capacity import plan_site
from components.serving.model_service import (
    MODEL_STORE_SECRET,
    ModelService,
    ModelServiceArgs,
    routes,
)


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

    site: Site
    models: list[ModelDeployment]
    active_sites: int
    kubernetes: Kubernetes
    serving: Serving
    monitoring: Monitoring
    mirrors: Mirrors
    provider: k8s.Provider
    inference_namespace: k8s.core.v1.Namespace
    monitoring_namespace: k8s.core.v1.Namespace
    priority_classes: list[pulumi.Resource]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]


class SiteServing(pulumi.ComponentResource):
    """Models served at one site (`deepseek:serving:SiteServing`)."""

    models: pulumi.Output[dict]

    def __init__(
        self, name: str, args: SiteServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:serving:SiteServing", name, None, opts)
        site = args.site
        # Config validation has already refused any plan with problems.
        plans, _ = plan_site(site, args.models, args.kubernetes, args.active_sites)
        self.routes = {name: routes(plan) for name, plan in plans.items()}
        """Model → its Services and the share of traffic each gets, for the gateway."""
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
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
                child, pulumi.ResourceOptions(depends_on=[args.inference_namespace])
            ),
        )
        QueueMetricsAdapter(
            f"{name}-queue-metrics",
            QueueMetricsArgs(args.serving, args.mirrors, args.provider, args.monitoring_namespace),
            pulumi.ResourceOptions(parent=self),
        )
        services = {
            model.name: ModelService(
                f"{name}-{model.name}",
                ModelServiceArgs(
                    plans[model.name],
                    site,
                    args.serving,
                    args.monitoring,
                    args.mirrors,
                    args.provider,
                    [args.inference_namespace, store, *args.priority_classes],
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for model in args.models
        }
        self.models = pulumi.Output.from_input(
            {
                model_name: {
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
        if site.role == "dr":
            for model in args.models:
                plan = plans[model.name]
                if plan.capacity_rps < model.requests_per_second:
                    pulumi.log.warn(
                        f"DR site {site.name} serves an estimated {plan.capacity_rps:.1f} of "
                        f"{model.name}'s {model.requests_per_second:g} requests/s at its ceiling "
                        f"({plan.capacity_rps / model.requests_per_second:.0%}) after a failover",
                        self,
                    )
        self.register_outputs({"models": self.models})
