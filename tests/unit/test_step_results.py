"""The output contract: a step's one result line is all the program reads of its stdout, and
every way of breaking it is a StepOutputError saying what was wrong."""

import pytest

from components.metal.steps import (
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
