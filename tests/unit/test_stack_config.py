"""Config validation: the real stack files pass; every bad one fails naming field and fix."""

import json

import pytest
import yaml

import offline.evaluate
from components.preflight import ConfigError, check_inventory
from components.stack_config import validate_config
from offline.evaluate import record
from tests.bad_stacks import case_names, load_case, write_bad_project
from tests.cli import run_offline
from tests.stacks import raw_stack_config


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_real_stacks_are_valid(stack):
    config = validate_config(raw_stack_config(stack), stack)
    assert check_inventory(config) == []


def test_prod_holds_the_reference_inventory(prod_config):
    assert [site.role for site in prod_config.sites] == ["active", "active"]
    for site in prod_config.sites:
        gpus = sorted((h.gpu.model, h.gpu.count) for h in site.hosts if h.gpu)
        assert gpus == [("A100-80GB", 8)] * 2 + [("V100-32GB", 4)] * 3
        assert len(site.hosts_with_role("control-plane")) == 3
        assert len(site.hosts_with_role("worker")) == 6
        assert len(site.hosts_with_role("storage")) == 3


def test_dr_is_one_smaller_site_in_the_same_jurisdiction(prod_config, dr_config):
    assert [site.role for site in dr_config.sites] == ["dr"]
    assert {s.jurisdiction for s in dr_config.sites} <= {s.jurisdiction for s in prod_config.sites}
    assert len(dr_config.sites[0].hosts) < len(prod_config.sites[0].hosts)
    assert dr_config.replication.source_stack == "organization/deepseek-onprem/prod"


def test_every_problem_is_reported_at_once():
    raw = raw_stack_config("prod")
    raw["sites"][0]["hosts"][0]["address"] = "10.99.0.1"
    raw["sites"][1]["network"]["apiVip"] = "10.65.0.1"
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, "prod")
    paths = [issue.path for issue in caught.value.issues]
    assert "sites[0].hosts[0].address" in paths
    assert "sites[1].network.apiVip" in paths


def test_problems_of_three_layers_are_reported_in_one_run():
    raw = raw_stack_config("prod")
    raw["sites"][0]["hosts"][1]["address"] = raw["sites"][0]["hosts"][0]["address"]  # metal
    raw["kubernetes"]["gpuSharing"]["V100-32GB"].update(mode="mig", migProfile="all-1g.5gb")
    raw["models"][0]["tensorParallelSize"] = 1  # serving: Qwen-32B in bf16 on one A100
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, "prod")
    assert not caught.value.fields_only
    paths = {issue.path for issue in caught.value.issues}
    assert {
        "sites[0].hosts[1].address",
        "kubernetes.gpuSharing.V100-32GB.mode",
        "models[0]",
    } <= paths


def test_a_field_error_says_the_checks_across_fields_have_not_run():
    """A per-field problem stops validation before the rules across fields (they compare
    values found wrong): the message says so, so its count is not read as every problem."""
    raw = raw_stack_config("prod")
    raw["gateway"]["clientNetworks"] = ["0.0.0.0/0"]  # a field's own check
    raw["kubernetes"]["gpuSharing"]["V100-32GB"].update(mode="mig", migProfile="all-1g.5gb")
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, "prod")
    assert caught.value.fields_only
    assert [issue.path for issue in caught.value.issues] == ["gateway.clientNetworks[0]"]
    assert "the checks across fields and layers run once they pass" in str(caught.value)


def test_type_errors_name_the_path_value_and_fix():
    raw = raw_stack_config("prod")
    raw["sites"][1]["hosts"][4]["gpu"]["count"] = "eight"
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, "prod")
    (issue,) = caught.value.issues
    assert (issue.path, issue.value) == ("sites[1].hosts[4].gpu.count", "eight")
    assert issue.fix == "write a whole number"


def test_there_is_a_bad_stack_file_per_rule():
    assert len(case_names()) >= 15


@pytest.mark.parametrize("name", case_names())
def test_bad_stack_file_fails_with_a_clear_message_and_registers_nothing(
    name, tmp_path, capsys, monkeypatch
):
    """Through the offline command (in this process): exit 1, the field and fix named, no
    traceback, no output; the program stopped before registering anything but the stack."""
    stack = write_bad_project(name, tmp_path)
    recorded = []

    def record_spy(*args, **kwargs):
        graph, error = record(*args, **kwargs)
        if args[0] == stack:
            recorded.append((graph, error))
        return graph, error

    monkeypatch.setattr(offline.evaluate, "record", record_spy)
    status, out, err = run_offline(capsys, "snapshot", stack, "-C", str(tmp_path))
    assert status == 1, err
    assert out == ""
    assert "Traceback" not in err
    assert "nothing was deployed" in err
    assert "fix: " in err
    for expected in load_case(name)["expect"]:
        assert expected in err, f"{expected!r} not in:\n{err}"
    # A secret's value (offline: its placeholder) is never quoted by an error message.
    for absent in ["offline-placeholder-secret", *load_case(name).get("absent", [])]:
        assert absent not in err, f"{absent!r} shown in:\n{err}"
    ((graph, error),) = recorded
    assert isinstance(error, ConfigError)
    assert [r.type for r in graph.resources] == ["pulumi:pulumi:Stack"]
    json.dumps(graph.snapshot())


def test_an_unquoted_yaml_boolean_where_a_string_belongs_says_to_quote_it():
    """Norway's jurisdiction written `NO` arrives as false (YAML 1.1): the fix says why."""
    raw = yaml.safe_load(
        yaml.safe_dump(raw_stack_config("prod")).replace("jurisdiction: DE", "jurisdiction: NO", 1)
    )
    assert raw["sites"][0]["jurisdiction"] is False
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, "prod")
    (issue,) = caught.value.issues
    assert issue.path == "sites[0].jurisdiction"
    assert "quote it" in issue.fix and "'NO'" in issue.fix
