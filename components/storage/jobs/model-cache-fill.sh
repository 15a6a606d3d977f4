#!/bin/sh
# Fills a GPU host's node-local model cache with one revision of one model's weights, from the
# site's S3 model store (its Ceph RGW, or an S3 store config names). Runs in a Kubernetes Job
# pinned to the node (components/storage/model_cache.py), as a non-root user, in a small image
# with curl (7.75+ for --aws-sigv4) and a POSIX shell (busybox or dash).
#
# It lists <model>/<precision>/<revision>/ with ListObjectsV2 and downloads each object with
# curl's SigV4 signing into a partial directory beside the revision's, then renames that
# directory into place with a completion marker inside: Triton's pods read a revision only when
# the marker is there, and the rename makes it appear whole or not at all.
#
# Idempotent: a revision whose marker exists is skipped (nothing is downloaded). Safe to re-run
# after a failure half-way: the partial directory keeps every object already downloaded whole
# (its size equal to the listing's), and only the rest is fetched again.
#
# Environment:
#   ENDPOINT     the store's URL, no trailing slash (http://10.10.2.10:8080): path-style requests
#   BUCKET       the bucket holding the weights
#   PREFIX       <model>/<precision>/<revision>: the revision's directory, in the bucket and here
#   CACHE_DIR    the cache's mount point
#   CURL_CONFIG  a curl config file with `user = "<access key id>:<secret access key>"`: the
#                credentials never reach the command line
#   WORK_DIR     scratch space for the listings (default /tmp)
#   MAX_KEYS     objects per listing page (default 1000, S3's maximum)
#   NODE_NAME    the node, for messages (the downward API's spec.nodeName)
#
# Requests: the query parameters in name order and already percent-encoded, with the header
# x-amz-content-sha256: curl signs the query string as written, and radosgw (Ceph 16.2) refuses
# a signature without that header (tests/external/test_real_ceph.py shows both).
#
# POSIX sh without pipefail (dash has none): no pipeline here hides a failure that matters.
set -eu

: "${ENDPOINT:?set ENDPOINT to the model store URL}"
: "${BUCKET:?set BUCKET to the model bucket}"
: "${PREFIX:?set PREFIX to <model>/<precision>/<revision>}"
: "${CACHE_DIR:?set CACHE_DIR to the cache mount point}"
: "${CURL_CONFIG:?set CURL_CONFIG to the curl config file holding the credentials}"
WORK_DIR=${WORK_DIR:-/tmp}
MAX_KEYS=${MAX_KEYS:-1000}
NODE_NAME=${NODE_NAME:-this node}
SIGV4="aws:amz:us-east-1:s3"

die() {
    echo "model-cache-fill: $*" >&2
    exit 1
}

