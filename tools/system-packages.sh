#!/usr/bin/env bash
# Installs the Debian packages the tests call: shellcheck, promtool (package prometheus), and
# what the host-script harness (tests/external/sandbox) needs: the tools the scripts run for
# real (fio, iperf3, lspci, ss, pgrep, openssl) under sudo as the SSH steps invoke them, and
# strace, which records every command line and environment a script's processes get; and a
# real Ceph (Debian 12: 16.2) that tests/external/ceph_server.py boots on loopback for the data
# layer's steps (mon, mgr, memstore OSDs, radosgw; ceph-common for the ceph and radosgw-admin
# CLIs) with curl as the S3 client (--aws-sigv4), and rclone, which the cross-site bucket copies'
# CronJobs run against that radosgw. Idempotent and quick when everything is present.
set -euo pipefail

packages=(
  shellcheck fio iperf3 pciutils sudo iproute2 procps openssl strace prometheus
  ceph-mon ceph-mgr ceph-osd radosgw ceph-common curl rclone
)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("${package}")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if ((EUID != 0)); then
  echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
