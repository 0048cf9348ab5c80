#!/bin/sh
# Edgepedia checks for CI jobs, in POSIX sh with curl and jq.
#
#   EDGE=https://edge.example.com TOKEN=<inventory:read JWT> edgepedia-check.sh CHECK [ARG]
#
#   image-absent IMAGE        fail if any cluster runs a container (or init container) with
#                             exactly this image; prints cluster namespace/pod for each
#   stale-clusters [SECONDS]  fail if any cluster's data is older than SECONDS (default 600);
#                             prints each such cluster and the age of its data
#   changes-since FILE        print what changed since the cursor kept in FILE (from the oldest
#                             retained change if FILE is missing), store the new cursor in FILE,
#                             fail if anything changed
#
# Exit status: 0 the check passed, 1 it found something (printed), 2 usage or request error.
set -eu

: "${EDGE:?set EDGE to the edge URL}"
: "${TOKEN:?set TOKEN to a token with inventory:read}"

api() {
    curl -fsS -H "Authorization: Bearer $TOKEN" "$EDGE$1" || exit 2
}

found=0
report() {
    # Prints its input; remembers whether there was any.
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '%s\n' "$line"
        found=1
    done
}

case "${1:-}" in
image-absent)
    image="${2:?image-absent needs an image}"
    cont=""
    while :; do
        page=$(api "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods?limit=500${cont:+&continue=$cont}")
        report <<LINES
$(printf '%s' "$page" | jq -r --arg image "$image" '.items[]
    | select(([.spec.containers[]?.image, .spec.initContainers[]?.image] | index($image)) != null)
    | "\(.metadata.annotations["shadow.clusterpedia.io/cluster-name"]) \(.metadata.namespace)/\(.metadata.name)"')
LINES
        cont=$(printf '%s' "$page" | jq -r '.metadata.continue // empty')
        [ -n "$cont" ] || break
    done
    ;;
stale-clusters)
    limit="${2:-600}"
    clusters=$(api "/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters")
    report <<LINES
$(printf '%s' "$clusters" | jq -r --argjson limit "$limit" '.items[]
    | (now - (.status.lastSyncTime | fromdateiso8601) | floor) as $age
    | select($age > $limit) | "\(.metadata.name) \($age)s"')
LINES
    ;;
changes-since)
    file="${2:?changes-since needs a cursor file}"
    since=$(cat "$file" 2>/dev/null || true)
    while :; do
        page=$(api "/apis/clusterpedia.io/v1beta1/changes?limit=500${since:+&since=$since}")
        report <<LINES
$(printf '%s' "$page" | jq -r '.items[] | "\(.changedAt) \(.type) \(.cluster) \(.group)/\(.version)/\(.resource) \(.namespace)/\(.name)"')
LINES
        since=$(printf '%s' "$page" | jq -r '.metadata.continue')
        [ "$(printf '%s' "$page" | jq '.items | length')" -eq 500 ] || break
    done
    printf '%s\n' "$since" > "$file"
    ;;
*)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
exit "$found"
