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


# Memory and compute capability from NVIDIA's data sheets and the CUDA GPUs table
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
        ),
        GpuModel(
            "A100-80GB",
            80,
            (8, 0),
            ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"),
            True,
        ),
        GpuModel(
            "V100-16GB",
            16,
            (7, 0),
            ("Tesla V100-SXM2-16GB", "Tesla V100-PCIE-16GB"),
            True,
        ),
        GpuModel(
            "V100-32GB",
            32,
            (7, 0),
            ("Tesla V100-SXM2-32GB", "Tesla V100-PCIE-32GB", "Tesla V100S-PCIE-32GB"),
            True,
        ),
        GpuModel("A40", 48, (8, 6), ("NVIDIA A40",), False),
        GpuModel("L40S", 48, (8, 9), ("NVIDIA L40S",), False),
        GpuModel(
            "H100-80GB",
            80,
            (9, 0),
            ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H100 NVL"),
            True,
        ),
        GpuModel("H200", 141, (9, 0), ("NVIDIA H200", "NVIDIA H200 NVL"), True),
    )
}


def known_gpu_models() -> str:
    """The accepted GPU model names, for error messages."""
    return ", ".join(sorted(GPU_MODELS))
