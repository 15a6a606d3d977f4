"""What the etcd-snapshot step installs on each control plane, as pure functions of config: the
snapshot script (scripts/etcd-snapshot/snapshot.sh, run as it is), its systemd service and
the timer that runs it every `backup.etcdSnapshotHours`, and where the snapshots go (the
bucket `etcd-<site>` at the target site's RGW). `etcd_snapshots.py` sends them to the hosts;
tests read them without a Pulumi runtime."""

from pathlib import Path

SNAPSHOT_SCRIPT = Path(__file__).resolve().parent / "scripts" / "etcd-snapshot" / "snapshot.sh"
"""The script the timer runs (installed as `INSTALLED_SCRIPT`, root only)."""
INSTALLED_SCRIPT = "/usr/local/lib/deepseek/etcd-snapshot"
UNIT = "deepseek-etcd-snapshot"
"""`<UNIT>.service` takes one snapshot; `<UNIT>.timer` starts it on schedule."""
CONFIG_DIR = "/etc/deepseek/etcd-snapshot"
"""Root-only: the key file, curl's configuration with the S3 keys, the settings."""
FIRST_RUN_MINUTES = 15
"""A timer that runs every few hours from its own start (see `timer_schedule`) takes its
first snapshot this long after the host boots."""


def snapshot_bucket(site: str) -> str:
    """The bucket, at the target site's RGW, that holds `site`'s etcd snapshots (owned by the
    RGW user of the same name)."""
    return f"etcd-{site}"


def timer_schedule(hours: int) -> list[str]:
    """The `[Timer]` lines that start a snapshot every `hours`.

    Where `hours` divides a day, on the clock (`OnCalendar`, e.g. 00:00, 06:00, ...) with
    `Persistent=true`: a run missed while the host was down is made up at its next boot.
    Otherwise (5 h, 36 h, a week) a calendar cannot space runs evenly across midnight, so the
    timer counts from the service's last run (`OnUnitActiveSec`) and from each boot
    (`OnBootSec`), which covers a missed run the same way; `Persistent` applies to
    calendars only and is left out."""
    if hours < 1:
        raise ValueError(f"backup.etcdSnapshotHours must be at least 1 (is {hours})")
    if 24 % hours == 0:
        calendar = "*-*-* *:00:00" if hours == 1 else f"*-*-* 00/{hours}:00:00"
        return [f"OnCalendar={calendar}", "Persistent=true"]
    return [f"OnBootSec={FIRST_RUN_MINUTES}min", f"OnUnitActiveSec={hours}h"]


def timer_unit(hours: int) -> str:
    lines = [
        "# Managed by deepseek-onprem (etcd-snapshot step): backup.etcdSnapshotHours.",
        "[Unit]",
        f"Description=deepseek-onprem: encrypted off-site etcd snapshot every {hours} h",
        "",
        "[Timer]",
        *timer_schedule(hours),
        # The control planes of a site snapshot the same data: spread them a little, and
        # keep each host's delay from one run to the next (systemd 247+).
        "RandomizedDelaySec=10min",
        "FixedRandomDelay=true",
        f"Unit={UNIT}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


def service_unit() -> str:
    lines = [
        "# Managed by deepseek-onprem (etcd-snapshot step).",
        "[Unit]",
        "Description=deepseek-onprem: encrypted etcd snapshot of this control plane, uploaded "
        "to the backup target's RGW",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={INSTALLED_SCRIPT}",
        # The unencrypted snapshot lives here (tmpfs), removed with the run.
        f"RuntimeDirectory={UNIT}",
        "RuntimeDirectoryMode=0700",
        "UMask=0077",
        f"SyslogIdentifier={UNIT}",
        "Nice=10",
        "IOSchedulingClass=idle",
        "TimeoutStartSec=2h",
    ]
    return "\n".join(lines) + "\n"


def retention_seconds(days: int) -> int:
    """`backup.retentionDays` as the snapshot script's RETENTION_SECONDS."""
    if days < 1:
        raise ValueError(f"backup.retentionDays must be at least 1 (is {days})")
    return days * 86_400
