#!/usr/bin/env bash
# Upgrades Kubernetes on one host to KUBERNETES_VERSION, in the order kubeadm's documentation
# gives: the kubeadm package first, then `kubeadm upgrade plan` and `kubeadm upgrade apply` on
# the site's first control plane (UPGRADE_ROLE=first) or `kubeadm upgrade node` on any other
# host (control-plane, worker), then the kubelet and kubectl packages, and the kubelet
# restarted. The program drains the node before (node-drain) and returns it after its checks
# (node-uncordon).
# Refused before anything changes: a host that never joined a cluster (no completed kubeadm
# init or join), a downgrade, and a skipped minor version (kubeadm upgrades one at a time).
# A run that stopped part-way leaves its marker (kubeadm-upgrade.pending), and the next run
# goes through the sequence again: each part is idempotent (kubeadm upgrade may be run again,
# as its documentation says). HOST_READY only orders this step after the host's own checks.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a host at the version
# is left as it is.
set -euo pipefail

: "${KUBERNETES_VERSION:?KUBERNETES_VERSION is required}"
: "${KUBERNETES_APT_REPO:?KUBERNETES_APT_REPO is required}"
: "${UPGRADE_ROLE:?UPGRADE_ROLE is required (first, control-plane or worker)}"
: "${HOST_READY:=}"

if ! [[ "${KUBERNETES_VERSION}" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]; then
  refuse kubeadm-upgrade KUBERNETES_VERSION "${KUBERNETES_VERSION}" "a Kubernetes version (1.31.4)"
fi
target=("${BASH_REMATCH[@]:1}")
case "${UPGRADE_ROLE}" in
  first | control-plane | worker) ;;
  *) refuse kubeadm-upgrade UPGRADE_ROLE "${UPGRADE_ROLE}" "first, control-plane or worker" ;;
esac
if ! [[ "${KUBERNETES_APT_REPO}" =~ ^https?://[A-Za-z0-9.:/_~%+-]+$ ]]; then
  refuse kubeadm-upgrade KUBERNETES_APT_REPO "${KUBERNETES_APT_REPO}" "an http(s) URL"
fi
host=$(hostname)
markers=/etc/kubernetes/deepseek
if [[ ! -f "${markers}/kubeadm-init.done" && ! -f "${markers}/kubeadm-join.done" ]]; then
  say "kubeadm-upgrade refused: ${host} never completed a kubeadm init or join: there is nothing to upgrade (bring it up with the kubeadm steps); nothing was changed" >&2
  exit 1
fi

# What the host has: kubeadm's version (the cluster's, on a control plane) and the kubelet's.
from=$(kubernetes_version kubeadm)
kubelet=$(kubernetes_version kubelet)
kubectl=$(kubernetes_version kubectl)
if [[ -z "${from}" || -z "${kubelet}" ]]; then
  say "kubeadm-upgrade: ${host} has a completed kubeadm init or join but dpkg reports no installed kubeadm or kubelet package; nothing was changed" >&2
  exit 1
fi

# refuse_path FOUND WHAT: stops before anything changes if going from FOUND to the target is
# a downgrade or skips a minor version, naming the path to take.
refuse_path() {
  local parts
  if ! [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    say "kubeadm-upgrade: ${host} has $2 of version ${1}, which is not a Kubernetes version; nothing was changed" >&2
    exit 1
  fi
  IFS=. read -r -a parts <<<"$1"
  if ((target[0] != parts[0])); then
    say "kubeadm-upgrade refused: ${host} has $2 ${1}; kubeadm does not upgrade from Kubernetes ${parts[0]}.x to ${KUBERNETES_VERSION}; nothing was changed" >&2
    exit 1
  fi
  if ((target[1] < parts[1] || (target[1] == parts[1] && target[2] < parts[2]))); then
    say "kubeadm-upgrade refused: ${host} has $2 ${1}, newer than ${KUBERNETES_VERSION}: kubeadm does not downgrade; set kubernetes.version to ${1} or later (going back means rebuilding the host); nothing was changed" >&2
    exit 1
  fi
  if ((target[1] > parts[1] + 1)); then
    say "kubeadm-upgrade refused: ${host} has $2 ${1}; ${KUBERNETES_VERSION} skips ${parts[0]}.$((parts[1] + 1)), and kubeadm upgrades one minor version at a time: upgrade to ${parts[0]}.$((parts[1] + 1)).x first (every host of the site), then to ${KUBERNETES_VERSION}; nothing was changed" >&2
    exit 1
  fi
}
refuse_path "${from}" kubeadm
refuse_path "${kubelet}" kubelet

pending=${markers}/kubeadm-upgrade.pending
result_field node "${host}"
result_field from "${from}"
result_field to "${KUBERNETES_VERSION}"
if [[ ! -f "${pending}" && "${from} ${kubelet} ${kubectl}" == "${KUBERNETES_VERSION} ${KUBERNETES_VERSION} ${KUBERNETES_VERSION}" ]]; then
  say "kubeadm-upgrade: ${host} runs Kubernetes ${KUBERNETES_VERSION} already"
  result_emit kubeadm-upgrade
  exit 0
fi

say "kubeadm-upgrade: ${host} (${UPGRADE_ROLE}) from ${from} (kubelet ${kubelet}) to ${KUBERNETES_VERSION}"
# Until the kubelet runs the new version: a run that stops part-way is taken up again.
printf '%s\n' "${KUBERNETES_VERSION}" | write_if_changed "${pending}" 0600
kubernetes_apt_source "${KUBERNETES_APT_REPO}"
kubernetes_packages "${KUBERNETES_VERSION}" kubeadm
if [[ "${UPGRADE_ROLE}" == first ]]; then
  tool_output kubeadm upgrade plan
  tool_output kubeadm upgrade apply -y "v${KUBERNETES_VERSION}"
else
  tool_output kubeadm upgrade node
fi
note_change
kubernetes_packages "${KUBERNETES_VERSION}" kubelet kubectl
systemctl daemon-reload
systemctl restart kubelet
rm -f "${pending}"
say "kubeadm-upgrade: ${host} runs Kubernetes ${KUBERNETES_VERSION}"
result_emit kubeadm-upgrade
