"""`make bench`: evaluates generated inventories of many GPU hosts and compares the time with
the SDK's floor: bare programs that register as many resources under the same mocks.

Two floors are timed. `replay` registers the very resources the program registered (type,
name, recorded inputs, parent, provider, dependencies) through the same SDK classes, with
none of the program's logic: the baseline of the last line, since a typed Command costs the
SDK about twice what a bare CustomResource does. `minimal` registers bare resources with two
small inputs each; its ratio is printed too, for reference.

It also prints the timings the tests do not assert (wall time on a shared machine is no test):
reading a large stack file, evaluating the real stacks, the policy pack over prod, and the
preflight parsers over their fuzz corpus (tests/diagnostics_corpus.py). Each has a budget; a
timing over its budget is flagged and makes the bench exit 1.
"""

import ipaddress
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from offline.evaluate import evaluate
from offline.graph import Graph
from offline.stack_files import PROJECT_DIR, project_name, read_stack_config

STACK_FILE_BUDGET_SECONDS = 1.0
"""Reading a generated stack file of up to 1,000 GPU hosts (libyaml's loader: milliseconds)."""
PROD_BUDGET_SECONDS = 5.0
"""Evaluating the prod stack, once the modules are imported."""
POLICY_BUDGET_SECONDS = 10.0
"""Starting the policy pack's analyzer server and analyzing prod's graph."""
PARSER_CASE_BUDGET_SECONDS = 2.0
"""One fuzz case of a preflight parser, parse and check: a linear parser reads any accepted
input in milliseconds; seconds would mean a backtracking pattern or a quadratic loop that a
host could trigger with what it prints."""
OVERSIZED_BUDGET_SECONDS = 0.5
"""Refusing an output larger than any tool prints, unread."""

MINIMAL_PROGRAM = '''"""Bench floor: N plain resources with two small inputs, nothing else."""
import pulumi

for i in range(int(pulumi.Config().require("count"))):
    pulumi.CustomResource("bench:index:Plain", f"plain-{i}", {"index": i, "label": f"r{i}"})
'''

REPLAY_PROGRAM = '''"""Bench floor: the recorded resources with their recorded inputs, parents,
providers and dependencies, through the same SDK classes, and none of the program's logic."""
import json
from pathlib import Path

import pulumi
from pulumi_command import remote

from components.remote.runner import ordering_edge

key = pulumi.Output.secret("floor-key")
by_urn = {}
for resource in json.loads((Path(__file__).parent / "resources.json").read_text()):
    kind, name, inputs = resource["type"], resource["name"], resource["inputs"]
    opts = pulumi.ResourceOptions(
        parent=by_urn.get(resource["parent"]),
        provider=by_urn.get(resource["provider"]),
        # As the program's rollout chains do: an edge the SDK's cycle check walks in O(1).
        depends_on=[
            ordering_edge(by_urn[urn]) for urn in resource["dependencies"] if urn in by_urn
        ],
    )
    if kind.startswith("pulumi:providers:"):
        created = pulumi.ProviderResource(kind.split(":")[2], name, inputs, opts=opts)
    elif kind == "command:remote:Command":
        created = remote.Command(
            name,
            connection=remote.ConnectionArgs(
                host="10.0.0.1", user="deploy", port=22, private_key=key, host_key="ssh-ed25519 A"
            ),
            **{k: inputs[k] for k in ("create", "update", "delete") if k in inputs},
            stdin=inputs["stdin"],
            triggers=inputs["triggers"],
            opts=opts,
        )
    elif resource["custom"]:
        created = pulumi.CustomResource(kind, name, inputs, opts=opts)
    else:
        created = pulumi.ComponentResource(kind, name, inputs, opts=opts)
    by_urn[resource["urn"]] = created
'''


def host_key(seed: int) -> str:
    # Distinct, well-formed ed25519 public keys (type string + 32 bytes), no ssh-keygen.
    import base64
    import struct

    blob = b"ssh-ed25519"
    body = struct.pack(">I", len(blob)) + blob + struct.pack(">I", 32) + seed.to_bytes(32, "big")
    return "ssh-ed25519 " + base64.b64encode(body).decode()


