"""Change classification (offline/changes.py) on small hand-made snapshots: each provider's
rule, ignoreChanges, aliases, masked secrets."""

import pytest

from offline.changes import changed_paths, classify, counts, parse_path, render_summary

STACK = "urn:pulumi:prod::deepseek-onprem::"
SITE = f"{STACK}deepseek:site:Site::deepseek-dc-a"
K8S_PROVIDER = f"{STACK}deepseek:site:Site$pulumi:providers:kubernetes::k8s"


def _resource(type_: str, name: str, inputs: dict, **extra) -> dict:
    parent = extra.pop("parent", SITE)
    return {
        "urn": extra.pop("urn", f"{STACK}deepseek:site:Site${type_}::{name}"),
        "type": type_,
        "name": name,
        "custom": extra.pop("custom", True),
        "parent": parent,
        "dependencies": [],
        "provider": extra.pop("provider", ""),
        "protect": False,
        "retainOnDelete": False,
        "inputs": inputs,
        **extra,
    }


def _site() -> dict:
    return _resource("deepseek:site:Site", "deepseek-dc-a", {}, urn=SITE, parent="", custom=False)


def _snapshot(*resources: dict) -> dict:
    return {
        "project": "deepseek-onprem",
        "stack": "prod",
        "resources": [_site(), *resources],
        "outputs": {},
    }


def _one(old: dict, new: dict, **kwargs):
    """The change of the one resource that is not the site."""
    changes = classify(_snapshot(old), _snapshot(new), **kwargs)
    (change,) = [c for c in changes if c.type != "deepseek:site:Site"]
    return change


COMMAND = "command:remote:Command"
BASE_COMMAND = {
    "create": "bash -s",
    "stdin": "script",
    "triggers": ["digest-1", "input"],
    "connection": {"host": "10.0.0.1", "privateKey": "[secret]"},
    "logging": "stdoutAndStderr",
}


@pytest.mark.parametrize(
    ("field", "value", "operation"),
    [
        ("triggers", ["digest-2", "input"], "replace"),
        ("create", "bash -s -x", "update"),
        ("update", "bash -s", "update"),
        ("delete", "kubeadm reset", "update"),
        ("stdin", "another script", "update"),
        ("connection", {"host": "10.0.0.2", "privateKey": "[secret]"}, "update"),
        ("environment", {"A": "1"}, "update"),
        ("logging", "stderr", "update"),
    ],
)
def test_a_command_is_replaced_only_when_its_triggers_change(field, value, operation):
    old = _resource(COMMAND, "c", BASE_COMMAND)
    new = _resource(COMMAND, "c", {**BASE_COMMAND, field: value})
    change = _one(old, new)
    assert change.operation == operation
    assert change.paths
    assert all(p.startswith(field) for p in change.paths)
    assert bool(change.replace_paths) == (operation == "replace")


def test_an_unchanged_command_is_the_same():
    command = _resource(COMMAND, "c", BASE_COMMAND)
    assert _one(command, dict(command)).operation == "same"


def test_changed_paths_go_as_deep_as_both_sides_agree():
    old = {"triggers": ["a", "b"], "spec": {"selector": {"matchLabels": {"app": "x"}}}}
    new = {"triggers": ["a", "c"], "spec": {"selector": {"matchLabels": {"app": "y"}}}}
    assert list(changed_paths(old, new)) == ["spec.selector.matchLabels.app", "triggers[1]"]
    assert list(changed_paths({"l": [1]}, {"l": [1, 2]})) == ["l"]


@pytest.mark.parametrize("type_", ["random:index/randomPassword:RandomPassword"])
def test_any_change_of_a_random_value_replaces_it(type_):
    change = _one(
        _resource(type_, "token", {"length": 16, "special": False}),
        _resource(type_, "token", {"length": 16, "special": True}),
    )
    assert (change.operation, change.replace_paths) == ("replace", ("special",))


def _k8s(kind: str, inputs: dict, api: str = "apps/v1") -> dict:
    return _resource(f"kubernetes:{api}:{kind}", kind.lower(), inputs, provider=K8S_PROVIDER)


def _k8s_provider(**inputs) -> dict:
    return _resource(
        "pulumi:providers:kubernetes", "k8s", {"kubeconfig": "[secret]", **inputs}, urn=K8S_PROVIDER
    )


def _k8s_change(kind: str, old: dict, new: dict, api: str = "apps/v1", **provider) -> str:
    changes = classify(
        _snapshot(_k8s_provider(**provider), _k8s(kind, old, api)),
        _snapshot(_k8s_provider(**provider), _k8s(kind, new, api)),
    )
    return next(c for c in changes if c.name == kind.lower()).operation


