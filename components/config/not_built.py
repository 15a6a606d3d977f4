"""Keys a stack file may not set yet: nothing reads them, because the layer that will is not
built, so a value would look as if it worked and have no effect (a backup schedule that takes
no backup). Each is refused naming the issue that builds its layer, instead of pydantic's
"extra inputs are not permitted"; the layer adds the key back to its model when it reads it.
"""

import re

NOT_BUILT: dict[str, tuple[str, str]] = {
    "monitoring.retentionDays": (
        "is read by nothing yet: nothing deploys Prometheus (kube-prometheus-stack and its "
        "retention come with the monitoring layer, issue 18)",
        "remove it; only monitoring.idleMinutes is read today",
    ),
    "monitoring.scrapeIntervalSeconds": (
        "is read by nothing yet: nothing deploys Prometheus (its scrape interval comes with "
        "the monitoring layer, issue 18)",
        "remove it; only monitoring.idleMinutes is read today",
    ),
    "monitoring.idleGpuUtilizationPercent": (
        "is read by nothing yet: the autoscaler scales on Triton's queue time and scales "
        "down after monitoring.idleMinutes; the alert and controller that compare GPU "
        "utilization with a threshold come with the monitoring layer (issue 18)",
        "remove it; only monitoring.idleMinutes is read today",
    ),
    "sites[].hosts[].bmc": (
        "is read by nothing yet: no step talks to a host's BMC (powering idle GPU hosts off "
        "and on through Redfish comes with the monitoring layer, issue 18)",
        "remove the bmc entry; issue 18 adds it back with the BMC's credentials as a secret",
    ),
}
"""Path (list indices written `[]`) → (problem, fix)."""


def not_built(path: str) -> tuple[str, str] | None:
    """The problem and fix of a key whose layer is not built, e.g. `sites[0].hosts[3].bmc`."""
    return NOT_BUILT.get(re.sub(r"\[[0-9]+\]", "[]", path))
