"""Runs a script from the repo on a host as a `remote.Command`: the one way every layer
touches a machine over SSH."""

import asyncio
import shlex
from pathlib import Path
from typing import Any, Literal

import pulumi
from pulumi.resource import DependencyResource
from pulumi_command import remote

from components.remote.steps import (
    StepOutputError,
    parse_result,
    printable,
    script_digest,
    script_text,
    shell_command,
    step,
)

Lifecycle = Literal["always", "install", "update", "delete"]
"""When a step runs. `always`: at creation and again whenever its script or an input changes
(it is replaced): steps that change nothing a workload sees (an iperf3 server, reading a
kubeconfig). `install`: once, at creation (a host's first install, a new host); later changes
of its inputs, its connection included, run nothing, unless its `rerun` token changes.
`update`: never at creation, only when its command line, script or connection changes: the
site's rollout of a change to live hosts.
`delete`: only when the Command is deleted: a host's removal."""


class StepFailed(pulumi.RunError):
    """A step on a host printed something the program cannot read; only that host stops."""

    def __init__(self, where: str, step_name: str, problem: str) -> None:
        super().__init__(printable(f"host {where}: step {step_name}: {problem}"))


def read_result(step_name: str, stdout: str | None, where: str) -> dict[str, Any]:
    """The step's result fields (its one result line), or StepFailed naming the host."""
    try:
        return parse_result(step_name, stdout or "")
    except StepOutputError as error:
        raise StepFailed(where, step_name, str(error)) from None


def run_script(
    name: str,
    script: Path,
    environment: dict[str, pulumi.Input[str]],
    *,
    connection: remote.ConnectionArgs,
    provider: pulumi.ProviderResource,
    parent: pulumi.Resource,
    depends_on: list[Any] | None = None,
    secret_stdin: pulumi.Output[str] | None = None,
    lifecycle: Lifecycle = "always",
    rerun: str = "",
    retain_on_delete: bool = False,
) -> remote.Command:
    """`script` on stdin of `sudo env <environment> bash -s`. Secret inputs arrive as
    `secret_stdin` (from `with_secrets`), so they never appear on a command line (or in `ps`)
    and stay Pulumi secrets. A step whose stdout carries a secret (the registry says which)
    has it as a secret output, never logged.

    `lifecycle` says when it runs (see `Lifecycle`); `rerun`, for an "install" step, is a
    token from config whose change runs it again (it is replaced)."""
    spec = step(script.stem)
    if spec.script != script:
        raise ValueError(f"{script} is not the registered script of step {spec.name!r}")
    unknown = sorted(set(environment) - set(spec.inputs))
    if unknown:
        raise ValueError(f"step {spec.name!r} does not read {unknown}; register them")
    text = script_text(script)
    # Only the inputs that are Outputs are awaited; the plain ones join them in the apply
    # (wrapping every string in an Output costs the SDK dearly at a thousand hosts).
    known = {key: value for key, value in environment.items() if isinstance(value, str)}
    pending = {key: value for key, value in environment.items() if not isinstance(value, str)}
    create: pulumi.Input[str]
    resolved: pulumi.Input[dict[str, str]]
    if not pending:
        resolved = known
        create = shell_command(known)
    else:
        resolved = pulumi.Output.all(**pending).apply(lambda values: {**known, **values})
        create = resolved.apply(shell_command)
    stdin: pulumi.Input[str] = text if secret_stdin is None else secret_stdin
    # triggers[0], the script's digest, is how the offline mocks know the step.
    if lifecycle == "always":
        # Re-run (replaced) when the script or one of its inputs changes.
        runs: dict[str, Any] = {"create": create, "triggers": [script_digest(script), resolved]}
        ignore: list[str] = []
    elif lifecycle == "install":
        # The inputs are recorded but a change of them runs nothing here: the host is live,
        # and its change goes through the site's rollout (components/kubernetes/rollout.py).
        triggers = [script_digest(script), resolved, *([rerun] if rerun else [])]
        runs = {"create": create, "triggers": triggers}
        # `connection` too: pulumi-command updates on any other changed input and, with no
        # `update`, runs `create` again, the one in state (install time's command line and
        # script). A new ssh.port or user, a rotated deploy key, a new host key would run
        # every host's install steps again at once, a driver of install time over the one a
        # rollout put there since.
        ignore = ["create", "stdin", "triggers[0]", "triggers[1]", "connection"]
    else:
        # No create: nothing runs at creation. `update` runs when the command line, the
        # script (stdin) or the connection changes; `delete` runs only when the Command is
        # deleted (its host taken out of config), with the inputs of its last update, and a
        # change of them runs nothing. Triggers would replace it, which would run nothing.
        runs = {lifecycle: create, "triggers": [script_digest(script)]}
        ignore = ["triggers"]
    return remote.Command(
        name,
        connection=connection,
        stdin=stdin,
        **runs,
        # Only stderr of a secret-bearing step reaches the update's log; the scripts print
        # nothing secret there.
        logging=remote.Logging.STDERR if spec.secret_stdout else remote.Logging.STDOUT_AND_STDERR,
        opts=pulumi.ResourceOptions(
            parent=parent,
            provider=provider,
            depends_on=depends_on or [],
            additional_secret_outputs=["stdout"] if spec.secret_stdout else None,
            ignore_changes=ignore or None,
            retain_on_delete=retain_on_delete or None,
        ),
    )


def ordering_edge(resource: pulumi.Resource) -> pulumi.Output[pulumi.Resource]:
    """For `depends_on`: the engine orders the dependent after `resource` (its URN is in the
    registration's dependencies), but the SDK's cycle check does not walk through it.

    The Python SDK checks every new dependency for a cycle by walking all that the dependency
    depends on, transitively (pulumi/runtime/resource_cycle_breaker.py). Along a chain of N
    steps (a site's rollout: every host, one after the other) that is N walks of up to N
    steps: 20 s for 100 hosts, hours for 1,000, on every `pulumi preview` and `up`. The edge
    names `resource` by its URN alone (a `DependencyResource`, which has no dependencies to
    walk), in an Output that carries no resource of its own."""

    async def dependency() -> pulumi.Resource:
        return DependencyResource(await resource.urn.future())

    async def known() -> bool:
        return True

    return pulumi.Output(set(), asyncio.ensure_future(dependency()), asyncio.ensure_future(known()))


def with_secrets(script: Path, secrets: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """The script's stdin with `export` lines for the secrets ahead of it: a secret Output,
    built once and shared by every step that runs the same script with the same secrets."""
    text = script_text(script)
    return pulumi.Output.secret(
        pulumi.Output.all(**secrets).apply(
            lambda values: (
                "".join(
                    f"export {key}={shlex.quote(str(value))}\n"
                    for key, value in sorted(values.items())
                )
                + text
            )
        )
    )
