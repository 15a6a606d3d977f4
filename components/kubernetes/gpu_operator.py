"""NVIDIA GPU Operator: device plugin with per-model sharing (time-slicing, MIG or
exclusive), the driver only where config hands it to the operator, and DCGM exporter on."""

from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import GpuSharing, Host, Kubernetes, Mirrors, Nvidia
from components.context import SiteContext

SHARING_CONFIG_MAP = "device-plugin-sharing"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
"""The node label the GPU Operator's MIG manager watches: its value names a mig-parted
configuration (`all-3g.40gb`), which the manager applies to the node's GPUs."""


def mig_config_labels(kubernetes: Kubernetes, hosts: Iterable[Host]) -> dict[str, str]:
    """Node name → the MIG configuration to label it with: every host whose GPU model is
    shared by MIG gets its model's profile. Hosts of other modes get no label: the MIG manager
    only runs when some model uses MIG, and leaves unlabelled nodes at its default
    (`all-disabled`), which is what exclusive and time-sliced GPUs need."""
    labels = {}
    for host in hosts:
        profile = kubernetes.gpu_sharing.get(host.gpu.model) if host.gpu else None
        if profile is not None and profile.mode == "mig" and profile.mig_profile:
            labels[host.name] = profile.mig_profile
    return labels


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
        # The GPU Operator documents MIG configuration as a label on the Node object
        # (`kubectl label nodes <node> nvidia.com/mig.config=<profile> --overwrite`), which the
        # MIG manager watches. A server-side patch of the Node is that, declaratively: a
        # changed profile relabels the node on the next `up`. kubelet's --node-labels (where
        # kubeadm.py puts the registration labels) only apply when a node first registers, so
        # a later profile change would never reach it. patchForce: the operator itself may
        # have set the label (its default, all-disabled), and the config's profile wins.
        mig_labels = [
            k8s.core.v1.NodePatch(
                f"{name}-mig-config-{node}",
                metadata={
                    "name": node,
                    "labels": {MIG_CONFIG_LABEL: profile},
                    "annotations": {"pulumi.com/patchForce": "true"},
                },
                opts=pulumi.ResourceOptions(parent=self, provider=ctx.provider),
            )
            for node, profile in sorted(mig_config_labels(args.kubernetes, ctx.site.hosts).items())
        ]
        self.release = mirrored_release(
            f"{name}-gpu-operator",
            chart="gpu-operator",
            version=args.kubernetes.gpu_operator_chart_version,
            namespace=contracts.GPU_OPERATOR,
            values=gpu_operator_values(args.kubernetes, args.nvidia, ctx.mirrors),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[sharing, *mig_labels])
            ),
        )
        self.register_outputs({})
