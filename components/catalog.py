"""Hardware and model catalogs: the facts that config validation and sizing rely on.

One place for them, so that a GPU or model name means the same thing in the config check,
the preflight diagnostics and the serving layer.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    """One GPU product as config names it."""

    name: str
    """Name used in stack config (`gpu.model`)."""
    memory_gib: int
    """Usable framebuffer, GiB (nvidia-smi `memory.total` rounded down)."""
    compute_capability: tuple[int, int]
    """CUDA compute capability (sm major, minor)."""
    smi_product_names: tuple[str, ...]
    """Product names as `nvidia-smi --query-gpu=name` prints them for this model."""
    nvlink: bool
    """Whether multi-GPU servers of this model connect their GPUs with NVLink/NVSwitch."""
    bandwidth_gbs: int
    """Memory bandwidth, GB/s (the SXM part where there are two): what decoding is bound by."""
    tdp_watts: int
    """Board power (the SXM part where there are two): what the cost estimate draws."""


# Memory, bandwidth and compute capability from NVIDIA's data sheets and the CUDA GPUs table
# (developer.nvidia.com/cuda-gpus); product names as nvidia-smi reports them.
GPU_MODELS: dict[str, GpuModel] = {
    gpu.name: gpu
    for gpu in (
        GpuModel(
            "A100-40GB",
            40,
            (8, 0),
            ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB"),
            True,
            1555,
            400,
        ),
        GpuModel(
            "A100-80GB",
            80,
            (8, 0),
            ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"),
            True,
            2039,
            400,
        ),
        GpuModel(
            "V100-16GB",
            16,
            (7, 0),
            ("Tesla V100-SXM2-16GB", "Tesla V100-PCIE-16GB"),
            True,
            900,
            300,
        ),
        GpuModel(
            "V100-32GB",
            32,
            (7, 0),
            ("Tesla V100-SXM2-32GB", "Tesla V100-PCIE-32GB", "Tesla V100S-PCIE-32GB"),
            True,
            900,
            300,
        ),
        GpuModel("A40", 48, (8, 6), ("NVIDIA A40",), False, 696, 300),
        GpuModel("L40S", 48, (8, 9), ("NVIDIA L40S",), False, 864, 350),
        GpuModel(
            "H100-80GB",
            80,
            (9, 0),
            ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H100 NVL"),
            True,
            3350,
            700,
        ),
        GpuModel("H200", 141, (9, 0), ("NVIDIA H200", "NVIDIA H200 NVL"), True, 4800, 700),
    )
}


MIG_PROFILES: dict[str, dict[str, int]] = {
    "A100-40GB": {
        "1g.5gb": 7,
        "1g.10gb": 4,
        "2g.10gb": 3,
        "3g.20gb": 2,
        "4g.20gb": 1,
        "7g.40gb": 1,
    },
    "A100-80GB": {
        "1g.10gb": 7,
        "1g.20gb": 4,
        "2g.20gb": 3,
        "3g.40gb": 2,
        "4g.40gb": 1,
        "7g.80gb": 1,
    },
    "H100-80GB": {
        "1g.10gb": 7,
        "1g.20gb": 4,
        "2g.20gb": 3,
        "3g.40gb": 2,
        "4g.40gb": 1,
        "7g.80gb": 1,
    },
    "H200": {"1g.18gb": 7, "1g.35gb": 4, "2g.35gb": 3, "3g.71gb": 2, "4g.71gb": 1, "7g.141gb": 1},
}
"""MIG: per GPU model that has it, each GPU instance profile and how many of it one GPU holds
(NVIDIA's MIG user guide, "Supported MIG Profiles" and "Supported GPUs"). Compute capability
8.0+ is necessary but not enough: A40 (8.6) and L40S (8.9) have no MIG, and the memory in a
profile's name follows the GPU's (A100-40GB's 3g.20gb is A100-80GB's 3g.40gb). A profile's
count is not 7 // slices: 1g.20gb takes two memory slices, so one GPU holds 4."""


def mig_instances(gpu_model: str, mig_profile: str) -> int | None:
    """How many instances of `all-<profile>` one GPU of the model holds; None when the model
    has no MIG or no such profile."""
    return MIG_PROFILES.get(gpu_model, {}).get(mig_profile.removeprefix("all-"))


def known_gpu_models() -> str:
    """The accepted GPU model names, for error messages."""
    return ", ".join(sorted(GPU_MODELS))


# --- serving images -----------------------------------------------------------------------

# Triton's release notes, "GPU Requirements", under
# https://docs.nvidia.com/deeplearning/triton-inference-server/ :
# - release-notes/rel-24-10.html:
#   "Release 24.10 supports CUDA compute capability 6.0 and later" (Pascal, Volta, …; CUDA 12.6.2).
# - archives/triton-inference-server-2530/user-guide/docs/introduction/release_notes.html:
#   Release 24.12: CUDA 12.6.3, the last release before the CUDA 12.8 rebase (its GPU Requirements
#   sentence was cut off in the copy we could read; the prod stack serves V100 on it).
# - release-notes/rel-25-01.html:
#   "Release 25.01 supports CUDA compute capability 7.5 and later" (CUDA 12.8); so do 25.02
#   (rel-25-02.html), 25.03, 25.04, 25.08 (rel-25-08.html, CUDA 13) and 25.10.
# TensorRT itself dropped Volta from 10.5 (its release notes): on V100 serve with the vLLM backend.
VOLTA_LAST_TRITON_RELEASE = "24.12"
"""The last Triton release whose container still runs on compute capability 6.0/7.0 (Volta)."""
TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA = (7, 5)
"""What every later release requires ("7.5 and later": Turing and newer)."""


def triton_supports(release: str, gpu_model: str) -> bool:
    """Whether the Triton container of `release` (YY.MM) runs on the GPU."""
    if release <= VOLTA_LAST_TRITON_RELEASE:
        return True
    return GPU_MODELS[gpu_model].compute_capability >= TRITON_MIN_COMPUTE_CAPABILITY_AFTER_VOLTA


# --- models ------------------------------------------------------------------------------

Precision = str  # one of PRECISION_BYTES' keys

# Bytes per weight. 4-bit AWQ/GPTQ carry group scales: about 4.25 bits per weight.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "awq": 0.53,
    "gptq": 0.53,
}

