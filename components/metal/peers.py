"""Which host measures the network against which (iperf3 during preflight). Pure."""


def peer_ring(names: list[str]) -> dict[str, str]:
    """Each host's iperf3 peer: the next host of its site, the last one wrapping round, so
    every host is measured once as client and once as server. A lone host has no peer."""
    if len(names) < 2:
        return {}
    return {name: names[(i + 1) % len(names)] for i, name in enumerate(names)}
