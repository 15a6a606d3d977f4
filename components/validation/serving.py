"""Rules about the models: each runs and fits on its GPUs at every site, fetches weights from a
store inside the site, and the replicas of all of them fit each site and carry the load."""

from collections.abc import Iterator

from components.catalog import (
    GPU_MODELS,
    TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA,
    VOLTA_LAST_TRITON_RELEASE,
    triton_supports,
)
from components.config import PlatformConfig
from components.plan import make_plan
from components.serving.capacity import gpu_share
from components.serving.sizing import Placement, check_placement, ways_out
from components.validation.issues import ConfigIssue
from components.validation.kubernetes import unusable_sharing


def check_serving(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _model_stores(config)
    placed = []
    for m in range(len(config.models)):
        problems = list(_model_placement(config, m))
        yield from problems
        if not problems and config.models[m].gpu_model not in unusable_sharing(config):
            placed.append(m)
    # Counting replicas is meaningful only for models that run and fit: the capacity of the
    # others is left out (their placement problem is reported above).
    yield from _site_capacity(config, placed)


def _model_placement(config: PlatformConfig, m: int) -> Iterator[ConfigIssue]:
    """Model m must run and fit on its GPUs at every site that serves it (all sites of the
    stack: the active ones each carry the full load, the DR site takes it over)."""
    deployment = config.models[m]
    release = deployment.triton_release or config.serving.triton_release
    if not triton_supports(release, deployment.gpu_model):
        path = (
            f"models[{m}].tritonRelease" if deployment.triton_release else ("serving.tritonRelease")
        )
        yield ConfigIssue(
            path,
            release,
            f"Triton {release} supports compute capability "
            f"{'.'.join(map(str, TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA))}+ and "
            f"{deployment.name} runs on {deployment.gpu_model} "
            f"({'.'.join(map(str, GPU_MODELS[deployment.gpu_model].compute_capability))})",
            f"set models[{m}].tritonRelease to {VOLTA_LAST_TRITON_RELEASE} or earlier, "
            "the last release built for Volta",
        )
    if deployment.gpu_model in unusable_sharing(config):
        return  # its device-plugin profile is reported; nothing on it can be sized
    share = gpu_share(config.kubernetes, deployment.gpu_model)
    if share.splits_a_gpu and deployment.tensor_parallel_size > 1:
        yield ConfigIssue(
            f"models[{m}].tensorParallelSize",
            deployment.tensor_parallel_size,
            f"{deployment.gpu_model} GPUs are shared ({share.mode}, {share.resource}): "
            + (
                "a pod asking for several shares may get parts of one GPU"
                if share.mode == "time-slicing"
                else "NCCL cannot span MIG instances"
            ),
            f"set kubernetes.gpuSharing.{deployment.gpu_model}.mode to exclusive, or "
            "serve the model with tensorParallelSize 1",
        )
    placement = Placement(
        deployment.model,
        deployment.precision,
        deployment.gpu_model,
        deployment.tensor_parallel_size,
        deployment.hosts_per_replica,
        deployment.max_model_len,
        deployment.max_concurrent_sequences,
        deployment.gpu_memory_utilization,
        None if share.mode == "exclusive" else share.memory_gib,
    )
    for site in config.sites:
        hosts = [
            h
            for h in site.hosts
            if h.gpu and h.gpu.model == deployment.gpu_model and h.node_pool == "inference"
        ]
        if not hosts:
            yield ConfigIssue(
                f"models[{m}].gpuModel",
                deployment.gpu_model,
                f"site {site.name} has no inference host with {deployment.gpu_model} GPUs",
                "place the model on a GPU model the site's inference pool has",
            )
            continue
        gpus_per_host = min(h.gpu.count for h in hosts)
        rdma = all(h.rdma for h in hosts)
        if deployment.hosts_per_replica > 1:
            one_host = ways_out(placement, gpus_per_host, len(hosts), rdma=False)
            yield ConfigIssue(
                f"models[{m}].hostsPerReplica",
                deployment.hosts_per_replica,
                f"at site {site.name}: the sizing allows a replica across hosts, but the "
                "serving layer deploys each replica as one pod on one host (multi-host "
                "replicas need a LeaderWorkerSet, Ray and RDMA device access, not built)",
                f"use {' or '.join(one_host[:2])} with hostsPerReplica: 1"
                if one_host
                else "place the model on GPUs where one host holds a replica",
            )
            continue
        # The serving layer deploys a replica on one host: suggest only such placements.
        for problem in check_placement(
            placement, gpus_per_host, len(hosts), rdma, suggest_multi_host=False
        ):
            yield ConfigIssue(
                f"models[{m}]",
                deployment.name,
                f"at site {site.name}: {problem.message}",
                problem.remedy,
            )


def _model_stores(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Every site that serves models fetches weights from a store inside the site."""
    if not config.models:
        return
    for s, site in enumerate(config.sites):
        if site.model_store is None:
            yield ConfigIssue(
                f"sites[{s}].modelStore",
                "(not set)",
                f"site {site.name} serves models but names no model store to fetch weights from",
                "set modelStore.endpoint to the site's own S3 endpoint (Ceph RGW)",
            )
        else:
            allowed = [site.network.node_cidr, *site.network.egress_allow_list]
            for n, network in enumerate(site.model_store.networks):
                if not any(network.subnet_of(a) for a in allowed):
                    yield ConfigIssue(
                        f"sites[{s}].modelStore.networks[{n}]",
                        str(network),
                        f"is neither in site {site.name}'s node network nor on its egress "
                        "allow-list: weights would come from outside the site",
                        "name the site's own RGW network, or add it to network.egressAllowList",
                    )


def _site_capacity(config: PlatformConfig, placed: list[int]) -> Iterator[ConfigIssue]:
    """Replicas of the placed models fit each site's GPUs together, and every active site
    carries their whole declared load alone: the plan's capacity problems, for the plan of
    the placed models only (each said once, not once per site)."""
    if not placed:
        return
    placed_only = config.model_copy(update={"models": [config.models[m] for m in placed]})
    for p in make_plan(placed_only).capacity_problems:
        m = placed[p.index]
        yield ConfigIssue(
            f"models[{m}].{p.field}" if p.field else f"models[{m}]",
            p.value if p.value is not None else "(default)",
            p.problem,
            p.fix,
        )
