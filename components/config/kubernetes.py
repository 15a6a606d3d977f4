"""The Kubernetes layer's config: pinned versions, device-plugin profiles per GPU model, the
training example, and which system namespaces run privileged."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.config.base import CHART_VERSION, FieldError, Model
from components.config.urls import repository_path
from components.contracts import PRIVILEGED_BY_DEFAULT, SYSTEM_NAMESPACES


class GpuSharing(Model):
    """How the NVIDIA device plugin shares one GPU model's GPUs between pods."""

    mode: Literal["time-slicing", "mig", "exclusive"]
    replicas: int = Field(default=1, ge=1, le=16)
    """Time-slicing: how many pods share one GPU (the guide's GPU sharing)."""
    mig_profile: str | None = Field(default=None, pattern=r"^all-[0-9]g\.[0-9]+gb$")
    """MIG: the GPU Operator's mig-parted profile, e.g. all-3g.40gb (A100/H100 only)."""


class TrainingExample(Model):
    """The guide's `deepseek-train` MPIJob, opt-in: `mpirun -np <workers × slots>` over
    workers of `slotsPerWorker` GPUs each (the guide's: three 8-GPU workers, `-np 24`)."""

    enabled: bool = False
    workers: int = Field(default=3, ge=1, le=64)
    slots_per_worker: int = Field(default=8, ge=1, le=16)
    """GPUs per worker, one MPI rank each."""
    image: str | None = Field(default=None, pattern=r"^[a-z0-9._/-]+:[A-Za-z0-9._-]+$")
    """Repository and tag under the internal registry (`mirrors.imageRegistry`), e.g.
    deepseek/train:2025.01: the bank's own training image, so it has no default."""
    gradient_checkpointing: bool = False
    """The guide's first answer to GPU out-of-memory: recompute activations in the backward
    pass (`--gradient-checkpointing` to the entrypoint)."""
    mixed_precision: Literal["off", "fp16", "bf16"] = "off"
    """The guide's second: `torch.cuda.amp` autocast in this dtype (`--amp-dtype <dtype>`);
    bf16 needs Ampere or newer."""

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str | None) -> str | None:
        if image is None:
            return None
        repository, _, tag = image.rpartition(":")
        repository_path("/" + repository, "registry.bank.internal/deepseek")
        # The distribution spec's tag: a word character first, at most 128 in all.
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", tag):
            raise FieldError(
                f"has the tag {tag!r}, which an image reference cannot hold",
                "start it with a letter, digit or '_', at most 128 characters, e.g. "
                "deepseek/train:2025.01",
            )
        return image

    @model_validator(mode="after")
    def _image_when_enabled(self) -> "TrainingExample":
        if self.enabled and self.image is None:
            raise FieldError(
                "is enabled without an image",
                "set kubernetes.trainingExample.image to the training image's repository and "
                "tag under mirrors.imageRegistry, e.g. deepseek/train:2025.01",
            )
        return self


def _system_namespace(namespace: str) -> str:
    if namespace not in SYSTEM_NAMESPACES:
        raise FieldError(
            f"{namespace} is not a system namespace of the platform",
            f"list only namespaces among {', '.join(SYSTEM_NAMESPACES)}",
        )
    return namespace


class Kubernetes(Model):
    """The cluster of every site: versions pinned, charts from the internal chart mirror."""

    version: str = Field(default="1.31.4", pattern=r"^1\.(29|3[0-3])\.(0|[1-9][0-9]{0,2})$")
    """Pinned Kubernetes (kubeadm, kubelet, control-plane images); 1.29 to 1.33."""
    kube_vip_version: str = Field(default="v0.8.7", pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")
    calico_chart_version: str = Field(default="v3.28.2", pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
    gpu_operator_chart_version: str = Field(default="v24.9.2", pattern=CHART_VERSION)
    training_operator_chart_version: str = Field(default="1.8.1", pattern=CHART_VERSION)
    local_path_version: str = Field(
        default="v0.0.30", pattern=r"^v(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){2}$"
    )
    gpu_sharing: dict[str, GpuSharing] = {}
    """Device-plugin profile per GPU model (catalog name); every model in the inventory
    needs one."""
    training_example: TrainingExample = TrainingExample()
    privileged_namespaces: list[Annotated[str, AfterValidator(_system_namespace)]] = list(
        PRIVILEGED_BY_DEFAULT
    )
    """System namespaces whose Pod Security level is `privileged` (every other namespace is
    `restricted`); only cluster plumbing that needs host access belongs here."""
