"""The blast radius of a change: which hosts a change drains, in what order, and what each site
can still serve at the worst point, read from the classified change (`offline.changes`) and the
new graph's dependency edges, against the serving layer's headroom. Pure."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.config import Host, PlatformConfig, Site
from components.plan import PlatformPlan, SitePlan, make_plan
from components.remote.steps import parse_shell_command
from components.serving.headroom import HeadroomProblem, headroom_problems
from offline.changes import Change

ROLLOUT_TYPE = "deepseek:kubernetes:Rollout"
COMMAND_TYPES = ("command:remote:Command",)
DISRUPTIVE_STEPS = frozenset(
    {
        "node-drain",
        "os-prep",
        "container-runtime",
        "nvidia-stack",
        "kubeadm-init",
        "kubeadm-join",
        "kubeadm-upgrade",
    }
)
"""Steps that take a live host out of service (drain it, restart its runtime or kubelet,
reload or reboot for a driver). A host whose only changed steps are others (a measurement, a
GPU check, an uncordon) is touched but stays in."""
ROLES = ("control-plane", "storage", "worker")
_RUNS = ("update", "replace")
"""What runs a Command again. A created update-only Command runs nothing (pulumi-command
remote/commandController.go, Create: no `create`, nothing run), and a new host serves nothing
yet: neither takes capacity away."""


@dataclass(frozen=True)
class SiteBlast:
    """What a change does to one site."""

    site: str
    role: str
    hosts: tuple[str, ...]
    """Touched hosts, in the order their changes start (chain order)."""
    steps: Mapping[str, tuple[str, ...]]
    """Host → its changed steps, in run order."""
    out: tuple[str, ...]
    """Touched hosts that are taken out of service (drained, restarted)."""
    most_out: Mapping[str, int]
    """Role (control-plane, storage, worker) → the most of the site's hosts of that role the
    dependency edges let be out at once."""
    allowed_out: Mapping[str, int]
    """Role → what the rollout allows out at once: min(rollout.maxUnavailable, touched
    workers) for workers, one for control planes and for storage hosts (quorum)."""
    worst_point: tuple[str, ...]
    """The hosts out together at the point that costs the site the most GPUs."""
    gpus_out: int
    gpus: int
    """All GPUs of the site."""
    problems: tuple[HeadroomProblem, ...]
    """What the site cannot place at rest at its worst point (empty: it keeps its load)."""

    @property
    def below_load(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class BlastRadius:
    sites: tuple[SiteBlast, ...]
    """In rollout order (`rollout.siteOrder`)."""
    overlapping: tuple[tuple[str, str], ...]
    """Pairs of sites whose hosts the edges let be out at the same time."""
    refused: str
    """Why the change is refused ('' when it is not): every active site below its load at
    rest at one point."""
    notes: tuple[str, ...] = field(default=())


def _ancestors(snapshot: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every resource's transitive dependencies (what must finish before it runs)."""
    deps = {r["urn"]: tuple(r.get("dependencies", ())) for r in snapshot["resources"]}
    found: dict[str, set[str]] = {}

    def of(urn: str) -> set[str]:
        if urn not in found:
            found[urn] = set()  # a cycle (never in a valid graph) stops here
            result: set[str] = set()
            for dep in deps.get(urn, ()):
                result.add(dep)
                result |= of(dep)
            found[urn] = result
        return found[urn]

    for urn in deps:
        of(urn)
    return found


def _depth(urn: str, ancestors: Mapping[str, set[str]]) -> int:
    return len(ancestors.get(urn, ()))


def _host_commands(
    changes: Iterable[Change], hosts: Iterable[Host]
) -> dict[str, list[tuple[str, Change]]]:
    """Host → (step, change) of each Command run again on it (found by the `-<host>-<step>`
    that every host step's name ends with)."""
    found: dict[str, list[tuple[str, Change]]] = {}
    names = [h.name for h in hosts]
    for change in changes:
        if change.type not in COMMAND_TYPES or change.operation not in _RUNS:
            continue
        for host in names:
            marker = f"-{host}-"
            if marker in change.name:
                step = change.name.rsplit(marker, 1)[1]
                found.setdefault(host, []).append((step, change))
                break
    return found


