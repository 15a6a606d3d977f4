"""The Prometheus adapter of a site (`deepseek:serving:QueueMetricsAdapter`), serving Triton's
queue time to the models' autoscalers with the rule `autoscaling.py` specifies."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirrored_release
from components.config import Serving
from components.context import SiteContext
from components.serving.autoscaling import adapter_values


@dataclass(frozen=True)
class QueueMetricsArgs:
    """Inputs of `QueueMetricsAdapter`."""

    ctx: SiteContext
    serving: Serving
    """Where Prometheus answers, and the adapter's chart version."""


class QueueMetricsAdapter(pulumi.ComponentResource):
    """The Prometheus adapter serving Triton's queue time to the autoscalers
    (`deepseek:serving:QueueMetricsAdapter`)."""

    release: k8s.helm.v3.Release
    """The chart's release."""

    def __init__(
        self, name: str, args: QueueMetricsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:serving:QueueMetricsAdapter", name, None, opts)
        ctx = args.ctx
        self.release = mirrored_release(
            f"{name}-prometheus-adapter",
            chart="prometheus-adapter",
            version=args.serving.prometheus_adapter_chart_version,
            namespace=contracts.MONITORING,
            values=adapter_values(args.serving, ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=ctx.provider,
                depends_on=[ctx.namespace(contracts.MONITORING)],
            ),
        )
        self.register_outputs({})
