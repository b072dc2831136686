#!/usr/bin/env bash
# cluster.sh — a private, real Slurm cluster on this machine for the tests.
#
#   cluster.sh start [1|2|4] one node (CPUs=8), two simulated nodes n1,n2 (CPUs=4 each)
#                            or four n1..n4 (CPUs=2 each: 4 nodes x 2 tasks)
#   cluster.sh stop          cancel jobs, stop slurmd(s), slurmctld, munged; remove the dir
#   cluster.sh status        exit 0 if up with every node idle/allocated/mixed, else 1
#   cluster.sh env           print "export SLURM_CONF=..." for a shell
#   cluster.sh kill-node N   SIGKILL node N's slurmd (node-loss tests; pid file)
#   cluster.sh revive-node N start node N's slurmd again and resume the node
#
# Where things live: everything is under one directory, ZT_SLURM_DIR
# (default /tmp/ztrain-slurm): slurm.conf, a private munged (own key, socket,
# pid, log, seed), StateSaveLocation, SlurmdSpoolDir=spool/%n, TmpFS=tmp/%n,
# pid files and logs (log/). Nothing is written to /etc, /run or /var: clients
# find the cluster through SLURM_CONF=$ZT_SLURM_DIR/slurm.conf (ctest sets it;
# by hand: eval "$(tests/slurm/cluster.sh env)"). `stop` removes the directory,
# so nothing is left behind. Ports: slurmctld ZT_SLURM_PORT (default 16817),
# slurmd ZT_SLURM_PORT+1, or 17001-17004 for n1..n4 (ZT_SLURM_PORT+184..187).
#
# Facts this relies on (Slurm 22.05.8 on Debian 12):
# run as root; proctrack/linuxproc + task/none; MpiDefault=pmix;
# SlurmdParameters=config_overrides lets 8 CPUs be declared on 2 cores; two
# simulated nodes need multiple-slurmd (Debian has it) and a TmpFS per node
# (else both slurmstepds collide on spmix_appdir_*); AuthInfo=cred_expire=5
# makes a requeued job start again within ~25 s instead of ~2 min. Found
# here: OpenMPI's shared-memory segments also collide between simulated
# nodes (same hostname); a TaskProlog gives each node its own directory
# (OMPI_MCA_btl_vader_backing_directory=$ZT_SLURM_DIR/tmp/<node>).
#
# Start is idempotent: an already running cluster of the same shape is left
# alone; one of the other shape is stopped first. Measured on this 2-core
# machine: start 1 ≈ 3-4 s, start 2 ≈ 4-5 s, stop ≈ 1-2 s (see the report
# line "cluster.sh: up ... in N s").
#
# Users: the daemons run as root, jobs as whoever submits them. slurm.conf,
# the munge socket and each node's TmpFS are reachable by every user, so a
# non-root user can sbatch/srun/scancel here with SLURM_CONF set (the job's
# binary, data and working directory must of course be theirs to read/write).
#
# Exit codes: 0 ok, 1 failure (logs printed), 77 Slurm/munge not installed
# or not root (ctest SKIP_RETURN_CODE): printed loudly, never silently.
set -uo pipefail

DIR=${ZT_SLURM_DIR:-/tmp/ztrain-slurm}
PORT=${ZT_SLURM_PORT:-16817}
CONF=$DIR/slurm.conf
MUNGE_SOCK=$DIR/munge/munge.socket
HOST=$(hostname -s)
export SLURM_CONF=$CONF
me="cluster.sh"

say() { echo "$me: $*" >&2; }

skip_loudly() {
    {
        echo "######################################################################"
        echo "## SKIPPED: $*"
        echo "## The Slurm tests need slurm-wlm, slurmctld, slurmd, slurm-client,"
        echo "## munge and libpmix-dev (scripts/setup.sh installs them) and root."
        echo "######################################################################"
    } >&2
    exit 77
}

