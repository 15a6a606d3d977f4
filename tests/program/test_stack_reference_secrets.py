"""A StackReference keeps the referenced stack's secrets secret, as the engine does: an
output holding a secret (prod's kubeconfigs) arrives as a secret, and the reading stack
shows it as "[secret]", never in plain text."""

from pathlib import Path

from offline.evaluate import record
from tests.paths import PROJECT_DIR

_READER = """
import runpy
import pulumi

if pulumi.get_stack() == "prod":
    runpy.run_path({main!r}, run_name="__main__")
else:
    source = pulumi.StackReference(
        "source", stack_name="organization/deepseek-onprem/prod"
    )
    pulumi.export("kubeconfigs", source.get_output("kubeconfigs"))
    pulumi.export("sites", source.get_output("sites"))
"""


def _reader_project(directory: Path) -> None:
    for entry in ("Pulumi.yaml", "Pulumi.prod.yaml", "components"):
        (directory / entry).symlink_to(PROJECT_DIR / entry)
    (directory / "Pulumi.reader.yaml").write_text("config: {}\n")
    (directory / "__main__.py").write_text(_READER.format(main=str(PROJECT_DIR / "__main__.py")))


def test_a_referenced_secret_output_stays_secret(tmp_path):
    _reader_project(tmp_path)
    graph, error = record("reader", tmp_path)
    assert error is None, error
    assert graph.outputs["kubeconfigs"] == "[secret]", graph.outputs["kubeconfigs"]
    # What holds no secret is read as it is.
    assert isinstance(graph.outputs["sites"], list) and graph.outputs["sites"]