def _cliques(nodes: list[str], overlap: Mapping[str, set[str]]) -> list[set[str]]:
    """The maximal sets of hosts that may all be out together (Bron–Kerbosch with a pivot)."""
    found: list[set[str]] = []

    def grow(chosen: set[str], candidates: set[str], excluded: set[str]) -> None:
        if not candidates and not excluded:
            found.append(chosen)
            return
        pivot = max(candidates | excluded, key=lambda n: len(overlap[n] & candidates))
        for node in sorted(candidates - overlap[pivot]):
            grow(chosen | {node}, candidates & overlap[node], excluded & overlap[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    if nodes:
        grow(set(), set(nodes), set())
    return found


def _roles(site_plan: SitePlan) -> dict[str, str]:
    """Host → control-plane, worker, or storage (neither: not a Kubernetes node)."""
    role = {h.name: "storage" for h in site_plan.spec.hosts}
    role |= {h.name: "worker" for h in site_plan.workers}
    return role | {h.name: "control-plane" for h in site_plan.control_planes}


def rollout_order(config: PlatformConfig) -> list[Site]:
    """The sites in the order a change reaches them (`rollout.siteOrder`, else config order)."""
    by_name = {site.name: site for site in config.sites}
    names = config.rollout.site_order or list(by_name)
    return [by_name[name] for name in names if name in by_name]


def blast_radius(
    changes: list[Change],
    snapshot: Mapping[str, Any],
    config: PlatformConfig,
    plan: PlatformPlan | None = None,
) -> BlastRadius:
    """Per site, in rollout order: the hosts the change runs steps on again, the most of them
    out at once as the new graph's dependency edges allow, and whether the site still places
    its replicas at rest at the worst point. Refused when one point takes every active site
    below its load at rest (only possible when a site's chains do not wait for the previous
    site's)."""
    plan = plan or make_plan(config)
    ancestors = _ancestors(snapshot)
    sites = rollout_order(config)
    site_of_host = {h.name: site.name for site in sites for h in site.hosts}
    hosts_by_name = {h.name: h for site in sites for h in site.hosts}
    commands = _host_commands(changes, hosts_by_name.values())
    notes = []
    if not any(r["type"] == ROLLOUT_TYPE for r in snapshot["resources"]):
        notes.append(
            f"the graph has no {ROLLOUT_TYPE}: changed host steps run as the Hosts' own "
            "Commands, ordered only by their edges"
        )

    # Each host's time out of service: from its first disruptive step (its drain) to the last
    # step of its change (its uncordon), by dependency depth.
    spans: dict[str, tuple[str, str]] = {}
    for host, runs in commands.items():
        ordered = sorted(runs, key=lambda run: (_depth(run[1].urn, ancestors), run[1].urn))
        disruptive = [run for run in ordered if run[0] in DISRUPTIVE_STEPS]
        if disruptive:
            spans[host] = (disruptive[0][1].urn, ordered[-1][1].urn)

    def precedes(a: str, b: str) -> bool:
        end, start = spans[a][1], spans[b][0]
        return end == start or end in ancestors.get(start, ())

    out_hosts = sorted(spans)
    overlap = {
        a: {b for b in out_hosts if b != a and not precedes(a, b) and not precedes(b, a)}
        for a in out_hosts
    }
    cliques = _cliques(out_hosts, overlap)

    blasts = []
    problems_at: dict[tuple[str, frozenset[str]], tuple[HeadroomProblem, ...]] = {}
    for site in sites:
        site_plan = plan.sites[site.name]
        touched = sorted(
            (h for h in commands if site_of_host[h] == site.name),
            key=lambda h: (min(_depth(c.urn, ancestors) for _, c in commands[h]), h),
        )
        points = {frozenset(h for h in c if site_of_host[h] == site.name) for c in cliques}
        points.discard(frozenset())
        for point in points:
            problems_at[(site.name, point)] = tuple(
                headroom_problems(site, site_plan.serving, point)
            )

        def cost(point: frozenset[str], name: str = site.name) -> tuple[bool, int, int]:
            gpus = sum(hosts_by_name[h].gpu.count for h in point if hosts_by_name[h].gpu)
            return (bool(problems_at[(name, point)]), gpus, len(point))

        # Ties go to the earliest point in chain order.
        in_order = sorted(points, key=lambda p: sorted(touched.index(h) for h in p))
        worst = max(in_order, key=cost, default=frozenset())
        role = _roles(site_plan)
        most_out = {
            r: max((len([h for h in p if role[h] == r]) for p in points), default=0) for r in ROLES
        }
        allowed = {
            r: min(
                config.rollout.max_unavailable if r == "worker" else 1,
                sum(1 for h in touched if role[h] == r),
            )
            for r in ROLES
        }
        blasts.append(
            SiteBlast(
                site=site.name,
                role=site.role,
                hosts=tuple(touched),
                steps={
                    h: tuple(
                        step
                        for step, c in sorted(
                            commands[h], key=lambda run: _depth(run[1].urn, ancestors)
                        )
                    )
                    for h in touched
                },
                out=tuple(h for h in touched if h in spans),
                most_out=most_out,
                allowed_out=allowed,
                worst_point=tuple(h for h in touched if h in worst),
                gpus_out=cost(worst)[1] if worst else 0,
                gpus=sum(site_plan.gpus.values()),
                problems=problems_at.get((site.name, worst), ()),
            )
        )

    overlapping = sorted(
        {
            tuple(sorted((site_of_host[a], site_of_host[b])))
            for a in out_hosts
            for b in overlap[a]
            if site_of_host[a] != site_of_host[b]
        }
    )
    active = [s.name for s in sites if s.role == "active"]
    refused = ""
    for clique in cliques:
        below = [
            name
            for name in active
            if problems_at.get((name, frozenset(h for h in clique if site_of_host[h] == name)), ())
        ]
        if active and below == active:
            refused = (
                f"at one point the change takes every active site below its load at rest "
                f"({', '.join(sorted(clique))} out at once): {' and '.join(below)} "
                "cannot place their replicas at rest together"
            )
            break
    for blast in blasts:
        for r in ROLES:
            if blast.most_out[r] > blast.allowed_out[r]:
                notes.append(
                    f"site {blast.site}: the edges let {blast.most_out[r]} {r} hosts be out at "
                    f"once; the rollout allows {blast.allowed_out[r]}"
                )
    return BlastRadius(tuple(blasts), tuple(overlapping), refused, tuple(notes))


def render(radius: BlastRadius, config: PlatformConfig) -> str:
    """The blast radius as the preview prints it."""
    order = " → ".join(s.site for s in radius.sites)
    lines = [
        f"Blast radius (rollout.maxUnavailable {config.rollout.max_unavailable}, "
        f"site order {order}):"
    ]
    for blast in radius.sites:
        if not blast.hosts:
            lines.append(f"  {blast.site} ({blast.role}): no host touched")
            continue
        lines.append(
            f"  {blast.site} ({blast.role}): {len(blast.hosts)} "
            f"host{'s' if len(blast.hosts) > 1 else ''} touched, in order: "
            + ", ".join(blast.hosts)
        )
        steps = list(dict.fromkeys(s for h in blast.hosts for s in blast.steps[h]))
        lines.append(f"    changed steps: {', '.join(steps)}")
        if not blast.out:
            lines.append("    no host is taken out of service")
            continue
        share = f"{blast.gpus_out / blast.gpus:.0%}" if blast.gpus else "0%"
        most = ", ".join(
            f"{blast.most_out[r]} {r}{'s' if blast.most_out[r] > 1 else ''} "
            f"(allowed {blast.allowed_out[r]})"
            for r in ROLES
            if blast.most_out[r] or blast.allowed_out[r]
        )
        lines.append(f"    out at once at most: {most}")
        lines.append(
            f"    worst point: {', '.join(blast.worst_point)} out, {blast.gpus_out} of "
            f"{blast.gpus} GPUs ({share})"
        )
        if blast.problems:
            lines.append("    at-rest replicas no longer fit:")
            lines += [f"      {p.missing}" for p in blast.problems]
        else:
            lines.append("    at-rest replicas of every model still fit")
    if radius.overlapping:
        for a, b in radius.overlapping:
            lines.append(f"  sites {a} and {b} may be out at the same time")
    elif sum(1 for b in radius.sites if b.out) > 1:
        lines.append("  each site's hosts wait for the previous site's: never two sites at once")
    lines += [f"  note: {note}" for note in radius.notes]
    lines.append(f"REFUSED: {radius.refused}" if radius.refused else "Result: allowed")
    return "\n".join(lines) + "\n"


def _site_versions(snapshot: Mapping[str, Any]) -> dict[str, tuple[int, int, int]]:
    """Site resource name → the Kubernetes version its rollout upgrades nodes to (from the
    command lines of its kubeadm-upgrade steps)."""
    versions: dict[str, tuple[int, int, int]] = {}
    for resource in snapshot["resources"]:
        name = resource["name"]
        if resource["type"] != "command:remote:Command" or not name.endswith("-kubeadm-upgrade"):
            continue
        line = resource["inputs"].get("update")
        if not isinstance(line, str):
            continue
        version = parse_shell_command(line).get("KUBERNETES_VERSION", "")
        parts = version.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            versions[name.split("-rollout-")[0]] = (int(parts[0]), int(parts[1]), int(parts[2]))
    return versions


def kubernetes_upgrade_refusal(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Why a change of `kubernetes.version` cannot be rolled out ('' when it can): kubeadm
    upgrades one minor version at a time and never down. The host script refuses the same at
    run time, before any change; here it is said at preview, with the path to take."""
    old, new = _site_versions(before), _site_versions(after)
    problems = []
    for site in sorted(old.keys() & new.keys()):
        was, now = old[site], new[site]
        shown = ".".join(map(str, was)), ".".join(map(str, now))
        if now < was:
            problems.append(
                f"{site}: kubernetes.version {shown[1]} is older than the {shown[0]} it runs; "
                "kubeadm does not downgrade: keep "
                f"{shown[0]} (or a later patch of {was[0]}.{was[1]})"
            )
        elif now[0] != was[0] or now[1] > was[1] + 1:
            step = f"{was[0]}.{was[1] + 1}.x"
            problems.append(
                f"{site}: kubernetes.version {shown[1]} skips a minor version from {shown[0]}; "
                f"kubeadm upgrades one minor at a time: upgrade to {step} first, then "
                f"{now[0]}.{now[1]}"
            )
    return "; ".join(problems)


def _hosts_by_resource_name(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """`<site resource>-<host>` (a `deepseek:metal:Host`'s name) → the host's address."""
    return {
        r["name"]: str(r["inputs"].get("address", ""))
        for r in snapshot["resources"]
        if r["type"] == "deepseek:metal:Host"
    }


def _init_hosts(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Site resource name → the host its `kubeadm-init` step runs on (its first control
    plane), from the step's name `<site>-cluster-<host>-kubeadm-init`."""
    found = {}
    for resource in snapshot["resources"]:
        name = resource["name"]
        if resource["type"] in COMMAND_TYPES and name.endswith("-kubeadm-init"):
            site, _, host = name.removesuffix("-kubeadm-init").partition("-cluster-")
            if host:
                found[site] = host
    return found


def _ceph_bootstrap_hosts(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Ceph cluster resource name → the host its `ceph-bootstrap` step names (its first
    storage host), from the step's recorded command line."""
    found = {}
    for resource in snapshot["resources"]:
        name = resource["name"]
        create = resource.get("inputs", {}).get("create")
        if resource["type"] in COMMAND_TYPES and name.endswith("-ceph-bootstrap"):
            if isinstance(create, str):
                host = parse_shell_command(create).get("HOST_NAME")
                if host:
                    found[name.removesuffix("-ceph-bootstrap")] = host
    return found


def host_identity_refusal(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Why a change of which machine a host name stands for cannot be applied ('' when it
    can). A removed node's removal runs `kubeadm reset` on its machine (the engine runs a
    deleted Command's `delete` with the inputs in state), after the new graph's steps: a host
    renamed in config (or its site renamed) joins under its new name, then is reset under its
    old one, and is lost to the cluster while the state says it joined. And a site's first
    control plane ran `kubeadm init`: another host in that place (config's control planes
    reordered, the first one removed) would run init on a host that joined, which refuses."""
    old_hosts, new_hosts = _hosts_by_resource_name(before), _hosts_by_resource_name(after)
    names_at = {}
    for name, address in new_hosts.items():
        names_at.setdefault(address, []).append(name)
    new_urns = {r["urn"] for r in after["resources"]}
    renamed = []
    for resource in before["resources"]:
        name = resource["name"]
        if (
            resource["type"] not in COMMAND_TYPES
            or not name.endswith("-kubeadm-reset")
            or "-removal-" not in name
            or resource["urn"] in new_urns
            or resource.get("retainOnDelete")
        ):
            continue
        site, _, host = name.removesuffix("-kubeadm-reset").partition("-removal-")
        address = old_hosts.get(f"{site}-{host}", "")
        others = [n for n in names_at.get(address, []) if n != f"{site}-{host}"]
        if address and others:
            renamed.append(f"{site}-{host} ({address}, now {', '.join(sorted(others))})")
    problems = []
    if renamed:
        problems.append(
            "removed hosts whose machines config still holds under another name, whose removal "
            f"would run kubeadm reset on them: {'; '.join(renamed)}. A host or site is not "
            "renamed by a config edit: remove it in one `pulumi up`, then add it under its new "
            "name"
        )
    old_init, new_init = _init_hosts(before), _init_hosts(after)
    for site in sorted(old_init.keys() & new_init.keys()):
        if old_init[site] != new_init[site]:
            problems.append(
                f"{site}: the first control plane would change from {old_init[site]} to "
                f"{new_init[site]}, which joined: kubeadm init runs once, on the host that "
                f"ran it; keep {old_init[site]} first among the site's control planes"
            )
    old_ceph, new_ceph = _ceph_bootstrap_hosts(before), _ceph_bootstrap_hosts(after)
    for cluster in sorted(old_ceph.keys() & new_ceph.keys()):
        if old_ceph[cluster] != new_ceph[cluster]:
            problems.append(
                f"{cluster}: the first storage host would change from {old_ceph[cluster]} to "
                f"{new_ceph[cluster]}: {old_ceph[cluster]} ran the Ceph bootstrap (its "
                "monitor is the one the cluster's monitors are checked against, and the "
                f"site's Ceph steps run there); keep {old_ceph[cluster]} first among the "
                "site's storage hosts"
            )
    return "; ".join(problems)


def _osd_devices(snapshot: Mapping[str, Any]) -> dict[str, dict[tuple[str, str], str]]:
    """Ceph cluster resource name → the (host, device) pairs its `ceph-osds` step gives Ceph,
    each with the CRUSH device class its OSD service names, read from the OSD service specs on
    the step's recorded command line."""
    import yaml

    found: dict[str, dict[tuple[str, str], str]] = {}
    for resource in snapshot["resources"]:
        name = resource["name"]
        create = resource.get("inputs", {}).get("create")
        if resource["type"] not in COMMAND_TYPES or not name.endswith("-ceph-osds"):
            continue
        if not isinstance(create, str):
            continue
        devices = found.setdefault(name.removesuffix("-ceph-osds"), {})
        specs = parse_shell_command(create).get("SERVICE_SPECS", "")
        for spec in yaml.safe_load_all(specs):
            if not isinstance(spec, dict) or spec.get("service_type") != "osd":
                continue
            hosts = (spec.get("placement") or {}).get("hosts") or []
            paths = ((spec.get("spec") or {}).get("data_devices") or {}).get("paths") or []
            device_class = str((spec.get("spec") or {}).get("crush_device_class") or "")
            devices.update(
                ((str(host), str(path)), device_class) for host in hosts for path in paths
            )
    return found


def osd_removal_notice(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What an operator must do by hand when config stops giving Ceph a disk or a storage
    host, or gives a disk another media ('' when neither). `ceph orch apply` of the new specs
    removes no OSD: the disk keeps its OSD and its data, and config no longer says so; and an
    OSD keeps the device class it was created with (`crush_device_class` applies to new OSDs),
    so config would count the disk on a class whose pools Ceph keeps elsewhere. Nothing is
    lost, so the change is not refused; the preview says how to do it for real."""
    old, new = _osd_devices(before), _osd_devices(after)
    lines = []
    for cluster in sorted(old):
        now = new.get(cluster, {})
        gone = sorted(set(old[cluster]) - set(now))
        if gone:
            listed = ", ".join(f"{host}:{device}" for host, device in gone)
            lines.append(
                f"{cluster}: config no longer gives Ceph {listed}, but applying it removes no "
                "OSD (its data stays where it is). To take a disk out: on the first storage "
                "host, `ceph orch osd rm <id> --zap` (find the id with `ceph device "
                "ls-by-host <host>`), wait until `ceph orch osd rm status` is empty (Ceph "
                "copies its data to the other OSDs first), then `pulumi up` this change. A "
                "whole host: `ceph orch host drain <host>` first, then `ceph orch host rm "
                "<host>`"
            )
        for (host, device), was in sorted(old[cluster].items()):
            class_now = now.get((host, device))
            if class_now is None or class_now == was:
                continue
            lines.append(
                f"{cluster}: config moves {host}:{device} from {was} to {class_now}, but its "
                f"OSD keeps class {was} (a service's crush_device_class applies to new OSDs "
                f"only), and Ceph keeps the {was} pools on it. Before `pulumi up`, on the "
                f"first storage host: `ceph osd crush rm-device-class osd.<id>` and `ceph osd "
                f"crush set-device-class {class_now} osd.<id>` (find the id with `ceph device "
                "ls-by-host <host>`; Ceph then moves that OSD's data to the rules of its new "
                "class)"
            )
    return "; ".join(lines)
