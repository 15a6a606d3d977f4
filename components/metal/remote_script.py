"""Runs a script from the repo on a host as a `remote.Command`: the one way every layer
touches a machine over SSH."""

import shlex
from pathlib import Path
from typing import Any

import pulumi
from pulumi_command import remote

from components.metal.steps import script_digest, script_text, shell_command


def run_script(
    name: str,
    script: Path,
    environment: dict[str, pulumi.Input[str]],
    *,
    connection: remote.ConnectionArgs,
    provider: pulumi.ProviderResource,
    parent: pulumi.Resource,
    depends_on: list[Any] | None = None,
    secret_environment: dict[str, pulumi.Input[str]] | None = None,
    secret_stdout: bool = False,
) -> remote.Command:
    """`script` on stdin of `sudo env <environment> bash -s`, re-run when the script or an
    input changes. Secret inputs go ahead of the script on stdin as `export` lines, so they
    never appear on a command line (or in `ps`) and stay Pulumi secrets."""
    text = script_text(script)
    create: pulumi.Input[str]
    if all(isinstance(value, str) for value in environment.values()):
        resolved: pulumi.Input[dict[str, str]] = environment
        create = shell_command(environment)  # known now: no Output to resolve
    else:
        resolved = pulumi.Output.all(**environment)
        create = resolved.apply(shell_command)
    stdin: pulumi.Input[str] = text
    if secret_environment:
        stdin = pulumi.Output.secret(
            pulumi.Output.all(**secret_environment).apply(
                lambda values: (
                    "".join(
                        f"export {key}={shlex.quote(str(value))}\n"
                        for key, value in sorted(values.items())
                    )
                    + text
                )
            )
        )
    return remote.Command(
        name,
        connection=connection,
        create=create,
        stdin=stdin,
        # Re-run when the script or one of its inputs changes, never by renaming.
        triggers=[script_digest(script), resolved],
        opts=pulumi.ResourceOptions(
            parent=parent,
            provider=provider,
            depends_on=depends_on or [],
            additional_secret_outputs=["stdout"] if secret_stdout else None,
        ),
    )
