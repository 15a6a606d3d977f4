"""NVIDIA GPU Operator: device plugin with per-model sharing (time-slicing, MIG or
exclusive), the driver only where config hands it to the operator, and DCGM exporter on."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import GpuSharing, Kubernetes, Mirrors, Nvidia
from components.context import SiteContext

SHARING_CONFIG_MAP = "device-plugin-sharing"


def device_plugin_config(profile: GpuSharing) -> str:
    """One entry of the device plugin's config map, for one GPU model."""
    config: dict = {"version": "v1"}
    if profile.mode == "time-slicing":
        config["sharing"] = {
            "timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": profile.replicas}]}
        }
    elif profile.mode == "mig":
        config["flags"] = {"migStrategy": "mixed"}
    return yaml.safe_dump(config, sort_keys=False)


def gpu_operator_values(kubernetes: Kubernetes, nvidia: Nvidia, mirrors: Mirrors) -> dict:
    nvcr = mirror(mirrors, "nvcr.io/nvidia")
    on_operator = nvidia.driver_managed_by == "gpu-operator"
    uses_mig = any(p.mode == "mig" for p in kubernetes.gpu_sharing.values())
    return {
        "operator": {"repository": nvcr},
        "validator": {"repository": nvcr + "/cloud-native"},
        "driver": {"enabled": on_operator, "repository": nvcr},
        # With the driver on the host, the host's NVIDIA Container Toolkit is used too.
        "toolkit": {"enabled": on_operator, "repository": nvcr + "/k8s"},
        "devicePlugin": {
            "repository": nvcr,
            "config": {"name": SHARING_CONFIG_MAP, "default": ""},
        },
        "dcgmExporter": {
            "enabled": True,
            "repository": nvcr + "/k8s",
            "serviceMonitor": {"enabled": True},
        },
        "gfd": {"repository": nvcr},
        "mig": {"strategy": "mixed" if uses_mig else "single"},
        "migManager": {"enabled": uses_mig, "repository": nvcr + "/cloud-native"},
        "nfd": {"enabled": True},
        "node-feature-discovery": {
            "image": {"repository": mirror(mirrors, "registry.k8s.io/nfd/node-feature-discovery")}
        },
    }


@dataclass(frozen=True)
class GpuOperatorArgs:
    """Inputs of `GpuOperator`."""

    ctx: SiteContext
    kubernetes: Kubernetes
    """The chart version and the device-plugin profile per GPU model."""
    nvidia: Nvidia
    """Who manages the driver (the host or the operator)."""


class GpuOperator(pulumi.ComponentResource):
    """The gpu-operator chart and its sharing config (`deepseek:kubernetes:GpuOperator`)."""

    release: k8s.helm.v3.Release
    """The chart's release."""

    def __init__(
        self, name: str, args: GpuOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("deepseek:kubernetes:GpuOperator", name, None, opts)
        ctx = args.ctx
        in_namespace = pulumi.ResourceOptions(
            parent=self,
            provider=ctx.provider,
            depends_on=[ctx.namespace(contracts.GPU_OPERATOR)],
        )
        sharing = k8s.core.v1.ConfigMap(
            f"{name}-sharing",
            metadata={"name": SHARING_CONFIG_MAP, "namespace": contracts.GPU_OPERATOR},
            data={
                model: device_plugin_config(profile)
                for model, profile in sorted(args.kubernetes.gpu_sharing.items())
            },
            opts=in_namespace,
        )
        self.release = mirrored_release(
            f"{name}-gpu-operator",
            chart="gpu-operator",
            version=args.kubernetes.gpu_operator_chart_version,
            namespace=contracts.GPU_OPERATOR,
            values=gpu_operator_values(args.kubernetes, args.nvidia, ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[sharing])
            ),
        )
        self.register_outputs({})
