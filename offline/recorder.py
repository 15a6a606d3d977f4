"""The recording monitor and the provider mocks the offline evaluation runs under."""

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from pulumi.runtime import mocks, rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack

from components.remote.steps import step_by_digest
from offline.graph import make_urn
from offline.hardware import SimulatedHardware

# Per resource type: the outputs a real provider would add to the inputs.
OutputMock = Callable[[mocks.MockResourceArgs], dict[str, Any]]


def _reveal(value: Any) -> Any:
    """The value inside a serialized secret wrapper (mocks see inputs as the engine does)."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value.get("value")
    return value


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's MockMonitor, keeping every RegisterResourceRequest (with its URN) and
    every component's registered outputs."""

    def __init__(self, resource_mocks: mocks.Mocks) -> None:
        super().__init__(resource_mocks)
        self.requests: list[tuple[str, resource_pb2.RegisterResourceRequest]] = []
        self.component_outputs: dict[str, Any] = {}
        self.resource_outputs: dict[str, Any] = {}
        """What the mocks answered for each custom resource (a Struct), by URN: the values a
        real provider would put in state, for the secret scan."""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine builds URNs (the SDK's mock keeps only the parent's own type).
        return make_urn(get_stack(), get_project(), parent, type_, name)

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest):  # noqa: N802
        urn = self.make_urn(request.parent, request.type, request.name)
        self.requests.append((urn, request))
        response = super().RegisterResource(request)
        if request.custom:
            self.resource_outputs[urn] = response.object
        return response

    def ReadResource(self, request: resource_pb2.ReadResourceRequest):  # noqa: N802
        # Reads (StackReference, `.get()`) are part of the graph too.
        urn = self.make_urn(request.parent, request.type, request.name)
        self.requests.append((urn, request))
        return super().ReadResource(request)

    def RegisterResourceOutputs(self, request):  # noqa: N802
        self.component_outputs[request.urn] = request.outputs
        return super().RegisterResourceOutputs(request)


class PlatformMocks(mocks.Mocks):
    """Provider behaviour for the resource types the program uses.

    IDs are derived from names so that snapshots are byte-identical from run to run.
    """

    def __init__(
        self,
        stack_outputs: dict[str, dict[str, Any]] | None = None,
        hardware: SimulatedHardware | None = None,
    ) -> None:
        self.stack_outputs = stack_outputs or {}
        """Outputs of other stacks, by fully qualified name, for StackReferences."""
        self.hardware = hardware or SimulatedHardware({}, {})
        """What the hosts of the inventory print for each remote step."""
        self.missing_stack_references: set[str] = set()
        self.output_mocks: dict[str, OutputMock] = {
            "pulumi:pulumi:StackReference": self._stack_reference,
            "command:remote:Command": self._remote_command,
            "random:index/randomPassword:RandomPassword": self._random_password,
            "random:index/randomId:RandomId": self._random_id,
            "random:index/randomBytes:RandomBytes": self._random_bytes_resource,
        }

    @staticmethod
    def _random_bytes(name: str, count: int) -> bytes:
        # Deterministic per resource name, so snapshots stay byte-identical.
        out = b""
        while len(out) < count:
            out += hashlib.sha256(f"{name}:{len(out)}".encode()).digest()
        return out[:count]

    def _random_password(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        length = int(args.inputs.get("length", 16))
        raw = self._random_bytes(args.name, length)
        result = "".join(alphabet[b % len(alphabet)] for b in raw)
        return {**args.inputs, "result": result}

    def _random_id(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        raw = self._random_bytes(args.name, int(args.inputs.get("byteLength", 8)))
        return {**args.inputs, "hex": raw.hex(), "b64Std": base64.b64encode(raw).decode()}

    def _random_bytes_resource(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        raw = self._random_bytes(args.name, int(args.inputs.get("length", 32)))
        return {**args.inputs, "hex": raw.hex(), "base64": base64.b64encode(raw).decode()}

    def _remote_command(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        # The step is the one whose script digest leads the Command's triggers.
        triggers = args.inputs.get("triggers") or [None]
        step = step_by_digest().get(triggers[0])
        if step is None:
            raise RuntimeError(
                f"Command {args.name!r} runs no registered step (triggers[0]={triggers[0]!r}); "
                "register it in components/remote/steps.py"
            )
        if "create" not in args.inputs:
            # An update-only step (a rollout's): nothing runs when it is created.
            return {"stdout": "", "stderr": ""}
        # The SDK sends the whole connection as a secret, since it holds the private key.
        connection = _reveal(args.inputs.get("connection"))
        address = connection.get("host", "") if isinstance(connection, dict) else ""
        stdout = self.hardware.stdout(step.name, address, args.inputs.get("create", ""))
        return {"stdout": stdout, "stderr": ""}

    def _stack_reference(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        name = args.inputs.get("name", args.name)
        if name not in self.stack_outputs:
            self.missing_stack_references.add(name)
        outputs = self.stack_outputs.get(name, {})
        # As the engine answers: an output holding a secret is named in secretOutputNames
        # (and arrives wrapped), so the reading stack's `get_output` is a secret too.
        secret = sorted(key for key, value in outputs.items() if _holds_secret(value))
        return {"outputs": outputs, "secretOutputNames": secret}

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        mock = self.output_mocks.get(args.typ)
        if mock is None:
            # Like most providers, echo the inputs as the resource's state.
            return f"{args.name}-id", dict(args.inputs)
        # Types with a mock return what the program reads of them (a Command's stdout), not
        # an echo of their inputs: the script text alone is kilobytes per step.
        return f"{args.name}-id", mock(args)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list | None]:
        return {}, None


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return True
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False
