"""The recorded resource graph: what the program registered, with secrets and unknowns
masked the way the snapshot shows them."""

import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

SECRET = "[secret]"
UNKNOWN = "[unknown]"
_SIG_KEY = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_ASSET_SIG = rpc._special_asset_sig
_ARCHIVE_SIG = rpc._special_archive_sig


def mask(value: Any) -> Any:
    """Replaces secrets with "[secret]" and unknowns with "[unknown]", turns resource
    references into their URN, and integral floats (protobuf numbers) into ints."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return SECRET
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        if sig in (_ASSET_SIG, _ARCHIVE_SIG):
            return {k: mask(v) for k, v in value.items() if k != _SIG_KEY}
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str) and value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "string_value":
        return UNKNOWN if value.string_value == rpc.UNKNOWN else value.string_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    return None


def _struct(struct: struct_pb2.Struct) -> Any:
    fields = struct.fields
    if _SIG_KEY in fields:
        # Secrets, resource references, assets: decided by the signature, as `mask` does.
        return mask(json_format.MessageToDict(struct))
    return {key: _value(value) for key, value in fields.items()}


def struct_to_masked(struct: struct_pb2.Struct) -> dict[str, Any]:
    """`mask(MessageToDict(struct))` in one pass: every recorded request goes through it."""
    return _struct(struct)


def make_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A resource's URN, as the engine builds it: the qualified type chains every ancestor's
    type except the root Stack's."""
    if parent and "::pulumi:pulumi:Stack::" not in parent:
        type_ = parent.split("::")[2] + "$" + type_
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _alias_urns(urn: str, request: Any) -> tuple[str, ...]:
    """The URNs a RegisterResourceRequest names as its former selves: an alias given as a URN,
    or a spec (name, type, stack, project, parent) the engine completes from the resource's
    own. Inherited aliases (a parent's, multiplied out) are not in the request: see
    `Graph.former_urns`."""
    if isinstance(request, resource_pb2.ReadResourceRequest):
        return ()
    stack, project = urn.split("::")[0].removeprefix("urn:pulumi:"), urn.split("::")[1]
    found = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            found.append(alias.urn)
            continue
        spec = alias.spec
        parent = request.parent
        # The SDK sends `parentUrn: ""` for an alias that names no parent (`Alias(name=...)`):
        # like the engine, read it as the resource's current parent, not as no parent.
        if spec.WhichOneof("parent") == "parentUrn" and spec.parentUrn:
            parent = spec.parentUrn
        elif spec.WhichOneof("parent") == "noParent" and spec.noParent:
            parent = ""
        found.append(
            make_urn(
                spec.stack or stack,
                spec.project or project,
                parent,
                spec.type or request.type,
                spec.name or request.name,
            )
        )
    return tuple(sorted(set(found)))


@dataclass(frozen=True)
class RecordedResource:
    """One RegisterResourceRequest, as the snapshot shows it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """The URNs its request names as its former selves (`aliases` in ResourceOptions, and the
    type aliases providers add); not written to snapshots."""
    engine_properties: Any = field(default=None, repr=False, compare=False)
    """The inputs as the engine holds them (a protobuf Struct: secrets wrapped, unknowns as
    the sentinel), for the policy pack; never written to snapshots."""

    def to_json(self) -> dict[str, Any]:
        extra = {"ignoreChanges": list(self.ignore_changes)} if self.ignore_changes else {}
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "provider": self.provider,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "inputs": self.inputs,
            **extra,
        }


def recorded_resource(urn: str, request: Any) -> RecordedResource:
    """From a RegisterResourceRequest, or a ReadResourceRequest (a custom resource whose
    `properties` are its inputs)."""
    # A provider reference is "<urn>::<id>"; the URN alone is what identifies it.
    provider = request.provider.rsplit("::", 1)[0] if request.provider else ""
    is_read = isinstance(request, resource_pb2.ReadResourceRequest)
    return RecordedResource(
        urn=urn,
        type=request.type,
        name=request.name,
        custom=is_read or bool(request.custom),
        parent=request.parent,
        dependencies=tuple(sorted(set(request.dependencies))),
        provider=provider,
        protect=not is_read and bool(request.protect),
        retain_on_delete=not is_read and bool(request.retainOnDelete),
        inputs=struct_to_masked(request.properties if is_read else request.object),
        ignore_changes=() if is_read else tuple(request.ignoreChanges),
        additional_secret_outputs=() if is_read else tuple(request.additionalSecretOutputs),
        aliases=_alias_urns(urn, request),
        engine_properties=request.properties if is_read else request.object,
    )


@dataclass
class Graph:
    """Everything one evaluation of a stack registered."""

    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    """Stack outputs, masked."""
    plain_outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """Stack outputs with secrets unwrapped: fed to StackReferences of other stacks."""
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """What each component registered with `register_outputs`, masked, by URN."""
    diagnostics: list[tuple[str, str]] = field(default_factory=list)
    """(severity, message) the program logged: warnings and errors, as the CLI shows them."""
    resource_outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """What each custom resource's (mocked) provider returned, unmasked Structs by URN: what
    state would hold. Never written to snapshots; the secret scan reads it."""

    def by_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self.resources}

    def children(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def ancestors(self, urn: str) -> list[str]:
        index = self.by_urn()
        chain = []
        while urn in index and index[urn].parent:
            urn = index[urn].parent
            chain.append(urn)
        return chain

    def former_urns(self) -> dict[str, tuple[str, ...]]:
        """Every resource's former URNs, by URN, as the engine computes them: its own aliases,
        and for each former URN of its parent, the URN it had under that (an alias of a parent
        is inherited by its children, and theirs)."""
        index = self.by_urn()
        former: dict[str, tuple[str, ...]] = {}

        def of(urn: str) -> tuple[str, ...]:
            if urn not in former:
                resource = index[urn]
                found = set(resource.aliases)
                if resource.parent in index:
                    for parent_alias in of(resource.parent):
                        found.add(
                            make_urn(
                                self.stack,
                                self.project,
                                parent_alias,
                                resource.type,
                                resource.name,
                            )
                        )
                former[urn] = tuple(sorted(found))
            return former[urn]

        for resource in self.resources:
            of(resource.urn)
        return former

    def snapshot(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in sorted(self.resources, key=lambda r: r.urn)],
            "outputs": self.outputs,
        }

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), indent=2, sort_keys=True) + "\n"
