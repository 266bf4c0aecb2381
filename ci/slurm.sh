#!/usr/bin/env bash
# ci/slurm.sh: a one-node Slurm cluster on loopback, every file of it under
# one directory, for the Slurm tests and examples (Debian 12's slurm 22.05 and
# munge packages; runs as root; no systemd).
#
#   bash ci/slurm.sh install      apt-get the packages if missing (about 12 s)
#   bash ci/slurm.sh start DIR    write DIR/etc/slurm.conf, start munged,
#                                 slurmctld and slurmd; wait until the node is idle
#   bash ci/slurm.sh env DIR      print 'export SLURM_CONF=...' (eval it)
#   bash ci/slurm.sh status DIR   exit 0 when the three daemons of DIR run
#   bash ci/slurm.sh stop DIR     cancel every job, stop the daemons of DIR
#
# start and stop are idempotent. stop signals only the processes this script
# started: each daemon's pid comes from its pid file under DIR and is checked
# first (its command line names DIR, or its environment carries the marker
# CF_SLURM_DIR=DIR the script gives it). A left-over job step daemon
# (slurmstepd inherits the marker) and its descendants are found the same
# way. Nothing is ever killed by name.
#
# Knobs: CF_SLURM_PORT (slurmctld's port, default 6817; slurmd takes the next),
# CF_SLURM_OVERSUBSCRIBE (jobs per core, default 16).
set -euo pipefail

