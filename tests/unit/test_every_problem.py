"""Every problem of a stack file at once: validators that look at a list report each bad item,
and a cross-field rule reports each bad host, site or model, not only the first."""

import pytest

from components.preflight import ConfigError
from components.stack_config import validate_config
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
