"""Preview-time fit checks: precision against compute capability, memory against GPUs,
parallelism against hosts, with the numbers and a way out."""

import pytest

from components.catalog import MODELS
from components.serving.sizing import (
    NO_FIT,
    Placement,
    SizingProblem,
    check_placement,
    memory_fit,
    runs_on,
)


def placement(model, precision, gpu, tp, hosts=1, length=8192, sequences=8, util=0.9):
    return Placement(model, precision, gpu, tp, hosts, length, sequences, util)


def test_catalog_kv_cache_numbers():
    # MLA caches the 512-wide latent plus the 64-wide RoPE key per layer: 61 × 576 × 2 bytes.
    assert MODELS["DeepSeek-R1"].kv_bytes_per_token() == 61 * 576 * 2
    # GQA: 2 (K and V) × 8 KV heads × 128 × 64 layers × 2 bytes.
    assert MODELS["DeepSeek-R1-Distill-Qwen-32B"].kv_bytes_per_token() == 2 * 8 * 128 * 64 * 2


def test_precisions_against_compute_capability():
    assert not runs_on("fp8", "A100-80GB")  # 8.0 < 8.9
    assert runs_on("fp8", "H100-80GB") and runs_on("fp8", "L40S")
    assert runs_on("bf16", "A100-80GB") and not runs_on("bf16", "V100-32GB")
    assert runs_on("fp16", "V100-16GB") and not runs_on("int8", "V100-16GB")


def test_r1_in_fp8_on_two_a100_hosts_is_refused_with_a_way_out():
    problems = check_placement(
        placement("DeepSeek-R1", "fp8", "A100-80GB", 8, hosts=2), 8, 2, rdma=True
    )
    assert problems == [
        SizingProblem(
            "DeepSeek-R1 in fp8 needs compute capability 8.9+; A100-80GB is 8.0",
            NO_FIT,
            ("awq on 8×A100-80GB of one host", "int8 on 2 8×A100-80GB hosts over RDMA"),
        )
    ]
    assert problems[0].remedy == (
        "use awq on 8×A100-80GB of one host or int8 on 2 8×A100-80GB hosts over RDMA"
    )


def test_r1_as_int8_across_two_a100_hosts_fits_by_the_numbers():
    fit = memory_fit(placement("DeepSeek-R1", "int8", "A100-80GB", 8, hosts=2))
    assert fit.weights_gib == pytest.approx(671e9 / 2**30)
    assert fit.fits and fit.available_gib == pytest.approx(2 * 8 * 80 * 0.9)
    assert (
        check_placement(placement("DeepSeek-R1", "int8", "A100-80GB", 8, hosts=2), 8, 2, rdma=True)
        == []
    )
    # One host is not enough for int8, and two need RDMA.
    assert not memory_fit(placement("DeepSeek-R1", "int8", "A100-80GB", 8)).fits
    (problem,) = check_placement(
        placement("DeepSeek-R1", "int8", "A100-80GB", 8, hosts=2), 8, 2, rdma=False
    )
    assert "need RDMA" in problem.message
    # Without RDMA only one-host placements are ways out, and awq fits one host.
    assert problem.ways_out == ("awq on 8×A100-80GB of one host",)


def test_qwen_32b_in_fp16_on_four_v100_16gb_is_refused():
    (problem,) = check_placement(
        placement("DeepSeek-R1-Distill-Qwen-32B", "fp16", "V100-16GB", 4), 4, 1, rdma=False
    )
    assert problem.message.startswith("DeepSeek-R1-Distill-Qwen-32B in fp16 needs ")
    assert problem.message.endswith("but 4×V100-16GB at 90% give 58 GiB")
    # No precision of the model fits four 16 GB V100s: the fix says so instead of a way out.
    assert problem.ways_out == () and problem.remedy == NO_FIT


def test_parallelism_rules():
    (odd,) = check_placement(
        placement("DeepSeek-R1-Distill-Llama-8B", "bf16", "A100-80GB", 3), 8, 1, rdma=False
    )
    assert odd.message == "tensor parallel degree 3 is not a power of two"
    assert odd.remedy == "use bf16 on 1×A100-80GB of one host or fp16 on 1×A100-80GB of one host"
    (wide,) = check_placement(
        placement("DeepSeek-R1-Distill-Llama-8B", "fp16", "V100-32GB", 8), 4, 3, rdma=False
    )
    assert wide.message == "tensor parallel degree 8 exceeds the 4 V100-32GB GPUs of one host"
    assert wide.remedy == "use fp16 on 1×V100-32GB of one host"
    (one_host_only,) = check_placement(
        placement("DeepSeek-R1-Distill-Llama-8B", "fp16", "V100-32GB", 8),
        4,
        3,
        rdma=False,
        suggest_multi_host=False,
    )
    assert one_host_only.fix == "use a tensor parallel degree of at most 4"


def test_prod_placements_fit():
    assert (
        check_placement(
            placement("DeepSeek-R1-Distill-Qwen-32B", "bf16", "A100-80GB", 2), 8, 2, rdma=True
        )
        == []
    )
    assert (
        check_placement(
            placement("DeepSeek-R1-Distill-Llama-8B", "fp16", "V100-32GB", 1), 4, 3, rdma=False
        )
        == []
    )
