"""What a change does to each resource: two snapshots (`Graph.snapshot()`) in, per resource
`create`, `update`, `replace`, `delete` or `same` by its provider's own rules, with the input
paths that changed. Pure; the preview's `--against` and a merge request's diff both use it."""

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

OPERATIONS = ("create", "update", "replace", "delete", "same")
SITE_TYPE = "deepseek:site:Site"
_SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}


@dataclass(frozen=True)
class Change:
    """What happens to one resource."""

    urn: str
    """Its URN in the new graph (the old one for a delete)."""
    type: str
    name: str
    operation: str
    """One of OPERATIONS."""
    paths: tuple[str, ...] = ()
    """Input paths that changed (property-path syntax: `spec.selector.matchLabels`,
    `triggers[0]`), after `ignoreChanges`."""
    replace_paths: tuple[str, ...] = ()
    """Those of `paths` that make the provider replace rather than update."""
    former_urn: str = ""
    """The URN it had in the old graph when an alias moved it."""
    site: str = ""
    """The name of the `deepseek:site:Site` component it lives under ('' when none)."""

    @property
    def changed(self) -> bool:
        return self.operation != "same"


def renamed_from(former_urns: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Former URN → URN, from `Graph.former_urns()` (URN → its former URNs)."""
    return {old: urn for urn, olds in former_urns.items() for old in olds}


# --- property paths and ignoreChanges ------------------------------------------------------

_PATH_PART = re.compile(r'\.?([^.\[\]"]+)|\[(\d+|\*)\]|\["((?:[^"\\]|\\.)*)"\]')


def parse_path(path: str) -> list[str | int]:
    """A property path as the engine spells it (`a.b[0]`, `a["k.e.y"]`, `a[*]`, `*`) as keys,
    indexes and "*" wildcards."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if match is None or match.end() == position:
            raise ValueError(f"not a property path: {path!r}")
        key, index, quoted = match.groups()
        if key is not None:
            parts.append(key)
        elif index is not None:
            parts.append("*" if index == "*" else int(index))
        else:
            parts.append(quoted.replace('\\"', '"'))
        position = match.end()
    return parts


def _get(value: Any, key: str | int) -> tuple[bool, Any]:
    if isinstance(value, dict) and isinstance(key, str) and key in value:
        return True, value[key]
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return True, value[key]
    return False, None


def _reset(old: Any, new: Any, parts: list[str | int]) -> Any:
    """`new` with the value at `parts` taken from `old` (or removed when `old` has none),
    as the engine's processIgnoreChanges does (pulumi/pulumi pkg/resource/deploy/
    step_generator.go: `path.Reset(oldInputs, ignoredInputs)` before the provider's Diff)."""
    if not parts:
        return old
    head, rest = parts[0], parts[1:]
    if head == "*":
        keys: Iterable[str | int] = (
            list(new) if isinstance(new, dict) else range(len(new)) if isinstance(new, list) else ()
        )
    else:
        keys = [head]
    for key in keys:
        has_old, old_value = _get(old, key)
        has_new, new_value = _get(new, key)
        if not has_new and not has_old:
            continue
        if not rest:
            if has_old:
                new = _set(new, key, old_value)
            elif isinstance(new, dict):
                new = {k: v for k, v in new.items() if k != key}
        elif has_new and has_old:
            new = _set(new, key, _reset(old_value, new_value, rest))
    return new


def _set(container: Any, key: str | int, value: Any) -> Any:
    if isinstance(container, dict):
        return {**container, key: value}
    if isinstance(container, list) and isinstance(key, int):
        return [*container[:key], value, *container[key + 1 :]]
    return container


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z0-9_$/-]+", key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def changed_paths(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """The paths where `old` and `new` differ, as deep as both sides have the same shape (a
    list that changed length is one path)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                yield _join(path, key)
            else:
                yield from changed_paths(old[key], new[key], _join(path, key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (o, n) in enumerate(zip(old, new, strict=True)):
            yield from changed_paths(o, n, _join(path, index))
    elif old != new:
        # Masked secrets compare as their mask: "[secret]" on both sides is equal.
        yield path or "(all inputs)"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


# --- each provider's rules ------------------------------------------------------------------

# pulumi-command (provider/pkg/provider/common/inputs.go, ResourceInputs): only `triggers`
# carries `replaceOnChanges`; every other input (create, update, delete, stdin, connection,
# environment, logging) is an update, which runs `update` (or `create` when no update is set:
# remote/commandController.go, Update). Connection lost its replaceOnChanges in 1.x.
_COMMAND_REPLACE = ("triggers",)

# pulumi-kubernetes (provider/pkg/provider/diff.go, forceNewProperties): metadata.name and
# metadata.namespace replace every kind; these kinds add their immutable fields.
_KUBERNETES_REPLACE: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": (
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
    "ResourceQuota": ("spec.scopes",),
    "StorageClass": ("parameters", "provisioner"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
}
# ConfigMap and Secret data replace when the object is `immutable: true`, or when the provider
# was not told that they are mutable (`enableConfigMapMutable` / `enableSecretMutable`, both off
# by default in pulumi-kubernetes v4: diff.go, and pulumi-kubernetes #1926).
_DATA_FIELDS = {
    "ConfigMap": (("data", "binaryData"), "enableConfigMapMutable"),
    "Secret": (("data", "stringData"), "enableSecretMutable"),
}

# pulumi-kubernetes helm_release.go, Diff: `forceNewFields := []string{".name", ".namespace"}`;
# a changed chart is a `helm upgrade`, not a replacement.
_HELM_RELEASE_REPLACE = ("name", "namespace")


def _kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def _replace_paths(
    resource: Mapping[str, Any], paths: list[str], provider_inputs: Mapping[str, Any]
) -> list[str]:
    """Which of the changed input `paths` make the resource's provider replace it."""
    type_ = resource["type"]
    if type_.startswith("random:"):
        # pulumi-random bridges terraform-provider-random, whose every argument (length,
        # special, keepers, ...) is RequiresReplace: a random value is never edited in place.
        return paths
    if type_.startswith("command:"):
        return [p for p in paths if any(_under(p, r) for r in _COMMAND_REPLACE)]
    if type_ == "kubernetes:helm.sh/v3:Release":
        return [p for p in paths if any(_under(p, r) for r in _HELM_RELEASE_REPLACE)]
    if type_.startswith("kubernetes:"):
        kind = _kind(type_)
        immutable = ["metadata.name", "metadata.namespace", *_KUBERNETES_REPLACE.get(kind, ())]
        if kind == "PersistentVolumeClaim":
            # The API server refuses any change to a bound claim's spec but a larger
            # storage request: predicting a replace is the honest answer.
            return [
                p
                for p in paths
                if any(_under(p, r) for r in immutable)
                or (_under(p, "spec") and not _under(p, "spec.resources.requests.storage"))
            ]
        if kind in _DATA_FIELDS:
            fields, flag = _DATA_FIELDS[kind]
            if resource["inputs"].get("immutable") is True or provider_inputs.get(flag) not in (
                True,
                "true",
            ):
                immutable += fields
            if kind == "Secret":
                immutable.append("type")
        return [p for p in paths if any(_under(p, r) for r in immutable)]
    return []  # pulumi:providers:* and unknown providers: an update


def _ignoring(old_inputs: Any, new_inputs: Any, ignore_changes: Iterable[str]) -> Any:
    for path in ignore_changes:
        try:
            parts = parse_path(path)
        except ValueError:
            continue  # the engine skips a path it cannot parse, too
        new_inputs = _reset(old_inputs, new_inputs, parts)
    return new_inputs


def _site_of(urn: str, index: Mapping[str, Mapping[str, Any]]) -> str:
    seen = set()
    while urn in index and urn not in seen:
        seen.add(urn)
        resource = index[urn]
        if resource["type"] == SITE_TYPE:
            return resource["name"]
        urn = resource.get("parent", "")
    return ""


def _operation(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    new_index: Mapping[str, Mapping[str, Any]],
    moved: Mapping[str, str],
) -> tuple[str, list[str], list[str]]:
    if not new["custom"]:
        return "same", [], []  # a component: no provider operation
    new_inputs = _ignoring(old["inputs"], new["inputs"], new.get("ignoreChanges") or ())
    paths = list(changed_paths(old["inputs"], new_inputs))
    provider_inputs = new_index.get(new.get("provider", ""), {}).get("inputs", {})
    replace = _replace_paths(new, paths, provider_inputs)
    # A resource that moves to another provider instance is replaced: the engine does not ask
    # two providers to diff each other's state (a default provider aside, which we never use).
    old_provider = moved.get(old.get("provider", ""), old.get("provider", ""))
    if old_provider != new.get("provider", ""):
        paths.append("(provider)")
        replace.append("(provider)")
    if replace:
        return "replace", paths, replace
    return ("update" if paths else "same"), paths, []


def classify(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    renamed: Mapping[str, str] | None = None,
) -> list[Change]:
    """Every resource of either snapshot, with what the change does to it.

    `renamed` maps a former URN to its URN in `new` (`renamed_from(graph.former_urns())`): a
    resource moved by an alias is the same resource, not a delete and a create.

    Inputs are compared as the snapshots hold them: secrets masked as "[secret]" and unknowns
    as "[unknown]". A secret that is "[secret]" on both sides compares equal, so a changed
    secret value (a rotated key in config) is not seen; likewise an input unknown at preview
    on both sides. Inputs in the new resource's `ignoreChanges` are left out, as the engine
    does."""
    renamed = dict(renamed or {})
    old_index = {r["urn"]: r for r in old["resources"]}
    new_index = {r["urn"]: r for r in new["resources"]}
    current = {former: urn for former, urn in renamed.items() if urn in new_index}
    matched_old: set[str] = set()
    changes = []
    for urn, resource in new_index.items():
        former = ""
        if urn in old_index:
            before = old_index[urn]
        else:
            formers = sorted(f for f, u in current.items() if u == urn and f in old_index)
            before = old_index[formers[0]] if formers else None
            former = formers[0] if formers else ""
        site = _site_of(urn, new_index)
        if before is None:
            changes.append(Change(urn, resource["type"], resource["name"], "create", site=site))
            continue
        matched_old.add(before["urn"])
        operation, paths, replace = _operation(before, resource, new_index, current)
        changes.append(
            Change(
                urn,
                resource["type"],
                resource["name"],
                operation,
                tuple(paths),
                tuple(replace),
                former,
                site,
            )
        )
    for urn, resource in old_index.items():
        if urn not in matched_old:
            site = _site_of(urn, old_index)
            changes.append(Change(urn, resource["type"], resource["name"], "delete", site=site))
    return sorted(changes, key=lambda c: c.urn)


def counts(changes: Iterable[Change]) -> dict[str, int]:
    """Resources per operation, every operation present."""
    found = Counter(c.operation for c in changes)
    return {operation: found[operation] for operation in OPERATIONS}


def render_summary(changes: list[Change]) -> str:
    """Counts per operation, then each changed resource with its changed paths, grouped by the
    site it belongs to."""
    total = counts(changes)
    lines = ["Changes: " + ", ".join(f"{total[op]} to {op}" for op in OPERATIONS[:4])]
    lines[0] += f", {total['same']} unchanged"
    changed = [c for c in changes if c.changed]
    sites = sorted({c.site for c in changed}, key=lambda s: (s == "", s))
    for site in sites:
        lines.append(f"  {site or '(not under a site)'}:")
        for change in sorted(
            (c for c in changed if c.site == site), key=lambda c: (c.type, c.name)
        ):
            line = f"    {_SYMBOLS[change.operation]:<2} {change.operation:<7} {change.type}  "
            line += change.name
            if change.paths:
                shown = [
                    p + (" (replaces)" if p in change.replace_paths else "") for p in change.paths
                ]
                line += f"  [{', '.join(shown)}]"
            if change.former_urn:
                line += "  (moved by an alias)"
            lines.append(line)
    return "\n".join(lines) + "\n"


def protected_refusal(before: Mapping[str, Any], changes: Iterable[Change]) -> str:
    """Why the change cannot be applied as it is ('' when it can): it deletes or replaces a
    resource the deployed graph protects (a Ceph cluster's fsid, the model store's keys, a
    kopia repository's password). The engine refuses those, so `pulumi up` would stop there
    after running the changes before them; and losing one is losing what it guards (a new
    fsid leaves the cluster unreachable, new keys lock every reader and backup out)."""
    protected = {r["urn"]: r for r in before["resources"] if r.get("protect")}
    hit = [
        f"{protected[change.former_urn or change.urn]['name']} ({change.operation})"
        for change in changes
        if change.operation in ("delete", "replace")
        and (change.former_urn or change.urn) in protected
    ]
    if not hit:
        return ""
    return (
        f"the change deletes or replaces protected resources: {', '.join(sorted(hit))}. The "
        "engine refuses it. If it is meant (the data they guard is given up), lift the "
        "protection first with `pulumi state unprotect <urn>`; otherwise put back what config "
        "removed or renamed"
    )
