"""The policy pack's judges as pure functions over plain objects (as a live cluster returns
them), the normal forms they judge, and the generated parts of the pack's config and README."""

import json
import subprocess
import sys

import pytest

from tests.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "policies"))

from deepseek_policies.rules import baseline, egress, locality  # noqa: E402
from deepseek_policies.rules.normalize import (  # noqa: E402
    capability,
    image_allowed,
    parse_image,
    prefix_allowed,
    range_within,
    secret_key,
    secret_value,
    shell_assignments,
)
from deepseek_policies.rules.objects import resource_type_of  # noqa: E402

REGISTRY = "registry.bank.internal/deepseek"


def test_the_rules_import_and_judge_without_the_pulumi_sdk():
    script = (
        "import sys\n"
        "sys.modules['pulumi'] = sys.modules['pulumi_policy'] = None\n"
        f"sys.path.insert(0, {str(PROJECT_DIR / 'policies')!r})\n"
        "from deepseek_policies.rules import advisory, baseline, egress, locality\n"
        "pod = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p', 'namespace': 'x'},\n"
        "       'spec': {'hostPID': True, 'containers': [{'name': 'c', 'image': 'nginx'}]}}\n"
        "from deepseek_policies.rules.objects import resource_type_of\n"
        "print(len(list(baseline.judge_privilege(resource_type_of(pod), pod, {}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


@pytest.mark.parametrize("spelling", ["sys_admin", "CAP_SYS_ADMIN", " cap_sys_admin", "Sys-Admin"])
def test_capabilities_are_compared_as_the_kernel_names_them(spelling):
    assert capability(spelling) == "SYS_ADMIN"


@pytest.mark.parametrize(
    ("reference", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("quay.io/metallb/speaker:v0.14", "quay.io", "metallb/speaker", "v0.14", None),
        ("localhost/app", "localhost", "app", None, None),
        (
            "Registry.Bank.Internal:5000/a/b@sha256:ab",
            "registry.bank.internal:5000",
            "a/b",
            None,
            "sha256:ab",
        ),
    ],
)
def test_image_references_parse_as_the_runtime_resolves_them(
    reference, registry, repository, tag, digest
):
    image = parse_image(reference)
    assert (image.registry, image.repository, image.tag, image.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


def test_registries_are_compared_by_host_and_path_components():
    assert image_allowed(f"{REGISTRY}/nvcr.io/nvidia/triton:1", [REGISTRY])
    assert image_allowed("REGISTRY.bank.internal/deepseek/x:1", [REGISTRY])
    for outside in (
        "registry.bank.internal/deepseek-evil/x:1",
        "registry.bank.internal.example.com/deepseek/x:1",
        "registry.bank.internal:5000/deepseek/x:1",
        "deepseek/x:1",
    ):
        assert not image_allowed(outside, [REGISTRY]), outside
    assert prefix_allowed(f"{REGISTRY}/quay.io/", [REGISTRY])
    assert not prefix_allowed("registry.bank.internal", [REGISTRY])


@pytest.mark.parametrize(
    "key",
    ["password", "DB_PASS", "dbPassword", "KUBEADM_TOKEN", "apiKey", "private_key", "x-api-key"],
)
def test_secret_keys_in_any_case(key):
    assert secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["secretName", "tokenFile", "hostKey", "passwordSecretRef"],
)
def test_keys_that_only_name_where_a_secret_is(key):
    assert not secret_key(key)


def test_secret_values_by_shape():
    assert secret_value("https://u:p@host/x") == "a URL with credentials"
    assert secret_value("Authorization: Bearer abcdefghijklmnop") == "a bearer token"
    assert secret_value("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl") == "a JWT"
    assert secret_value("https://s3.dc-a.bank.internal") is None
    assert dict(shell_assignments("env A=1 B='x y' bash -s")) == {"A": "1", "B": "x y"}


def test_address_ranges_lie_within_a_single_pool():
    assert range_within("10.10.0.200/29", ["10.10.0.200/29"])
    assert range_within("10.10.0.201-10.10.0.203", ["10.10.0.200/29"])
    assert not range_within("10.10.0.200-10.10.0.240", ["10.10.0.200/29"])
    assert not range_within("10.10.0.1-10.20.0.1", ["10.10.0.0/22", "10.20.0.0/22"])


def _live(kind: str, api_version: str, spec: dict, namespace: str = "inference", **top) -> dict:
    metadata = {"name": "x", "namespace": namespace}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, **top}


