"""How a change reaches live hosts (components/kubernetes/rollout.py reads it): how many
hosts of a site may be out at once, the order of the sites, and how long a drain or a
node's return may take before the step fails (it never forces)."""

from pydantic import Field

from components.config.base import DnsLabel, Model


class Rollout(Model):
    """Day-2 changes: rolling, site by site."""

    max_unavailable: int = Field(default=1, ge=1, le=64)
    """Worker hosts of a site drained at the same time (control planes and storage hosts go
    one at a time whatever this says: etcd and Ceph keep their quorum)."""
    site_order: list[DnsLabel] | None = None
    """Sites in the order a change reaches them: each finishes healthy before the next
    begins. Default: the order of `sites`."""
    drain_timeout_seconds: int = Field(default=900, ge=60, le=7200)
    """How long a drain may wait for PodDisruptionBudgets; past it the step fails and the
    node is uncordoned again, never forced."""
    ready_timeout_seconds: int = Field(default=900, ge=60, le=7200)
    """How long a changed node may take to be Ready with its GPUs allocatable again."""