check_installed() {
    local missing=()
    for c in munged mungekey slurmctld slurmd srun sbatch sinfo squeue scontrol scancel; do
        command -v "$c" >/dev/null 2>&1 || [[ -x /usr/sbin/$c ]] || missing+=("$c")
    done
    ((${#missing[@]} == 0)) || skip_loudly "Slurm is not installed here (missing: ${missing[*]})"
    [[ $(id -u) == 0 ]] || skip_loudly "not root: slurmd must run as root"
    local plugdir
    plugdir=$(ls -d /usr/lib/*/slurm-wlm /usr/lib/slurm 2>/dev/null | head -1)
    [[ -n $plugdir && -e $plugdir/mpi_pmix.so ]] ||
        skip_loudly "Slurm has no mpi_pmix plugin (${plugdir:-no plugin dir})"
}

PATH=$PATH:/usr/sbin:/sbin

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# nofd CMD...: run CMD with every inherited descriptor above 2 closed. The
# daemons outlive this script; one that kept the caller's descriptors would
# keep holding whatever they hold — notably the shared lock of
# `flock /tmp/ztrain-slurm.lock ctest ...` (flock(1) passes its locked
# descriptor to the command unless -o), so a cluster left running would
# block every later flock user until its munged died (seen).
nofd() (
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
        ((fd > 2)) && eval "exec $fd>&-"
    done
    exec "$@"
)
pid_of() { [[ -s $1 ]] && cat "$1" 2>/dev/null; }

nodes_of_shape() {   # the node names of shape 1, 2 or 4
    case $1 in
        2) echo "n1 n2" ;;
        4) echo "n1 n2 n3 n4" ;;
        *) echo "$HOST" ;;
    esac
}

write_conf() {
    local shape=$1
    mkdir -p "$DIR"/{munge,state,spool,log,run,tmp}
    # Jobs are submitted by ordinary users too (tests/slurm/e2e_user.sh):
    # every client reads slurm.conf and talks to munged through its socket,
    # so the directories on the way are world-searchable (the key stays 0600,
    # readable by root alone; munged makes its socket 0777).
    chmod 755 "$DIR" "$DIR/munge" "$DIR/tmp"
    local nodes
    if [[ $shape == 2 || $shape == 4 ]]; then
        # 8 CPUs in all on 2 cores (config_overrides), as one node has: 2 nodes
        # x 4 or 4 nodes x 2; no RealMemory (CR_CPU: memory is not scheduled)
        local n cpus=$((8 / shape))
        for n in $(nodes_of_shape "$shape"); do mkdir -p "$DIR/spool/$n" "$DIR/tmp/$n"; done
        nodes="NodeName=n[1-$shape] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 184))-$((PORT + 183 + shape)) CPUs=$cpus State=UNKNOWN"
    else
        mkdir -p "$DIR/spool/$HOST" "$DIR/tmp/$HOST"
        nodes="NodeName=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 1)) CPUs=8 State=UNKNOWN"
    fi
    # each node's TmpFS holds the OpenMPI segments of the tasks (TaskProlog
    # below), which run as the submitting user: writable by all, like /tmp
    chmod 1777 "$DIR"/tmp/*
    # TaskProlog: OpenMPI's shared-memory BTL names its segments
    # vader_segment.<hostname>.<jobid>.<local rank> in /dev/shm; simulated
    # nodes share one hostname, so ranks with the same local rank on n1 and n2
    # would map the same segment and crash (seen: SIGSEGV in
    # mca_btl_vader_poll_handle_frag with 2+2 tasks). Each node gets its own
    # directory (its TmpFS); it also keeps crashed jobs' segments out of
    # /dev/shm: they go with the state dir at stop.
    cat >"$DIR/taskprolog.sh" <<EOF
#!/bin/sh
echo "export OMPI_MCA_btl_vader_backing_directory=$DIR/tmp/\${SLURMD_NODENAME:-$HOST}"
EOF
    chmod 755 "$DIR/taskprolog.sh"
    cat >"$CONF" <<EOF
# written by tests/slurm/cluster.sh (shape $shape); removed by "cluster.sh stop"
ClusterName=ztrain
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK,cred_expire=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
TmpFS=$DIR/tmp/%n
TaskProlog=$DIR/taskprolog.sh
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
# a job that could not start at submit time (its nodes still completing the
# job before it, or a requeue's begin time) waits for the next scheduler
# pass: every 30 s (backfill) or 60 s (main) by default; a 2-node test job
# needs seconds, not half a minute
SchedulerParameters=bf_interval=1,sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# short timers keep the tests short: a killed step is SIGKILLed 5 s after SIGTERM
KillWait=5
MinJobAge=30
InactiveLimit=0
MessageTimeout=10
SlurmdTimeout=60
SlurmctldTimeout=30
$nodes
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
    local pid
    pid=$(pid_of "$DIR/munge/munged.pid")
    pid_alive "$pid" && return 0
    if [[ ! -s $DIR/munge/munge.key ]]; then
        mungekey --create --keyfile="$DIR/munge/munge.key" 2>/dev/null ||
            { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none; }
        chmod 600 "$DIR/munge/munge.key"
    fi
    nofd munged --force --socket="$MUNGE_SOCK" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" ||
        { say "munged failed to start"; cat "$DIR/log/munged.log" >&2; return 1; }
    for _ in $(seq 50); do [[ -S $MUNGE_SOCK ]] && return 0; sleep 0.1; done
    say "munged socket $MUNGE_SOCK did not appear"
    return 1
}

dump_logs() {
    for f in "$DIR"/log/*.log; do
        [[ -f $f ]] || continue
        echo "----- $f (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
}

# 0 if every node of the shape answers sinfo as idle (or busy), else 1
nodes_ready() {
    local states
    states=$(sinfo -h -N -o '%N %T' 2>/dev/null) || return 1
    for n in $(nodes_of_shape "$1"); do
        grep -Eq "^$n (idle|allocated|mixed|completing)$" <<<"$states" || return 1
    done
}

running_shape() {   # prints the shape of a running cluster, or nothing
    [[ -s $DIR/shape ]] || return 0
    local pid
    pid=$(pid_of "$DIR/run/slurmctld.pid")
    pid_alive "$pid" && cat "$DIR/shape"
}

do_start() {
    local shape=${1:-1}
    [[ $shape == 1 || $shape == 2 || $shape == 4 ]] || { say "start wants 1, 2 or 4, got '$shape'"; return 2; }
    check_installed
    local t0ns
    t0ns=$(date +%s%N)
    local cur
    cur=$(running_shape)
    if [[ $cur == "$shape" ]] && nodes_ready "$shape"; then
        say "already up ($shape node(s)): SLURM_CONF=$CONF"
        return 0
    fi
    [[ -n $cur || -d $DIR ]] && do_stop >/dev/null 2>&1
    write_conf "$shape"
    echo "$shape" >"$DIR/shape"
    start_munged || { dump_logs; return 1; }
    # the daemons find slurm.conf through SLURM_CONF (exported above), so
    # their command lines stay "slurmctld -i", "slurmd -N n1", "slurmd -N n2"...
    nofd slurmctld -i || { say "slurmctld failed"; dump_logs; return 1; }
    if [[ $shape != 1 ]]; then
        local n
        for n in $(nodes_of_shape "$shape"); do
            nofd slurmd -N "$n" || { say "slurmd -N $n failed"; dump_logs; return 1; }
        done
    else
        nofd slurmd || { say "slurmd failed"; dump_logs; return 1; }
    fi
    local deadline=$((SECONDS + 60))
    until nodes_ready "$shape"; do
        if ((SECONDS > deadline)); then
            say "nodes did not become idle within 60 s"
            sinfo -N >&2
            dump_logs
            return 1
        fi
        # a node that registered DOWN (e.g. after an unclean stop) is resumed
        for n in $(nodes_of_shape "$shape"); do
            sinfo -h -n "$n" -o '%T' 2>/dev/null | grep -q '^down' &&
                scontrol update NodeName="$n" State=RESUME >/dev/null 2>&1
        done
        sleep 0.2
    done
    local ms=$((($(date +%s%N) - t0ns) / 1000000))
    say "up ($shape node(s): $(nodes_of_shape "$shape")) in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; SLURM_CONF=$CONF"
}

# slurmstepd processes of this cluster (their open files lie under $DIR).
# The name is read with the shell's own `read` (no fork per process: with a
# few hundred processes on a loaded machine a `cat` each took ~15 s).
our_stepds() {
    local f p c
    for f in /proc/[0-9]*/comm; do
        read -r c 2>/dev/null <"$f" || continue
        [[ $c == slurmstepd ]] || continue
        p=${f%/comm}
        local fd
        for fd in "$p"/fd/*; do
            [[ $(readlink "$fd" 2>/dev/null) == "$DIR/"* ]] && { echo "${p#/proc/}"; break; }
        done
    done
}

wait_gone() {   # pid... : wait up to 10 s, then SIGKILL
    local p
    for _ in $(seq 100); do
        local alive=0
        for p in "$@"; do pid_alive "$p" && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    for p in "$@"; do pid_alive "$p" && kill -KILL "$p" 2>/dev/null; done
    return 0
}

do_stop() {
    local t0ns pids=() p
    t0ns=$(date +%s%N)
    if [[ ! -d $DIR ]]; then
        say "not running (no $DIR)"
        return 0
    fi
    local ctld
    ctld=$(pid_of "$DIR/run/slurmctld.pid")
    if pid_alive "$ctld"; then
        # end every job first so no step outlives the daemons
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null)
        if [[ -n $jobs ]]; then
            scancel $jobs 2>/dev/null
            for _ in $(seq 100); do
                [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
                sleep 0.1
            done
        fi
        scontrol shutdown >/dev/null 2>&1
    fi
    for f in "$DIR"/run/*.pid; do
        [[ -f $f ]] && p=$(pid_of "$f") && pid_alive "$p" && pids+=("$p")
    done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait_gone "${pids[@]}"
    local steps
    steps=$(our_stepds)
    if [[ -n $steps ]]; then
        kill -KILL $steps 2>/dev/null
        wait_gone $steps
    fi
    local mp
    mp=$(pid_of "$DIR/munge/munged.pid")
    if pid_alive "$mp"; then
        kill -TERM "$mp" 2>/dev/null
        wait_gone "$mp"
    fi
    rm -rf "$DIR"
    local ms=$((($(date +%s%N) - t0ns) / 1000000))
    say "stopped in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; removed $DIR"
}

# kill-node NODE: SIGKILL that node's slurmd (simulated node loss; by its pid
# file, never by name). Its tasks are the caller's to kill.
do_kill_node() {
    local node=${1:-} pid
    [[ -n $node ]] || { say "kill-node wants a node name"; return 2; }
    pid=$(pid_of "$DIR/run/slurmd-$node.pid")
    if ! pid_alive "$pid"; then
        say "no running slurmd for node '$node'"
        return 1
    fi
    kill -KILL "$pid"
    wait_gone "$pid"
    say "slurmd of $node (pid $pid) killed"
}

# revive-node NODE: start that node's slurmd again and resume it (after
# kill-node), so later tests and `stop` find a whole cluster
do_revive_node() {
    local node=${1:-} pid shape
    [[ -n $node ]] || { say "revive-node wants a node name"; return 2; }
    shape=$(running_shape)
    [[ $shape == 2 || $shape == 4 ]] || { say "revive-node: no multi-node cluster running"; return 1; }
    pid=$(pid_of "$DIR/run/slurmd-$node.pid")
    if ! pid_alive "$pid"; then
        nofd slurmd -N "$node" || { say "slurmd -N $node failed"; dump_logs; return 1; }
    fi
    scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1
    local deadline=$((SECONDS + 60))
    until nodes_ready "$shape"; do
        ((SECONDS > deadline)) && { say "node $node not ready 60 s after revive"; sinfo -N >&2; return 1; }
        sinfo -h -n "$node" -o '%T' 2>/dev/null | grep -Eq '^(down|drain)' &&
            scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1
        sleep 0.2
    done
    say "node $node revived"
}

do_status() {
    check_installed
    local shape
    shape=$(running_shape)
    if [[ -z $shape ]]; then
        say "down"
        return 1
    fi
    sinfo -N -o '%N %T %c' 2>/dev/null
    if nodes_ready "$shape"; then
        say "up ($shape node(s)), SLURM_CONF=$CONF"
        return 0
    fi
    say "slurmctld runs but not every node is ready"
    return 1
}

case ${1:-} in
    start)  do_start "${2:-1}" ;;
    stop)   do_stop ;;
    status) do_status ;;
    env)    echo "export SLURM_CONF=$CONF" ;;
    kill-node) do_kill_node "${2:-}" ;;
    revive-node) do_revive_node "${2:-}" ;;
    *) echo "usage: $me start [1|2|4] | stop | status | env | kill-node NODE | revive-node NODE" >&2; exit 2 ;;
esac
