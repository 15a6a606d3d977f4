"""Which weights a site's GPU hosts must hold in their node-local cache, and the cache as the
serving layer sees it. The data layer fills the cache (`storage.model_cache`); the site passes
its claim, paths and fill Jobs here as a `WeightsCache`. Pure, apart from the Jobs it carries."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config import ModelDeployment
from components.serving.capacity import ServingPlan

WeightsKey = tuple[str, str, str]
"""(catalog model, precision, revision): one directory of the model store and of the cache."""


@dataclass(frozen=True)
class WeightsCache:
    """The node-local model cache, as the data layer built it."""

    claim_name: str
    """The claim Triton's pods mount read-only."""
    complete_marker: str
    """The file inside a revision's directory that says it is whole."""
    paths: Mapping[WeightsKey, str]
    """Each revision's directory inside the cache."""
    fills: Mapping[WeightsKey, Sequence[pulumi.Resource]]
    """Each revision's fill Jobs, one per node: its Deployment waits for them."""
    nodes: Mapping[WeightsKey, Sequence[str]]
    """The hosts that cache each revision."""


def served_revisions(deployment: ModelDeployment) -> list[str]:
    """The revisions a deployment serves: the stable one, and its canary's."""
    revisions = [deployment.revision]
    if deployment.canary and deployment.canary.revision not in revisions:
        revisions.append(deployment.canary.revision)
    return revisions


def weights_by_host(
    plans: Mapping[str, ServingPlan],
    pod_of: Callable[[ServingPlan], dict],
    runs_on: Callable[[dict], Iterable[str]],
) -> dict[WeightsKey, tuple[str, ...]]:
    """(model, precision, revision) → the hosts whose pods may serve it, for each model the
    site serves: `pod_of(plan)` is the scheduling part of its pod spec, `runs_on(pod)` the
    hosts that pod fits (the scheduler's filters, from config). Two deployments of one
    model, precision and revision share one entry."""
    hosts: dict[WeightsKey, set[str]] = {}
    for plan in plans.values():
        deployment = plan.deployment
        on = set(runs_on(pod_of(plan)))
        for revision in served_revisions(deployment):
            key = (deployment.model, deployment.precision, revision)
            hosts.setdefault(key, set()).update(on)
    return {key: tuple(sorted(nodes)) for key, nodes in sorted(hosts.items())}
