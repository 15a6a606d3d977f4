"""The data-lake sync's Kubernetes objects (prod with `backup.dataLake` set) pass the validators
every other rendered object passes: kubernetes-validate (strict, for the pinned version) and
checkov, each skip with a reason; and the policy pack, configured as CI configures it for that
stack file, finds nothing in them. No Hadoop runs here: the manifests are validated, not run."""

import copy
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from offline.evaluate import record
from offline.manifests import is_plain_manifest, write_manifests
from offline.policy import policy_server
from tests.bad_stacks import PROJECT, project_with_stack_file
from tests.paths import PROJECT_DIR
from tests.program.test_data_lake_graph import with_data_lake
from tools.policy_config import generate

CHECKOV = PROJECT_DIR / ".venv-validators" / "bin" / "checkov"
SYNC = "deepseek:storage:DataLakeSync"


@pytest.fixture(scope="module")
def lake_stack():
    """prod with a data lake, as a project directory: its graph and its pack config."""
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    config = {key.split(":", 1)[1]: value for key, value in stack_file["config"].items()}
    with_data_lake(config)
    stack_file["config"] = {f"{PROJECT}:{key}": value for key, value in config.items()}
    directory = Path(tempfile.mkdtemp(prefix="data-lake-stack-"))
    try:
        project_with_stack_file(directory, "prod", yaml.safe_dump(stack_file))
        graph, error = record("prod", project_dir=directory)
        assert error is None, error
        pack_config = generate("prod", project_dir=directory)
    finally:
        shutil.rmtree(directory)
    return graph, pack_config, config["kubernetes"]["version"]


@pytest.fixture(scope="module")
def lake_files(lake_stack, tmp_path_factory):
    """The objects under the DataLakeSync components, written as `make manifests` writes."""
    graph, _, _ = lake_stack
    syncs = {r.urn for r in graph.by_type(SYNC)}
    ours = [
        r for r in graph.resources if is_plain_manifest(r) and syncs & set(graph.ancestors(r.urn))
    ]
    # Components stay (they name each object's site); other sites' objects go.
    kept = [r for r in graph.resources if not is_plain_manifest(r) or r in ours]
    subset = type(graph)(**{**graph.__dict__, "resources": kept})
    directory = tmp_path_factory.mktemp("data-lake-manifests")
    return directory, write_manifests(subset, directory)


def test_the_sync_objects_are_written_per_site(lake_files):
    directory, files = lake_files
    kinds = sorted((path.parent.name, yaml.safe_load(path.read_text())["kind"]) for path in files)
    per_site = ["CronJob", "Namespace", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy"]
    assert kinds == [("dc-a", kind) for kind in per_site] + [("dc-b", kind) for kind in per_site]


def test_kubernetes_validate_strict_for_the_pinned_version(lake_stack, lake_files):
    _, _, version = lake_stack
    _, files = lake_files
    problems = []
    for path in files:
        document = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{path.name}: no schema for {document['kind']}")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path.name}: {error.message}")
    assert problems == []


def test_checkov_kubernetes_checks_pass_and_every_skip_has_a_reason(lake_files):
    directory, _ = lake_files
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", "--skip-download"]
        + ["-o", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    report = json.loads(result.stdout)
    report = report if isinstance(report, dict) else report[0]
    results = report["results"]
    failed = [(c["check_id"], c["file_path"]) for c in results["failed_checks"]]
    assert failed == []
    # The CronJobs' pod checks ran (security context, limits, seccomp, capabilities...).
    cronjob_passes = {
        c["check_id"] for c in results["passed_checks"] if "cronjob" in c["file_path"].lower()
    }
    assert {"CKV_K8S_22", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_13"} <= cronjob_passes
    skipped = results.get("skipped_checks", [])
    assert {s["check_id"] for s in skipped} == {"CKV_K8S_40", "CKV_K8S_43"}
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), check["check_id"]


def test_the_policy_pack_configured_for_this_stack_file_finds_nothing_in_the_sync(lake_stack):
    graph, pack_config, _ = lake_stack
    syncs = {r.urn for r in graph.by_type(SYNC)}
    ours = {r.urn for r in graph.resources if syncs & set(graph.ancestors(r.urn))}
    lake_networks = {"10.10.8.0/24", "10.20.8.0/24"}
    allowed = pack_config["egress-within-allow-list"]["allowedEgressCidrs"]
    # The lakes' networks reach the pack through the sites' egress allow-lists.
    assert lake_networks <= set(allowed)
    without_lake = copy.deepcopy(pack_config)
    without_lake["egress-within-allow-list"]["allowedEgressCidrs"] = [
        n for n in allowed if n not in lake_networks
    ]
    with policy_server("prod") as server:
        server.configure(pack_config)
        found = [(v.policy, v.name, v.message) for v in server.analyze(graph) if v.urn in ours]
        # The pack does judge the sync's objects: without the lakes' networks on the list,
        # each site's egress policy is refused.
        server.configure(without_lake)
        refused = {(v.policy, v.name) for v in server.analyze(graph) if v.urn in ours}
    assert found == []
    assert refused == {
        ("egress-within-allow-list", f"deepseek-{site}-data-lake-allow-data-lake")
        for site in ("dc-a", "dc-b")
    }
