"""Rules about each site's cluster: the package repository holds the pinned version, an odd
number of control planes (etcd quorum), workers to run anything, and a usable device-plugin
profile for every GPU model in the inventory."""

import re
from collections.abc import Iterator

from components.catalog import GPU_MODELS, MIG_PROFILES, known_gpu_models, mig_instances
from components.config import PlatformConfig
from components.validation.issues import ConfigIssue


def check_kubernetes(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _kubernetes_repository(config)
    for s, site in enumerate(config.sites):
        control_planes = site.hosts_with_role("control-plane")
        if len(control_planes) % 2 == 0:
            yield ConfigIssue(
                f"sites[{s}].hosts",
                f"{len(control_planes)} control-plane hosts",
                "etcd needs an odd number of members to keep quorum",
                "give the site 1, 3 or 5 hosts with role control-plane (3 for HA)",
            )
        if not site.hosts_with_role("worker"):
            yield ConfigIssue(
                f"sites[{s}].hosts",
                "0 worker hosts",
                "nothing could run the models",
                "give the site at least one host with role worker",
            )
    yield from _gpu_sharing(config)
    yield from _training_precision(config)


BF16_MIN_COMPUTE_CAPABILITY = (8, 0)
"""bfloat16 arithmetic arrived with Ampere (compute capability 8.0)."""


def _training_precision(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """`mixedPrecision: bf16` on training hosts whose GPUs have no bfloat16 (Volta, Turing):
    the job would fail at its first step."""
    example = config.kubernetes.training_example
    if not example.enabled or example.mixed_precision != "bf16":
        return
    older = sorted(
        {
            host.gpu.model
            for site in config.sites
            for host in site.hosts
            if host.node_pool == "training"
            and host.gpu
            and host.gpu.model in GPU_MODELS
            and GPU_MODELS[host.gpu.model].compute_capability < BF16_MIN_COMPUTE_CAPABILITY
        }
    )
    if older:
        yield ConfigIssue(
            "kubernetes.trainingExample.mixedPrecision",
            "bf16",
            f"the training hosts' {', '.join(older)} GPUs have no bfloat16 (it needs compute "
            "capability 8.0, Ampere, or newer)",
            "use mixedPrecision: fp16 on these GPUs, or train on Ampere or newer hosts",
        )


def unusable_sharing(config: PlatformConfig) -> set[str]:
    """GPU models whose device-plugin profile cannot be used (reported by `_gpu_sharing`):
    nothing placed on them can be sized."""
    return {
        model
        for model, profile in config.kubernetes.gpu_sharing.items()
        if profile.mode == "mig"
        and (
            model not in GPU_MODELS
            or model not in MIG_PROFILES
            or profile.mig_profile is None
            or mig_instances(model, profile.mig_profile) is None
        )
    }


# The Kubernetes package repositories (pkgs.k8s.io and its mirrors) hold one minor version
# each, named in the path: `.../core/stable/v1.31/deb/`.
_REPOSITORY_MINOR = re.compile(r"/v(1\.[0-9]+)(/|$)")


def _kubernetes_repository(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The pinned version must be in the repository the hosts install it from, or every
    kubeadm step fails on its first `apt-get install kubelet=<version>-*`."""
    repository = config.mirrors.kubernetes_apt_repo
    named = _REPOSITORY_MINOR.search(repository)
    version = config.kubernetes.version
    minor = ".".join(version.split(".")[:2])
    if named and named.group(1) != minor:
        yield ConfigIssue(
            "mirrors.kubernetesAptRepo",
            repository,
            f"holds Kubernetes v{named.group(1)} packages, but kubernetes.version is {version}",
            f"point it at the v{minor} repository "
            f"({repository[: named.start(1)]}{minor}{repository[named.end(1) :]}), "
            f"or pin a v{named.group(1)}.x version",
        )


def _gpu_sharing(config: PlatformConfig) -> Iterator[ConfigIssue]:
    profiles = config.kubernetes.gpu_sharing
    for model, profile in profiles.items():
        path = f"kubernetes.gpuSharing.{model}"
        if model not in GPU_MODELS:
            yield ConfigIssue(path, model, "unknown GPU model", f"use one of {known_gpu_models()}")
        elif profile.mode == "mig" and model not in MIG_PROFILES:
            yield ConfigIssue(
                f"{path}.mode",
                "mig",
                f"{model} has no MIG (only {', '.join(sorted(MIG_PROFILES))} among the "
                "catalog's GPUs)",
                "use mode time-slicing",
            )
        elif profile.mode == "mig" and profile.mig_profile is None:
            yield ConfigIssue(
                f"{path}.migProfile",
                None,
                "mode mig needs a MIG profile",
                "set migProfile, e.g. all-"
                + next(name for name in MIG_PROFILES[model] if name.startswith("3g.")),
            )
        elif profile.mode == "mig" and mig_instances(model, profile.mig_profile) is None:
            yield ConfigIssue(
                f"{path}.migProfile",
                profile.mig_profile,
                f"{model} has no MIG profile {profile.mig_profile.removeprefix('all-')}",
                "use one of " + ", ".join(f"all-{name}" for name in MIG_PROFILES[model]),
            )
    for s, site in enumerate(config.sites):
        for h, host in enumerate(site.hosts):
            if host.gpu and host.gpu.model not in profiles:
                yield ConfigIssue(
                    f"sites[{s}].hosts[{h}].gpu.model",
                    host.gpu.model,
                    f"host {host.name} has {host.gpu.model} GPUs but kubernetes.gpuSharing has "
                    "no device-plugin profile for that model",
                    f"add kubernetes.gpuSharing.{host.gpu.model} (mode time-slicing, mig or "
                    "exclusive)",
                )
