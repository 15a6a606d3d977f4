"""The serving layer's headroom (components/serving/headroom.py) on prod's plan, and the
validation rule that keeps `rollout.maxUnavailable` within it."""

import pytest

from components.plan import make_plan
from components.serving.headroom import headroom_problems
from components.stack_config import validate_config
from components.validation import ConfigError
from components.validation.rollout import check_rollout
from tests.stacks import raw_stack_config


@pytest.fixture(scope="module")
def dc_a(prod_config):
    return make_plan(prod_config).sites["dc-a"]


def test_prods_replicas_at_rest_are_what_the_numbers_below_assume(dc_a):
    """r1-qwen-32b: 3 replicas + 1 canary at rest, 2 A100s each = 8 of the 16 A100s of the two
    A100 hosts; r1-llama-8b: 4 replicas, 1 V100 each = 4 of the 12 V100s of three hosts."""
    qwen, llama = dc_a.serving["r1-qwen-32b"], dc_a.serving["r1-llama-8b"]
    assert (qwen.replicas, qwen.canary_replicas, qwen.units_per_replica) == (3, 1, 2)
    assert (llama.replicas, llama.canary_replicas, llama.units_per_replica) == (4, 0, 1)
    assert headroom_problems(dc_a.spec, dc_a.serving, set()) == []


def test_one_a100_host_out_still_fits_exactly(dc_a):
    # 8 GPUs left for 4 pods of 2: the second A100 host carries them all.
    assert headroom_problems(dc_a.spec, dc_a.serving, {"dca-gpu-a100-1"}) == []


def test_both_a100_hosts_out_leave_qwen_nowhere(dc_a):
    (problem,) = headroom_problems(dc_a.spec, dc_a.serving, {"dca-gpu-a100-1", "dca-gpu-a100-2"})
    assert (problem.model, problem.gpu_model, problem.needed, problem.left) == (
        "r1-qwen-32b",
        "A100-80GB",
        8,
        0,
    )
    assert "4 replicas at rest (1 canary) × 2 nvidia.com/gpu" in problem.missing
    assert "no A100-80GB inference host is left at site dc-a" in problem.missing


def test_two_v100_hosts_out_fit_and_three_do_not(dc_a):
    assert headroom_problems(dc_a.spec, dc_a.serving, {"dca-gpu-v100-1", "dca-gpu-v100-2"}) == []
    all_v100 = {"dca-gpu-v100-1", "dca-gpu-v100-2", "dca-gpu-v100-3"}
    (problem,) = headroom_problems(dc_a.spec, dc_a.serving, all_v100)
    assert (problem.model, problem.needed, problem.left) == ("r1-llama-8b", 4, 0)


def test_hosts_without_gpus_cost_no_headroom(dc_a):
    out = {"dca-cp-1", "dca-ceph-1", "dca-cpu-1", "dca-gpu-a100-1", "dca-gpu-v100-1"}
    assert headroom_problems(dc_a.spec, dc_a.serving, out) == []


def _with_max_unavailable(count: int) -> dict:
    raw = raw_stack_config("prod")
    raw["rollout"] = {"maxUnavailable": count}
    return raw


def test_a_max_unavailable_that_fits_passes(prod_config, dr_config):
    assert list(check_rollout(prod_config)) == []
    assert list(check_rollout(dr_config)) == []  # a DR site serves nothing at rest
    validate_config(_with_max_unavailable(1), "prod")


def test_a_max_unavailable_that_does_not_fit_is_refused_with_the_largest_that_fits():
    with pytest.raises(ConfigError) as raised:
        validate_config(_with_max_unavailable(2), "prod")
    issues = [i for i in raised.value.issues if i.path == "rollout.maxUnavailable"]
    assert [i.value for i in issues] == [2, 2]
    assert ["dc-a" in issues[0].problem, "dc-b" in issues[1].problem] == [True, True]
    for issue in issues:
        assert "r1-qwen-32b cannot place its replicas at rest" in issue.problem
        assert issue.fix.startswith("set rollout.maxUnavailable to 1 ")


def test_a_site_that_cannot_spare_one_host_says_so():
    raw = raw_stack_config("prod")
    # One A100 host per site: a drained one leaves the 32B model no GPU at all.
    for site in raw["sites"]:
        site["hosts"] = [h for h in site["hosts"] if not h["name"].endswith("gpu-a100-2")]
    raw["models"][0]["replicas"] = 2
    raw["models"][0]["requestsPerSecond"] = 1
    with pytest.raises(ConfigError) as raised:
        validate_config(raw, "prod")
    (issue, *_) = [i for i in raised.value.issues if i.path == "rollout.maxUnavailable"]
    assert "not even one of its hosts can be drained" in issue.fix
    assert "add A100-80GB inference hosts" in issue.fix
