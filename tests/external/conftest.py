"""`prod`: the old name of `prod_graph`, kept only for test_host_scripts.py (another lane's
file while its scripts are reworked); drop it once that file asks for `prod_graph`."""

import pytest

from offline.graph import Graph


@pytest.fixture(scope="session")
def prod(prod_graph) -> Graph:
    return prod_graph


@pytest.fixture(scope="session")
def real_ceph():
    """A real Ceph 16.2 cluster on loopback (tests/external/ceph_server.py): one monitor, one
    manager, three memstore OSDs under host buckets host0..host2, radosgw on a free port,
    cephx. Booted once per session; every daemon is killed at the end, failure or not."""
    from tests.external import ceph_server

    missing = ceph_server.missing_binaries()
    if missing:
        pytest.fail(
            f"the real Ceph is not installed (missing {', '.join(missing)}): "
            + ceph_server.INSTALL_HINT,
            pytrace=False,
        )
    try:
        cluster = ceph_server.start()
    except ceph_server.CephBootError as error:
        pytest.fail(f"the real Ceph did not boot: {error}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
