"""`make manifests` (offline.manifests) on the real stacks: one directory per site, named as the
site is in config and in the README (`out/<stack>/dc-a/`)."""

import pytest

from offline.manifests import write_manifests
from tests.stacks import raw_stack_config


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_manifests_are_written_under_each_sites_config_name(stack, stack_graph, tmp_path):
    written = write_manifests(stack_graph(stack), tmp_path)
    site_names = {site["name"] for site in raw_stack_config(stack)["sites"]}
    directories = {path.parent.name for path in written}
    assert site_names <= directories
    assert directories - site_names <= {"stack"}
    assert all(path.parent.parent == tmp_path for path in written)
