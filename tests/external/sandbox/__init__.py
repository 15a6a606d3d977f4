"""The host-script harness: each step's real script run as its SSH step runs it, as root, in
a sandboxed host with stand-ins for the tools that must not touch the machine."""

from tests.external.sandbox.harness import (
    Call,
    Failure,
    Hardware,
    Process,
    Run,
    Sandbox,
    SandboxError,
    ca_cert_hash,
    cluster_ca,
    describe_difference,
    step_stdin,
)

__all__ = [
    "Call",
    "Failure",
    "Hardware",
    "Process",
    "Run",
    "Sandbox",
    "SandboxError",
    "ca_cert_hash",
    "cluster_ca",
    "describe_difference",
    "step_stdin",
]
