#!/usr/bin/env bash
# kubeadm join of one host: as a further control plane (with kube-vip and the uploaded
# certificates) or as a worker. The CA hash pins the cluster the host joins.
# A completed join is the marker this script writes once kubeadm join succeeded; a host with
# kubeadm's files but no marker holds a half-done join, which is reset and done again.
# The token and the certificate key reach kubeadm only in its configuration file (root only).
# Whatever kubeadm and the other tools print goes to a root-only log on the host, never to
# the step's output: a failure shows only the log's tail, secrets masked (lib.sh step_log).
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a host that has
# joined is left as it is.
set -euo pipefail

: "${KUBERNETES_VERSION:?KUBERNETES_VERSION is required}"
: "${KUBERNETES_APT_REPO:?KUBERNETES_APT_REPO is required}"
: "${KUBEADM_CONFIG:?KUBEADM_CONFIG is required}"
: "${CONTROL_PLANE:?CONTROL_PLANE is required (true or false)}"
: "${KUBEADM_CA_CERT_HASH:?KUBEADM_CA_CERT_HASH is required}"
: "${KUBEADM_TOKEN:?KUBEADM_TOKEN is required (secret, on stdin)}"
: "${KUBE_VIP_MANIFEST:=}"
if [[ "${CONTROL_PLANE}" == true ]]; then
  : "${KUBEADM_CERTIFICATE_KEY:?KUBEADM_CERTIFICATE_KEY is required to join a control plane}"
fi
# The secrets stay in this shell: no tool's environment carries them.
export -n KUBEADM_TOKEN KUBEADM_CERTIFICATE_KEY
# The host that started the cluster never joins it as another node.
if [[ -f /etc/kubernetes/deepseek/kubeadm-init.done ]]; then
  echo "kubeadm-join: $(hostname) ran kubeadm init for its site and cannot join as another node; nothing was changed. Keep it first among the site's control planes in config" >&2
  exit 1
fi
# All output from here on goes to the step's log (after export -n: no tool gets a secret).
step_log kubeadm-join

install_kubernetes "${KUBERNETES_VERSION}" "${KUBERNETES_APT_REPO}"
joined=/etc/kubernetes/deepseek/kubeadm-join.done

if [[ -f "${joined}" ]]; then
  say "kubeadm-join: $(hostname) has already joined"
  result_field node "$(hostname)"
  result_emit kubeadm-join
  exit 0
fi

config=/etc/kubernetes/deepseek/kubeadm-join.yaml
kubeadm_config "${KUBEADM_CONFIG}" "${config}"
if kubeadm_leftovers; then
  kubeadm_reset
fi
if [[ "${CONTROL_PLANE}" == true ]]; then
  printf '%s\n' "${KUBE_VIP_MANIFEST}" | write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600
fi
kubeadm join --config "${config}"
note_change
printf 'kubeadm join completed\n' | write_if_changed "${joined}" 0600
say "kubeadm-join: $(hostname) joined"
result_field node "$(hostname)"
result_emit kubeadm-join
