"""`make bench`: evaluates generated inventories of many GPU hosts and compares the time with
the SDK's floor, a bare program registering as many plain resources under the same mocks."""

import ipaddress
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from offline.evaluate import evaluate
from offline.stack_files import PROJECT_DIR, project_name

BASELINE_PROGRAM = '''"""Bench baseline: N plain resources, nothing else."""
import pulumi

class Plain(pulumi.CustomResource):
    def __init__(self, name, props):
        super().__init__("bench:index:Plain", name, props)

for i in range(int(pulumi.Config().require("count"))):
    Plain(f"plain-{i}", {"index": i, "label": f"resource {i}"})
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
                if role == "worker":
                    host["gpu"] = {"model": "A100-80GB", "count": 8}
                    host["nics"] = [{"name": "ib0", "speedGbps": 200, "rdma": True}]
                hosts.append(host)
        sites.append(
            {
                "name": f"bench-{s}",
                "jurisdiction": "DE",
                "region": f"de-r{s}",
                "zone": f"z{s}",
                "role": "active",
                "network": {
                    "nodeCidr": str(node),
                    "podCidr": f"10.{140 + s}.0.0/16",
                    "serviceCidr": f"10.{150 + s}.0.0/20",
                    "apiVip": str(vip),
                    "egressAllowList": ["10.200.0.0/24"],
                },
                "hosts": hosts,
            }
        )
    config = {key: value for key, value in prod.items() if not key.endswith(":sites")}
    config[f"{project}:sites"] = sites
    return {"config": config}


def _project_copy(directory: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py", "components"):
        (directory / name).symlink_to(PROJECT_DIR / name)


def time_program(gpu_hosts: int, workdir: Path) -> tuple[int, float]:
    project = workdir / f"program-{gpu_hosts}"
    project.mkdir()
    _project_copy(project)
    (project / "Pulumi.bench.yaml").write_text(yaml.safe_dump(generated_inventory(gpu_hosts)))
    start = time.perf_counter()
    graph = evaluate("bench", project_dir=project)
    return len(graph.resources), time.perf_counter() - start


def time_baseline(resources: int, workdir: Path) -> float:
    project = workdir / f"baseline-{resources}-resources"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: bench-baseline\nruntime: python\n")
    (project / "__main__.py").write_text(BASELINE_PROGRAM)
    # The Stack resource counts in both: register one plain resource fewer.
    (project / "Pulumi.bench.yaml").write_text(
        yaml.safe_dump({"config": {"bench-baseline:count": str(resources - 1)}})
    )
    start = time.perf_counter()
    graph = evaluate("bench", project_dir=project)
    assert len(graph.resources) == resources, (len(graph.resources), resources)
    return time.perf_counter() - start


def run_bench(sizes: list[int]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="deepseek-bench-"))
    try:
        for gpu_hosts in sizes:
            # Each measurement in its own process, so no run inherits another's warm state.
            subprocess.run(
                ["python", "-m", "offline.bench", str(gpu_hosts), str(workdir)], check=True
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _measure(gpu_hosts: int, workdir: Path) -> None:
    resources, seconds = time_program(gpu_hosts, workdir)
    baseline = time_baseline(resources, workdir)
    print(
        f"hosts={gpu_hosts} resources={resources} seconds={seconds:.2f} "
        f"baseline_seconds={baseline:.2f} ratio={seconds / baseline:.2f}",
        flush=True,
    )


if __name__ == "__main__":
    import sys

    _measure(int(sys.argv[1]), Path(sys.argv[2]))
