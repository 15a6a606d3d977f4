#!/usr/bin/env bash
# One encrypted etcd snapshot of this control plane, kept off the site (installed by the
# etcd-snapshot step as /usr/local/lib/deepseek/etcd-snapshot, run by
# deepseek-etcd-snapshot.service on its timer; everything it prints goes to the journal):
#   1. `etcdctl snapshot save` from the local member (https://127.0.0.1:2379, kubeadm's etcd
#      CA and healthcheck-client certificate), into a private directory on /run (tmpfs: the
#      unencrypted snapshot never reaches a disk), checked with `etcdctl snapshot status`;
#   2. encrypted with `openssl enc -aes-256-cbc -pbkdf2` and the site's snapshot key (the
#      key file, never a command line), checked by decrypting it again, and the plain copy
#      removed;
#   3. uploaded to the target site's RGW as BUCKET/NODE/<UTC time>.db.enc (curl, SigV4, the
#      keys in a root-only curl configuration read on its stdin, the body's SHA-256 signed so
#      RGW refuses a changed upload);
#   4. this host's uploads (NODE/<UTC time>.db.enc, nothing else) older than the retention
#      deleted (at most 4 a run, the oldest first), measured against the time RGW gave the
#      new upload (no trust in this host's clock), and only after that upload is listed.
# Restoring one is a runbook (README, "Restoring etcd from an off-site snapshot"), not a script.
# ETCD_SNAPSHOT_ROOT (tests only; the installed units never set it) stands for `/`.
set -euo pipefail
umask 077

root=${ETCD_SNAPSHOT_ROOT:-}
config=${root}/etc/deepseek/etcd-snapshot
spool=${root}/var/lib/deepseek/etcd-snapshot
pki=${root}/etc/kubernetes/pki/etcd
etcd_db=${root}/var/lib/etcd/member/snap/db

log() { printf 'etcd-snapshot: %s\n' "$*"; }
die() {
  printf 'etcd-snapshot: %s\n' "$*" >&2
  exit 1
}

# The settings the step wrote: KEY=VALUE lines, read (never sourced).
ENDPOINT="" BUCKET="" NODE="" RETENTION_SECONDS=""
[[ -r "${config}/settings" ]] || die "no ${config}/settings: run the etcd-snapshot step (pulumi up) first"
while IFS='=' read -r key value; do
  case "${key}" in
    ENDPOINT) ENDPOINT=${value} ;;
    BUCKET) BUCKET=${value} ;;
    NODE) NODE=${value} ;;
    RETENTION_SECONDS) RETENTION_SECONDS=${value} ;;
  esac
