#!/usr/bin/env bash
# kubeadm init on the site's first control-plane host, with kube-vip announcing the API VIP
# and the control-plane certificates uploaded for the other control-plane hosts to join.
# Prints the CA public key hash that joining nodes pin. On a host that is already
# initialized it only re-uploads the certificates and makes sure the join token exists.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${KUBERNETES_VERSION:?KUBERNETES_VERSION is required}"
: "${KUBERNETES_APT_REPO:?KUBERNETES_APT_REPO is required}"
: "${KUBEADM_CONFIG:?KUBEADM_CONFIG is required}"
: "${KUBE_VIP_MANIFEST:?KUBE_VIP_MANIFEST is required}"
: "${KUBEADM_TOKEN:?KUBEADM_TOKEN is required (secret, on stdin)}"
: "${KUBEADM_CERTIFICATE_KEY:?KUBEADM_CERTIFICATE_KEY is required (secret, on stdin)}"

install_kubernetes "${KUBERNETES_VERSION}" "${KUBERNETES_APT_REPO}"
config=/etc/kubernetes/deepseek/kubeadm-init.yaml
kubeadm_config "${KUBEADM_CONFIG}" "${config}"

if [[ ! -f /etc/kubernetes/admin.conf ]]; then
  # Since Kubernetes 1.29 admin.conf has no rights until init binds them: kube-vip uses
  # super-admin.conf while the first control plane comes up, then admin.conf again.
  printf '%s\n' "${KUBE_VIP_MANIFEST}" |
    sed 's|path: /etc/kubernetes/admin.conf|path: /etc/kubernetes/super-admin.conf|' |
    write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600
  kubeadm init --config "${config}" --upload-certs --skip-token-print --skip-certificate-key-print
else
  kubeadm init phase upload-certs --upload-certs --config "${config}" >/dev/null
  # kubeadm takes the token only as an argument here; this path runs on re-runs alone.
  if ! kubeadm token list --kubeconfig /etc/kubernetes/admin.conf | grep -q "^${KUBEADM_TOKEN%%.*}"; then
    kubeadm token create "${KUBEADM_TOKEN}" --ttl 24h0m0s --kubeconfig /etc/kubernetes/admin.conf >/dev/null
  fi
fi
printf '%s\n' "${KUBE_VIP_MANIFEST}" | write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600

ca_hash=$(openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt |
  openssl pkey -pubin -outform der |
  openssl dgst -sha256 -hex | sed 's/^.* //')
result_field caCertHash "sha256:${ca_hash}"
result_field node "$(hostname)"
result_emit kubeadm-init
