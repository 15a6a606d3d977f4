"""Writes every plain Kubernetes resource of a recorded graph as YAML, one file per
resource, for the validators Kubernetes users trust (kubernetes-validate, checkov).

Helm releases are left out (mocks do not render charts; their values are checked by the
policy pack), as are providers."""

import re
from pathlib import Path
from typing import Any

import yaml

from offline.graph import SECRET, Graph, RecordedResource

SKIPPED_TYPES = ("kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes")


def is_plain_manifest(resource: RecordedResource) -> bool:
    return resource.type.startswith("kubernetes:") and resource.type not in SKIPPED_TYPES


def manifest(resource: RecordedResource) -> dict[str, Any]:
    """The object as the provider sends it to the API server (its recorded inputs)."""
    document = dict(resource.inputs)
    ordered = {
        key: document.pop(key) for key in ("apiVersion", "kind", "metadata") if key in document
    }
    result = {**ordered, **document}
    if resource.type == "kubernetes:core/v1:Secret":
        # pulumi-kubernetes makes a Secret's whole data/stringData map secret, so the graph
        # holds neither keys nor values: write an empty map, never the contents.
        for field in ("data", "stringData"):
            if result.get(field) == SECRET:
                result[field] = {}
    return result


def site_directories(graph: Graph) -> dict[str, str]:
    """Each Site component's URN → its site's name in config (`dc-a`): the platform names a
    site `<platform>-<site>`, so the name is the resource name after its parent's."""
    by_urn = graph.by_urn()
    directories = {}
    for site in graph.by_type("deepseek:site:Site"):
        parent = by_urn.get(site.parent)
        prefix = f"{parent.name}-" if parent else ""
        directories[site.urn] = site.name.removeprefix(prefix)
    return directories


def _site_of(resource: RecordedResource, graph: Graph, sites: dict[str, str]) -> str:
    for ancestor in graph.ancestors(resource.urn):
        if ancestor in sites:
            return sites[ancestor]
    return "stack"


def write_manifests(graph: Graph, directory: Path) -> list[Path]:
    """One file per resource under `directory/<site>/` (the site's name in config, as in
    `sites[].name`; objects outside any site under `directory/stack/`); returns the files."""
    sites = site_directories(graph)
    written = []
    for resource in sorted(filter(is_plain_manifest, graph.resources), key=lambda r: r.urn):
        document = manifest(resource)
        metadata = document.get("metadata") or {}
        parts = [
            document.get("kind", "Object"),
            metadata.get("namespace", ""),
            metadata.get("name", resource.name),
        ]
        filename = re.sub(r"[^A-Za-z0-9.-]+", "-", "-".join(p for p in parts if p)).lower()
        path = directory / _site_of(resource, graph, sites) / f"{filename}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        written.append(path)
    return written
