"""A site's rollout: how a change reaches its live hosts. One host at a time (workers
`rollout.maxUnavailable` at a time), each drained first and verified before it is uncordoned,
and one site after the other.

Why a chain of update-only steps. Pulumi's dependency edges are fixed: an edge orders every
operation along it, the first install's too. A host's install steps (components/metal/host.py,
`Lifecycle` "install") are outside any chain and run in parallel on every host; once run, a
change of their inputs runs nothing. The change runs here instead, in steps that are
update-only (`Lifecycle` "update": no `create`), chained host after host. Created on first
install, they run nothing, so the chain costs the first install nothing; on a live platform,
the steps whose inputs changed run their `update`, in chain order, and the others pass at
once. The order is in the graph, so `pulumi preview` shows it and no run-time lock can
deadlock or be left behind by a crashed run: a failed step stops its chain (the engine runs
nothing that depends on it) and its host stays drained, within the site's budget.

Per host, in order: `node-drain` (on the site's first control plane, with its admin.conf;
never forced, a drain that times out uncordons the node and fails), the host's configuration
steps again (os-prep, container-runtime, nvidia-stack, then gpu-check, which re-runs with
every change of the host), `kubeadm-upgrade` (the kubeadm way: `upgrade apply` on the first
control plane, `upgrade node` on the others), and `node-uncordon` (Ready, its GPUs allocatable,
and only with the GPU check passed). `CHANGE`, a digest of everything the host's change runs,
makes drain, GPU check and uncordon run whenever anything of the host changes.

Chains: the control planes one at a time, first control plane first (etcd keeps its quorum,
kubeadm upgrades it first); then, in parallel, the storage hosts one at a time (Ceph keeps its
quorum) and the workers in `maxUnavailable` chains. Every chain of a site starts after every
chain of the site before it in `rollout.siteOrder` ends: one active site finishes healthy
before the next begins."""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_command import remote

from components.config import Kubernetes, Mirrors
from components.config import Rollout as RolloutConfig
from components.plan import SitePlan
from components.remote.runner import ordering_edge, read_result, run_script
from components.remote.steps import script_digest, step_script


@dataclass(frozen=True)
class RolloutHost:
    """What the rollout needs of a host (the metal layer builds it)."""

    connection: remote.ConnectionArgs
    """SSH to the host, dialing with retries while it may be rebooting."""
    ready: pulumi.Output[str]
    """Resolves once the host's install passed and finished."""
    changes: tuple[tuple[str, dict[str, pulumi.Input[str]]], ...]
    """Its configuration steps in order, with their inputs: what a change runs again."""
    gpu_verdict: Callable[[str | None], str] | None = None
    """Judges what a GPU check printed against config ("passed", or raises); None for a host
    without a GPU check."""
    reachable: bool = True
    """False: the host is dead or gone; no step dials it any more."""
    recheck: str = ""
    """Config's re-measure token: its change runs the host's sequence again (drained, GPU
    check, uncordoned), e.g. after a repair of a host whose GPU check failed."""


@dataclass(frozen=True)
class RolloutArgs:
    """Inputs of a `Rollout`."""

    plan: SitePlan
    """The site: its control planes, workers and storage hosts."""
    rollout: RolloutConfig
    """How many workers at once, and the timeouts."""
    kubernetes: Kubernetes
    """The version nodes are upgraded to, and the GPU sharing that sets allocatable GPUs."""
    mirrors: Mirrors
    """Where the Kubernetes packages come from."""
    hosts: dict[str, RolloutHost]
    """The site's hosts, by name in config."""
    command_provider: pulumi.ProviderResource
    """The site's SSH provider."""
    allocatable_gpus: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    """GPU host → the extended resource its GPUs are offered as (nvidia.com/gpu, or a
    sharing profile's) and how many the node must offer before it is uncordoned."""
    after: tuple[pulumi.Resource, ...] = ()
    """The last steps of the previous site's chains: this site's chains start after them."""