DEPLOYMENT = {
    "metadata": {"name": "triton", "namespace": "serving"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "triton"}},
        "template": {"spec": {"containers": [{"image": "triton:1"}]}},
    },
}


def _with(base: dict, path: str, value) -> dict:
    import copy

    changed = copy.deepcopy(base)
    node = changed
    parts = parse_path(path)
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "operation"),
    [
        ("metadata.name", "triton-2", "replace"),
        ("metadata.namespace", "other", "replace"),
        ("spec.selector.matchLabels.app", "other", "replace"),
        ("spec.replicas", 3, "update"),
        ("spec.template.spec.containers[0].image", "triton:2", "update"),
    ],
)
def test_a_deployment_is_replaced_on_its_identity_and_selector_only(path, value, operation):
    assert _k8s_change("Deployment", DEPLOYMENT, _with(DEPLOYMENT, path, value)) == operation


def _at(path: str, value) -> dict:
    """`{"spec": {"clusterIP": value}}` from `spec.clusterIP`."""
    for part in reversed(parse_path(path)):
        value = [value] if isinstance(part, int) else {part: value}
    return value


@pytest.mark.parametrize(
    ("kind", "api", "path", "operation"),
    [
        ("StatefulSet", "apps/v1", "spec.serviceName", "replace"),
        ("StatefulSet", "apps/v1", "spec.volumeClaimTemplates[0].spec", "replace"),
        ("StatefulSet", "apps/v1", "spec.replicas", "update"),
        ("DaemonSet", "apps/v1", "spec.selector.matchLabels.app", "replace"),
        ("DaemonSet", "apps/v1", "spec.template.spec", "update"),
        ("Service", "core/v1", "spec.clusterIP", "replace"),
        ("Service", "core/v1", "spec.ports", "update"),
        ("PersistentVolumeClaim", "core/v1", "spec.storageClassName", "replace"),
        ("PersistentVolumeClaim", "core/v1", "spec.accessModes", "replace"),
        ("PersistentVolumeClaim", "core/v1", "spec.resources.requests.storage", "update"),
        ("Job", "batch/v1", "spec.template.spec", "replace"),
        ("Job", "batch/v1", "spec.ttlSecondsAfterFinished", "update"),
        ("NetworkPolicy", "networking.k8s.io/v1", "spec.podSelector", "update"),
        ("NetworkPolicy", "networking.k8s.io/v1", "metadata.name", "replace"),
    ],
)
def test_immutable_fields_of_the_common_kinds_replace(kind, api, path, operation):
    assert _k8s_change(kind, _at(path, "old"), _at(path, "new"), api) == operation


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_data_replaces_when_immutable_or_when_the_provider_keeps_it_immutable(kind):
    old, new = {"data": {"k": "1"}}, {"data": {"k": "2"}}
    flag = {"ConfigMap": "enableConfigMapMutable", "Secret": "enableSecretMutable"}[kind]
    # pulumi-kubernetes v4's default: ConfigMaps and Secrets are replaced on a data change.
    assert _k8s_change(kind, old, new, "core/v1") == "replace"
    # A provider that allows mutation updates them, unless the object is immutable.
    assert _k8s_change(kind, old, new, "core/v1", **{flag: True}) == "update"
    immutable_old, immutable_new = {**old, "immutable": True}, {**new, "immutable": True}
    assert _k8s_change(kind, immutable_old, immutable_new, "core/v1", **{flag: True}) == "replace"


@pytest.mark.parametrize(
    ("field", "value", "operation"),
    [
        ("name", "other", "replace"),
        ("namespace", "other", "replace"),
        # pulumi-kubernetes helm_release.go Diff: only .name and .namespace force a new release.
        ("chart", "other-chart", "update"),
        ("version", "2.0.0", "update"),
        ("values", {"a": 2}, "update"),
    ],
)
def test_a_helm_release_is_replaced_on_its_name_and_namespace(field, value, operation):
    inputs = {"name": "r", "namespace": "n", "chart": "c", "version": "1.0.0", "values": {"a": 1}}
    change = _one(
        _resource("kubernetes:helm.sh/v3:Release", "r", inputs),
        _resource("kubernetes:helm.sh/v3:Release", "r", {**inputs, field: value}),
    )
    assert change.operation == operation


def test_a_provider_is_updated_and_a_component_has_no_operation():
    provider = _k8s_provider()
    assert _one(provider, _k8s_provider(namespace="x")).operation == "update"
    component = _resource("deepseek:metal:Host", "h", {"a": 1}, custom=False)
    assert _one(component, {**component, "inputs": {"a": 2}}).operation == "same"


