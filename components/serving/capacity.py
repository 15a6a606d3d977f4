"""How many replicas of each model a site's GPUs hold, what they are estimated to serve, and
whether every site carries the declared load alone. Pure functions, run at preview.

Throughput estimate. Decoding reads every active weight once per generated token, so a
replica's token rate is bound by memory bandwidth:

    tokens/s per sequence = GPUs × bandwidth × efficiency / (active parameters × 4 bytes)
                            × speed-up of the precision over FP32

and a replica runs `maxConcurrentSequences` sequences at once. The speed-ups are the
guide's quantization figures: FP16 (and BF16, same width) about 2× FP32's throughput, INT8
3-5× faster; we credit the low end, 3×, and give FP8 and 4-bit AWQ/GPTQ no more than INT8
since the guide has no figure for them. `efficiency` (0.5) is the share of peak bandwidth
a serving engine achieves with attention, sampling and tensor-parallel all-reduce between
the weight reads.
"""

import math
from dataclasses import dataclass

from components.catalog import GPU_MODELS, MODELS, mig_instances
from components.config import Kubernetes, ModelDeployment, Site

GUIDE_SPEEDUP_OVER_FP32 = {
    "fp32": 1.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "int8": 3.0,
    "fp8": 3.0,
    "awq": 3.0,
    "gptq": 3.0,
}
BANDWIDTH_EFFICIENCY = 0.5
MIN_REPLICAS_AT_REST = 2
"""Default replicas per site: two, so one pod can restart while the other serves."""


@dataclass(frozen=True)
class GpuShare:
    """What one pod asks the device plugin for when it asks for one GPU of a model."""

    resource: str
    """The extended resource, e.g. nvidia.com/gpu or nvidia.com/mig-3g.40gb."""
    per_gpu: int
    """How many of that resource one physical GPU advertises."""
    memory_gib: float
    """Memory one unit may use."""
    bandwidth_gbs: float
    """Memory bandwidth one unit gets."""
    mode: str
    """exclusive, time-slicing or mig."""

    @property
    def splits_a_gpu(self) -> bool:
        return self.per_gpu > 1 or self.mode == "mig"