class Rollout(pulumi.ComponentResource):
    """The order in which a change reaches a site's live hosts
    (`deepseek:kubernetes:Rollout`)."""

    tails: tuple[pulumi.Resource, ...]
    """The last step of each chain: the next site's chains wait for all of them."""
    order: pulumi.Output[list[list[str]]]
    """The chains, each a list of host names in the order a change reaches them."""

    def __init__(
        self, name: str, args: RolloutArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "deepseek:kubernetes:Rollout",
            name,
            {"maxUnavailable": args.rollout.max_unavailable},
            opts,
        )
        self._name, self._args = name, args
        plan = args.plan
        nodes = {h.name for h in (*plan.control_planes, *plan.workers)}
        # A host marked unreachable is out of every chain: no change dials it.
        live = {name for name, host in args.hosts.items() if host.reachable}
        storage = [h.name for h in plan.spec.hosts if h.name not in nodes and h.name in live]
        workers = [h.name for h in plan.workers if h.name in live]
        width = min(args.rollout.max_unavailable, len(workers)) or 1
        control_planes = [[h.name for h in plan.control_planes if h.name in live]]
        chains = [
            *control_planes,
            *([storage] if storage else []),
            *[workers[i::width] for i in range(width) if workers[i::width]],
        ]
        self.order = pulumi.Output.from_input(chains)

        # Control planes first, one chain; then storage and the worker chains in parallel.
        cp_tail = self._chain(control_planes[0], tuple(args.after))
        after_cp = (cp_tail,) if cp_tail is not None else tuple(args.after)
        tails = [self._chain(chain, after_cp) for chain in chains[1:]]
        self.tails = tuple(tails) or after_cp
        for host_name in sorted(nodes):
            self._removal(host_name)
        self.register_outputs({"order": self.order})

    def _removal(self, host_name: str) -> None:
        """What runs when the host is taken out of config, as kubeadm documents a node's
        removal: its node drained, `kubeadm reset` on the host, then its node deleted. These
        steps are delete-only (they run nothing until then), and the engine deletes a
        dependent before what it depends on: the drain depends on the reset, which depends
        on the node's deletion. For a host marked unreachable, the drain (its pods could never
        end) and the reset (nothing can reach it) are retained: dropped from the state without
        running; only the node's deletion runs, on the first control plane."""
        args = self._args
        host = args.hosts[host_name]
        first = args.hosts[args.plan.first_control_plane.name]
        site = self._name.removesuffix("-rollout")
        gone = not host.reachable

        def removal(step: str, environment, on: RolloutHost, after, retained: bool):
            return run_script(
                f"{site}-removal-{host_name}-{step}",
                step_script(step),
                environment,
                connection=on.connection,
                provider=args.command_provider,
                parent=self,
                depends_on=after,
                lifecycle="delete",
                retain_on_delete=retained,
            )

        delete = removal(
            "node-delete",
            {"NODE": host_name, "DELETE_TIMEOUT_SECONDS": str(args.rollout.drain_timeout_seconds)},
            first,
            [],
            False,
        )
        reset = removal("kubeadm-reset", {}, host, [delete], gone)
        removal(
            "node-drain",
            {
                "NODE": host_name,
                "DRAIN_TIMEOUT_SECONDS": str(args.rollout.drain_timeout_seconds),
                "CHANGE": "removal",
            },
            first,
            [reset],
            gone,
        )

    def _chain(
        self, host_names: list[str], after: tuple[pulumi.Resource, ...]
    ) -> pulumi.Resource | None:
        previous: list[pulumi.Resource] = list(after)
        last = None
        for host_name in host_names:
            last = self._host(host_name, previous)
            previous = [last]
        return last

    def _host(self, host_name: str, after: list[pulumi.Resource]) -> remote.Command:
        """The host's steps, in order, after `after`; returns the last."""
        args, plan = self._args, self._args.plan
        host = args.hosts[host_name]
        first = args.hosts[plan.first_control_plane.name]
        control_planes = [h.name for h in plan.control_planes]
        is_node = host_name in control_planes or host_name in {h.name for h in plan.workers}
        upgrade: dict[str, pulumi.Input[str]] = {
            "KUBERNETES_VERSION": args.kubernetes.version,
            "KUBERNETES_APT_REPO": args.mirrors.kubernetes_apt_repo,
            "UPGRADE_ROLE": (
                "first"
                if host_name == control_planes[0]
                else "control-plane"
                if host_name in control_planes
                else "worker"
            ),
            "HOST_READY": host.ready.apply(lambda _: "true"),
        }
        change = change_digest(host.changes, upgrade if is_node else None, host.recheck)

        previous = after
        drained_at: pulumi.Input[str] = ""
        if is_node:
            drain = {
                "NODE": host_name,
                "DRAIN_TIMEOUT_SECONDS": str(args.rollout.drain_timeout_seconds),
                "CHANGE": change,
            }
            drained = self._run(host_name, "node-drain", drain, first, previous)
            # Whenever the drain runs, its uncordon runs after it: a change reverted after a
            # failure half-way leaves no node cordoned (the uncordon's other inputs would
            # match its state again, and it would run nothing).
            drained_at = drained.stdout.apply(
                lambda out, where=f"{host_name} (drained from its site's first control plane)": (
                    str(read_result("node-drain", out, where).get("drainedAt", "")) if out else ""
                )
            )
            previous = [drained]
        verified: pulumi.Input[str] = "no-gpu-check"
        for step, inputs in host.changes:
            environment = dict(inputs)
            if step == "gpu-check":
                environment["CHANGE"] = change
            command = self._run(host_name, step, environment, host, previous)
            if step == "gpu-check" and host.gpu_verdict is not None:
                # What the GPU check found, judged against config: uncordon waits for it.
                verified = command.stdout.apply(host.gpu_verdict)
            previous = [command]
        if not is_node:
            # A storage host: no node to drain; it has configuration steps (os-prep at least).
            return previous[0]
        previous = [self._run(host_name, "kubeadm-upgrade", upgrade, host, previous)]
        resource, allocatable = args.allocatable_gpus.get(host_name, ("", 0))
        uncordon = {
            "NODE": host_name,
            "READY_TIMEOUT_SECONDS": str(args.rollout.ready_timeout_seconds),
            "GPU_RESOURCE": resource,
            "GPU_ALLOCATABLE": str(allocatable),
            "CHANGE": change,
            "VERIFIED": verified,
            "DRAINED_AT": drained_at,
        }
        return self._run(host_name, "node-uncordon", uncordon, first, previous)

    def _run(
        self,
        host_name: str,
        step: str,
        environment: dict[str, pulumi.Input[str]],
        on: RolloutHost,
        after: list[pulumi.Resource],
    ) -> remote.Command:
        # The host, or the first control plane, may be rebooting when a step starts (the
        # step before it may have scheduled a reboot): every step dials with retries.
        return run_script(
            f"{self._name}-{host_name}-{step}",
            step_script(step),
            environment,
            connection=on.connection,
            provider=self._args.command_provider,
            parent=self,
            # The chain is as long as the site: edges the SDK's cycle check walks in O(1).
            depends_on=[ordering_edge(resource) for resource in after],
            lifecycle="update",
        )


def change_digest(
    changes: tuple[tuple[str, dict[str, pulumi.Input[str]]], ...],
    upgrade: dict[str, pulumi.Input[str]] | None,
    recheck: str = "",
) -> pulumi.Output[str]:
    """A digest of everything a change of the host runs: each step's script and inputs, and
    the Kubernetes upgrade's. Any change of them changes it."""
    payload: list[Any] = [
        [step, script_digest(step_script(step)), environment] for step, environment in changes
    ]
    if upgrade is not None:
        payload.append(["kubeadm-upgrade", script_digest(step_script("kubeadm-upgrade")), upgrade])
    if recheck:
        payload.append(["recheck", recheck])
    return pulumi.Output.from_input(payload).apply(
        lambda resolved: hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[
            :16
        ]
    )