done <"${config}/settings"
[[ "${ENDPOINT}" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] || die "ENDPOINT ${ENDPOINT@Q} in ${config}/settings is not an http(s)://host[:port] URL"
[[ "${BUCKET}" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "BUCKET ${BUCKET@Q} in ${config}/settings is not an S3 bucket name"
[[ "${NODE}" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die "NODE ${NODE@Q} in ${config}/settings is not a node name"
[[ "${RETENTION_SECONDS}" =~ ^[1-9][0-9]{0,9}$ ]] || die "RETENTION_SECONDS ${RETENTION_SECONDS@Q} in ${config}/settings is not a positive number"
for file in key s3.curl; do
  [[ -s "${config}/${file}" ]] || die "no ${config}/${file}: run the etcd-snapshot step (pulumi up) first"
done

# One run at a time (the timer's and one started by hand): a lock on the spool directory,
# which the step made.
[[ -d "${spool}" ]] || die "no ${spool}: run the etcd-snapshot step (pulumi up) first"
exec {lock}<"${spool}"
flock --nonblock "${lock}" || die "another snapshot is running (a lock on ${spool}); nothing was done"

# The plain snapshot lives on /run (systemd's RuntimeDirectory, or a directory of its own),
# the encrypted one in the spool until it is uploaded; neither outlives the run, and what a
# killed run left in the spool goes now.
if [[ -n "${RUNTIME_DIRECTORY:-}" ]]; then
  work=${RUNTIME_DIRECTORY}
else
  work=$(mktemp -d "${root}/run/deepseek-etcd-snapshot.XXXXXXXX")
fi
cleanup() {
  rm -f "${work}/snapshot.db" "${work}/snapshot.db.part" "${spool}"/*.db.enc
  if [[ -z "${RUNTIME_DIRECTORY:-}" ]]; then
    rmdir "${work}" 2>/dev/null || true
  fi
}
trap cleanup EXIT
cleanup
[[ -d "${work}" ]] || install -d -m 0700 "${work}"
if [[ -f "${etcd_db}" ]]; then
  needed=$(stat -c %s "${etcd_db}")
  free=$(df --output=avail -B1 "${work}" | tail -n1 | tr -d ' ')
  if ((free < needed)); then
    die "${work} has ${free} bytes free, less than etcd's database (${needed} bytes): the snapshot would not fit; nothing was uploaded"
  fi
fi

# 1. The snapshot, from the local member.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
plain=${work}/snapshot.db
ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert="${pki}/ca.crt" \
  --cert="${pki}/healthcheck-client.crt" --key="${pki}/healthcheck-client.key" \
  snapshot save "${plain}"
status=$(ETCDCTL_API=3 etcdctl snapshot status "${plain}" --write-out=json) ||
  die "the snapshot etcdctl saved does not read back (etcdctl snapshot status, above); nothing was uploaded"
[[ "${status}" =~ \"revision\":([0-9]+) && "${BASH_REMATCH[1]}" -gt 0 ]] ||
  die "the snapshot holds no revision (${status}); nothing was uploaded"
[[ "${status}" =~ \"totalKey\":([0-9]+) && "${BASH_REMATCH[1]}" -gt 0 ]] ||
  die "the snapshot holds no key (${status}); nothing was uploaded"
log "saved and checked: ${status}"

# 2. Encrypted; the plain copy removed once the encrypted one decrypts back to it.
sealed=${spool}/${stamp}.db.enc
cipher=(-aes-256-cbc -pbkdf2 -iter 200000 -md sha256 -pass "file:${config}/key")
openssl enc -e -salt "${cipher[@]}" -in "${plain}" -out "${sealed}"
plain_digest=$(sha256sum <"${plain}" | cut -d' ' -f1)
if [[ "$(openssl enc -d "${cipher[@]}" -in "${sealed}" | sha256sum | cut -d' ' -f1)" != "${plain_digest}" ]]; then
  die "the encrypted snapshot does not decrypt back to the snapshot with ${config}/key; nothing was uploaded"
fi
rm -f "${plain}"

# s3 METHOD PATH [CURL ARG...]: one S3 request to the target's RGW (PATH: after the bucket's
# name, `/KEY` or `?QUERY`), the keys from the root-only configuration on curl's stdin;
# prints the answer's body, then its HTTP status on a line of its own.
s3() {
  local method=$1 path=$2
  shift 2
  curl --silent --show-error --config - --aws-sigv4 "aws:amz:us-east-1:s3" \
    --request "${method}" --max-time 3600 --write-out '\n%{http_code}' "$@" \
    "${ENDPOINT}/${BUCKET}${path}" <"${config}/s3.curl" || printf '\ncurl exit status %s' "$?"
}

# 3. The upload, its body's hash signed.
key=${NODE}/${stamp}.db.enc
digest=$(sha256sum <"${sealed}" | cut -d' ' -f1)
answer=$(s3 PUT "/${key}" --header "x-amz-content-sha256: ${digest}" --upload-file "${sealed}")
if [[ "${answer##*$'\n'}" != 200 ]]; then
  printf '%s\n' "${answer%$'\n'*}" >&2
  die "uploading ${key} to ${ENDPOINT}/${BUCKET} answered ${answer##*$'\n'} (above); the next run tries again"
fi
log "uploaded ${ENDPOINT}/${BUCKET}/${key} ($(stat -c %s "${sealed}") bytes, encrypted)"
rm -f "${sealed}"

# 4. Retention: list NODE/ (ListObjectsV2, page by page: its parameters in name order and
# percent-encoded, as SigV4 signs them), keep everything but this host's snapshots older than
# the new upload's LastModified minus the retention.
listing=${work}/listing
: >"${listing}"
resume=""
while :; do
  query="list-type=2&prefix=${NODE}%2F"
  if [[ -n "${resume}" ]]; then
    query="continuation-token=${resume}&${query}"
  fi
  answer=$(s3 GET "?${query}" --header "x-amz-content-sha256: UNSIGNED-PAYLOAD")
  if [[ "${answer##*$'\n'}" != 200 ]]; then
    printf '%s\n' "${answer%$'\n'*}" >&2
    die "listing ${NODE}/ in ${ENDPOINT}/${BUCKET} answered ${answer##*$'\n'} (above); nothing was deleted"
  fi
  # One line per object (LastModified as seconds, then its key), then `next TOKEN` if the
  # listing goes on (its continuation token, percent-encoded).
  page=$(printf '%s' "${answer%$'\n'*}" | python3 -c '
import calendar, sys, time, urllib.parse, xml.etree.ElementTree as ET
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
root = ET.fromstring(sys.stdin.read())
for item in root.findall(ns + "Contents"):
    # A key is any text: one with a space or a line break could forge lines of this output
    # (the age of another key, a continuation); no snapshot has one, so it is skipped.
    if not all("!" <= c <= "~" for c in item.findtext(ns + "Key")):
        continue
    stamp = item.findtext(ns + "LastModified").split(".")[0].rstrip("Z")
    seconds = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))
    print(seconds, item.findtext(ns + "Key"))
if root.findtext(ns + "IsTruncated") == "true":
    print("next", urllib.parse.quote(root.findtext(ns + "NextContinuationToken"), safe=""))
') || die "the listing of ${NODE}/ is not ListObjectsV2's XML; nothing was deleted"
  resume=""
  while read -r first rest; do
    [[ -n "${first}" ]] || continue
    if [[ "${first}" == next ]]; then resume=${rest}; else printf '%s %s\n' "${first}" "${rest}" >>"${listing}"; fi
  done <<<"${page}"
  [[ -n "${resume}" ]] || break
done
uploaded=$(awk -v key="${key}" '$2 == key { print $1 }' "${listing}")
[[ -n "${uploaded}" ]] || die "${key} is not listed in ${ENDPOINT}/${BUCKET} after its upload; nothing was deleted"
cutoff=$((uploaded - RETENTION_SECONDS))
# The expired, oldest first. A run normally expires one (two after a boot's extra run); many
# at once mean a clock jump at the target (every earlier upload would look expired) or a
# backlog (the host was down, a shorter retention): at most MAX_DELETE go per run, and the
# run fails naming the rest, as rclone's --max-delete does for the bucket copies.
MAX_DELETE=4
expired=()
while read -r modified name; do
  [[ "${name}" =~ ^${NODE}/[0-9]{8}T[0-9]{6}Z\.db\.enc$ && "${name}" != "${key}" ]] || continue
  ((modified < cutoff)) || continue
  expired+=("${name}")
done < <(sort -n -k1,1 "${listing}")
deleted=0
for name in "${expired[@]:0:MAX_DELETE}"; do
  answer=$(s3 DELETE "/${name}" --header "x-amz-content-sha256: UNSIGNED-PAYLOAD")
  if [[ "${answer##*$'\n'}" != 204 ]]; then
    printf '%s\n' "${answer%$'\n'*}" >&2
    die "deleting ${name} answered ${answer##*$'\n'} (above); the next run tries again"
  fi
  log "deleted ${name} (older than the retention: ${RETENTION_SECONDS} s before ${key})"
  deleted=$((deleted + 1))
done
if ((${#expired[@]} > MAX_DELETE)); then
  rm -f "${listing}"
  die "${#expired[@]} of this host's snapshots expired at once (older than ${RETENTION_SECONDS} s before ${key}, by the time ${ENDPOINT} gave it); only the oldest ${MAX_DELETE} were deleted. Check the target's clock (\`date -u\` there, its NTP): ahead, it makes every snapshot look expired. After downtime, a shorter backup.retentionDays or a longer backup.etcdSnapshotHours, the next runs delete the rest (4 each)"
fi
rm -f "${listing}"
log "done: ${key} kept in ${ENDPOINT}/${BUCKET}, ${deleted} expired snapshot(s) of ${NODE} deleted"
