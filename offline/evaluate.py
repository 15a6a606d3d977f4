"""Runs the real `__main__.py` for one stack under the SDK's mocks and returns its graph."""

import asyncio
import gc
import logging
import runpy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi import RunError
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline.graph import SECRET, Graph, mask, recorded_resource, struct_to_masked
from offline.hardware import HardwareFaults, SimulatedHardware
from offline.recorder import PlatformMocks, RecordingMonitor
from offline.stack_files import PROJECT_DIR, project_name, read_stack_config


def _quiet_reported_errors() -> None:
    """A RunError (bad config, failed preflight) is reported once, as the program's error;
    every other Output awaiting the same failure would print it again when garbage
    collected ("Future exception was never retrieved"). Other errors still print."""
    loop = asyncio.get_event_loop()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not isinstance(context.get("exception"), RunError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _one_monitor_thread() -> None:
    """The SDK sends each registration to the monitor from the loop's default executor. Under
    the engine those threads wait on gRPC; here they run the mock monitor's Python, and
    several of them only contend for the GIL: one thread does the same work faster."""
    loop = asyncio.get_event_loop()
    if getattr(loop, "_deepseek_one_thread", False):
        return
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor"))
    loop._deepseek_one_thread = True  # type: ignore[attr-defined]


class _DiagnosticsLogger(logging.Logger):
    """Keeps what the program logs through `pulumi.log` (the engine's Log calls), as the
    CLI's "Diagnostics:" section shows it."""

    def __init__(self) -> None:
        super().__init__("deepseek-offline-diagnostics", logging.DEBUG)
        self.messages: list[tuple[str, str]] = []

    def _log(self, level, msg, args, **kwargs):  # noqa: ANN001 logging's own signature
        if level >= logging.INFO:
            self.messages.append((logging.getLevelName(level).lower(), str(msg)))


def _run_program(
    stack: str,
    project_dir: Path,
    preview: bool,
    stack_outputs: dict[str, dict[str, Any]],
    hardware_faults: dict[str, HardwareFaults],
) -> tuple[Graph, set[str], BaseException | None]:
    project = project_name(project_dir)
    config, secret_keys = read_stack_config(stack, project_dir)

    resource_mocks = PlatformMocks(stack_outputs, SimulatedHardware(config, hardware_faults))
    monitor = RecordingMonitor(resource_mocks)
    diagnostics = _DiagnosticsLogger()
    # A fresh runtime per evaluation, as a fresh process would have: no root Stack, and no
    # outputs or RPCs left pending by an earlier evaluation that failed.
    settings.ROOT.set(None)
    runtime_config.set_all_config(config, secret_keys)
    set_mocks(
        resource_mocks,
        project=project,
        stack=stack,
        preview=preview,
        logger=diagnostics,
        monitor=monitor,
    )
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    _quiet_reported_errors()
    _one_monitor_thread()

    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    main = str(project_dir / "__main__.py")
    error: BaseException | None = None
    # The run allocates hundreds of thousands of short-lived Outputs and futures; the cyclic
    # collector would rescan all of them again and again; it resumes when the run ends.
    gc.disable()
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(main, run_name="__main__")))
    except Exception as raised:  # noqa: BLE001 handed back with what was recorded so far
        error = raised
    finally:
        gc.enable()

    root = settings.get_root_resource()
    raw_outputs = _sync_await(rpc.serialize_properties(getattr(root, "outputs", {}), {}))
    outputs_dict = json_format.MessageToDict(raw_outputs)
    plain_outputs = rpc.deserialize_properties(raw_outputs)

    graph = Graph(
        project=project,
        stack=stack,
        resources=[recorded_resource(urn, request) for urn, request in monitor.requests],
        outputs=mask(outputs_dict),
        plain_outputs=plain_outputs,
        component_outputs={
            urn: struct_to_masked(outputs) for urn, outputs in monitor.component_outputs.items()
        },
        diagnostics=diagnostics.messages,
        resource_outputs=monitor.resource_outputs,
    )
    return graph, resource_mocks.missing_stack_references, error


class StackReferenceError(RunError):
    """A StackReference the offline evaluation cannot answer by evaluating another stack of the
    project. A `RunError`, so the command prints the message without a traceback."""


def record(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    preview: bool = True,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    hardware_faults: dict[str, HardwareFaults] | None = None,
    referenced_from: tuple[str, ...] = (),
) -> tuple[Graph, BaseException | None]:
    """Runs `stack` as `pulumi preview` (or `up`, with preview=False) would, and returns
    what it registered together with the error that stopped it, if any.

    A StackReference to another stack of this project (`<org>/<project>/<stack>`) is
    answered with that stack's own evaluated outputs. `hardware_faults` make simulated hosts
    misbehave (fewer GPUs, slow disks, ...), by host name. `referenced_from` lists the stacks
    whose references led here: one of them referenced again is a cycle, refused.
    """
    stack_outputs = dict(stack_outputs or {})
    faults = hardware_faults or {}
    graph, missing, error = _run_program(stack, project_dir, preview, stack_outputs, faults)
    if not missing or error is not None:
        return graph, error
    project = graph.project
    chain = (*referenced_from, stack)
    for reference in sorted(missing):
        parts = reference.split("/")
        if len(parts) != 3 or parts[1] != project:
            raise StackReferenceError(
                f"stack '{stack}': its StackReference {reference!r} is not a stack of project "
                f"{project!r}, so it cannot be evaluated here; nothing was deployed.\n"
                f"    fix: reference <organization>/{project}/<stack>, or pass the stack's "
                "outputs with stack_outputs="
            )
        if parts[2] in chain:
            cycle = " -> ".join((*chain[chain.index(parts[2]) :], parts[2]))
            raise StackReferenceError(
                f"stack '{stack}': its StackReference {reference!r} closes a cycle ({cycle}): "
                "each stack would wait for the other's outputs; nothing was deployed.\n"
                "    fix: only a DR stack reads another stack (replication.sourceStack), and "
                "the stack it reads must read none: remove the reference from one of them"
            )
        referenced = evaluate(parts[2], project_dir, preview=preview, referenced_from=chain)
        stack_outputs[reference] = referenced_outputs(referenced)
    graph, missing, error = _run_program(stack, project_dir, preview, stack_outputs, faults)
    assert not missing, missing
    return graph, error


def referenced_outputs(graph: Graph) -> dict[str, Any]:
    """The stack's outputs as a StackReference to it receives them: plain values, with every
    secret still wrapped as one (the engine keeps a referenced secret secret)."""
    return {
        key: _rewrap(graph.outputs.get(key), value) for key, value in graph.plain_outputs.items()
    }


def _rewrap(masked: Any, plain: Any) -> Any:
    if masked == SECRET:
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": plain}
    if isinstance(masked, dict) and isinstance(plain, dict):
        return {key: _rewrap(masked.get(key), value) for key, value in plain.items()}
    if isinstance(masked, list) and isinstance(plain, list) and len(masked) == len(plain):
        return [_rewrap(m, p) for m, p in zip(masked, plain, strict=True)]
    return plain


def evaluate(stack: str, project_dir: Path = PROJECT_DIR, **kwargs: Any) -> Graph:
    """The graph of `stack`; raises whatever stopped the program."""
    graph, error = record(stack, project_dir, **kwargs)
    if error is not None:
        raise error
    return graph
