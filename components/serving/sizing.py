"""Will a model run, and fit, on the GPUs it is placed on? Pure functions, run at preview.

Memory per replica = weights (parameters × bytes per precision) + KV cache (bytes per token ×
context length × concurrent sequences) + runtime overhead per GPU, against
GPUs × memory × gpu_memory_utilization.
"""

from dataclasses import dataclass

from components.catalog import GPU_MODELS, MIN_COMPUTE_CAPABILITY, MODELS, PRECISION_BYTES

GIB = 2**30
OVERHEAD_GIB_PER_GPU = 2.0
"""CUDA context, NCCL buffers and activations outside the KV cache, per GPU."""


@dataclass(frozen=True)
class Placement:
    model: str
    precision: str
    gpu_model: str
    tensor_parallel: int
    hosts: int
    max_model_len: int
    concurrent_sequences: int
    gpu_memory_utilization: float
    gpu_memory_gib: float | None = None
    """Memory each GPU unit may use when the device plugin splits GPUs (time-slicing, MIG);
    None: the whole GPU."""


@dataclass(frozen=True)
class Fit:
    needed_gib: float
    available_gib: float
    weights_gib: float
    kv_cache_gib: float

    @property
    def fits(self) -> bool:
        return self.needed_gib <= self.available_gib


def memory_fit(p: Placement) -> Fit:
    model, gpu = MODELS[p.model], GPU_MODELS[p.gpu_model]
    gpus = p.tensor_parallel * p.hosts
    weights = model.parameters_b * 1e9 * PRECISION_BYTES[p.precision] / GIB
    kv_cache = model.kv_bytes_per_token() * p.max_model_len * p.concurrent_sequences / GIB
    needed = weights + kv_cache + OVERHEAD_GIB_PER_GPU * gpus
    per_gpu = gpu.memory_gib if p.gpu_memory_gib is None else p.gpu_memory_gib
    available = gpus * per_gpu * p.gpu_memory_utilization
    return Fit(needed, available, weights, kv_cache)


def runs_on(precision: str, gpu_model: str) -> bool:
    return GPU_MODELS[gpu_model].compute_capability >= MIN_COMPUTE_CAPABILITY[precision]


def _cc(gpu_model: str) -> str:
    major, minor = GPU_MODELS[gpu_model].compute_capability
    return f"{major}.{minor}"


def _unit(p: Placement) -> str:
    if p.gpu_memory_gib is None:
        return p.gpu_model
    return f"{p.gpu_model} share of {p.gpu_memory_gib:g} GiB"


def ways_out(p: Placement, gpus_per_host: int, hosts_available: int, rdma: bool) -> list[str]:
    """Placements of the same model on the same GPU model that would run and fit: the
    asked precision on more GPUs first, then the fewest hosts and GPUs, then the most
    faithful precision."""
    shapes = [(1, tp) for tp in (1, 2, 4, 8, 16) if tp <= gpus_per_host]
    if rdma:
        shapes += [(hosts, gpus_per_host) for hosts in range(2, hosts_available + 1)]
    options: list[tuple[bool, int, int, float, str]] = []
    for precision in MODELS[p.model].precisions:
        if not runs_on(precision, p.gpu_model):
            continue
        for hosts, tp in shapes:
            candidate = Placement(
                p.model,
                precision,
                p.gpu_model,
                tp,
                hosts,
                p.max_model_len,
                p.concurrent_sequences,
                p.gpu_memory_utilization,
                p.gpu_memory_gib,
            )
            if memory_fit(candidate).fits:
                where = (
                    f"{tp}×{p.gpu_model} of one host"
                    if hosts == 1
                    else f"{hosts} {tp}×{p.gpu_model} hosts over RDMA"
                )
                options.append(
                    (
                        precision != p.precision,
                        hosts,
                        tp,
                        -PRECISION_BYTES[precision],
                        f"{precision} on {where}",
                    )
                )
                break
    return [text for *_, text in sorted(options)]


NO_FIT = "no precision of this model fits these GPUs: place it on larger GPUs"


@dataclass(frozen=True)
class SizingProblem:
    """One reason a placement cannot work, kept apart from what to do about it."""

    message: str
    """What cannot work, with the numbers."""
    fix: str
    """What to change when `ways_out` is empty."""
    ways_out: tuple[str, ...] = ()
    """Placements of the same model on the same GPU model that run and fit, best first."""

    @property
    def remedy(self) -> str:
        """The two best ways out, or `fix` when there is none."""
        return f"use {' or '.join(self.ways_out[:2])}" if self.ways_out else self.fix


def check_placement(
    p: Placement,
    gpus_per_host: int,
    hosts_available: int,
    rdma: bool,
    suggest_multi_host: bool = True,
) -> list[SizingProblem]:
    """Every reason the placement cannot work, each with the numbers and its ways out (across
    hosts too, unless `suggest_multi_host` is off because the caller cannot deploy that)."""
    problems = []
    model, gpu = MODELS[p.model], GPU_MODELS[p.gpu_model]
    alternatives = tuple(ways_out(p, gpus_per_host, hosts_available, rdma and suggest_multi_host))

    def problem(message: str, fix: str = NO_FIT) -> None:
        problems.append(SizingProblem(message, fix, alternatives))

    if p.precision not in model.precisions:
        problem(
            f"{p.model} is not served in {p.precision} (published {model.published}; "
            f"served in {', '.join(model.precisions)})"
        )
    elif not runs_on(p.precision, p.gpu_model):
        need = ".".join(map(str, MIN_COMPUTE_CAPABILITY[p.precision]))
        problem(
            f"{p.model} in {p.precision} needs compute capability {need}+; "
            f"{p.gpu_model} is {_cc(p.gpu_model)}"
        )
    tp = p.tensor_parallel
    if tp < 1 or tp & (tp - 1):
        problem(
            f"tensor parallel degree {tp} is not a power of two",
            "use a tensor parallel degree of 1, 2, 4, 8 or 16",
        )
    elif tp > gpus_per_host:
        problem(
            f"tensor parallel degree {tp} exceeds the {gpus_per_host} {gpu.name} GPUs of one host",
            "span hosts with pipeline parallelism instead"
            if suggest_multi_host
            else f"use a tensor parallel degree of at most {gpus_per_host}",
        )
    if p.hosts > 1 and not rdma:
        problem(
            f"{p.hosts} hosts per replica need RDMA between them, and the "
            f"{p.gpu_model} hosts declare none",
            "declare the RDMA NICs of those hosts, or place a replica on one host",
        )
    if p.hosts > hosts_available:
        problem(
            f"{p.hosts} hosts per replica, but the site has {hosts_available} with {p.gpu_model}",
            f"add {p.gpu_model} hosts, or span at most {hosts_available}",
        )
    if not problems:
        fit = memory_fit(p)
        if not fit.fits:
            problem(
                f"{p.model} in {p.precision} needs {fit.needed_gib:.0f} GiB (weights "
                f"{fit.weights_gib:.0f} + KV cache {fit.kv_cache_gib:.0f} + overhead) but "
                f"{tp * p.hosts}×{_unit(p)} at {p.gpu_memory_utilization:.0%} give "
                f"{fit.available_gib:.0f} GiB"
            )
    return problems