def test_created_and_deleted_resources():
    a = _resource(COMMAND, "a", BASE_COMMAND)
    b = _resource(COMMAND, "b", BASE_COMMAND)
    changes = {c.name: c.operation for c in classify(_snapshot(a), _snapshot(b))}
    assert changes == {"a": "delete", "b": "create", "deepseek-dc-a": "same"}
    component = _resource("deepseek:metal:Host", "h", {}, custom=False)
    assert _one(component, component).operation == "same"
    (created,) = [c for c in classify(_snapshot(), _snapshot(component)) if c.name == "h"]
    assert created.operation == "create"


@pytest.mark.parametrize(
    ("ignore", "operation"),
    [
        (["create"], "same"),
        (["stdin"], "update"),
        (["triggers[0]"], "same"),
        (["triggers"], "same"),
    ],
)
def test_ignored_inputs_are_left_out_as_the_engine_does(ignore, operation):
    old = _resource(COMMAND, "c", BASE_COMMAND)
    new = _resource(
        COMMAND,
        "c",
        {**BASE_COMMAND, "create": "new", "triggers": ["digest-2", "input"]}
        if ignore != ["stdin"]
        else {**BASE_COMMAND, "create": "new"},
        ignoreChanges=ignore,
    )
    if ignore == ["create"]:
        new["inputs"]["triggers"] = BASE_COMMAND["triggers"]
    if ignore[0].startswith("triggers"):
        new["inputs"]["create"] = BASE_COMMAND["create"]
    assert _one(old, new).operation == operation


def test_the_new_resources_ignore_changes_is_the_one_read():
    old = _resource(COMMAND, "c", BASE_COMMAND, ignoreChanges=["create"])
    new = _resource(COMMAND, "c", {**BASE_COMMAND, "create": "new"})
    assert _one(old, new).operation == "update"


def test_a_resource_moved_by_an_alias_is_the_same_resource():
    old = _resource(COMMAND, "c", BASE_COMMAND)
    moved_urn = f"{STACK}deepseek:site:Site$deepseek:kubernetes:Cluster${COMMAND}::c"
    new = _resource(COMMAND, "c", BASE_COMMAND, urn=moved_urn)
    without = {c.operation for c in classify(_snapshot(old), _snapshot(new)) if c.name == "c"}
    assert without == {"create", "delete"}
    (change,) = [
        c
        for c in classify(_snapshot(old), _snapshot(new), {old["urn"]: moved_urn})
        if c.name == "c"
    ]
    assert (change.operation, change.former_urn, change.urn) == ("same", old["urn"], moved_urn)


def test_a_masked_secret_compares_equal_and_a_secret_made_plain_does_not():
    old = _resource(COMMAND, "c", {**BASE_COMMAND, "stdin": "[secret]"})
    assert _one(old, _resource(COMMAND, "c", {**BASE_COMMAND, "stdin": "[secret]"})).operation == (
        "same"
    )
    plain = _one(old, _resource(COMMAND, "c", {**BASE_COMMAND, "stdin": "export TOKEN=x"}))
    assert (plain.operation, plain.paths) == ("update", ("stdin",))


def test_a_move_to_another_provider_replaces():
    old = _resource(COMMAND, "c", BASE_COMMAND, provider=f"{STACK}pulumi:providers:command::a")
    new = _resource(COMMAND, "c", BASE_COMMAND, provider=f"{STACK}pulumi:providers:command::b")
    assert _one(old, new).operation == "replace"


def test_the_summary_counts_and_groups_by_site():
    old = _snapshot(
        _resource(COMMAND, "deepseek-dc-a-h-os-prep", BASE_COMMAND),
        _resource(COMMAND, "outside", BASE_COMMAND, parent=""),
    )
    new = _snapshot(
        _resource(COMMAND, "deepseek-dc-a-h-os-prep", {**BASE_COMMAND, "triggers": ["d", "i"]}),
        _resource(COMMAND, "outside", {**BASE_COMMAND, "create": "x"}, parent=""),
    )
    changes = classify(old, new)
    assert counts(changes) == {"create": 0, "update": 1, "replace": 1, "delete": 0, "same": 1}
    text = render_summary(changes)
    assert text.splitlines()[0] == (
        "Changes: 0 to create, 1 to update, 1 to replace, 0 to delete, 1 unchanged"
    )
    site_part, outside_part = text.split("(not under a site)")
    assert "deepseek-dc-a:" in site_part and "deepseek-dc-a-h-os-prep" in site_part
    assert "triggers[0] (replaces)" in site_part
    assert "outside" in outside_part and "[create]" in outside_part


def test_property_paths_parse_as_the_engine_spells_them():
    assert parse_path('spec.containers[0]["app.kubernetes.io/name"]') == [
        "spec",
        "containers",
        0,
        "app.kubernetes.io/name",
    ]
    assert parse_path("triggers[*]") == ["triggers", "*"]