die() { echo "ci/slurm.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 install|start|env|status|stop DIR"

do_install() {
    local pkgs=()
    command -v slurmctld >/dev/null || pkgs+=(slurmctld)
    command -v slurmd >/dev/null || pkgs+=(slurmd)
    command -v sbatch >/dev/null || pkgs+=(slurm-client)
    command -v munged >/dev/null || pkgs+=(munge)
    [ ${#pkgs[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "no apt-get: install ${pkgs[*]} by hand"
    [ "$(id -u)" = 0 ] || die "installing ${pkgs[*]} needs root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

if [ "$cmd" = install ]; then
    t0=$(now)
    do_install
    echo "ci/slurm.sh: installed in $(since "$t0") s"
    exit 0
fi

[ -n "${2:-}" ] || die "usage: $0 $cmd DIR"
mkdir -p "$2"
D=$(cd "$2" && pwd)
CONF=$D/etc/slurm.conf
PORT=${CF_SLURM_PORT:-6817}
OVERSUB=${CF_SLURM_OVERSUBSCRIBE:-16}
MSOCK=$D/munge/munge.sock
export SLURM_CONF=$CONF

if [ "$cmd" = env ]; then
    echo "export SLURM_CONF=$CONF"
    exit 0
fi

# The pid in FILE if that process is alive and ours (see the header).
our_pid() {
    local file=$1 pid
    [ -s "$file" ] || return 1
    pid=$(cat "$file")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$D/" ||
        { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "CF_SLURM_DIR=$D"; then
        echo "$pid"
    else
        return 1
    fi
}

# TERM to each pid in $2..., up to $1 seconds for all of them to go, then KILL.
stop_pids() {
    local wait_s=$1 pid i alive
    shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < wait_s * 20; i++)); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && return 0
        sleep 0.05
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "ci/slurm.sh: pid $pid ignored TERM for ${wait_s} s, sending KILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

write_config() {
    local cpus mem
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    mkdir -p "$D"/{etc,munge,spool/ctld,spool/d,log,run}
    # munged wants every directory above its socket searchable by all.
    chmod 755 "$D" "$D/munge"
    [ ${#MSOCK} -lt 100 ] || die "DIR is too long for a unix socket path: $MSOCK"
    cat >"$CONF.new" <<EOF
# written by ci/slurm.sh; every path is under $D; loopback only
ClusterName=cfci
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MSOCK
CredType=cred/munge
StateSaveLocation=$D/spool/ctld
SlurmdSpoolDir=$D/spool/d
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Batch jobs start on the next 1 s tick (the default waits 3 s).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# A job whose dependency can never be met is cancelled, not left PENDING.
DependencyParameters=kill_invalid_depend
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
OverTimeLimit=0
MaxArraySize=10001
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$OVERSUB
EOF
    mv "$CONF.new" "$CONF"
}

do_status() {
    local bad=0 f pid
    for f in "$D/munge/munged.pid" "$D/run/slurmctld.pid" "$D/run/slurmd.pid"; do
        if pid=$(our_pid "$f"); then echo "running: $(basename "$f" .pid) pid $pid"; else
            echo "stopped: $(basename "$f" .pid)"
            bad=1
        fi
    done
    return $bad
}

do_start() {
    local t0 i state
    t0=$(now)
    command -v slurmctld >/dev/null || die "Slurm is not installed: run 'bash $0 install' first"
    if do_status >/dev/null 2>&1; then
        echo "ci/slurm.sh: already running in $D"
        return 0
    fi
    write_config
    if ! our_pid "$D/munge/munged.pid" >/dev/null; then
        [ -s "$D/munge/munge.key" ] || mungekey --create --keyfile="$D/munge/munge.key" --force
        chmod 600 "$D/munge/munge.key"
        env CF_SLURM_DIR="$D" munged --key-file="$D/munge/munge.key" --socket="$MSOCK" \
            --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
            --seed-file="$D/munge/munged.seed" --force
    fi
    munge -S "$MSOCK" -n | unmunge -S "$MSOCK" >/dev/null || die "munge does not work, see $D/munge/munged.log"
    if ! our_pid "$D/run/slurmctld.pid" >/dev/null; then
        env CF_SLURM_DIR="$D" SLURM_CONF="$CONF" slurmctld -f "$CONF"
    fi
    if ! our_pid "$D/run/slurmd.pid" >/dev/null; then
        env CF_SLURM_DIR="$D" SLURM_CONF="$CONF" slurmd -f "$CONF" -N localhost
    fi
    state=
    for ((i = 0; i < 300; i++)); do
        state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
        case "$state" in idle | mixed | allocated) break ;; esac
        sleep 0.1
    done
    case "$state" in
    idle | mixed | allocated) ;;
    *)
        tail -n 20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 || true
        die "node not up after 30 s (state '$state')"
        ;;
    esac
    echo "ci/slurm.sh: up in $(since "$t0") s; export SLURM_CONF=$CONF"
}

# Live processes whose environment carries CF_SLURM_DIR=$D.
marked_pids() {
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "CF_SLURM_DIR=$D"; then echo "$p"; fi
    done
}

do_stop() {
    local t0 pid i left f marked
    t0=$(now)
    if our_pid "$D/run/slurmctld.pid" >/dev/null; then
        # SLURM_CONF names this cluster only, so scancel reaches nothing else.
        scancel --quiet --user="$(id -un)" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            left=$(squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING -o %i 2>/dev/null | wc -l || echo 0)
            [ "$left" -eq 0 ] && break
            sleep 0.1
        done
    fi
    local pids=()
    for f in "$D/run/slurmd.pid" "$D/run/slurmctld.pid"; do
        if pid=$(our_pid "$f"); then pids+=("$pid"); fi
    done
    stop_pids 20 "${pids[@]}"
    # Job step daemons that outlived slurmd, with their jobs: KILL each
    # marked process (munged excepted, it goes last) and its descendants.
    local munged
    munged=$(our_pid "$D/munge/munged.pid" || true)
    marked=$(marked_pids | grep -vx "${munged:-none}" || true)
    if [ -n "$marked" ]; then
        echo "ci/slurm.sh: killing left-over processes of $D:" $marked >&2
        for pid in $(ps -eo pid=,ppid= | awk -v roots="$marked" '
            BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
            { parent[$1] = $2 }
            END {
                do { added = 0
                     for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; added = 1 }
                } while (added)
                for (p in keep) print p
            }'); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
    if [ -n "$munged" ]; then stop_pids 5 "$munged"; fi
    rm -f "$D/run/"*.pid
    echo "ci/slurm.sh: stopped in $(since "$t0") s"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*) die "unknown command $cmd" ;;
esac
