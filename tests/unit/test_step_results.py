"""The output contract: a step's one result line is all the program reads of its stdout, and
every way of breaking it is a StepOutputError saying what was wrong."""

import pytest

from components.remote.steps import (
    RESULT_MARKER,
    STEPS,
    StepOutputError,
    format_result,
    parse_result,
)

SERVER = {"port": "5201", "server": "started"}


def test_human_lines_anywhere_do_not_matter():
    stdout = (
        "changed: /etc/apt/sources.list.d/deepseek-kubernetes.list\n"
        "[init] Using Kubernetes version: v1.31.4\n"
        + format_result("kubeadm-init", {"caCertHash": "sha256:ab", "node": "cp-1"}, changed=True)
        + "a line after it\n"
    )
    assert parse_result("kubeadm-init", stdout) == {
        "changed": True,
        "caCertHash": "sha256:ab",
        "node": "cp-1",
    }


def test_tool_outputs_round_trip_byte_for_byte():
    text = 'line one\n\ttabs, "quotes", \\ and unicode: ✓\n'
    fields = parse_result("preflight", format_result("preflight", {"fio": text}))
    assert fields["fio"] == text


def test_the_last_result_line_wins():
    stdout = format_result("net-server", {**SERVER, "server": "running"}) + format_result(
        "net-server", SERVER
    )
    assert parse_result("net-server", stdout)["server"] == "started"


@pytest.mark.parametrize(
    ("stdout", "problem"),
    [
        ("", "printed no result line"),
        ("changed: /etc/x\n", r"printed no result line \(its last line: 'changed: /etc/x'\)"),
        (RESULT_MARKER + "{not json\n", "not valid JSON"),
        (RESULT_MARKER + "[1, 2]\n", "not a JSON object"),
        (RESULT_MARKER + '{"step":"preflight","changed":false}\n', "for step 'preflight'"),
        (RESULT_MARKER + '{"step":"net-server","changed":"no"}\n', "true/false 'changed'"),
        (RESULT_MARKER + '{"step":"net-server","changed":false,"port":"1"}\n', "lacks server"),
        (
            RESULT_MARKER + '{"step":"net-server","changed":false,"port":1,"server":"x"}\n',
            "'port' is not a string",
        ),
        (
            RESULT_MARKER + '{"step":"net-server","changed":false,"port":"1","server":"x",'
            '"extra":"y"}\n',
            "does not promise",
        ),
        (
            RESULT_MARKER + '{"step":"net-server","changed":false,"port":"1","server":"x",'
            '"port.b64":"MQ=="}\n',
            "'port' twice",
        ),
        (
            RESULT_MARKER + '{"step":"net-server","changed":false,"server":"x",'
            '"port.b64":"not base64!"}\n',
            "not valid base64",
        ),
        (RESULT_MARKER + "[" * 100_000 + "\n", "not valid JSON"),
        (RESULT_MARKER + '{"step":"net-server","changed":' + "9" * 5000 + "}\n", "not valid JSON"),
        ("x" * (17 * 1024 * 1024), "more than"),
    ],
)
def test_every_broken_result_is_a_clear_error(stdout, problem):
    with pytest.raises(StepOutputError, match=problem):
        parse_result("net-server", stdout)


def test_an_unknown_step_names_the_registered_ones():
    with pytest.raises(KeyError, match="registered: net-server"):
        parse_result("rm-rf", format_result("net-server", SERVER))


def test_every_step_promises_what_its_script_emits():
    for step in STEPS.values():
        text = step.script.read_text()
        assert f"result_emit {step.name}" in text, step.name
        for field in step.result:
            assert f"result_field {field} " in text or f"result_output {field} " in text, (
                step.name,
                field,
            )


_SECRET = "abcdef.0123456789abcdef"  # what a token or certificate key looks like


@pytest.mark.parametrize("name", sorted(n for n, s in STEPS.items() if s.secret_stdout))
@pytest.mark.parametrize(
    "stdout",
    [
        # kubeadm's upload-certs phase prints the key on the line after its heading.
        f"[upload-certs] Using certificate key:\n{_SECRET}\n",
        f"kubeadm join 10.10.0.10:6443 --token {_SECRET}",
        # A result line that lost its marker (a byte glued in front of it).
        "\x00" + RESULT_MARKER + f'{{"step":"x","changed":false,"kubeconfig.b64":"{_SECRET}"}}\n',
        RESULT_MARKER + f'{{"step":"{_SECRET}","changed":false}}\n',
        RESULT_MARKER + f'{{"step":["{_SECRET}"],"changed":false}}\n',
    ],
)
def test_a_secret_stdout_is_never_quoted_by_its_error(name, stdout):
    """The error becomes plain text in the update's log: a step whose stdout is a secret
    (the registry says which) says what is wrong without quoting any of it."""
    with pytest.raises(StepOutputError) as caught:
        parse_result(name, stdout)
    assert _SECRET not in str(caught.value)
    assert _SECRET[:12] not in str(caught.value)


def test_an_unhashable_step_field_is_a_clear_error():
    with pytest.raises(StepOutputError, match="for step"):
        parse_result("net-server", RESULT_MARKER + '{"step":["x"],"changed":false}\n')


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x1c", "\r"])
def test_a_value_holding_a_unicode_line_separator_is_read_whole(separator):
    """lib.sh's json_string keeps non-ASCII characters as they are: a host name or a tool's
    version holding U+2028 (or NEL) stays inside its JSON string, on the one result line."""
    node = f"cp{separator}1"
    line = (
        RESULT_MARKER + '{"step":"kubeadm-init","changed":false,"caCertHash":"sha256:ab",'
        f'"node":"{node}"}}\n'
    )
    if separator in "\x1c\r":  # control characters: json_string drops or escapes them
        line = line.replace(separator, "")
        node = "cp1"
    assert parse_result("kubeadm-init", "kubeadm: done\n" + line)["node"] == node
