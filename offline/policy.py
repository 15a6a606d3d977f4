"""Runs the policy pack against a recorded graph the way `pulumi preview --policy-pack`
does: starts the pack as the CLI's `pulumi-analyzer-policy-python` plugin starts it
(`python -u -m pulumi.policy <engine> <pack>`, which prints its port), configures it from
`policies/config/<stack>.json`, sends `Analyze` for every custom resource and `AnalyzeStack`
for the whole stack over gRPC, and reports the violations as the CLI prints them."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from offline.graph import Graph, RecordedResource
from offline.stack_files import PROJECT_DIR

PACK_DIR = PROJECT_DIR / "policies"
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_BY_NAME = {name: value for value, name in LEVELS.items()}


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    resource_type: str
    name: str
    message: str


def _options(resource: RecordedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=list(resource.ignore_changes),
        parent=resource.parent,
    )


def _provider(graph_index: dict[str, RecordedResource], resource: RecordedResource):
    provider = graph_index.get(resource.provider)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        properties=provider.engine_properties,
        urn=provider.urn,
        name=provider.name,
    )


class PolicyServer:
    """The policy pack, started as the CLI starts it, and a client of its Analyzer service."""

    def __init__(self, stack: str, pack_dir: Path = PACK_DIR, project: str = "deepseek-onprem"):
        environment = {
            **os.environ,
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_DRY_RUN": "true",
        }
        self.process = subprocess.Popen(
            # The engine address is where the pack would log to; nothing listens offline.
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack_dir)],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
        )
        line = self._first_line()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the policy pack did not start: {line!r}\n{self._stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.info = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)

    def _first_line(self) -> str:
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.process.stdout.readline().decode()), daemon=True
        )
        reader.start()
        reader.join(timeout=60)
        return result[0] if result else ""

    def _stderr(self) -> str:
        try:
            return self.process.stderr.read().decode()[-2000:]
        except (OSError, ValueError):
            return ""

    def configure(self, config: dict[str, Any]) -> None:
        """Policy config as `--policy-pack-config` gives it: policy → properties, with an
        optional `enforcementLevel`."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in self.info.policies:
            entry = dict(config.get(policy.name) or {})
            level = entry.pop("enforcementLevel", None)
            policy_config = analyzer_pb2.PolicyConfig(
                enforcementLevel=LEVEL_BY_NAME[level] if level else policy.enforcementLevel
            )
            properties = {
                key: schema.get("default")
                for key, schema in json_format.MessageToDict(policy.configSchema)
                .get("properties", {})
                .items()
                if "default" in schema
            }
            properties.update(entry)
            policy_config.properties.update(properties)
            request.policyConfig[policy.name].CopyFrom(policy_config)
        self.stub.Configure(request, timeout=30)

    def analyze(self, graph: Graph, resources: list[RecordedResource] | None = None):
        """Diagnostics of `Analyze` for each custom resource (all of the graph's by default)
        and of `AnalyzeStack` for the whole graph."""
        index = {r.urn: r for r in graph.resources}
        diagnostics = []
        for resource in resources if resources is not None else graph.resources:
            if not resource.custom or resource.type.startswith("pulumi:providers:"):
                continue
            request = analyzer_pb2.AnalyzeRequest(
                type=resource.type,
                properties=resource.engine_properties,
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                provider=_provider(index, resource),
            )
            response = self.stub.Analyze(request, timeout=60)
            diagnostics += [(d, resource.urn) for d in response.diagnostics]
        stack = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=r.engine_properties,
                    urn=r.urn,
                    name=r.name,
                    options=_options(r),
                    provider=_provider(index, r),
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                )
                for r in graph.resources
            ]
        )
        response = self.stub.AnalyzeStack(stack, timeout=120)
        diagnostics += [(d, d.urn) for d in response.diagnostics]
        return [
            Violation(
                policy=d.policyName,
                level=LEVELS.get(d.enforcementLevel, "advisory"),
                urn=urn,
                resource_type=index[urn].type if urn in index else "",
                name=index[urn].name if urn in index else "",
                message=d.message,
            )
            for d, urn in diagnostics
        ]

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@contextmanager
def policy_server(stack: str, pack_dir: Path = PACK_DIR) -> Iterator[PolicyServer]:
    server = PolicyServer(stack, pack_dir)
    try:
        server.configure(read_policy_config(stack, pack_dir))
        yield server
    finally:
        server.close()


def read_policy_config(stack: str, pack_dir: Path = PACK_DIR) -> dict[str, Any]:
    path = pack_dir / "config" / f"{stack}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def render(violations: list[Violation], pack: str = "deepseek-onprem@v0.1.0") -> str:
    """As `pulumi preview` prints the Policies section."""
    mandatory = [v for v in violations if v.level == "mandatory"]
    mark = "❌" if mandatory else ("⚠️ " if violations else "✅")
    lines = ["Policies:", f"    {mark} {pack} (local: policies)"]
    for v in sorted(violations, key=lambda v: (v.level != "mandatory", v.policy, v.urn)):
        where = f"  ({v.resource_type}: {v.name})" if v.urn and v.resource_type else ""
        lines.append(f"        - [{v.level}]  {v.policy}{where}")
        for text in v.message.splitlines():
            lines.append(f"          {text}")
    advisory = len(violations) - len(mandatory)
    lines.append(
        f"    {len(mandatory)} mandatory and {advisory} advisory "
        f"violation{'s' if advisory != 1 else ''}"
    )
    return "\n".join(lines) + "\n"
