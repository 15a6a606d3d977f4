"""What the etcd-snapshot step installs, as pure functions (components/kubernetes/
etcd_snapshot_spec.py): the timer's schedule for every allowed `backup.etcdSnapshotHours`, the
units, the bucket and retention; and the model cache's hosts (components/storage/
model_cache.py `cache_nodes`), the one list the volume and the directory step both use."""

import pytest

from components.config import ModelCache
from components.config.storage import Backup
from components.kubernetes.etcd_snapshot_spec import (
    INSTALLED_SCRIPT,
    SNAPSHOT_SCRIPT,
    UNIT,
    retention_seconds,
    service_unit,
    snapshot_bucket,
    timer_schedule,
    timer_unit,
)
from components.storage.model_cache import cache_nodes
from components.storage.model_cache_manifests import CachedRevision, volume_manifest


def _runs_per_day(calendar: str) -> list[int]:
    """The hours of the day an `*-*-* 00/H:00:00` (or hourly) calendar fires at."""
    hours = calendar.split()[1].split(":")[0]
    if hours == "*":
        return list(range(24))
    start, step = hours.split("/")
    return list(range(int(start), 24, int(step)))


@pytest.mark.parametrize("hours", range(1, 169))
def test_every_allowed_interval_runs_evenly(hours):
    lines = timer_schedule(hours)
    if 24 % hours == 0:
        (calendar,) = [line.removeprefix("OnCalendar=") for line in lines if "OnCalendar" in line]
        fired = _runs_per_day(calendar)
        # Evenly over the day, across midnight too, and a missed run made up at boot.
        gaps = {b - a for a, b in zip(fired, [*fired[1:], fired[0] + 24], strict=True)}
        assert gaps == {hours}
        assert "Persistent=true" in lines
    else:
        assert lines == ["OnBootSec=15min", f"OnUnitActiveSec={hours}h"]


def test_the_default_is_every_six_hours_on_the_clock():
    hours = Backup().etcd_snapshot_hours
    assert hours == 6
    assert timer_schedule(hours) == ["OnCalendar=*-*-* 00/6:00:00", "Persistent=true"]


def test_the_limits_of_the_config_are_the_limits_here():
    field = Backup.model_fields["etcd_snapshot_hours"]
    bounds = {type(m).__name__: m for m in field.metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (1, 168)
    with pytest.raises(ValueError, match="etcdSnapshotHours"):
        timer_schedule(0)
    with pytest.raises(ValueError, match="retentionDays"):
        retention_seconds(0)


def test_the_units_run_the_installed_script_with_the_plain_copy_on_tmpfs():
    service = service_unit()
    assert f"ExecStart={INSTALLED_SCRIPT}" in service
    assert "Type=oneshot" in service
    # systemd makes /run/<unit> (tmpfs) for the run and removes it after.
    assert f"RuntimeDirectory={UNIT}" in service and "RuntimeDirectoryMode=0700" in service
    assert "UMask=0077" in service
    timer = timer_unit(6)
    assert f"Unit={UNIT}.service" in timer and "WantedBy=timers.target" in timer
    # The step refuses a unit that is not one of ours.
    for unit in (service, timer):
        assert "Managed by deepseek-onprem" in unit and "[Unit]" in unit


def test_the_script_the_timer_runs_is_a_file_of_the_repo():
    text = SNAPSHOT_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert "openssl enc -e -salt" in text and '-pass "file:' in text


def test_bucket_and_retention():
    assert snapshot_bucket("dc-a") == "etcd-dc-a"
    assert retention_seconds(30) == 2_592_000


def test_the_cache_spans_every_host_of_every_revision_once():
    revisions = [
        CachedRevision("deepseek-r1", "fp16", "r1", ("gpu-2", "gpu-1"), 10),
        CachedRevision("deepseek-r1", "fp16", "r2", ("gpu-2", "gpu-3"), 10),
    ]
    assert cache_nodes(revisions) == ("gpu-1", "gpu-2", "gpu-3")
    assert cache_nodes([]) == ()
    volume = volume_manifest(ModelCache(), cache_nodes(revisions))
    (term,) = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == list(cache_nodes(revisions))
