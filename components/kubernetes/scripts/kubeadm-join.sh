#!/usr/bin/env bash
# kubeadm join of one host: as a further control plane (with kube-vip and the uploaded
# certificates) or as a worker. The CA hash pins the cluster the host joins.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a host that has
# already joined is left as it is.
set -euo pipefail

: "${KUBERNETES_VERSION:?KUBERNETES_VERSION is required}"
: "${KUBERNETES_APT_REPO:?KUBERNETES_APT_REPO is required}"
: "${KUBEADM_CONFIG:?KUBEADM_CONFIG is required}"
: "${CONTROL_PLANE:?CONTROL_PLANE is required (true or false)}"
: "${KUBEADM_CA_CERT_HASH:?KUBEADM_CA_CERT_HASH is required}"
: "${KUBEADM_TOKEN:?KUBEADM_TOKEN is required (secret, on stdin)}"
: "${KUBE_VIP_MANIFEST:=}"

install_kubernetes "${KUBERNETES_VERSION}" "${KUBERNETES_APT_REPO}"

if [[ -f /etc/kubernetes/kubelet.conf ]]; then
  echo "kubeadm-join: $(hostname) has already joined"
  result_field node "$(hostname)"
  result_emit kubeadm-join
  exit 0
fi

if [[ "${CONTROL_PLANE}" == true ]]; then
  : "${KUBEADM_CERTIFICATE_KEY:?KUBEADM_CERTIFICATE_KEY is required to join a control plane}"
  printf '%s\n' "${KUBE_VIP_MANIFEST}" | write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600
fi
config=/etc/kubernetes/deepseek/kubeadm-join.yaml
kubeadm_config "${KUBEADM_CONFIG}" "${config}"
kubeadm join --config "${config}"
echo "kubeadm-join: $(hostname) joined"
note_change
result_field node "$(hostname)"
result_emit kubeadm-join
