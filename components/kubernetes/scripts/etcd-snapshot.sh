#!/usr/bin/env bash
# Off-site etcd snapshots of this control plane, on a timer (declarative: run again, it
# converges to what its inputs say):
#   - etcdctl from the `etcd-client` package of the internal Ubuntu mirror (see below why not
#     the etcd pod's own), with ETCDCTL_API=3;
#   - root-only (0700 /etc/deepseek/etcd-snapshot, 0600 files): the site's snapshot key
#     (ETCD_SNAPSHOT_KEY), curl's configuration with the S3 keys of the bucket's user
#     (RGW_ACCESS_KEY, RGW_SECRET_KEY), all three secrets from `export` lines on stdin and
#     written by bash (no command line), and the settings (RGW_ENDPOINT, BUCKET, NODE,
#     RETENTION_DAYS);
#   - the snapshot script SNAPSHOT_SCRIPT as /usr/local/lib/deepseek/etcd-snapshot (0700), the
#     units SERVICE_UNIT and TIMER_UNIT as deepseek-etcd-snapshot.{service,timer}; systemd
#     re-reads them and the timer restarts when they changed, and the timer is enabled and
#     running.
# It takes no snapshot itself: the timer does (components/kubernetes/etcd_snapshot_spec.py).
# Why the package and not `crictl exec` into the etcd static pod (whose etcdctl matches the
# server): inside the pod, etcdctl can write only where the pod mounts, /var/lib/etcd, so the
# unencrypted snapshot would land on etcd's own disk (and eat its space); the package's
# etcdctl writes to a tmpfs. Jammy's etcd-client is 3.3, whose v3 client (ETCDCTL_API=3)
# saves a snapshot from a 3.5 server; a restore uses etcdutl from the cluster's own etcd
# image (README).
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${ETCD_SNAPSHOT_KEY:?ETCD_SNAPSHOT_KEY is required (secret, on stdin)}"
: "${RGW_ACCESS_KEY:?RGW_ACCESS_KEY is required (secret, on stdin)}"
: "${RGW_SECRET_KEY:?RGW_SECRET_KEY is required (secret, on stdin)}"
: "${NODE:?NODE is required}"
: "${RGW_ENDPOINT:?RGW_ENDPOINT is required}"
: "${BUCKET:?BUCKET is required}"
: "${RETENTION_DAYS:?RETENTION_DAYS is required}"
: "${SNAPSHOT_SCRIPT:?SNAPSHOT_SCRIPT is required}"
: "${SERVICE_UNIT:?SERVICE_UNIT is required}"
: "${TIMER_UNIT:?TIMER_UNIT is required}"
# No program this script starts gets the secrets in its environment.
export -n ETCD_SNAPSHOT_KEY RGW_ACCESS_KEY RGW_SECRET_KEY

UNIT=deepseek-etcd-snapshot
CONFIG=/etc/deepseek/etcd-snapshot
SPOOL=/var/lib/deepseek/etcd-snapshot
INSTALLED=/usr/local/lib/deepseek/etcd-snapshot
UNITS=/etc/systemd/system

