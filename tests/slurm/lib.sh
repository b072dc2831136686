# shellcheck shell=bash
# lib.sh — shared by the Slurm test scripts (sourced, not run).
# require_cluster SHAPE: skip loudly (77) where Slurm is not installed, fail
# where it is installed but the fixture's cluster is not up.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$HERE/cluster.sh
export SLURM_CONF=${SLURM_CONF:-${ZT_SLURM_DIR:-/tmp/ztrain-slurm}/slurm.conf}

require_cluster() {
    local shape=${1:-1} out rc
    out=$("$CLUSTER" status 2>&1); rc=$?
    if ((rc == 77)); then echo "$out" >&2; exit 77; fi
    if ! command -v srun >/dev/null 2>&1; then
        echo "######## SKIPPED: Slurm (srun) is not installed here ########" >&2
        exit 77
    fi
    if ((rc != 0)); then
        echo "$out" >&2
        echo "FAIL: the local Slurm cluster is not up (did the fixture slurm$shape fail? see cluster.sh start $shape)" >&2
        exit 1
    fi
    local want
    want=$(cat "$(dirname "$SLURM_CONF")/shape" 2>/dev/null)
    if [[ $want != "$shape" ]]; then
        echo "FAIL: the cluster has shape '$want', this test needs $shape (fixture slurm$shape)" >&2
        exit 1
    fi
}

# check_info FILE W NN: the info lines in FILE describe W ranks on NN nodes.
check_info() {
    awk -v W="$2" -v NN="$3" -f "$HERE/check_info.awk" "$1"
}
