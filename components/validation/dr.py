"""Rules about the shape of a stack: active-active sites or one DR site, and the stack a DR
stack replicates from."""

from collections import defaultdict
from collections.abc import Iterator

from components.config import PROJECT, PlatformConfig
from components.validation.issues import ConfigIssue


def check_stack_shape(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _stack_shape(config)


def check_stack_reference(config: PlatformConfig, stack: str) -> list[ConfigIssue]:
    """`replication.sourceStack` must name another stack of this project: a reference to
    the stack itself would wait on its own outputs, and one to another project's stack
    would replicate data the program knows nothing about. Both are reported."""
    if config.replication is None:
        return []
    reference = config.replication.source_stack
    organization, project, source = reference.split("/")
    issues = []
    if project != PROJECT:
        issues.append(
            ConfigIssue(
                "replication.sourceStack",
                reference,
                f"names a stack of project {project!r}, not of {PROJECT!r}: a DR stack "
                "receives the data of this project's active stack",
                f"name this project's source stack, e.g. {organization}/{PROJECT}/prod",
            )
        )
    if source == stack:
        issues.append(
            ConfigIssue(
                "replication.sourceStack",
                reference,
                f"names stack {stack!r} itself: a stack cannot replicate from its own outputs",
                f"name the active stack this DR stack receives data from, e.g. "
                f"{organization}/{PROJECT}/prod",
            )
        )
    return issues


def _stack_shape(config: PlatformConfig) -> Iterator[ConfigIssue]:
    roles = defaultdict(list)
    for s, site in enumerate(config.sites):
        roles[site.role].append(s)
    if roles["active"] and roles["dr"]:
        yield ConfigIssue(
            f"sites[{roles['dr'][0]}].role",
            "dr",
            "a stack holds either the active sites or the DR site, not both",
            "move the DR site to its own stack (Pulumi.dr.yaml)",
        )
    if len(roles["active"]) == 1:
        yield ConfigIssue(
            "sites",
            "1 active site",
            "active-active needs two sites that can each carry the full load",
            "add a second active site, or mark the stack's site as role dr",
        )
    if roles["dr"] and config.replication is None:
        yield ConfigIssue(
            "replication",
            None,
            "a DR stack must name the stack it receives backups and replicas from",
            "set replication.sourceStack, e.g. organization/deepseek-onprem/prod",
        )
    if roles["active"] and not roles["dr"] and config.replication is not None:
        yield ConfigIssue(
            "replication",
            config.replication.source_stack,
            "only a DR stack replicates from another stack",
            "remove replication from this stack",
        )