def gpu_share(kubernetes: Kubernetes, gpu_model: str) -> GpuShare:
    gpu = GPU_MODELS[gpu_model]
    profile = kubernetes.gpu_sharing.get(gpu_model)
    if profile is None or profile.mode == "exclusive":
        return GpuShare("nvidia.com/gpu", 1, gpu.memory_gib, gpu.bandwidth_gbs, "exclusive")
    if profile.mode == "time-slicing":
        # Time-sliced replicas share memory and bandwidth with nothing to enforce a split:
        # each pod must hold itself to 1/replicas of the GPU.
        r = profile.replicas
        return GpuShare(
            "nvidia.com/gpu", r, gpu.memory_gib / r, gpu.bandwidth_gbs / r, "time-slicing"
        )
    # MIG profile all-<g>g.<mem>gb: how many instances one GPU holds is NVIDIA's table (a
    # 1g.20gb on an A100-80GB is 4 per GPU, not 7 // 1: memory runs out first); validation
    # refuses a profile the table lacks.
    slices, memory = profile.mig_profile.removeprefix("all-").split("g.")
    instances = mig_instances(gpu_model, profile.mig_profile) or max(1, 7 // max(1, int(slices)))
    memory_gib = float(memory.removesuffix("gb"))
    return GpuShare(
        f"nvidia.com/mig-{profile.mig_profile.removeprefix('all-')}",
        instances,
        memory_gib,
        gpu.bandwidth_gbs * memory_gib / gpu.memory_gib,
        "mig",
    )


@dataclass(frozen=True)
class Estimate:
    tokens_per_second: float
    requests_per_second: float


def replica_estimate(deployment: ModelDeployment, share: GpuShare) -> Estimate:
    """Estimated throughput of one replica (see the module's docstring)."""
    model = MODELS[deployment.model]
    gpus = deployment.tensor_parallel_size
    per_sequence = (
        gpus
        * share.bandwidth_gbs
        * BANDWIDTH_EFFICIENCY
        / (model.active_parameters_b * 4)
        * GUIDE_SPEEDUP_OVER_FP32[deployment.precision]
    )
    tokens = per_sequence * deployment.max_concurrent_sequences
    return Estimate(tokens, tokens / deployment.output_tokens_per_request)


def pack(pods: list[int], hosts: list[int]) -> bool:
    """Whether pods needing `pods[i]` units each fit on hosts with `hosts[j]` units each,
    every pod on one host (first fit, largest first)."""
    free = sorted(hosts, reverse=True)
    for size in sorted(pods, reverse=True):
        for j, units in enumerate(free):
            if units >= size:
                free[j] -= size
                break
        else:
            return False
    return True


@dataclass(frozen=True)
class ServingPlan:
    """One deployment at one site."""

    deployment: ModelDeployment
    share: GpuShare
    replicas: int
    """At rest (the autoscaler's minimum)."""
    max_replicas: int
    """The autoscaler's ceiling: what the site's GPUs hold beside the other deployments."""
    canary_replicas: int
    estimate: Estimate
    """Of one replica."""
    max_replicas_without_canary: int | None = None
    """The ceiling the GPUs would allow if the canary's pods did not hold some: above
    `max_replicas` when the canary lowers the stable version's ceiling."""

    @property
    def units_per_replica(self) -> int:
        return self.deployment.tensor_parallel_size

    @property
    def capacity_rps(self) -> float:
        """Estimated requests per second at the ceiling, canary included."""
        return (self.max_replicas + self.canary_replicas) * self.estimate.requests_per_second


@dataclass(frozen=True)
class Problem:
    index: int
    """Index of the deployment in `models`."""
    field: str
    """Field of the deployment the problem is about ('' for the whole deployment)."""
    value: object
    problem: str
    fix: str


def _pool(site: Site, gpu_model: str) -> list[int]:
    """GPUs per inference host of the site with that GPU model."""
    return [
        h.gpu.count
        for h in site.hosts
        if h.gpu and h.gpu.model == gpu_model and h.node_pool == "inference"
    ]


def plan_site(
    site: Site, models: list[ModelDeployment], kubernetes: Kubernetes, active_sites: int
) -> tuple[dict[str, ServingPlan], list[Problem]]:
    """Replicas, ceilings and estimates of every deployment at the site, and what is wrong.

    Each deployment is taken as the site serves it (`ModelDeployment.at_site`: its placement's GPU
    model, precision and parallelism), and the plans hold it so: the serving layer deploys
    what was sized. Placement shape (precision, memory fit, parallelism) is `sizing`'s; this
    checks that the replicas fit the site's GPUs together and carry the load."""
    models = [d.at_site(site.name) for d in models]
    plans: dict[str, ServingPlan] = {}
    problems: list[Problem] = []
    at_rest: dict[int, int] = {}
    estimates: dict[int, Estimate] = {}
    shares: dict[int, GpuShare] = {}
    for i, d in enumerate(models):
        share = shares[i] = gpu_share(kubernetes, d.gpu_model)
        estimate = estimates[i] = replica_estimate(d, share)
        if d.replicas is not None:
            at_rest[i] = d.replicas
        elif site.role == "active":
            # At rest the active sites split the load; the autoscaler takes a site to its
            # ceiling when the other one is down.
            site_share = d.requests_per_second / active_sites
            needed = math.ceil(site_share / estimate.requests_per_second)
            at_rest[i] = max(MIN_REPLICAS_AT_REST, needed)
        else:
            # A DR site idles warm and scales up when it takes over.
            at_rest[i] = MIN_REPLICAS_AT_REST

    def canary_of(i: int) -> int:
        return models[i].canary.replicas if models[i].canary else 0

    def pods(i: int, replicas: int) -> list[int]:
        """GPU units of each pod of `replicas` replicas of model i."""
        return [models[i].tensor_parallel_size] * replicas

    for gpu_model in sorted({d.gpu_model for d in models}):
        members = [i for i, d in enumerate(models) if d.gpu_model == gpu_model]
        share = shares[members[0]]
        hosts = [count * share.per_gpu for count in _pool(site, gpu_model)]
        if not hosts:
            continue  # sizing reports a GPU model the site lacks
        resting = [size for i in members for size in pods(i, at_rest[i] + canary_of(i))]
        if not pack(resting, hosts):
            stable_only = [size for i in members for size in pods(i, at_rest[i])]
            wanted = ", ".join(
                f"{models[i].name} {at_rest[i]}"
                + (f"+{canary_of(i)} canary" if canary_of(i) else "")
                + f" × {models[i].tensor_parallel_size}"
                for i in members
            )
            where = (
                f"at site {site.name}: the replicas on {gpu_model} ({wanted} {share.resource}) "
                f"do not fit the {sum(hosts)} that its {len(hosts)} "
                f"host{'s' if len(hosts) > 1 else ''} offer"
            )
            for i in members:
                d = models[i]
                if d.canary and pack(stable_only, hosts):
                    problems.append(
                        Problem(
                            i,
                            "canary.replicas",
                            d.canary.replicas,
                            f"{where}: the canary does not fit beside the stable version",
                            "lower canary.replicas or replicas, or promote the canary",
                        )
                    )
                elif d.replicas is not None:
                    problems.append(
                        Problem(
                            i,
                            "replicas",
                            d.replicas,
                            where,
                            "lower replicas, or add hosts",
                        )
                    )
                else:
                    share_rps = d.requests_per_second / active_sites
                    problems.append(
                        Problem(
                            i,
                            "requestsPerSecond",
                            d.requests_per_second,
                            f"{where}; its share of the load ({share_rps:g} requests/s at an "
                            f"estimated {estimates[i].requests_per_second:.2f} per replica) "
                            f"needs {at_rest[i]} replicas at rest",
                            f"add {gpu_model} hosts, use a faster precision, or lower "
                            "requestsPerSecond",
                        )
                    )
            continue
        for i in members:
            d = models[i]
            others = [
                size for j in members if j != i for size in pods(j, at_rest[j] + canary_of(j))
            ]
            canary = canary_of(i)
            ceiling = at_rest[i]
            limit = d.max_replicas if d.max_replicas is not None else 256
            # The ceiling keeps GPUs for one more pod: a rolling update starts the new pod
            # before it stops an old one (maxUnavailable 0), also at the ceiling.
            while ceiling < limit and pack(others + pods(i, ceiling + 1 + canary + 1), hosts):
                ceiling += 1
            without_canary = ceiling
            while (
                canary
                and without_canary < limit
                and pack(others + pods(i, without_canary + 1 + 1), hosts)
            ):
                without_canary += 1
            if d.max_replicas is not None and d.max_replicas < at_rest[i]:
                problems.append(
                    Problem(
                        i,
                        "maxReplicas",
                        d.max_replicas,
                        f"is below the {at_rest[i]} replicas at rest",
                        f"set maxReplicas to {at_rest[i]} or more",
                    )
                )
            plan = ServingPlan(d, share, at_rest[i], ceiling, canary, estimates[i], without_canary)
            plans[d.name] = plan
            if site.role == "active" and plan.capacity_rps < d.requests_per_second:
                per = estimates[i].requests_per_second
                problems.append(
                    Problem(
                        i,
                        "requestsPerSecond",
                        d.requests_per_second,
                        f"site {site.name} must carry the whole load alone when the other "
                        f"site is down, but its {ceiling} replicas at most"
                        + (f" and {canary} canary" if canary else "")
                        + f" on "
                        f"{gpu_model} serve an estimated {plan.capacity_rps:.1f} requests/s "
                        f"({per:.2f} each: {estimates[i].tokens_per_second:.0f} tokens/s at "
                        f"{d.max_concurrent_sequences} sequences, "
                        f"{d.output_tokens_per_request} tokens per request)",
                        f"add {gpu_model} hosts (each replica needs "
                        f"{d.tensor_parallel_size}), use a faster precision, or lower "
                        "requestsPerSecond",
                    )
                )
    return plans, problems


def canary_ceiling_warning(site: str, plan: ServingPlan) -> str | None:
    """What the canary costs the stable version's autoscaling at the site, when it costs
    anything: its pods hold GPUs the stable version could otherwise scale onto."""
    without = plan.max_replicas_without_canary
    if not plan.canary_replicas or without is None or without <= plan.max_replicas:
        return None
    d = plan.deployment
    return (
        f"{d.name}'s canary ({plan.canary_replicas} replica"
        f"{'s' if plan.canary_replicas > 1 else ''}) lowers the stable deployment's "
        f"autoscaling ceiling at site {site} from {without} to {plan.max_replicas} replicas "
        f"on {d.gpu_model}: promote or remove the canary to give them back"
    )