# The lowest compute capability whose kernels run each precision in vLLM/TensorRT-LLM:
# block-wise FP8 needs Ada/Hopper (8.9); BF16 needs Ampere (8.0); INT8 W8A8 and AWQ need
# Turing (7.5). Volta (V100, 7.0) runs FP16 only, on images that still build sm70.
MIN_COMPUTE_CAPABILITY: dict[str, tuple[int, int]] = {
    "fp32": (7, 0),
    "fp16": (7, 0),
    "bf16": (8, 0),
    "fp8": (8, 9),
    "int8": (7, 5),
    "awq": (7, 5),
    "gptq": (7, 5),
}


@dataclass(frozen=True)
class ModelSpec:
    """A model as sizing needs it."""

    name: str
    parameters_b: float
    """Total parameters, billions (MoE: all experts; they all sit in GPU memory)."""
    active_parameters_b: float
    """Parameters used per token, billions (MoE: the routed experts)."""
    layers: int
    kv_values_per_token_per_layer: int
    """Cached K and V values per token and layer: 2 × KV heads × head size (GQA), or
    the compressed latent plus the RoPE key for MLA (kv_lora_rank + qk_rope_head_dim)."""
    published: str
    """The precision the weights are published in."""
    precisions: tuple[str, ...]
    """Precisions it is served in: published, or a quantization of it."""

    def kv_bytes_per_token(self, cache_bytes: float = 2.0) -> float:
        return self.layers * self.kv_values_per_token_per_layer * cache_bytes


def _gqa(layers: int, kv_heads: int, head_dim: int = 128) -> dict:
    return {"layers": layers, "kv_values_per_token_per_layer": 2 * kv_heads * head_dim}


# Architecture numbers from each model's config.json on its model card (num_hidden_layers,
# num_key_value_heads, head size; for V3/R1 kv_lora_rank 512 + qk_rope_head_dim 64), and
# the DeepSeek-V3 technical report (671B total, 37B activated, FP8 block-wise weights).
_DISTILL = ("bf16", "fp16", "fp8", "int8", "awq", "gptq")
MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("DeepSeek-V3", 671, 37, 61, 512 + 64, "fp8", ("fp8", "bf16", "int8", "awq")),
        ModelSpec("DeepSeek-R1", 671, 37, 61, 512 + 64, "fp8", ("fp8", "bf16", "int8", "awq")),
        ModelSpec(
            "DeepSeek-R1-Distill-Qwen-1.5B",
            1.78,
            1.78,
            **_gqa(28, 2),
            published="bf16",
            precisions=_DISTILL,
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Qwen-7B",
            7.62,
            7.62,
            **_gqa(28, 4),
            published="bf16",
            precisions=_DISTILL,
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Qwen-14B",
            14.8,
            14.8,
            **_gqa(48, 8),
            published="bf16",
            precisions=_DISTILL,
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Qwen-32B",
            32.8,
            32.8,
            **_gqa(64, 8),
            published="bf16",
            precisions=_DISTILL,
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Llama-8B",
            8.03,
            8.03,
            **_gqa(32, 8),
            published="bf16",
            precisions=_DISTILL,
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Llama-70B",
            70.6,
            70.6,
            **_gqa(80, 8),
            published="bf16",
            precisions=_DISTILL,
        ),
    )
}
