#!/usr/bin/env bash
# check_info_selftest.sh — check_info.awk accepts good layouts and rejects bad
# ones (no Slurm needed; label unit).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp)
trap 'rm -f "$t"' EXIT
fails=0
expect() {   # expect ok|bad W NN <<< lines
    local want=$1 W=$2 NN=$3
    cat >"$t"
    if awk -v W="$W" -v NN="$NN" -f "$here/check_info.awk" "$t" >/dev/null 2>&1; then got=ok; else got=bad; fi
    if [[ $got != "$want" ]]; then
        echo "FAIL: want $want, got $got for W=$W NN=$NN:"; cat "$t"; fails=$((fails + 1))
    fi
}
L() { echo "rank $1/$2 local $3/$4 node $5/$6 host $7 backend mpi"; }
{ L 2 3 2 3 0 1 h; echo "ztrain: summary 3 ranks"; L 0 3 0 3 0 1 h; L 1 3 1 3 0 1 h; } | expect ok 3 1
{ L 0 4 0 3 0 2 h; L 1 4 1 3 0 2 h; L 2 4 2 3 0 2 h; L 3 4 0 1 1 2 h; } | expect ok 4 2
{ L 0 4 0 2 0 2 a; L 1 4 0 2 1 2 b; L 2 4 1 2 0 2 a; L 3 4 1 2 1 2 b; } | expect ok 4 2
{ L 0 3 0 3 0 1 h; L 1 3 1 3 0 1 h; } | expect bad 3 1                       # a rank missing
{ L 0 3 0 3 0 1 h; L 1 3 1 3 0 1 h; L 1 3 2 3 0 1 h; } | expect bad 3 1       # rank twice
{ L 0 3 0 3 0 1 h; L 1 3 1 3 0 1 h; L 2 2 2 3 0 1 h; } | expect bad 3 1       # wrong size
{ L 0 3 0 3 0 1 h; L 1 3 1 3 0 1 h; L 2 3 1 3 0 1 h; } | expect bad 3 1       # local rank twice
{ L 0 4 0 3 0 2 h; L 1 4 1 3 0 2 h; L 2 4 2 3 0 2 h; L 3 4 0 1 0 2 h; } | expect bad 4 2  # node 1 empty
{ L 0 4 0 1 1 2 h; L 1 4 0 3 0 2 h; L 2 4 1 3 0 2 h; L 3 4 2 3 0 2 h; } | expect bad 4 2  # node order
{ L 0 4 0 2 0 2 h; L 1 4 1 2 0 2 h; L 2 4 2 3 1 2 h; L 3 4 0 3 1 2 h; } | expect bad 4 2  # local size
{ L 0 2 0 2 0 1 a; L 1 2 1 2 0 1 b; } | expect bad 2 1                       # two hosts, one node
{ L 0 2 0 2 0 1 a; L 1 2 1 2 0 1 a; } | expect bad 2 2                       # want 2 nodes
((fails == 0)) && echo "check_info_selftest: OK" || { echo "check_info_selftest: $fails failure(s)"; exit 1; }
