"""The Triton model repository of one deployment, generated from the same spec as the fit
check: `<name>/config.pbtxt` and, for the vLLM backend, `<name>/1/model.json`."""

import json

from components.config import ModelDeployment

MODEL_ROOT = "/models"
"""Where the serving pods mount the model repository (config.pbtxt, model.json)."""
WEIGHTS_ROOT = "/weights"
"""Where the serving pods hold the weights fetched from the site's model store."""

# vLLM engine settings per precision: the dtype for unquantized weights, the quantization
# method for the rest (int8 W8A8 checkpoints are stored as compressed-tensors).
_VLLM_PRECISION = {
    "bf16": {"dtype": "bfloat16"},
    "fp16": {"dtype": "float16"},
    "fp8": {"quantization": "fp8"},
    "int8": {"quantization": "compressed-tensors"},
    "awq": {"quantization": "awq"},
    "gptq": {"quantization": "gptq"},
}


def weights_path(deployment: ModelDeployment) -> str:
    return f"{WEIGHTS_ROOT}/{deployment.model}-{deployment.precision}"


def config_pbtxt(deployment: ModelDeployment) -> str:
    """Triton's ModelConfig in protobuf text format."""
    if deployment.backend == "vllm":
        # vLLM batches inside the engine: Triton's own batching is off (max_batch_size 0)
        # and responses stream back (decoupled), as Triton's vLLM backend expects.
        return (
            f'name: "{deployment.name}"\n'
            'backend: "vllm"\n'
            "max_batch_size: 0\n"
            "model_transaction_policy {\n  decoupled: true\n}\n"
            "instance_group [\n  {\n    count: 1\n    kind: KIND_MODEL\n  }\n]\n"
        )
    # TensorRT-LLM: in-flight batching up to the guide's max_batch_size of 32.
    return (
        f'name: "{deployment.name}"\n'
        'backend: "tensorrtllm"\n'
        "max_batch_size: 32\n"
        "model_transaction_policy {\n  decoupled: true\n}\n"
        "input [\n"
        '  { name: "input_ids" data_type: TYPE_INT32 dims: [ -1 ] },\n'
        '  { name: "input_lengths" data_type: TYPE_INT32 dims: [ 1 ] reshape: { shape: [ ] } },\n'
        '  { name: "request_output_len" data_type: TYPE_INT32 dims: [ 1 ] }\n'
        "]\n"
        "output [\n"
        '  { name: "output_ids" data_type: TYPE_INT32 dims: [ -1, -1 ] }\n'
        "]\n"
        "instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n"
        'parameters: {\n  key: "gpt_model_path"\n'
        f'  value: {{ string_value: "{weights_path(deployment)}" }}\n}}\n'
        'parameters: {\n  key: "batching_strategy"\n'
        '  value: { string_value: "inflight_fused_batching" }\n}\n'
    )


def model_json(deployment: ModelDeployment, shares_per_gpu: int = 1) -> str:
    """vLLM engine arguments (the vLLM backend's model.json). vLLM sizes its KV cache as a
    fraction of the whole GPU's memory: on a GPU time-sliced `shares_per_gpu` ways, each pod
    takes that fraction of its share only."""
    arguments = {
        "model": weights_path(deployment),
        "tensor_parallel_size": deployment.tensor_parallel_size,
        "pipeline_parallel_size": deployment.hosts_per_replica,
        "gpu_memory_utilization": round(deployment.gpu_memory_utilization / shares_per_gpu, 4),
        "max_model_len": deployment.max_model_len,
        "max_num_seqs": deployment.max_concurrent_sequences,
        "disable_log_requests": True,
        **_VLLM_PRECISION[deployment.precision],
    }
    return json.dumps(arguments, indent=2, sort_keys=True) + "\n"


def model_repository(deployment: ModelDeployment, shares_per_gpu: int = 1) -> dict[str, str]:
    """Path inside the repository → file content."""
    files = {f"{deployment.name}/config.pbtxt": config_pbtxt(deployment)}
    if deployment.backend == "vllm":
        files[f"{deployment.name}/1/model.json"] = model_json(deployment, shares_per_gpu)
    return files