def test_judges_read_live_objects():
    pod = _live(
        "Pod",
        "v1",
        {
            "nodeSelector": {"topology.kubernetes.io/region": "de-fra"},
            "containers": [
                {
                    "name": "c",
                    "image": f"{REGISTRY}/app",
                    "env": [{"name": "Db_Pass", "value": "hunter2!"}],
                }
            ],
            "volumes": [{"name": "v", "nfs": {"server": "nas", "path": "/"}}],
        },
    )
    kind = resource_type_of(pod)
    assert kind == "kubernetes:core/v1:Pod"
    assert list(baseline.judge_plaintext(kind, pod, {}))
    assert list(egress.judge_pinned(kind, pod, {}))
    assert not list(egress.judge_images(kind, pod, {"allowedRegistries": [REGISTRY]}))
    assert list(locality.judge_storage(kind, pod, {"allowedStorageClasses": ["local-path"]}))
    policy = _live(
        "GlobalNetworkPolicy",
        "crd.projectcalico.org/v1",
        {"egress": [{"action": "Allow", "destination": {"nets": ["10.200.0.0/24"]}}]},
    )
    assert not list(
        egress.judge_egress(
            resource_type_of(policy), policy, {"allowedEgressCidrs": ["10.200.0.0/16"]}
        )
    )


def test_commands_are_judged_by_whichever_step_they_run():
    for step in ("create", "update", "delete"):
        command = {step: "sudo env NODE=a JOIN_TOKEN=abcdef.0123456789 bash -s"}
        assert list(baseline.judge_plaintext("command:remote:Command", command, {})), step


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_committed_pack_config_is_what_the_command_generates(stack):
    from tools.policy_config import CONFIG_DIR, generate, render

    committed = (CONFIG_DIR / f"{stack}.json").read_text()
    assert committed == render(generate(stack)), (
        f"policies/config/{stack}.json is stale: run python -m tools.policy_config {stack}"
    )


def test_a_derived_network_outside_the_bounds_is_refused(tmp_path):
    from tools.policy_config import CONFIG_DIR, BoundsError, generate

    bounds = json.loads((CONFIG_DIR / "bounds" / "prod.json").read_text())
    bounds["networkBounds"] = ["10.10.0.0/16"]
    (tmp_path / "bounds").mkdir()
    (tmp_path / "bounds" / "prod.json").write_text(json.dumps(bounds))
    with pytest.raises(BoundsError, match="10.20.0.0/22"):
        generate("prod", config_dir=tmp_path)


def test_the_readme_rule_table_is_generated_from_the_pack():
    from tools.policy_config import README, readme_with_table

    text = README.read_text()
    assert readme_with_table(text) == text, (
        "README.md's policy table is stale: run python -m tools.policy_config --readme prod dr"
    )


def test_every_description_says_what_it_protects_and_the_allow_lists_it_reads():
    from deepseek_policies.pack import POLICIES

    for policy in POLICIES:
        assert policy.description.startswith("Keeps "), policy.name
        keys = policy.config_schema.properties if policy.config_schema else {}
        for key in keys:
            if key.startswith("allowed"):
                assert key in policy.description, (policy.name, key)


EGRESS_ALLOWED = {"allowedEgressCidrs": ["10.10.0.0/22", "10.200.0.0/24"]}


