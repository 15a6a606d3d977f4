"""Prints a recorded graph the way `pulumi preview` does: a tree of type and name under
each parent, then a count of resources per type."""

from collections import Counter

from offline.graph import Graph, RecordedResource


def _rows(graph: Graph) -> list[tuple[str, RecordedResource]]:
    children: dict[str, list[RecordedResource]] = {}
    for resource in graph.resources:
        children.setdefault(resource.parent, []).append(resource)

    rows: list[tuple[str, RecordedResource]] = []

    def walk(resource: RecordedResource, prefix: str, connector: str) -> None:
        rows.append((prefix + connector, resource))
        kids = children.get(resource.urn, [])
        if connector == "":
            child_prefix = prefix  # the root's children sit directly under it, as in pulumi
        else:
            child_prefix = prefix + ("   " if connector == "└─ " else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, child_prefix, "└─ " if i == len(kids) - 1 else "├─ ")

    for root in children.get("", []):
        walk(root, "", "")
    return rows


def render_tree(graph: Graph) -> str:
    """The preview-style tree and per-type counts, as text."""
    rows = _rows(graph)
    type_width = max((len(p) + len(r.type) for p, r in rows), default=4) + 2
    name_width = max((len(r.name) for _, r in rows), default=4) + 2
    lines = [
        f"Previewing update ({graph.stack}):",
        f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan",
    ]
    for prefix, resource in rows:
        lines.append(
            f" +   {prefix + resource.type:<{type_width}}{resource.name:<{name_width}}create"
        )
    lines.append("")
    if graph.diagnostics:
        lines.append("Diagnostics:")
        for severity, message in graph.diagnostics:
            lines.append(f"  {severity}: {message}")
        lines.append("")
    cost = graph.plain_outputs.get("cost")
    if cost:
        lines.append(f"Cost (estimate, {cost['currency']} per month):")
        for site, c in sorted(cost["sites"].items()):
            per_million = c.get("perMillionTokensAtFullLoad")
            tokens = f", {per_million:g} per million tokens at full load" if per_million else ""
            lines.append(
                f"    {site}: {c['totalPerMonth']:,.0f} (energy {c['energyPerMonth']:,.0f} for "
                f"{c['facilityKilowatts']:g} kW, hardware {c['hardwarePerMonth']:,.0f}){tokens}"
            )
            for model, idle in sorted((c.get("idleGpus") or {}).items()):
                lines.append(
                    f"      of which {idle['perMonth']:,.0f} for {int(idle['gpus'])} {model} GPUs "
                    "that serve no model"
                )
        lines.append(f"    total: {cost['totalPerMonth']:,.0f}")
        lines.append("")
    capacity = graph.plain_outputs.get("storageCapacity")
    if capacity:
        lines.append("Storage (Ceph per site: usable after copies and headroom, planned):")
        for site, c in sorted(capacity.items()):
            lines.append(
                f"    {site}: {c['usableGb']:,.0f} GB usable of {c['rawGb']:,.0f} GB raw "
                f"({c['copies']:g} copies, {c['headroomPercent']:g} % headroom), "
                f"{c['plannedGb']:,.0f} GB planned"
            )
            # Each device class holds what lands on it: weights and volumes on the fastest,
            # other sites' backups on the backup class.
            for name, d in (c.get("deviceClasses") or {}).items():
                lands = ", ".join(d["planned"]) or "nothing"
                lines.append(
                    f"      {name}: {d['usableGb']:,.0f} GB usable of {d['rawGb']:,.0f} GB raw, "
                    f"{d['plannedGb']:,.0f} GB planned ({lands})"
                )
    protection = graph.plain_outputs.get("dataProtection")
    if protection:
        held = [d["dataset"] for d in protection if d["holds321"]]
        lines.append(
            f"    3-2-1: {len(held)} of {len(protection)} datasets hold it"
            + (f" ({', '.join(held)})" if held else "")
            + "; the others: output dataProtection"
        )
    if capacity or protection:
        lines.append("")
    if graph.outputs:
        lines.append("Outputs:")
        for name in sorted(graph.outputs):
            lines.append(f"    {name}: {_short(graph.outputs[name])}")
        lines.append("")
    lines.append("Resources:")
    lines.append(f"    + {len(graph.resources)} to create")
    counts = Counter(r.type for r in graph.resources)
    width = max(len(t) for t in counts)
    for type_, count in sorted(counts.items()):
        lines.append(f"      {type_:<{width}}  {count:>5}")
    return "\n".join(lines) + "\n"


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 100 else text[:97] + "..."
