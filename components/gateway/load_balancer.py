"""Load-balancer addresses on bare metal: MetalLB hands the gateway's Service its address
from the site's pool and announces it by ARP (`l2`) or to the routers over BGP (`bgp`). With
`sdn` the data center's SDN announces the pool itself and MetalLB is not installed.

Pure spec functions; `metal_lb.py` (`MetalLb`) registers them."""

from components.charts import mirror
from components.config import LoadBalancer, Mirrors

POOL = "gateway"


def metallb_values(mirrors: Mirrors) -> dict:
    quay = mirror(mirrors, "quay.io/metallb")
    return {
        "controller": {"image": {"repository": f"{quay}/controller"}},
        "speaker": {"image": {"repository": f"{quay}/speaker"}, "frr": {"enabled": False}},
        "prometheus": {"scrapeAnnotations": True},
    }


def address_pool_spec(lb: LoadBalancer) -> dict:
    # Nothing takes an address unless it asks for it by pool: only the gateway does.
    return {"addresses": [str(a) for a in lb.addresses], "autoAssign": False}
