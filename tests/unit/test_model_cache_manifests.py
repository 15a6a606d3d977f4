"""The model cache's pure builders: curl's credentials file, Job names, the fill budget, the
volume and claim, and which hosts cache which revision (components/storage/
model_cache_manifests.py, components/serving/cached_weights.py)."""

import pytest

from components.config import Canary
from components.serving.cached_weights import served_revisions, weights_by_host
from components.serving.capacity import plan_site
from components.storage.model_cache_manifests import (
    CachedRevision,
    claim_manifest,
    curl_credentials,
    fill_job_manifest,
    fill_job_name,
    fill_seconds,
    volume_manifest,
)

REVISION = CachedRevision(
    "DeepSeek-R1-Distill-Qwen-32B", "bf16", "2025-01-20", ("dca-gpu-a100-1",), 65_600_000_000
)


def test_curl_credentials_quote_what_curls_config_syntax_needs():
    assert curl_credentials("AKIA0000", "abc/def+ghi") == 'user = "AKIA0000:abc/def+ghi"\n'
    # A backslash or double quote inside a key is escaped, not a way out of the string.
    assert curl_credentials("id", 'a"b\\c') == 'user = "id:a\\"b\\\\c"\n'


@pytest.mark.parametrize("bad", ["line\nbreak", "carriage\rreturn", "nul\0"])
def test_a_key_with_a_line_break_is_refused_without_quoting_it(bad):
    with pytest.raises(ValueError) as refused:
        curl_credentials("id", bad)
    assert bad not in str(refused.value)


def test_job_names_fit_the_label_limit_and_stay_apart():
    long_node = "n" * 63
    first = fill_job_name(long_node, REVISION)
    other = CachedRevision(REVISION.model, "bf16", "2025-05-28", (long_node,), 1)
    assert len(first) <= 63 and len(fill_job_name(long_node, other)) <= 63
    assert first != fill_job_name(long_node, other)
    assert fill_job_name("dca-gpu-a100-1", REVISION).startswith("fill-dca-gpu-a100-1-")
    # A node name cut at a '-' does not leave a doubled dash.
    assert "--" not in fill_job_name("a" * 39 + "-b", REVISION)


def test_a_fill_gets_fifteen_minutes_plus_the_weights_at_100_mb_per_second():
    assert fill_seconds(65_600_000_000) == 900 + 656
    assert fill_seconds(1) == 901


def test_the_volume_spans_the_given_hosts_and_the_claim_binds_it(prod_config):
    cache = prod_config.storage.model_cache
    volume = volume_manifest(cache, ["dca-gpu-v100-1", "dca-gpu-a100-1"])
    spec = volume["spec"]
    assert spec["local"] == {"path": "/var/lib/deepseek/model-cache"}
    (term,) = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == ["dca-gpu-a100-1", "dca-gpu-v100-1"]
    claim = claim_manifest(cache)
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert spec["claimRef"] == {
        "namespace": claim["metadata"]["namespace"],
        "name": claim["metadata"]["name"],
    }
    assert claim["spec"]["resources"]["requests"]["storage"] == spec["capacity"]["storage"]


def test_a_fill_job_takes_its_image_from_the_mirror_and_its_budget_from_the_weights(
    prod_config,
):
    site = prod_config.sites[0]
    job = fill_job_manifest(
        "dca-gpu-a100-1",
        REVISION,
        site,
        prod_config.storage.model_cache,
        prod_config.mirrors,
        "http://10.10.2.10:8080",
        "deepseek-models",
    )
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.bank.internal/deepseek/curlimages/curl:8.11.1"
    assert job["spec"]["activeDeadlineSeconds"] == fill_seconds(REVISION.weights_bytes)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PREFIX"] == "DeepSeek-R1-Distill-Qwen-32B/bf16/2025-01-20"


def test_revisions_served_and_the_hosts_that_cache_them(prod_config):
    qwen, llama = prod_config.models
    assert served_revisions(qwen) == ["2025-01-20", "2025-05-28"]
    same = qwen.model_copy(update={"canary": Canary(revision="2025-01-20", weight=10)})
    assert served_revisions(same) == ["2025-01-20"]
    # Two deployments of one model, precision and revision share one entry; hosts merge.
    twin = llama.model_copy(update={"name": "r1-llama-8b-twin"})
    plans, problems = plan_site(prod_config.sites[0], [llama, twin], prod_config.kubernetes, 2)
    assert problems == []
    hosts = {"r1-llama-8b": ["h2", "h1"], "r1-llama-8b-twin": ["h3", "h1"]}
    placed = weights_by_host(
        plans, lambda plan: {"name": plan.deployment.name}, lambda pod: hosts[pod["name"]]
    )
    assert placed == {
        ("DeepSeek-R1-Distill-Llama-8B", "fp16", "2025-01-20"): ("h1", "h2", "h3"),
    }
