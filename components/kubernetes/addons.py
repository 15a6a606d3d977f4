"""A site's Kubernetes add-ons (`deepseek:kubernetes:Addons`): the CNI, the GPU operator, the
local-path provisioner, the namespaces' isolation and the training operator, in one component
under Site."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config import Kubernetes, Nvidia
from components.context import SiteContext
from components.kubernetes.calico import Calico, CalicoArgs
from components.kubernetes.gpu_operator import GpuOperator, GpuOperatorArgs
from components.kubernetes.local_path_provisioner import LocalPathArgs, LocalPathProvisioner
from components.kubernetes.namespace_isolation import IsolationArgs, NamespaceIsolation
from components.kubernetes.training_operator import TrainingArgs, TrainingOperator


@dataclass(frozen=True)
class AddonsArgs:
    """Inputs of `Addons`."""

    ctx: SiteContext
    kubernetes: Kubernetes
    """Pinned versions of the add-ons."""
    nvidia: Nvidia
    """The GPU operator's driver and toolkit."""
    allowed: Sequence[Mapping[str, Mapping[str, dict]]] = ()
    """Each layer's allow-policies, for the namespaces' isolation (Site gathers them)."""
    moved_from: pulumi.Resource | None = None
    """Where the add-ons hung before they had this component (the cluster): each carries an
    alias to it, so state follows the move instead of a replacement."""


class Addons(pulumi.ComponentResource):
    """The add-ons of a site's cluster (`deepseek:kubernetes:Addons`)."""

    def __init__(
        self, name: str, args: AddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:kubernetes:Addons", name, None, opts)
        ctx, kubernetes = args.ctx, args.kubernetes
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from else None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)
        Calico(f"{ctx.name}-calico", CalicoArgs(ctx, kubernetes), child)
        GpuOperator(
            f"{ctx.name}-gpu-operator", GpuOperatorArgs(ctx, kubernetes, args.nvidia), child
        )
        LocalPathProvisioner(f"{ctx.name}-local-path", LocalPathArgs(ctx, kubernetes), child)
        NamespaceIsolation(f"{ctx.name}-isolation", IsolationArgs(ctx, args.allowed), child)
        TrainingOperator(f"{ctx.name}-training", TrainingArgs(ctx, kubernetes), child)
        self.register_outputs({})
