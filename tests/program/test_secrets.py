"""The secret scan: every secret value of a stack (config secrets, generated tokens and keys,
the admin kubeconfig) is looked for in everything the offline evaluation shows or keeps:
snapshot, tree, stack and component outputs, diagnostics; in every recorded input (only ever
inside a secret wrapper, never on a command line); and in what state would hold."""

import base64
import json
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc

from components.remote.steps import RESULT_MARKER, STEPS, parse_result, step_by_digest
from offline.stack_files import read_stack_config
from offline.tree import render_tree

# Shorter generated values (the 6-character bootstrap token id, which kubeadm shows openly)
# could match by chance inside digests; every real secret here is longer.
_MIN_LENGTH = 12


def _plain(struct: Any) -> Any:
    return json_format.MessageToDict(struct) if struct is not None else {}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _unwrap(value: Any) -> Any:
    if _is_secret(value):
        return _unwrap(value.get("value"))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _strings_outside_secrets(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string not under a secret wrapper, with where it is."""
    if _is_secret(value):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings_outside_secrets(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings_outside_secrets(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


def _readable(text: str) -> str:
    """The text with every result line's base64 fields decoded too: a secret must not hide
    in an encoding."""
    decoded = []
    for line in text.splitlines():
        if line.startswith(RESULT_MARKER):
            fields = json.loads(line[len(RESULT_MARKER) :])
            decoded += [
                base64.b64decode(value).decode(errors="replace")
                for key, value in fields.items()
                if key.endswith(".b64")
            ]
    return "\n".join([text, *decoded])


def _stack_secrets(graph) -> dict[str, str]:
    """label -> secret value, for every secret the stack holds."""
    secrets: dict[str, str] = {}
    config, secret_keys = read_stack_config(graph.stack)
    for key in secret_keys:
        secrets[f"config {key}"] = config[key]
    for resource in graph.resources:
        outputs = _unwrap(_plain(graph.resource_outputs.get(resource.urn)))
        if resource.type == "random:index/randomPassword:RandomPassword":
            secrets[resource.name] = outputs["result"]
        elif resource.type == "random:index/randomBytes:RandomBytes":
            secrets[f"{resource.name} hex"] = outputs["hex"]
            secrets[f"{resource.name} base64"] = outputs["base64"]
        elif resource.type == "command:remote:Command":
            step = step_by_digest()[resource.inputs["triggers"][0]]
            if step.name == "admin-kubeconfig":
                kubeconfig = str(parse_result(step.name, outputs["stdout"])["kubeconfig"])
                secrets[f"{resource.name} kubeconfig"] = kubeconfig
                for line in kubeconfig.splitlines():
                    if "client-key-data:" in line:
                        secrets[f"{resource.name} client key"] = line.split(":", 1)[1].strip()
    # The bootstrap tokens as the scripts receive them: "<id>.<secret>".
    for label, value in list(secrets.items()):
        if label.endswith("-token-id"):
            cluster = label.removesuffix("-token-id")
            secrets[f"{cluster} token"] = f"{value}.{secrets[cluster + '-token-secret']}"
    return {label: value for label, value in secrets.items() if len(value) >= _MIN_LENGTH}


@pytest.fixture(scope="module", params=["prod", "dr"])
def stack(request, stack_graph):
    graph = stack_graph(request.param)
    return graph, _stack_secrets(graph)


def test_the_scan_knows_every_kind_of_secret(stack):
    graph, secrets = stack
    labels = " ".join(secrets)
    for kind in ("sshPrivateKey", "token-secret", "certificate-key hex", "kubeconfig", "token"):
        assert kind in labels, f"no {kind} among the scanned secrets of {graph.stack}"


def test_no_secret_in_what_the_evaluation_shows(stack):
    graph, secrets = stack
    shown = {
        "snapshot": graph.snapshot_json(),
        "tree": render_tree(graph),
        "component outputs": json.dumps(graph.component_outputs),
        "diagnostics": json.dumps(graph.diagnostics),
    }
    for label, value in secrets.items():
        for where, text in shown.items():
            assert value not in text, f"{label} appears in the {where} of {graph.stack}"


def test_secrets_travel_only_inside_secret_wrappers(stack):
    graph, secrets = stack
    for resource in graph.resources:
        engine_inputs = _plain(resource.engine_properties)
        for path, text in _strings_outside_secrets(engine_inputs):
            for label, value in secrets.items():
                assert value not in text, f"{label} in plain {resource.name}{path}"


def test_no_secret_on_a_command_line(stack):
    """`create` is the command line (visible in `ps` on the host): secrets go on stdin."""
    graph, secrets = stack
    commands = graph.by_type("command:remote:Command")
    assert commands
    for command in commands:
        line = json.dumps(_unwrap(_plain(command.engine_properties).get("create")))
        for label, value in secrets.items():
            assert value not in line, f"{label} on the command line of {command.name}"


def test_state_keeps_every_secret_secret(stack):
    """What a provider returns is state: a secret in an output property is kept only when
    that property is secret (wrapped, declared in additionalSecretOutputs, or the
    same-named input was a secret, which the engine carries over)."""
    graph, secrets = stack
    for resource in graph.resources:
        outputs = _plain(graph.resource_outputs.get(resource.urn))
        inputs = _plain(resource.engine_properties)
        for key, value in outputs.items():
            if key in resource.additional_secret_outputs or _is_secret(inputs.get(key)):
                continue
            for path, text in _strings_outside_secrets(value, key):
                for label, secret in secrets.items():
                    where = f"{resource.name}.{path}"
                    assert secret not in _readable(text), f"{label} in plain state {where}"


def test_secret_bearing_steps_are_secret_outputs_and_never_logged(stack):
    graph, _ = stack
    seen = set()
    for command in graph.by_type("command:remote:Command"):
        step = step_by_digest()[command.inputs["triggers"][0]]
        seen.add(step.name)
        if step.secret_stdout:
            assert "stdout" in command.additional_secret_outputs, command.name
            assert command.inputs["logging"] == "stderr", command.name
        else:
            assert command.inputs["logging"] == "stdoutAndStderr", command.name
    assert {"admin-kubeconfig", "kubeadm-init"} <= seen <= set(STEPS)
