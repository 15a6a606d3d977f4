#!/usr/bin/env bash
# What the sandboxed host holds before any script runs: an Ubuntu 22.04 server as installed,
# not the machine running the harness: its os-release, apt sources (the public archive and
# some third-party ones, package lists fetched from them), a swap line in fstab and swap on,
# its host name, a few packages in the dpkg database.
# Usage (inside the sandbox, by init.sh): seed.sh SANDBOX_DIR HOSTNAME
set -euo pipefail
sandbox=$1 host=$2

rm -rf /etc/apt/sources.list /etc/apt/sources.list.d
mkdir -p /etc/apt/sources.list.d
# Replacing files, never writing through them: /etc/os-release links to /usr/lib/os-release.
cp -R --remove-destination "${sandbox}/seed/." /
printf '%s\n' "${host}" >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 ip6-localhost ip6-loopback\n' "${host}" >/etc/hosts

state=/var/lib/standin
mkdir -p "${state}/dpkg"
for package in base-files bash coreutils openssh-server sudo systemd; do
  printf '%s\t%s\tinstall ok installed\tinstall\thttp://archive.ubuntu.com/ubuntu/\n' "${package}" standin-1
done >"${state}/dpkg/status"
mkdir -p "${state}/systemd/enabled"
: >"${state}/systemd/enabled/ssh"
# The image's package lists, fetched from its sources before it was shipped.
STANDIN_QUIET=1 apt-get update >/dev/null