@pytest.mark.parametrize(
    "api_version", ["crd.projectcalico.org/v1", "projectcalico.org/v3"], ids=["v1", "v3"]
)
@pytest.mark.parametrize("kind", ["GlobalNetworkSet", "NetworkSet"])
def test_calico_network_sets_hold_only_allowed_networks(api_version, kind):
    def findings(**spec):
        obj = _live(kind, api_version, spec)
        return list(egress.judge_egress(resource_type_of(obj), obj, EGRESS_ALLOWED))

    assert findings(nets=["10.10.1.0/24", "10.200.0.7"]) == []
    assert len(findings(nets=["10.10.0.0/22", "0.0.0.0/1", "128.0.0.0/1"])) == 2
    assert "whole internet" in findings(nets=["0.0.0.0/0"])[0]
    assert findings(allowedEgressDomains=["*.bank.example.com"])
    # a set is no policy: it never allows ingress by itself
    obj = _live(kind, api_version, {"nets": ["0.0.0.0/0"]})
    assert not list(egress.judge_ingress(resource_type_of(obj), obj, {}))


def _admin_policy(kind: str, direction: str, *rules: dict) -> dict:
    return _live(
        kind,
        "policy.networking.k8s.io/v1alpha1",
        {"subject": {"namespaces": {}}, direction: list(rules)},
    )


@pytest.mark.parametrize("kind", ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"])
def test_admin_network_policies_open_only_to_allowed_networks_and_named_peers(kind):
    def findings(direction, *rules, config=EGRESS_ALLOWED):
        obj = _admin_policy(kind, direction, *rules)
        judge = egress.judge_egress if direction == "egress" else egress.judge_ingress
        return list(judge(resource_type_of(obj), obj, config))

    named = [{"namespaces": {}}, {"pods": {"namespaceSelector": {}, "podSelector": {}}}]
    assert findings("egress", {"action": "Allow", "to": [*named, {"nodes": {}}]}) == []
    assert findings("egress", {"action": "Allow", "to": [{"networks": ["10.10.2.0/24"]}]}) == []
    # Deny never opens anything
    assert findings("egress", {"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}) == []
    for action in ("Allow", "Pass"):
        assert findings("egress", {"action": action, "to": [{"networks": ["0.0.0.0/0"]}]})
        assert findings("egress", {"action": action, "to": [{"networks": ["192.0.2.0/24"]}]})
        assert findings("egress", {"action": action})
        assert findings("ingress", {"action": action, "from": [{}]})
    assert findings("egress", {"action": "Allow", "to": [{"domainNames": ["a.example.com"]}]})
    assert findings("ingress", {"action": "Allow", "from": named}) == []


def _priority_class(name: str, value, **top) -> dict:
    obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": value}
    return {**obj, "metadata": {"name": name}, **top}


PRIORITY_BOUNDS = {
    "allowedTrainingPriorityClasses": ["batch-low"],
    "servingPriorityClass": "high-priority",
    "servingPriorityValue": 1_000_000,
}


@pytest.mark.parametrize(
    ("obj", "config", "found"),
    [
        (_priority_class("batch-low", 1000), PRIORITY_BOUNDS, 0),
        (_priority_class("batch-low", 999_999.0), PRIORITY_BOUNDS, 0),
        (_priority_class("batch-low", 1_000_000), PRIORITY_BOUNDS, 1),
        (_priority_class("batch-low", "lots"), PRIORITY_BOUNDS, 1),
        (_priority_class("high-priority", 1_000_000), PRIORITY_BOUNDS, 0),
        (_priority_class("high-priority", 999), PRIORITY_BOUNDS, 1),
        (_priority_class("other", 2_000_000_000), PRIORITY_BOUNDS, 0),
        (_priority_class("other", 1, globalDefault=True), PRIORITY_BOUNDS, 1),
        (
            _priority_class("other", 1, globalDefault=True),
            {**PRIORITY_BOUNDS, "allowedDefaultPriorityClasses": ["other"]},
            0,
        ),
        # without the hand-owned bound, a training or serving class is refused
        (_priority_class("batch-low", 1000), {"allowedTrainingPriorityClasses": ["batch-low"]}, 1),
    ],
)
def test_priority_classes_keep_training_below_serving(obj, config, found):
    judged = list(baseline.judge_training_priority(resource_type_of(obj), obj, config))
    assert len(judged) == found, judged
