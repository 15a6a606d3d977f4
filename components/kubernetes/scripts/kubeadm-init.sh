#!/usr/bin/env bash
# kubeadm init on the site's first control-plane host, with kube-vip announcing the API VIP
# and the control-plane certificates uploaded for the other control-plane hosts to join.
# Prints the CA public key hash that joining nodes pin.
# A completed init is the marker this script writes once kubeadm init succeeded and the API
# answered; a host with kubeadm's files but no marker holds a half-done init, which is reset
# and done again (kubeadm refuses to run over it). On a completed host the script only makes
# sure the join token exists and the certificates are uploaded with the current key.
# No secret reaches a command line or stdout: the token and the certificate key go to
# kubeadm in its configuration file (root only), and kubeadm is told not to print them.
# Whatever kubeadm and the other tools print goes to a root-only log on the host, never to
# the step's output: a failure shows only the log's tail, secrets masked (lib.sh step_log).
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${KUBERNETES_VERSION:?KUBERNETES_VERSION is required}"
: "${KUBERNETES_APT_REPO:?KUBERNETES_APT_REPO is required}"
: "${KUBEADM_CONFIG:?KUBEADM_CONFIG is required}"
: "${KUBE_VIP_MANIFEST:?KUBE_VIP_MANIFEST is required}"
: "${KUBEADM_TOKEN:?KUBEADM_TOKEN is required (secret, on stdin)}"
: "${KUBEADM_CERTIFICATE_KEY:?KUBEADM_CERTIFICATE_KEY is required (secret, on stdin)}"
# The secrets stay in this shell: no tool's environment carries them.
export -n KUBEADM_TOKEN KUBEADM_CERTIFICATE_KEY
# A host that joined a cluster never starts another (config's first control plane changed:
# the host that ran init was removed or moved down the list).
if [[ -f /etc/kubernetes/deepseek/kubeadm-join.done ]]; then
  echo "kubeadm-init: $(hostname) joined its site's cluster as a node and cannot start a new one; nothing was changed. The first control plane in config must be the host that ran kubeadm init: put it back first" >&2
  exit 1
fi
# All output from here on goes to the step's log (after export -n: no tool gets a secret).
step_log kubeadm-init

install_kubernetes "${KUBERNETES_VERSION}" "${KUBERNETES_APT_REPO}"
config=/etc/kubernetes/deepseek/kubeadm-init.yaml
kubeadm_config "${KUBEADM_CONFIG}" "${config}"
initialized=/etc/kubernetes/deepseek/kubeadm-init.done
admin=/etc/kubernetes/admin.conf
# What the uploaded certificates were encrypted with (a digest; the key itself stays secret).
uploaded_key=/etc/kubernetes/deepseek/certificate-key.sha256
key_digest=$(printf '%s' "${KUBEADM_CERTIFICATE_KEY}" | sha256sum | cut -d' ' -f1)

# token_listed: whether `kubeadm token list` (on stdin) holds our token, compared in bash.
token_listed() {
  local token _
  while read -r token _; do
    if [[ "${token}" == "${KUBEADM_TOKEN}" ]]; then
      return 0
    fi
  done
  return 1
}

if [[ ! -f "${initialized}" ]]; then
  if kubeadm_leftovers; then
    kubeadm_reset
  fi
  # Since Kubernetes 1.29 admin.conf has no rights until init binds them: kube-vip uses
  # super-admin.conf while the first control plane comes up, then admin.conf again.
  printf '%s\n' "${KUBE_VIP_MANIFEST}" |
    sed 's|path: /etc/kubernetes/admin.conf|path: /etc/kubernetes/super-admin.conf|' |
    write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600
  kubeadm init --config "${config}" --upload-certs --skip-token-print --skip-certificate-key-print
  note_change
  for attempt in $(seq 1 30); do
    if kubectl --kubeconfig "${admin}" get --raw /healthz >/dev/null 2>&1; then
      break
    fi
    if ((attempt == 30)); then
      echo "kubeadm-init: the API server did not answer after kubeadm init" >&2
      exit 1
    fi
    sleep 2
  done
  printf '%s\n' "${key_digest}" | write_if_changed "${uploaded_key}" 0600
  printf 'kubeadm init completed\n' | write_if_changed "${initialized}" 0600
else
  # The join token (24 h) may have expired since; created again from the configuration file.
  if ! kubeadm token list --kubeconfig "${admin}" | token_listed; then
    kubeadm token create --config "${config}" --kubeconfig "${admin}" >/dev/null
    note_change
  fi
  # The uploaded certificates (2 h) may have expired, or the key changed: uploaded again.
  if [[ "$(cat "${uploaded_key}" 2>/dev/null)" != "${key_digest}" ]] ||
    ! kubectl --kubeconfig "${admin}" -n kube-system get secret kubeadm-certs -o name >/dev/null 2>&1; then
    kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config "${config}" >/dev/null
    printf '%s\n' "${key_digest}" | write_if_changed "${uploaded_key}" 0600
    note_change
  fi
fi
printf '%s\n' "${KUBE_VIP_MANIFEST}" | write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600

ca_hash=$(openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt |
  openssl pkey -pubin -outform der |
  openssl dgst -sha256 -hex | sed 's/^.* //')
result_field caCertHash "sha256:${ca_hash}"
result_field node "$(hostname)"
result_emit kubeadm-init
