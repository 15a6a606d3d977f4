"""Rules about the models: each runs and fits on its GPUs at every site, fetches weights from a
store inside the site, and the replicas of all of them fit each site and carry the load."""

import math
from collections.abc import Iterator

from components.catalog import (
    GPU_MODELS,
    TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA,
    VOLTA_LAST_TRITON_RELEASE,
    triton_supports,
)
from components.config import PlatformConfig
from components.kubernetes.scheduling import pods_per_node, site_nodes
from components.plan import make_plan
from components.serving.cached_weights import weights_by_host
from components.serving.capacity import gpu_share
from components.serving.model_load import weights_bytes
from components.serving.model_service import scheduling
from components.serving.sizing import Placement, check_placement, ways_out
from components.validation.issues import ConfigIssue
from components.validation.kubernetes import unusable_sharing


def check_serving(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _model_stores(config)
    placed = []
    unusable = unusable_sharing(config)
    for m in range(len(config.models)):
        problems = [*_placements(config, m)]
        if not problems:
            problems = list(_model_placement(config, m))
        yield from problems
        gpu_models = {config.models[m].at_site(site.name).gpu_model for site in config.sites}
        if not problems and not gpu_models & unusable:
            placed.append(m)
    # Counting replicas is meaningful only for models that run and fit: the capacity of the
    # others is left out (their placement problem is reported above).
    yield from _site_capacity(config, placed)
    yield from _model_caches(config, placed)


def _gpu_models_of(site) -> list[str]:
    """GPU models of the site's inference pool, sorted."""
    return sorted({h.gpu.model for h in site.hosts if h.gpu and h.node_pool == "inference"})


def _placements(config: PlatformConfig, m: int) -> Iterator[ConfigIssue]:
    """Each placement names a site of the stack, once, and changes something there."""
    deployment = config.models[m]
    sites = [site.name for site in config.sites]
    seen: set[str] = set()
    for p, placement in enumerate(deployment.placements):
        path = f"models[{m}].placements[{p}]"
        if placement.site not in sites:
            yield ConfigIssue(
                f"{path}.site",
                placement.site,
                f"is not a site of this stack (sites: {', '.join(sites)})",
                f"name one of {', '.join(sites)}, or remove the placement",
            )
        elif placement.site in seen:
            yield ConfigIssue(
                f"{path}.site",
                placement.site,
                f"site {placement.site} has an earlier placement for {deployment.name}",
                "merge the two placements into one",
            )
        elif not placement.overrides():
            yield ConfigIssue(
                path,
                placement.site,
                "the placement changes nothing at the site",
                "set gpuModel, precision, tensorParallelSize or tritonRelease, or remove it",
            )
        seen.add(placement.site)


def _model_placement(config: PlatformConfig, m: int) -> Iterator[ConfigIssue]:
    """Model m must run and fit on its GPUs at every site that serves it (all sites of the
    stack: the active ones each carry the full load, the DR site takes it over), each site
    with its own placement (`models[m].placements`) or the deployment's defaults."""
    seen: set[tuple[str, str]] = set()
    for site in config.sites:
        for issue in _placement_at(config, m, site):
            # Defaults shared by several sites break the same way at each: say it once.
            if (issue.path, issue.problem) not in seen:
                seen.add((issue.path, issue.problem))
                yield issue


def _placement_at(config: PlatformConfig, m: int, site) -> Iterator[ConfigIssue]:
    defaults = config.models[m]
    deployment = defaults.at_site(site.name)
    p = defaults.placement_index(site.name)
    placement = defaults.placements[p] if p is not None else None

    def path(field: str) -> str:
        """Where `field` of the deployment at this site comes from: the site's placement
        when it sets the field, else the deployment's default."""
        if placement is not None and getattr(placement, field) is not None:
            return f"models[{m}].placements[{p}].{_camel(field)}"
        return f"models[{m}].{_camel(field)}"

    where = f"models[{m}].placements[{p}]" if placement is not None else f"models[{m}]"
    release = deployment.triton_release or config.serving.triton_release
    if not triton_supports(release, deployment.gpu_model):
        yield ConfigIssue(
            path("triton_release") if deployment.triton_release else "serving.tritonRelease",
            release,
            f"Triton {release} supports compute capability "
            f"{'.'.join(map(str, TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA))}+ and "
            f"{deployment.name} runs on {deployment.gpu_model} "
            f"({'.'.join(map(str, GPU_MODELS[deployment.gpu_model].compute_capability))})",
            f"set {where}.tritonRelease to {VOLTA_LAST_TRITON_RELEASE} or earlier, "
            "the last release built for Volta",
        )
    hosts = [
        h
        for h in site.hosts
        if h.gpu and h.gpu.model == deployment.gpu_model and h.node_pool == "inference"
    ]
    if not hosts:
        has = _gpu_models_of(site)
        if placement is not None and placement.gpu_model is not None:
            fix = (
                f"set {where}.gpuModel to one of {', '.join(has)}"
                if has
                else f"give site {site.name} inference hosts with {deployment.gpu_model} GPUs"
            )
        elif has:
            # GPUs no deployment here is placed on first: the likely replacement of the old.
            used = {d.at_site(site.name).gpu_model for d in config.models}
            best = sorted(has, key=lambda gpu: (gpu in used, gpu))[0]
            fix = (
                f"add to models[{m}].placements {{site: {site.name}, gpuModel: {best}}} "
                "(with the precision and tensorParallelSize that fit it), or place the "
                "model on a GPU model every site's inference pool has"
            )
        else:
            fix = f"give site {site.name} inference hosts with GPUs"
        yield ConfigIssue(
            path("gpu_model"),
            deployment.gpu_model,
            f"site {site.name} has no inference host with {deployment.gpu_model} GPUs"
            + (f" (its inference pool has {', '.join(has)})" if has else ""),
            fix,
        )
        return
    if deployment.gpu_model in unusable_sharing(config):
        return  # its device-plugin profile is reported; nothing on it can be sized
    share = gpu_share(config.kubernetes, deployment.gpu_model)
    if share.splits_a_gpu and deployment.tensor_parallel_size > 1:
        yield ConfigIssue(
            path("tensor_parallel_size"),
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
    sizing = Placement(
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
    gpus_per_host = min(h.gpu.count for h in hosts)
    rdma = all(h.rdma for h in hosts)
    if deployment.hosts_per_replica > 1:
        one_host = ways_out(sizing, gpus_per_host, len(hosts), rdma=False)
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
        return
    # The serving layer deploys a replica on one host: suggest only such placements.
    for problem in check_placement(
        sizing, gpus_per_host, len(hosts), rdma, suggest_multi_host=False
    ):
        yield ConfigIssue(
            where,
            deployment.name,
            f"at site {site.name}: {problem.message}",
            problem.remedy,
        )


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def _model_stores(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Every site that serves models fetches weights from a store inside the site: its own
    Ceph RGW (the default at a site with storage hosts), or the S3 store `modelStore` names."""
    if not config.models:
        return
    for s, site in enumerate(config.sites):
        if site.model_store is None:
            if site.hosts_with_role("storage"):
                continue  # the site's own RGW (the storage layer's rules check Ceph itself)
            yield ConfigIssue(
                f"sites[{s}].modelStore",
                "(not set)",
                f"site {site.name} serves models but has neither Ceph (hosts with role "
                "storage, whose RGW is the model store by default) nor a modelStore to fetch "
                "weights from",
                "give the site its storage hosts (roles: [storage], with disks) and "
                "storage.rgwVirtualIp, or set modelStore.endpoint to an S3 endpoint inside "
                "the site (then the modelStore* secrets are required)",
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


def _model_caches(config: PlatformConfig, placed: list[int]) -> Iterator[ConfigIssue]:
    """Each GPU host's node-local cache holds every revision its pods may serve at once (the
    stable ones and the canaries): the site places the fill Jobs the same way."""
    if not placed:
        return
    placed_only = config.model_copy(update={"models": [config.models[m] for m in placed]})
    size_gb = config.storage.model_cache.size_gb
    for site_plan in make_plan(placed_only).sites.values():
        site = site_plan.spec
        nodes = [n for n in site_nodes(site, config.kubernetes) if n.name in _reachable(site)]
        placement = weights_by_host(
            site_plan.serving,
            lambda plan, site=site: scheduling(plan, site),
            lambda pod, nodes=nodes: [node.name for node in nodes if pods_per_node(pod, node)],
        )
        per_host: dict[str, list[tuple[str, int]]] = {}
        for (model, precision, revision), hosts in placement.items():
            for host in hosts:
                size = weights_bytes(model, precision)
                per_host.setdefault(host, []).append((f"{model}/{precision}/{revision}", size))
        for host, revisions in sorted(per_host.items()):
            total = sum(size for _, size in revisions)
            if total > size_gb * 1e9:
                listed = ", ".join(f"{path} ({size / 1e9:.0f} GB)" for path, size in revisions)
                yield ConfigIssue(
                    "storage.modelCache.sizeGb",
                    size_gb,
                    f"host {host} at site {site.name} caches {listed}: {total / 1e9:.0f} GB, "
                    f"more than its model cache's {size_gb} GB",
                    f"raise storage.modelCache.sizeGb to at least {math.ceil(total / 1e9)} (on "
                    "a disk that large), or serve fewer revisions at once (promote or remove "
                    "a canary)",
                )


def _reachable(site) -> set[str]:
    return {host.name for host in site.hosts if host.reachable}


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
