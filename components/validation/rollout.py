"""Rules of `rollout`: the site order names each site once, and a site keeps what its
serving layer needs while `maxUnavailable` of its hosts are out."""

import itertools
import math
from collections.abc import Iterator, Mapping

from components.config import Host, PlatformConfig, Site
from components.plan import make_plan
from components.serving.capacity import ServingPlan
from components.serving.headroom import HeadroomProblem, headroom_problems
from components.validation.issues import ConfigIssue
from components.validation.kubernetes import unusable_sharing


def check_rollout(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _site_order(config)
    yield from _first_control_plane_reachable(config)
    yield from check_rollout_headroom(config)


def _first_control_plane_reachable(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Every drain, uncordon and node deletion of a site runs on its first control plane."""
    for i, site in enumerate(config.sites):
        for j, host in enumerate(site.hosts):
            if "control-plane" in host.roles:
                if not host.reachable:
                    yield ConfigIssue(
                        f"sites[{i}].hosts[{j}].reachable",
                        False,
                        f"marks {host.name}, the first control plane of site {site.name}, "
                        "unreachable: every drain, uncordon and node removal of the site runs "
                        "there, and it ran `kubeadm init`",
                        "bring the host back; replacing a site's first control plane is not "
                        "done by a config edit",
                    )
                break


def _site_order(config: PlatformConfig) -> Iterator[ConfigIssue]:
    order = config.rollout.site_order
    if order is None:
        return
    names = [site.name for site in config.sites]
    unknown = [name for name in order if name not in names]
    repeated = sorted({name for name in order if order.count(name) > 1})
    missing = [name for name in names if name not in order]
    if unknown or repeated or missing:
        problems = []
        if unknown:
            problems.append(f"names no site of this stack: {', '.join(unknown)}")
        if repeated:
            problems.append(f"lists {', '.join(repeated)} more than once")
        if missing:
            problems.append(f"leaves out {', '.join(missing)}")
        yield ConfigIssue(
            "rollout.siteOrder",
            order,
            "; ".join(problems),
            f"list every site of the stack once, e.g. {names}",
        )


# Enumerating every choice of hosts is exact and cheap for real sites; past this many choices
# the largest hosts (by GPU count) stand for them.
_MOST_CHOICES = 5000


def _hosts_out_choices(hosts: list[Host], count: int) -> Iterator[tuple[Host, ...]]:
    """The sets of `count` inference hosts a rollout may have out at once: any of them (its
    parallel chains may meet at any point), or, for a large site, the largest."""
    if math.comb(len(hosts), count) <= _MOST_CHOICES:
        yield from itertools.combinations(hosts, count)
    else:
        yield tuple(sorted(hosts, key=lambda h: -h.gpu.count)[:count])


def _first_short(
    site: Site, serving: Mapping[str, ServingPlan], hosts: list[Host], count: int
) -> tuple[tuple[Host, ...], list[HeadroomProblem]] | None:
    """The first set of `count` hosts whose absence leaves a model's replicas at rest unplaced,
    with those problems; None when every set of that size leaves room."""
    for out in _hosts_out_choices(hosts, count):
        problems = headroom_problems(site, serving, {h.name for h in out})
        if problems:
            return out, problems
    return None


def check_rollout_headroom(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """`rollout.maxUnavailable` workers of an active site drained at once must leave it room
    for every model's replicas at rest (canaries included): the other site's failure during a
    change must not find this one short. A DR site is left out: it idles warm and serves
    nothing until a failover. Runs only on models that place (their problems are serving's)."""
    unusable = unusable_sharing(config)
    placed = [
        d
        for d in config.models
        if not {d.at_site(site.name).gpu_model for site in config.sites} & unusable
    ]
    if not placed:
        return
    plan = make_plan(config.model_copy(update={"models": placed}))
    if plan.capacity_problems:
        return
    wanted = config.rollout.max_unavailable
    for site_plan in plan.sites.values():
        if not site_plan.active or not site_plan.serving:
            continue
        inference = [h for h in site_plan.workers if h.gpu and h.node_pool == "inference"]
        count = min(wanted, len(inference))
        short = _first_short(site_plan.spec, site_plan.serving, inference, count) if count else None
        if short is None:
            continue
        fits = count - 1
        while fits and _first_short(site_plan.spec, site_plan.serving, inference, fits):
            fits -= 1
        out, problems = short
        names = ", ".join(h.name for h in out)
        models = ", ".join(sorted({p.model for p in problems}))
        yield ConfigIssue(
            "rollout.maxUnavailable",
            wanted,
            f"with {count} of site {site_plan.name}'s inference hosts drained at once ({names}), "
            f"{models} cannot place {'its' if len(problems) == 1 else 'their'} replicas at rest: "
            + "; ".join(p.missing for p in problems),
            f"set rollout.maxUnavailable to {fits} (the most inference hosts site "
            f"{site_plan.name} can spare at once)"
            if fits
            else f"add {problems[0].gpu_model} inference hosts at site {site_plan.name}, or "
            f"lower the replicas of {models}: not even one of its hosts can be drained",
        )
