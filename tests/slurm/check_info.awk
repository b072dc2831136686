# check_info.awk — checks the lines "rank R/W local L/LS node N/NN host H backend B"
# printed by `ztrain info` (or tests/slurm/zt_info_probe): exactly W of them, ranks
# 0..W-1 once each, all of size W; NN nodes with ids 0..NN-1 numbered in order of
# their lowest rank; on each node local ranks 0..LS-1 once each, LS = ranks there,
# one host name per node. Other lines (a summary, logs) are ignored.
# Usage: awk -v W=3 -v NN=1 -f check_info.awk FILE
function fail(msg) { print "check_info: FAIL: " msg > "/dev/stderr"; bad = 1 }
/^rank [0-9]+\/[0-9]+ local [0-9]+\/[0-9]+ node [0-9]+\/[0-9]+ host [^ ]+ backend [^ ]+$/ {
    split($2, a, "/"); split($4, b, "/"); split($6, c, "/")
    r = a[1] + 0
    n++
    if (a[2] + 0 != W) fail("rank " r " says size " a[2] ", want " W)
    if (r in seen) fail("rank " r " printed twice")
    seen[r] = 1
    lr[r] = b[1] + 0; ls[r] = b[2] + 0; nd[r] = c[1] + 0; nn[r] = c[2] + 0; host[r] = $8
    next
}
END {
    if (n != W) fail("got " n " info lines, want " W)
    for (r = 0; r < W; r++) if (!(r in seen)) fail("rank " r " missing")
    if (bad) exit 1
    for (r = 0; r < W; r++) {
        if (nn[r] != NN) fail("rank " r " says " nn[r] " nodes, want " NN)
        if (nd[r] < 0 || nd[r] >= NN) fail("rank " r " has node id " nd[r])
        cnt[nd[r]]++
        if (!(nd[r] in low)) low[nd[r]] = r
        if ((nd[r] SUBSEP lr[r]) in lseen) fail("node " nd[r] ": local rank " lr[r] " twice")
        lseen[nd[r], lr[r]] = 1
        if (nd[r] in h && h[nd[r]] != host[r]) fail("node " nd[r] " has two host names")
        h[nd[r]] = host[r]
    }
    for (k = 0; k < NN; k++) {
        if (!(k in cnt)) { fail("node id " k " has no rank"); continue }
        if (k > 0 && (k - 1) in low && low[k] < low[k - 1]) fail("node " k " lowest rank " low[k] " < node " k - 1 "'s " low[k - 1])
    }
    for (r = 0; r < W; r++) {
        if (ls[r] != cnt[nd[r]]) fail("rank " r ": local size " ls[r] ", node " nd[r] " has " cnt[nd[r]] " ranks")
        if (lr[r] < 0 || lr[r] >= ls[r]) fail("rank " r ": local rank " lr[r] " not in 0.." ls[r] - 1)
    }
    if (bad) exit 1
    line = "check_info: OK: " W " ranks on " NN " node(s):"
    for (k = 0; k < NN; k++) line = line " node " k " has " cnt[k]
    print line
}
