"""The recorded graph of the real stacks: structure, outputs, DR link, stable snapshot."""

import json

from tests.cli import run_offline
from tests.stacks import assert_snapshot_shape

STACK_URN = "urn:pulumi:prod::deepseek-onprem::pulumi:pulumi:Stack::deepseek-onprem-prod"


def test_prod_has_a_platform_with_one_site_per_configured_site(prod_graph):
    (platform,) = prod_graph.by_type("deepseek:platform:Platform")
    assert platform.parent == STACK_URN
    sites = prod_graph.by_type("deepseek:site:Site")
    assert sorted(s.name for s in sites) == ["deepseek-dc-a", "deepseek-dc-b"]
    assert all(s.parent == platform.urn for s in sites)
    assert {s.inputs["jurisdiction"] for s in sites} == {"DE"}
    assert {s.inputs["role"] for s in sites} == {"active"}


def test_prod_exports_each_site_summary(prod_graph):
    by_name = {site["name"]: site for site in prod_graph.outputs["sites"]}
    assert by_name["dc-a"]["apiEndpoint"] == "https://10.10.0.10:6443"
    assert by_name["dc-b"]["gpus"] == {"A100-80GB": 16, "V100-32GB": 12}
    assert prod_graph.outputs["jurisdictions"] == ["DE"]


def test_dr_reads_prod_through_a_stack_reference(dr_graph, prod_graph):
    (reference,) = dr_graph.by_type("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == "organization/deepseek-onprem/prod"
    assert dr_graph.outputs["replicationSourceSites"] == prod_graph.outputs["sites"]
    assert [s["role"] for s in dr_graph.outputs["sites"]] == ["dr"]


def test_no_resource_name_collides(prod_graph, dr_graph):
    for graph in (prod_graph, dr_graph):
        urns = [r.urn for r in graph.resources]
        assert len(urns) == len(set(urns))


def test_kubernetes_and_ssh_default_providers_are_disabled(prod_graph):
    # Pulumi.yaml's project config reaches the program as the engine would pass it.
    from offline.stack_files import read_stack_config

    config, _ = read_stack_config("prod")
    assert config["pulumi:disable-default-providers"] == '["kubernetes", "command"]'
    for resource in prod_graph.resources:
        if resource.custom and resource.type.split(":")[0] in ("kubernetes", "command"):
            assert resource.provider, f"{resource.urn} uses a default provider"


def test_snapshot_prints_only_the_graph_the_same_from_run_to_run(prod_graph, capsys):
    """`make snapshot`: stdout is the stable JSON of a fresh evaluation, byte for byte the
    session's graph (tests/external/test_offline_cli.py compares two interpreters)."""
    status, out, err = run_offline(capsys, "snapshot", "prod")
    assert status == 0, err
    assert out == prod_graph.snapshot_json()
    snapshot = json.loads(out)
    assert_snapshot_shape(snapshot)


def test_the_cost_estimate_is_a_stack_output(prod_graph):
    cost = prod_graph.plain_outputs["cost"]
    assert set(cost["sites"]) == {"dc-a", "dc-b"}
    assert cost["totalPerMonth"] > 0 and cost["currency"] == "EUR"