# Keys are file names here: letters, digits and . _ - / only (what model repositories use),
# never an absolute path or a . or .. component. Anything else is refused, not escaped.
safe_path() {
    case "$1" in
        '' | /* | */ | *//* | *[!A-Za-z0-9._/-]*) return 1 ;;
    esac
    case "/$1/" in
        */./* | */../*) return 1 ;;
    esac
    return 0
}

safe_path "$PREFIX" || die "PREFIX '$PREFIX' is not <model>/<precision>/<revision> of plain names"
[ -d "$CACHE_DIR" ] || die "the cache directory $CACHE_DIR is not mounted"
[ -r "$CURL_CONFIG" ] || die "cannot read the credentials file $CURL_CONFIG"

target="$CACHE_DIR/$PREFIX"
marker="$target/.complete"
if [ -f "$marker" ]; then
    echo "model-cache-fill: $PREFIX is cached on $NODE_NAME already; nothing to download"
    exit 0
fi

parent=$(dirname "$target")
name=$(basename "$target")
partial="$parent/.partial-$name"
incoming="$parent/.incoming-$name"
work=$(mktemp -d "$WORK_DIR/model-cache-fill.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One signed GET of <path and query> into <file>; exits non-zero on an HTTP error (--fail).
s3_get() {
    curl --config "$CURL_CONFIG" --aws-sigv4 "$SIGV4" \
        --header "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        --silent --show-error --fail --retry 3 --connect-timeout 10 \
        --output "$2" "$ENDPOINT/$1" </dev/null
}

# Percent-encodes a safe_path: '/' is its only character outside RFC 3986's unreserved set.
encode() {
    printf '%s' "$1" | sed 's|/|%2F|g'
}

# List every object under the prefix: "<size> <key>" lines, page after page (start-after the
# last key of the previous page, which needs no encoding beyond '/').
: >"$work/objects"
after=""
while :; do
    query="list-type=2&max-keys=$MAX_KEYS&prefix=$(encode "$PREFIX/")"
    if [ -n "$after" ]; then
        query="$query&start-after=$(encode "$after")"
    fi
    s3_get "$BUCKET?$query" "$work/page.xml" ||
        die "listing s3://$BUCKET/$PREFIX/ at $ENDPOINT failed (see curl's message above)"
    awk 'BEGIN { RS = "<"; FS = ">" }
        $1 == "Key" { key = $2 }
        $1 == "Size" { size = $2 }
        $1 == "/Contents" { print size, key; key = ""; size = "" }' \
        "$work/page.xml" >"$work/page"
    truncated=$(awk 'BEGIN { RS = "<"; FS = ">" } $1 == "IsTruncated" { print $2 }' \
        "$work/page.xml")
    cat "$work/page" >>"$work/objects"
    [ "$truncated" = "true" ] || break
    after=$(awk 'END { print $2 }' "$work/page")
    [ -n "$after" ] || die "a truncated listing page without keys from $ENDPOINT"
done

# Check every key, and keep "<size> <path in the revision>" for the objects that are files (a
# key ending in '/' is a folder marker some uploaders write: nothing to fetch).
: >"$work/files"
while read -r size key; do
    case "$key" in */) continue ;; esac
    safe_path "$key" || die "object '$key' has characters or components the cache refuses; rename it in the bucket to letters, digits and . _ - /"
    case "$size" in '' | *[!0-9]*) die "object '$key' has no size in the listing" ;; esac
    relative=${key#"$PREFIX"/}
    [ "$relative" != "$key" ] || die "the listing returned '$key', outside $PREFIX/"
    [ "$relative" != .complete ] || die "object '$key' has the name of the cache's completion marker"
    echo "$size $relative" >>"$work/files"
done <"$work/objects"

count=$(awk 'END { print NR }' "$work/files")
[ "$count" -gt 0 ] || die "no objects under s3://$BUCKET/$PREFIX/ at $ENDPOINT: upload the revision there first"
total=$(awk '{ sum += $1 } END { printf "%.0f", sum }' "$work/files")

mkdir -p "$partial"
# Files an earlier attempt left that this listing does not name go (the revision changed in
# the bucket, or a download was cut): only listed objects may end up in the revision.
(cd "$partial" && find . -type f ! -name .complete) | sed 's|^\./||' >"$work/present"
awk 'NR == FNR { listed[$2] = 1; next } !($0 in listed)' "$work/files" "$work/present" >"$work/extra"
while read -r stray; do
    rm -f "$partial/$stray"
done <"$work/extra"

# What is still missing, and whether the disk holds it.
: >"$work/missing"
while read -r size relative; do
    if [ -f "$partial/$relative" ] && [ "$(stat -c %s "$partial/$relative")" = "$size" ]; then
        continue
    fi
    echo "$size $relative" >>"$work/missing"
done <"$work/files"
needed=$(awk '{ sum += $1 } END { printf "%.0f", sum }' "$work/missing")
free_kib=$(df -Pk "$CACHE_DIR" | awk 'NR == 2 { print $4 }')
if [ "$needed" -gt $((free_kib * 1024)) ]; then
    die "the cache on $NODE_NAME has $((free_kib / 1048576)) GiB free, $PREFIX needs $((needed / 1073741824)) GiB more: remove the revisions no deployment serves from $CACHE_DIR's host directory, or give the cache a larger disk (storage.modelCache.sizeGb)"
fi

fetched=0
while read -r size relative; do
    mkdir -p "$(dirname "$partial/$relative")"
    s3_get "$BUCKET/$PREFIX/$relative" "$incoming" ||
        die "downloading $PREFIX/$relative failed (see curl's message above); run again to resume"
    got=$(stat -c %s "$incoming")
    [ "$got" = "$size" ] ||
        die "$PREFIX/$relative arrived with $got bytes, the listing says $size; run again to fetch it again"
    mv -f "$incoming" "$partial/$relative"
    fetched=$((fetched + 1))
done <"$work/missing"

printf 'objects %s\nbytes %s\nsource %s/%s/%s/\n' "$count" "$total" "$ENDPOINT" "$BUCKET" \
    "$PREFIX" >"$partial/.complete"
if [ -e "$target" ]; then
    # A directory without the marker (copied by hand, or left by another tool): replaced.
    stale="$parent/.stale-$name"
    rm -rf "$stale"
    mv "$target" "$stale"
    rm -rf "$stale"
fi
mv "$partial" "$target"
echo "model-cache-fill: $PREFIX cached on $NODE_NAME: $count objects, $total bytes, $fetched downloaded now, $((count - fetched)) kept from an earlier attempt"
