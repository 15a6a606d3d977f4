#!/usr/bin/env bash
# Takes a removed host out of Kubernetes on the host itself, after its node was drained:
# `kubeadm reset` (on a control plane it also removes the host's etcd member), then what
# kubeadm documents it leaves behind (the rest of /etc/kubernetes, the etcd data directory,
# the CNI configuration), and the markers of our own init or join, so that the host could
# join again as a new one. `--force` only skips kubeadm's confirmation prompt.
# Runs when the host's removal Command is deleted (a host taken out of config); never on a
# host config marks `reachable: false` (its removal keeps this step's delete unrun).
# A host that holds no kubeadm state has nothing to reset (reset=absent).
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

result_field node "$(hostname)"
if ! kubeadm_leftovers && [[ ! -d /etc/kubernetes/deepseek ]]; then
  say "kubeadm-reset: $(hostname) holds no Kubernetes state: nothing to reset"
  result_field reset absent
  result_emit kubeadm-reset
  exit 0
fi
if kubeadm_leftovers; then
  tool_output kubeadm reset --force
fi
# The kubelet would start again at the next boot, with nothing to run. Disabled unless
# systemctl answers that it is: this step runs once (a delete that succeeds is not run again),
# so a query that failed must not leave it enabled, and a disable that fails fails the step
# before the markers below are gone.
if [[ "$(systemctl is-enabled kubelet 2>/dev/null || true)" != disabled ]]; then
  tool_output systemctl disable --now kubelet
fi
rm -rf /etc/kubernetes /var/lib/etcd /etc/cni/net.d
note_change
say "kubeadm-reset: $(hostname) left the cluster"
result_field reset true
result_emit kubeadm-reset
