"""Config validation: the real stack files pass; every bad one fails naming field and fix."""

import json
import subprocess
import sys

import pytest
import yaml

from components.preflight import ConfigError, check_inventory
from components.stack_config import validate_config
from tests.bad_stacks import case_names, load_case, write_bad_project
from tests.paths import PROJECT_DIR
from tests.stacks import raw_stack_config

# test_cost.py and test_gateway.py still import `_raw` from here while another lane edits them.
_raw = raw_stack_config


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
def test_bad_stack_file_fails_with_a_clear_message(name, tmp_path):
    """Through the real offline command: exit 1, the field and fix named, no traceback."""
    stack = write_bad_project(name, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "offline", "snapshot", stack, "-C", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "nothing was deployed" in result.stderr
    assert "fix: " in result.stderr
    for expected in load_case(name)["expect"]:
        assert expected in result.stderr, f"{expected!r} not in:\n{result.stderr}"
    # A secret's value (offline: its placeholder) is never quoted by an error message.
    for absent in ["offline-placeholder-secret", *load_case(name).get("absent", [])]:
        assert absent not in result.stderr, f"{absent!r} shown in:\n{result.stderr}"


@pytest.mark.parametrize("name", case_names())
def test_bad_config_registers_nothing(name, tmp_path):
    from offline.evaluate import record

    stack = write_bad_project(name, tmp_path)
    graph, error = record(stack, tmp_path)
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
