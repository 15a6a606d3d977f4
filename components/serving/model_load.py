"""How long a model's weights take to reach a GPU host: the cold load (the node-local cache's
fill, from the site's model store over the network) and the warm load (from the cache's disk),
with every input stated, beside the guide's figures for its NFS and Alluxio setups. Pure
arithmetic; the serving output shows it per model and site."""

from collections.abc import Sequence
from dataclasses import dataclass

from components.catalog import MODELS, PRECISION_BYTES
from components.config import Host

GUIDE_MODEL_GB = 100
GUIDE_NFS_SECONDS = 127
GUIDE_ALLUXIO_SECONDS = 42
"""The guide's figures: a 100 GB model loads in 127 s from NFS and in 42 s through its Alluxio
cache. Quoted as the guide gives them; nothing here measured them."""

CACHE_DISK_READ_GB_PER_S = 3.0
"""Assumed sequential read of a GPU host's cache disk: 3 GB/s, one PCIe 3.0 x4 NVMe drive's
(the link itself tops out near 3.9 GB/s; PCIe 4.0 drives read about twice as fast). A stated
default, not a measurement: the preflight's fio measures 4K random IOPS, not sequential
throughput, and no host's figure is known at preview."""


def client_nic_gbps(host: Host) -> float | None:
    """The speed of the NIC a host's S3 traffic leaves by: its fastest non-RDMA NIC (HTTP to
    RGW runs over TCP on the node network; InfiniBand links carry NCCL), or its fastest NIC
    when all are RDMA; None when config lists none."""
    plain = [nic.speed_gbps for nic in host.nics if not nic.rdma]
    speeds = plain or [nic.speed_gbps for nic in host.nics]
    return float(max(speeds)) if speeds else None


def weights_bytes(model: str, precision: str) -> int:
    """Parameters x bytes per parameter: the size of the weights the bucket holds (tokenizer
    and config files are noise beside them)."""
    return round(MODELS[model].parameters_b * 1e9 * PRECISION_BYTES[precision])


@dataclass(frozen=True)
class LoadInputs:
    """What the estimate of one model at one site is computed from."""

    model: str
    precision: str
    gpu_hosts: Sequence[Host]
    """The hosts that cache this model's revision (each gets a fill Job, all at once)."""
    storage_hosts: Sequence[Host]
    """The site's Ceph hosts, whose RGW serves the weights; empty for an external store."""
    disk_gb_per_s: float = CACHE_DISK_READ_GB_PER_S


def _seconds(size_bytes: float, gbps: float) -> float:
    return round(size_bytes * 8 / (gbps * 1e9), 1)


def load_estimate(inputs: LoadInputs) -> dict[str, object]:
    """Weight size, expected cold and warm load, and the inputs, as the stack output shows them.

    Cold: the fill's transfer at line rate, bounded by the slowest GPU host's NIC and by the
    storage side's NIC shared among the hosts filling at once (all the fill Jobs of a revision
    run together, and RGW's virtual IP puts every byte through the one storage host that holds
    it, whichever it is: the slowest one counts). Warm: reading the local copy at the assumed
    disk speed. Protocol overhead, RGW's own disk reads and Triton's engine start-up are not
    counted: the figures are floors, for comparing setups, not promises."""
    size = weights_bytes(inputs.model, inputs.precision)
    gpu_nics = [client_nic_gbps(host) for host in inputs.gpu_hosts]
    gpu_nic = min((s for s in gpu_nics if s is not None), default=None)
    storage_nics = [client_nic_gbps(host) for host in inputs.storage_hosts]
    storage_nic = min((s for s in storage_nics if s is not None), default=None)
    fillers = len(inputs.gpu_hosts)
    bounds = [gpu_nic] if gpu_nic is not None else []
    if storage_nic is not None and fillers:
        bounds.append(storage_nic / fillers)
    cold_gbps = min(bounds) if bounds else None
    disk_gbps = inputs.disk_gb_per_s * 8

    def at(size_bytes: float) -> dict[str, float | None]:
        return {
            "coldLoadSeconds": _seconds(size_bytes, cold_gbps) if cold_gbps else None,
            "warmLoadSeconds": _seconds(size_bytes, disk_gbps),
        }

    spec = MODELS[inputs.model]
    return {
        "weightsGB": round(size / 1e9, 1),
        **at(size),
        "inputs": {
            "weights": (
                f"{spec.parameters_b:g}B parameters x {PRECISION_BYTES[inputs.precision]:g} "
                f"bytes ({inputs.precision})"
            ),
            "gpuHosts": sorted(host.name for host in inputs.gpu_hosts),
            "gpuHostNicGbps": gpu_nic,
            "storageNicGbps": storage_nic,
            "storageNicSharedBy": fillers if storage_nic is not None else None,
            "coldGbps": round(cold_gbps, 2) if cold_gbps else None,
            "cold": (
                "line rate of the slowest GPU host's NIC and of the storage host's NIC shared "
                "by the hosts that fill at once"
                if storage_nic is not None
                else "line rate of the slowest GPU host's NIC (an external store: its NICs "
                "are not in config)"
            ),
            "diskReadGBps": inputs.disk_gb_per_s,
            "warm": (
                "assumed: one PCIe 3.0 NVMe drive's sequential read; the preflight measures "
                "random IOPS only"
            ),
            "notCounted": "protocol overhead, RGW's disk reads, Triton's engine start-up",
        },
        "guide": {
            "modelGB": GUIDE_MODEL_GB,
            "nfsSeconds": GUIDE_NFS_SECONDS,
            "alluxioCacheSeconds": GUIDE_ALLUXIO_SECONDS,
            "source": "the guide's figures, quoted (not measured here)",
            "here": at(GUIDE_MODEL_GB * 1e9),
        },
    }
