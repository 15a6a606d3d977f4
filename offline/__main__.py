"""Command line of the offline evaluation: `python -m offline preview|snapshot|bench`
(`preview STACK --against SNAPSHOT.json` adds what changed and its blast radius)."""

import argparse
import sys
import traceback
from pathlib import Path

import pulumi

from offline.stack_files import PROJECT_DIR, StackFileError


def _evaluate_or_exit(stack: str, project_dir: Path):
    from offline.evaluate import evaluate

    try:
        return evaluate(stack, project_dir)
    except (pulumi.RunError, StackFileError) as error:
        # Bad input: the message names the field and the fix; a traceback would only hide it.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        print(f"error: the program failed while evaluating stack '{stack}':", file=sys.stderr)
        traceback.print_exc()
        sys.exit(2)


def _run_policies(stack: str, graph, summary_only: bool) -> bool:
    """Prints the policy results; True when a mandatory policy is violated."""
    from offline.policy import policy_server, render

    with policy_server(stack) as server:
        violations = server.analyze(graph)
    text = render(violations)
    if summary_only:
        lines = text.splitlines()
        text = "\n".join(lines[:2] + lines[-1:]) + "\n"
    print(text)
    return any(v.level == "mandatory" for v in violations)


def _platform_config(stack: str, project_dir: Path):
    """The stack's validated config, read as the program reads it (`get_object` per key)."""
    import json

    from components.config import CONFIG_KEYS, PROJECT
    from components.stack_config import validate_config
    from offline.stack_files import read_stack_config

    config, _ = read_stack_config(stack, project_dir)
    raw = {}
    for key in CONFIG_KEYS:
        value = config.get(f"{PROJECT}:{key}")
        if value is not None:
            raw[key] = json.loads(value) if value[:1] in "[{" else value
    return validate_config(raw, stack)


def _against(stack: str, graph, snapshot_path: Path, project_dir: Path) -> bool:
    """Prints what the working tree changes against a snapshot and its blast radius; True when
    the blast radius refuses the change."""
    import json

    from offline.blast_radius import (
        blast_radius,
        host_identity_refusal,
        kubernetes_upgrade_refusal,
        osd_removal_notice,
    )
    from offline.blast_radius import render as render_blast_radius
    from offline.changes import classify, protected_refusal, renamed_from, render_summary

    before = json.loads(snapshot_path.read_text())
    after = graph.snapshot()
    changes = classify(before, after, renamed_from(graph.former_urns()))
    config = _platform_config(stack, project_dir)
    radius = blast_radius(changes, after, config)
    print(f"Against {snapshot_path} (stack {before.get('stack', '?')}):")
    print(render_summary(changes))
    print(render_blast_radius(radius, config))
    upgrade = kubernetes_upgrade_refusal(before, after)
    if upgrade:
        print(f"REFUSED: {upgrade}")
    identity = host_identity_refusal(before, after)
    if identity:
        print(f"REFUSED: {identity}")
    protected = protected_refusal(before, changes)
    if protected:
        print(f"REFUSED: {protected}")
    osds = osd_removal_notice(before, after)
    if osds:
        print(f"ACTION NEEDED: {osds}")
    return bool(radius.refused or upgrade or identity or protected)


def _snapshot_stack(path: Path, stacks: list[str]) -> str:
    """The stack a snapshot is of; exits with a message when it is unreadable or not one of
    the stacks being previewed."""
    import json

    try:
        snapshot = json.loads(path.read_text())
        stack = snapshot["stack"]
        snapshot["resources"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(
            f"error: --against {path}: not a snapshot ({error}); make one with "
            "`make snapshot STACK=<stack> > before.json`",
            file=sys.stderr,
        )
        sys.exit(1)
    if stack not in stacks:
        print(
            f"error: --against {path} is a snapshot of stack '{stack}', which is not previewed "
            f"here ({', '.join(stacks)}): preview {stack}",
            file=sys.stderr,
        )
        sys.exit(1)
    return stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    preview = commands.add_parser("preview", help="print each stack's resource tree")
    preview.add_argument("stacks", nargs="*", default=["prod", "dr"])
    snapshot = commands.add_parser("snapshot", help="print a stack's graph as stable JSON")
    snapshot.add_argument("stack")
    manifests = commands.add_parser("manifests", help="write the stack's Kubernetes objects")
    manifests.add_argument("stack")
    manifests.add_argument("directory", type=Path)
    policy = commands.add_parser("policy", help="run the policy pack over a stack's graph")
    policy.add_argument("stack")
    bench = commands.add_parser("bench", help="time large generated inventories")
    bench.add_argument("--hosts", type=int, nargs="*", default=[100, 1000])
    preview.add_argument("--no-policy", action="store_true", help="skip the policy pack's summary")
    preview.add_argument(
        "--against",
        type=Path,
        metavar="SNAPSHOT.json",
        help="also print what the working tree changes against this snapshot (`make snapshot`) "
        "and its blast radius; exit 1 when the blast radius refuses the change",
    )
    for command in (preview, snapshot, manifests, policy):
        command.add_argument(
            "-C", "--project-dir", type=Path, default=PROJECT_DIR, help="the Pulumi project"
        )
    args = parser.parse_args(argv)

    if args.command == "preview":
        from offline.tree import render_tree

        against_stack = _snapshot_stack(args.against, args.stacks) if args.against else None
        failed = False
        for stack in args.stacks:
            graph = _evaluate_or_exit(stack, args.project_dir)
            print(render_tree(graph))
            if not args.no_policy:
                failed |= _run_policies(stack, graph, summary_only=True)
            if stack == against_stack:
                failed |= _against(stack, graph, args.against, args.project_dir)
        return 1 if failed else 0
    elif args.command == "snapshot":
        sys.stdout.write(_evaluate_or_exit(args.stack, args.project_dir).snapshot_json())
    elif args.command == "manifests":
        from offline.manifests import write_manifests

        graph = _evaluate_or_exit(args.stack, args.project_dir)
        written = write_manifests(graph, args.directory / args.stack)
        print(f"wrote {len(written)} manifests under {args.directory / args.stack}")
    elif args.command == "policy":
        graph = _evaluate_or_exit(args.stack, args.project_dir)
        return 1 if _run_policies(args.stack, graph, summary_only=False) else 0
    elif args.command == "bench":
        from offline.bench import run_bench

        return run_bench(args.hosts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
