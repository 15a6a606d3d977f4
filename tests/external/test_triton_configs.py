"""Every generated config.pbtxt parses with Triton's own ModelConfig protobuf (tritonclient),
run in the validators' virtualenv (its protobuf is newer than the Pulumi SDK allows)."""

import json
import subprocess

from components.serving.triton import config_pbtxt
from tests.paths import PROJECT_DIR

PYTHON = PROJECT_DIR / ".venv-validators" / "bin" / "python"
PARSE = """
import json, sys
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
out = []
for text in json.load(sys.stdin):
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    out.append({"name": config.name, "backend": config.backend,
                "max_batch_size": config.max_batch_size,
                "decoupled": config.model_transaction_policy.decoupled,
                "inputs": [i.name for i in config.input]})
print(json.dumps(out))
"""


def parse_with_triton(texts: list[str]) -> list[dict]:
    result = subprocess.run(
        [str(PYTHON), "-c", PARSE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_generated_config_parses_as_a_triton_model_config(prod_config):
    deployments = list(prod_config.models)  # a copy: the session's config is shared
    deployments += [d.model_copy(update={"backend": "tensorrtllm"}) for d in deployments]
    parsed = parse_with_triton([config_pbtxt(d) for d in deployments])
    assert [p["name"] for p in parsed] == [d.name for d in deployments]
    vllm, trt = parsed[: len(parsed) // 2], parsed[len(parsed) // 2 :]
    assert all(p["backend"] == "vllm" and p["max_batch_size"] == 0 and p["decoupled"] for p in vllm)
    assert all(p["backend"] == "tensorrtllm" and p["max_batch_size"] == 32 for p in trt)
    assert trt[0]["inputs"] == ["input_ids", "input_lengths", "request_output_len"]


def test_a_broken_config_is_refused_by_the_parser():
    result = subprocess.run(
        [str(PYTHON), "-c", PARSE],
        input=json.dumps(["backend: vllm\n"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "google.protobuf.text_format.ParseError" in result.stderr, result.stderr
