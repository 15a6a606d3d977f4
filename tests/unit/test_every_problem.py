"""Every problem of a stack file at once: validators that look at a list report each bad item,
and a cross-field rule reports each bad host, site or model, not only the first."""

import pytest

from components.stack_config import validate_config
from components.validation import ConfigError, check_stack_reference
from tests.stacks import raw_stack_config


def _issues(raw: dict, stack: str = "prod") -> dict[str, tuple]:
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, stack)
    return {issue.path: (issue.value, issue.problem, issue.fix) for issue in caught.value.issues}


def test_every_open_network_of_a_list_is_reported_with_its_index():
    raw = raw_stack_config("prod")
    egress = raw["sites"][0]["network"]["egressAllowList"]
    egress[:0] = ["0.0.0.0/0", "10.40.0.0/16", "64.0.0.0/2"]
    raw["gateway"]["clientNetworks"] = ["10.50.0.0/16", "0.0.0.0/1"]
    issues = _issues(raw)
    assert issues["sites[0].network.egressAllowList[0]"] == (
        "0.0.0.0/0",
        "0.0.0.0/0 opens egress to a large part of the internet",
        "list only the internal networks workloads must reach",
    )
    assert "sites[0].network.egressAllowList[2]" in issues
    assert "sites[0].network.egressAllowList[1]" not in issues
    assert issues["gateway.clientNetworks[1]"][1] == "0.0.0.0/1 admits a large part of the internet"


def test_every_namespace_that_is_not_a_system_namespace_is_reported():
    raw = raw_stack_config("prod")
    raw["kubernetes"]["privilegedNamespaces"] = ["inference", "gpu-operator", "training"]
    issues = _issues(raw)
    assert set(issues) == {
        "kubernetes.privilegedNamespaces[0]",
        "kubernetes.privilegedNamespaces[2]",
    }
    value, problem, fix = issues["kubernetes.privilegedNamespaces[2]"]
    assert value == "training"
    assert problem == "training is not a system namespace of the platform"
    assert fix.startswith("list only namespaces among ")


def test_a_field_validator_s_fix_is_carried_apart_from_its_problem():
    """The fix comes from the validator's FieldError, not from splitting its message: a value
    quoted in the problem may itself hold '; fix: '."""
    raw = raw_stack_config("prod")
    raw["kubernetes"]["privilegedNamespaces"] = ["kube; fix: nothing to do"]
    (value, problem, fix) = _issues(raw)["kubernetes.privilegedNamespaces[0]"]
    assert problem == "kube; fix: nothing to do is not a system namespace of the platform"
    assert fix.startswith("list only namespaces among ")


def test_every_host_without_a_device_plugin_profile_is_reported_at_every_site():
    raw = raw_stack_config("prod")
    raw["sites"][0]["hosts"][6]["gpu"]["model"] = "L40S"
    raw["sites"][1]["hosts"][7]["gpu"]["model"] = "H100-80GB"
    issues = _issues(raw)
    assert set(issues) == {"sites[0].hosts[6].gpu.model", "sites[1].hosts[7].gpu.model"}
    assert issues["sites[1].hosts[7].gpu.model"][2] == (
        "add kubernetes.gpuSharing.H100-80GB (mode time-slicing, mig or exclusive)"
    )


def test_mig_without_a_profile_is_reported_not_raised():
    raw = raw_stack_config("prod")
    raw["kubernetes"]["gpuSharing"]["A100-80GB"] = {"mode": "mig"}
    assert set(_issues(raw)) == {"kubernetes.gpuSharing.A100-80GB.migProfile"}


def test_capacity_is_checked_for_the_models_that_placed():
    """One model that does not fit no longer hides another model's capacity problem."""
    raw = raw_stack_config("prod")
    raw["models"][0]["tensorParallelSize"] = 1  # 32B in BF16 on one A100: does not fit
    raw["models"][1]["requestsPerSecond"] = 200  # more than the V100s carry
    issues = _issues(raw)
    assert issues["models[0]"][0] == "r1-qwen-32b"
    assert "needs 95 GiB" in issues["models[0]"][1]
    value, problem, _ = issues["models[1].requestsPerSecond"]
    assert value == 200
    assert "r1-llama-8b 115 × 1 nvidia.com/gpu) do not fit" in problem
    assert not any(path.startswith("models[0].") for path in issues)


def test_a_stack_reference_to_another_project_s_stack_of_the_same_name_reports_both():
    config = validate_config(raw_stack_config("dr"), "dr")
    replication = config.replication.model_copy(update={"source_stack": "organization/other/dr"})
    config = config.model_copy(update={"replication": replication})
    problems = [issue.problem for issue in check_stack_reference(config, "dr")]
    assert len(problems) == 2
    assert problems[0].startswith("names a stack of project 'other'")
    assert problems[1].startswith("names stack 'dr' itself")
