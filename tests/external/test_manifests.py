"""The stacks' Kubernetes objects, written by `make manifests`, pass the validators that
Kubernetes users trust: kubernetes-validate (strict, for the pinned version) and checkov."""

import json
import os
import subprocess

import kubernetes_validate
import pytest
import yaml

from offline.manifests import is_plain_manifest, write_manifests
from tests.paths import PROJECT_DIR

# Custom resources: their schemas come with the operators' CRDs, not with Kubernetes.
CRD_KINDS = {
    "MPIJob",
    "Certificate",
    "ClusterIssuer",
    "IPAddressPool",
    "L2Advertisement",
    "BGPPeer",
    "BGPAdvertisement",
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "BackendTLSPolicy",
    "EnvoyProxy",
    "SecurityPolicy",
    "ClientTrafficPolicy",
    "BackendTrafficPolicy",
    "Backend",
}
CHECKOV = PROJECT_DIR / ".venv-validators" / "bin" / "checkov"


@pytest.fixture(scope="module", params=["prod", "dr"])
def manifests(request, stack_graph, tmp_path_factory):
    graph = stack_graph(request.param)
    directory = tmp_path_factory.mktemp(f"manifests-{request.param}")
    files = write_manifests(graph, directory)
    version = json.loads(
        __import__("offline.stack_files", fromlist=["x"]).read_stack_config(request.param)[0][
            "deepseek-onprem:kubernetes"
        ]
    )["version"]
    return graph, directory, files, version


def test_every_plain_kubernetes_object_is_written_once(manifests):
    graph, _, files, _ = manifests
    assert len(files) == len([r for r in graph.resources if is_plain_manifest(r)])
    assert len(files) == len(set(files))
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in files}
    assert {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
        "StorageClass",
        "Deployment",
        "NetworkPolicy",
    } <= kinds
    assert not any("helm" in f.name for f in files)


def test_kubernetes_validate_strict_for_the_pinned_version(manifests):
    _, _, files, version = manifests
    problems = []
    for path in files:
        document = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if document["kind"] not in CRD_KINDS:
                problems.append(f"{path.name}: no schema for {document['kind']}")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path.name}: {error.message}")
    assert problems == []


def test_checkov_kubernetes_checks_pass_and_every_skip_has_a_reason(manifests):
    _, directory, _, _ = manifests
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "kubernetes",
            "--skip-download",
            "-o",
            "json",
        ],
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
    assert report["summary"]["passed"] > 100
    for skipped in results.get("skipped_checks", []):
        reason = skipped["check_result"].get("suppress_comment")
        assert reason, f"{skipped['check_id']} skipped without a reason"
