#!/usr/bin/env bash
# The site's Ceph cluster, bootstrapped by cephadm on the first storage host: one monitor and
# one manager from the internal registry's Ceph image (already pulled: --skip-pull), no
# monitoring stack (the platform's Prometheus scrapes the manager) and no dashboard (its
# initial password would be printed here). The cluster's fsid is the stack's (FSID), so a
# run can tell its own cluster from another:
#   - /etc/ceph/ceph.conf of FSID with its admin keyring and cephadm's SSH key: bootstrapped;
#     nothing is done again (changed=false);
#   - a ceph.conf, or daemons, of another cluster: refused, naming both fsids;
#   - what a bootstrap of FSID that did not complete left (its daemons, /var/lib/ceph/FSID,
#     a ceph.conf without the rest), and no OSD of it: removed with `cephadm rm-cluster`,
#     then bootstrapped again.
# Prints the fsid, the monitor's address and cephadm's SSH public key, which the other
# storage hosts authorize before the first one adds them.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${CEPH_IMAGE:?CEPH_IMAGE is required}"
: "${MON_IP:?MON_IP is required}"
: "${FSID:?FSID is required}"
: "${HOST_NAME:?HOST_NAME is required}"

if [[ ! "${FSID}" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
  refuse ceph-bootstrap FSID "${FSID}" "a cluster fsid (a lower-case UUID)"
fi
if ! is_ip_address "${MON_IP}"; then
  refuse ceph-bootstrap MON_IP "${MON_IP}" "an IP address"
fi
if [[ ! "${HOST_NAME}" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
  refuse ceph-bootstrap HOST_NAME "${HOST_NAME}" "a host name (a DNS label)"
fi
if [[ ! "${CEPH_IMAGE}" =~ ^[a-z0-9.:/_-]+:[A-Za-z0-9._-]+$ ]]; then
  refuse ceph-bootstrap CEPH_IMAGE "${CEPH_IMAGE}" "an image reference (a-z 0-9 . : / _ -, a tag)"
fi
# cephadm names each host by its hostname, and the other steps name them as config does.
if [[ "$(hostname)" != "${HOST_NAME}" ]]; then
  refuse ceph-bootstrap HOST_NAME "${HOST_NAME}" "this host's hostname ($(hostname)); set the hostname to the name config gives the host"
fi

# json_query EXPRESSION [ARG...] < JSON: a Python expression over the document `d` (the
# arguments in `a`); a list is printed one item a line.
json_query() {
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "null")
a = sys.argv[2:]
r = eval(sys.argv[1])
print("\n".join(map(str, r)) if isinstance(r, (list, tuple)) else ("" if r is None else r))
' "$@"
}

conf=/etc/ceph/ceph.conf
keyring=/etc/ceph/ceph.client.admin.keyring
public_key=/etc/ceph/ceph.pub
conf_fsid=""
if [[ -f "${conf}" ]]; then
  conf_fsid=$(sed -n 's/^[[:space:]]*fsid[[:space:]]*=[[:space:]]*//p' "${conf}" | head -n1)
fi
if [[ -f "${conf}" && "${conf_fsid}" != "${FSID}" ]]; then
  say "ceph-bootstrap: $(hostname) already belongs to Ceph cluster ${conf_fsid:-(its ${conf} names no fsid)} (${conf}), not to this stack's ${FSID}: nothing was changed. A cluster of another stack or an earlier install is not removed by this step: if it holds nothing, remove it with \`cephadm rm-cluster --force --fsid ${conf_fsid}\` and run again" >&2
  exit 1
fi
daemons=$(cephadm ls --no-detail)
others=$(json_query 'sorted({x["fsid"] for x in d if x.get("fsid") != a[0]})' "${FSID}" <<<"${daemons}")
if [[ -n "${others}" ]]; then
  say "ceph-bootstrap: $(hostname) runs daemons of Ceph cluster(s) ${others//$'\n'/, }, not of this stack's ${FSID}: nothing was changed. Remove them with \`cephadm rm-cluster --force --fsid <fsid>\` if they hold nothing, and run again" >&2
  exit 1
fi

if [[ "${conf_fsid}" == "${FSID}" && -f "${keyring}" && -f "${public_key}" ]]; then
  say "ceph-bootstrap: cluster ${FSID} is bootstrapped on $(hostname)"
else
  ours=$(json_query '[x["name"] for x in d if x.get("fsid") == a[0]]' "${FSID}" <<<"${daemons}")
  if [[ -n "${ours}" || -e "/var/lib/ceph/${FSID}" || -f "${conf}" || -e "${keyring}" || -e "${public_key}" ]]; then
    if grep -q '^osd\.' <<<"${ours}"; then
      say "ceph-bootstrap: cluster ${FSID} on $(hostname) is incomplete (no ${keyring} or ${public_key}) but has OSDs (${ours//$'\n'/, }): it is not removed; repair it by hand" >&2
      exit 1
    fi
    say "ceph-bootstrap: an earlier bootstrap of ${FSID} did not complete on $(hostname) (daemons: ${ours:-none}); removing what it left before bootstrapping again"
    tool_output cephadm rm-cluster --force --fsid "${FSID}"
    # rm-cluster leaves the files in /etc/ceph when it does not find them its own.
    rm -f "${conf}" "${keyring}" "${public_key}"
    note_change
  fi
  tool_output cephadm --image "${CEPH_IMAGE}" bootstrap --fsid "${FSID}" --mon-ip "${MON_IP}" \
    --skip-pull --skip-monitoring-stack --skip-dashboard
  note_change
fi

fsid=$(ceph fsid)
if [[ "${fsid}" != "${FSID}" ]]; then
  say "ceph-bootstrap: the cluster ${conf} reaches reports fsid ${fsid}, not ${FSID}" >&2
  exit 1
fi
key=$(ceph cephadm get-pub-key)
say "ceph-bootstrap: cluster ${fsid}, monitor ${MON_IP}"
result_field fsid "${fsid}"
result_field monHost "${MON_IP}"
result_field publicKey "${key}"
result_emit ceph-bootstrap
