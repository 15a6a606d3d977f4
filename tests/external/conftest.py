"""`prod`: the old name of `prod_graph`, kept only for test_host_scripts.py (another lane's
file while its scripts are reworked); drop it once that file asks for `prod_graph`."""

import pytest

from offline.graph import Graph


@pytest.fixture(scope="session")
def prod(prod_graph) -> Graph:
    return prod_graph