def generated_inventory(gpu_hosts: int) -> dict:
    """Two active sites sharing `gpu_hosts` 8×A100 workers, each with 3 control-plane and
    3 storage hosts, on the prod stack's mirrors and secrets."""
    prod = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    project = project_name()
    sites = []
    seed = 0
    for s, per_site in enumerate((gpu_hosts - gpu_hosts // 2, gpu_hosts // 2)):
        node = ipaddress.ip_network(f"10.{100 + s}.0.0/20")
        addresses = node.hosts()
        vip = next(addresses)
        hosts = []
        for role, count in (("control-plane", 3), ("storage", 3), ("worker", per_site)):
            for i in range(count):
                seed += 1
                host = {
                    "name": f"b{s}-{role[:4]}-{i}",
                    "address": str(next(addresses)),
                    "roles": [role],
                    "hostKey": host_key(seed),
                }
                if role == "storage":
                    host["disks"] = [
                        {"device": f"/dev/nvme{d}n1", "sizeGb": 7680, "media": "nvme"}
                        for d in range(4)
                    ]
                if role == "worker":
                    host["gpu"] = {"model": "A100-80GB", "count": 8}
                    host["nodePool"] = "inference"
                    host["nics"] = [{"name": "ib0", "speedGbps": 200, "rdma": True}]
                hosts.append(host)
        sites.append(
            {
                "name": f"bench-{s}",
                "jurisdiction": "DE",
                "region": f"de-r{s}",
                "zone": f"z{s}",
                "role": "active",
                "loadBalancer": {"addresses": [f"10.{100 + s}.15.240/29"]},
                # Its own Ceph's RGW is the site's model store, as in prod.
                "storage": {"rgwVirtualIp": f"10.{100 + s}.15.230"},
                "network": {
                    "nodeCidr": str(node),
                    "podCidr": f"10.{140 + s}.0.0/16",
                    "serviceCidr": f"10.{150 + s}.0.0/20",
                    "apiVip": str(vip),
                    "ntpServers": ["10.200.0.123"],
                    "egressAllowList": [
                        "10.200.0.0/24",
                        "10.200.1.0/24",
                        f"10.{101 - s}.15.240/29",  # the other site's gateway
                        f"10.{101 - s}.15.230/32",  # the other site's RGW: backups
                    ],
                },
                "hosts": hosts,
            }
        )
    config = {key: value for key, value in prod.items() if not key.endswith(":sites")}
    config[f"{project}:sites"] = sites
    config[f"{project}:backup"] = {
        **prod.get(f"{project}:backup", {}),
        "targets": {"bench-0": "bench-1", "bench-1": "bench-0"},
    }
    # Only A100 hosts here: keep prod's models that are placed on them.
    config[f"{project}:models"] = [
        m for m in prod[f"{project}:models"] if m["gpuModel"] == "A100-80GB"
    ]
    return {"config": config}


def _project_copy(directory: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py", "components"):
        (directory / name).symlink_to(PROJECT_DIR / name)


def time_program(gpu_hosts: int, workdir: Path) -> tuple[Graph, float]:
    project = workdir / f"program-{gpu_hosts}"
    project.mkdir()
    _project_copy(project)
    (project / "Pulumi.bench.yaml").write_text(yaml.safe_dump(generated_inventory(gpu_hosts)))
    start = time.perf_counter()
    graph = evaluate("bench", project_dir=project)
    return graph, time.perf_counter() - start


def _time_bare(directory: Path, program: str, config: dict[str, str], resources: int) -> float:
    directory.mkdir(exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: bench-floor\nruntime: python\n")
    (directory / "__main__.py").write_text(program)
    (directory / "Pulumi.bench.yaml").write_text(yaml.safe_dump({"config": config}))
    start = time.perf_counter()
    graph = evaluate("bench", project_dir=directory)
    elapsed = time.perf_counter() - start
    assert len(graph.resources) == resources, (len(graph.resources), resources)
    return elapsed


def time_floors(graph: Graph, workdir: Path) -> tuple[float, float]:
    """(replay, minimal) seconds for as many resources as `graph` holds, Stack included."""
    count = len(graph.resources)
    replay_dir = workdir / f"replay-{count}"
    replay_dir.mkdir()
    registered = [r for r in graph.resources if r.type != "pulumi:pulumi:Stack"]
    (replay_dir / "resources.json").write_text(
        json.dumps(
            [
                {
                    "urn": r.urn,
                    "type": r.type,
                    "name": r.name,
                    "custom": r.custom,
                    "inputs": r.inputs,
                    "parent": r.parent,
                    "provider": r.provider,
                    "dependencies": list(r.dependencies),
                }
                for r in registered
            ]
        )
    )
    replay = _time_bare(replay_dir, REPLAY_PROGRAM, {}, count)
    minimal = _time_bare(
        workdir / f"minimal-{count}", MINIMAL_PROGRAM, {"bench-floor:count": str(count - 1)}, count
    )
    return replay, minimal


def run_bench(sizes: list[int]) -> int:
    """1 when a timing went over its budget (each is printed with its budget)."""
    workdir = Path(tempfile.mkdtemp(prefix="deepseek-bench-"))
    statuses = []
    try:
        # Each measurement in its own process, so no run inherits another's warm state.
        for args in (["parsers"], ["stacks"], *([str(n), str(workdir)] for n in sizes)):
            statuses.append(
                subprocess.run(
                    [sys.executable, "-m", "offline.bench", *args], cwd=PROJECT_DIR
                ).returncode
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if any(statuses):
        print("bench: a timing is over its budget (marked OVER BUDGET above)", flush=True)
        return 1
    return 0


def _budget(seconds: float, budget: float) -> str:
    return f"budget_seconds={budget:g}" + (" OVER BUDGET" if seconds > budget else "")


def _measure_parsers() -> bool:
    """The preflight parsers over the fuzz corpus the tests check them with: the slowest case
    per parser, and the refusal of an oversized output. True when all are within budget."""
    try:
        from tests.diagnostics_corpus import PARSERS, cases, oversized
    except FileNotFoundError as missing:
        print(
            f"parsers: skipped, no shared fixtures ({missing.filename}); set "
            "DEEPSEEK_SHARED_FIXTURES",
            flush=True,
        )
        return True
    within = True
    for name, parser in PARSERS.items():
        slowest, slowest_case = 0.0, ""
        corpus = cases(name)
        for what, text in corpus:
            start = time.perf_counter()
            for call in (parser.parse, parser.check):
                try:
                    if call is not None:
                        call(text)
                except Exception:  # noqa: BLE001 the tests judge the outcome; this only times
                    pass
            elapsed = time.perf_counter() - start
            if elapsed > slowest:
                slowest, slowest_case = elapsed, what
        text = oversized(name)
        start = time.perf_counter()
        try:
            parser.parse(text)
        except Exception:  # noqa: BLE001 refused, as the tests require
            pass
        refusal = time.perf_counter() - start
        within &= slowest <= PARSER_CASE_BUDGET_SECONDS and refusal <= OVERSIZED_BUDGET_SECONDS
        print(
            f"parser={name} cases={len(corpus)} slowest_case_seconds={slowest:.3f} "
            f"({slowest_case[:40]!r}) {_budget(slowest, PARSER_CASE_BUDGET_SECONDS)}; "
            f"oversized_refusal_seconds={refusal:.4f} "
            f"{_budget(refusal, OVERSIZED_BUDGET_SECONDS)}",
            flush=True,
        )
    return within


def _measure_stacks() -> bool:
    """The real stacks, and the policy pack over prod through its analyzer server."""
    from offline.policy import policy_server

    start = time.perf_counter()
    evaluate("prod")
    print(
        f"stack=prod cold_seconds={time.perf_counter() - start:.2f} (imports included)", flush=True
    )
    within = True
    graphs = {}
    for stack in ("prod", "dr"):
        start = time.perf_counter()
        graphs[stack] = evaluate(stack)
        seconds = time.perf_counter() - start
        budget = ""
        if stack == "prod":
            within &= seconds <= PROD_BUDGET_SECONDS
            budget = " " + _budget(seconds, PROD_BUDGET_SECONDS)
        print(
            f"stack={stack} resources={len(graphs[stack].resources)} seconds={seconds:.2f}"
            + budget,
            flush=True,
        )
    start = time.perf_counter()
    with policy_server("prod") as server:
        violations = server.analyze(graphs["prod"])
    seconds = time.perf_counter() - start
    within &= seconds <= POLICY_BUDGET_SECONDS
    print(
        f"policy stack=prod violations={len(violations)} seconds={seconds:.2f} "
        f"{_budget(seconds, POLICY_BUDGET_SECONDS)}",
        flush=True,
    )
    return within


def _measure(gpu_hosts: int, workdir: Path) -> bool:
    graph, seconds = time_program(gpu_hosts, workdir)
    start = time.perf_counter()
    read_stack_config("bench", workdir / f"program-{gpu_hosts}")
    stack_file = time.perf_counter() - start
    replay, minimal = time_floors(graph, workdir)
    resources = len(graph.resources)
    within = gpu_hosts > 1000 or stack_file <= STACK_FILE_BUDGET_SECONDS
    print(
        f"hosts={gpu_hosts} stack_file_seconds={stack_file:.3f}"
        + ("" if gpu_hosts > 1000 else f" {_budget(stack_file, STACK_FILE_BUDGET_SECONDS)}"),
        flush=True,
    )
    print(
        f"hosts={gpu_hosts} floor: minimal_inputs_seconds={minimal:.2f} "
        f"(ratio {seconds / minimal:.2f})",
        flush=True,
    )
    print(
        f"hosts={gpu_hosts} resources={resources} seconds={seconds:.2f} "
        f"baseline_seconds={replay:.2f} ratio={seconds / replay:.2f}",
        flush=True,
    )
    return within


if __name__ == "__main__":
    if sys.argv[1] == "parsers":
        within_budget = _measure_parsers()
    elif sys.argv[1] == "stacks":
        within_budget = _measure_stacks()
    else:
        within_budget = _measure(int(sys.argv[1]), Path(sys.argv[2]))
    sys.exit(0 if within_budget else 1)
