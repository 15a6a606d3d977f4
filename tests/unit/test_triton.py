"""The Triton model repository generated from each deployment's spec."""

import json

from components.serving.triton import config_pbtxt, model_json, model_repository


def test_vllm_repository_layout_and_engine_arguments(prod_config):
    qwen = prod_config.models[0]
    files = model_repository(qwen)
    assert set(files) == {"r1-qwen-32b/config.pbtxt", "r1-qwen-32b/1/model.json"}
    arguments = json.loads(files["r1-qwen-32b/1/model.json"])
    assert arguments["tensor_parallel_size"] == 2
    assert arguments["gpu_memory_utilization"] == 0.9
    assert arguments["max_model_len"] == 8192
    assert arguments["dtype"] == "bfloat16"
    assert arguments["model"] == "/weights/DeepSeek-R1-Distill-Qwen-32B-bf16"


def test_a_time_sliced_share_holds_vllm_to_its_part_of_the_gpu(prod_config):
    llama = prod_config.models[1]
    assert json.loads(model_json(llama, shares_per_gpu=2))["gpu_memory_utilization"] == 0.45


def test_quantized_precisions_name_their_method(prod_config):
    llama = prod_config.models[1].model_copy(update={"precision": "awq"})
    assert json.loads(model_json(llama))["quantization"] == "awq"


def test_vllm_config_is_unbatched_and_decoupled(prod_config):
    text = config_pbtxt(prod_config.models[0])
    assert 'backend: "vllm"' in text and "max_batch_size: 0" in text
    assert "decoupled: true" in text


def test_tensorrtllm_config_batches_up_to_32(prod_config):
    trt = prod_config.models[0].model_copy(update={"backend": "tensorrtllm"})
    text = config_pbtxt(trt)
    assert 'backend: "tensorrtllm"' in text and "max_batch_size: 32" in text
    assert set(model_repository(trt)) == {"r1-qwen-32b/config.pbtxt"}