if [[ ! "${NODE}" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
  refuse etcd-snapshot NODE "${NODE}" "a node name (a DNS label)"
fi
if [[ ! "${BUCKET}" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]]; then
  refuse etcd-snapshot BUCKET "${BUCKET}" "an S3 bucket name (3-63 lower-case letters, digits, . -)"
fi
if [[ ! "${RGW_ENDPOINT}" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]]; then
  refuse etcd-snapshot RGW_ENDPOINT "${RGW_ENDPOINT}" "an http(s)://host[:port] URL"
fi
if [[ ! "${RETENTION_DAYS}" =~ ^[1-9][0-9]{0,3}$ ]]; then
  refuse etcd-snapshot RETENTION_DAYS "${RETENTION_DAYS}" "a positive number of days"
fi
for unit in SERVICE_UNIT TIMER_UNIT; do
  if [[ "${!unit}" != *"Managed by deepseek-onprem"* || "${!unit}" != *"[Unit]"* ]]; then
    refuse etcd-snapshot "${unit}" "${!unit:0:40}" "a unit of deepseek-onprem's etcd snapshots"
  fi
done
# The secrets reach files: checked, never shown.
if [[ ! "${ETCD_SNAPSHOT_KEY}" =~ ^[A-Za-z0-9]{32,128}$ ]]; then
  echo "etcd-snapshot: ETCD_SNAPSHOT_KEY refused: it is not 32-128 letters and digits (not shown: it is a secret); nothing was changed" >&2
  exit 1
fi
if [[ ! "${RGW_ACCESS_KEY}" =~ ^[A-Za-z0-9]{16,128}$ ]]; then
  echo "etcd-snapshot: RGW_ACCESS_KEY refused: it is not 16-128 letters and digits (not shown: it is a secret); nothing was changed" >&2
  exit 1
fi
if [[ ! "${RGW_SECRET_KEY}" =~ ^[A-Za-z0-9+/]{20,128}$ ]]; then
  echo "etcd-snapshot: RGW_SECRET_KEY refused: it is not 20-128 letters, digits, + and / (not shown: it is a secret); nothing was changed" >&2
  exit 1
fi

apt_install etcd-client

# root_only PATH MODE: PATH is root's with MODE (a change only when it was not).
root_only() {
  if [[ "$(stat -c '%u:%g %a' "$1")" != "0:0 ${2#0}" ]]; then
    chown root:root "$1"
    chmod "$2" "$1"
    note_change
  fi
}

install -d -m 0700 "${CONFIG}" "${SPOOL}"
root_only "${CONFIG}" 0700
root_only "${SPOOL}" 0700
printf '%s\n' "${ETCD_SNAPSHOT_KEY}" | write_if_changed "${CONFIG}/key" 0600
# curl's configuration syntax: the keys are letters, digits, + and / (checked above).
printf 'user = "%s:%s"\n' "${RGW_ACCESS_KEY}" "${RGW_SECRET_KEY}" |
  write_if_changed "${CONFIG}/s3.curl" 0600
printf 'ENDPOINT=%s\nBUCKET=%s\nNODE=%s\nRETENTION_SECONDS=%s\n' "${RGW_ENDPOINT}" "${BUCKET}" \
  "${NODE}" "$((RETENTION_DAYS * 86400))" | write_if_changed "${CONFIG}/settings" 0600
for file in key s3.curl settings; do
  root_only "${CONFIG}/${file}" 0600
done
unset ETCD_SNAPSHOT_KEY RGW_ACCESS_KEY RGW_SECRET_KEY

# The texts arrive whole (each ends with its line break).
printf '%s' "${SNAPSHOT_SCRIPT}" | write_if_changed "${INSTALLED}" 0700
root_only "${INSTALLED}" 0700
printf '%s' "${SERVICE_UNIT}" | write_if_changed "${UNITS}/${UNIT}.service" 0644
printf '%s' "${TIMER_UNIT}" | write_if_changed "${UNITS}/${UNIT}.timer" 0644

# reload_units: systemd reads the changed units, and the timer runs on its new schedule.
reload_units() {
  systemctl daemon-reload
  systemctl restart "${UNIT}.timer"
}
run_when_changed etcd-snapshot-units "${UNITS}/${UNIT}.service" "${UNITS}/${UNIT}.timer" -- reload_units
service_running "${UNIT}.timer"

timer=$(systemctl is-active "${UNIT}.timer" || true)
say "etcd-snapshot: ${UNIT}.timer ${timer}: snapshots of ${NODE} to ${RGW_ENDPOINT}/${BUCKET}, kept ${RETENTION_DAYS} days"
result_field timer "${timer}"
result_field bucket "${BUCKET}"
result_field endpoint "${RGW_ENDPOINT}"
result_emit etcd-snapshot
