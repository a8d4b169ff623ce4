#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests of `wavetrain sweep --slurm`
# (tests/slurm.rs): start | stop | status. Run as root.
#
#   start   installs Debian's slurm-wlm and munge when they are missing (apt-get), writes a
#           munge key and a slurm.conf into $WAVETRAIN_SLURM_DIR (default /tmp/wavetrain-slurm),
#           starts munged, slurmctld and slurmd with PID files there, and waits (at most 60 s)
#           until `sinfo` shows the node idle.
#   stop    stops the three daemons by their PID files (and nothing else); the folder stays,
#           with the logs, until the next start replaces it.
#   status  says whether the daemons run and shows `sinfo`.
#
# Slurm's commands find this cluster through SLURM_CONF: `export SLURM_CONF=$DIR/slurm.conf`
# (printed by start). tests/slurm.rs uses $WAVETRAIN_SLURM_DIR/slurm.conf when SLURM_CONF is
# not set. The node is this machine: NodeName from `hostname -s`, its CPUs (nproc) and memory;
# one default partition; no accounting, no cgroups (proctrack/linuxproc, task/none); jobs run
# as the user who submits them (root here: SlurmUser=root).
set -euo pipefail

DIR=${WAVETRAIN_SLURM_DIR:-/tmp/wavetrain-slurm}
CONF=$DIR/slurm.conf
DAEMONS=(slurmd slurmctld munged)

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

# The PID in $DIR/NAME.pid when that process is alive.
live_pid() {
  local f=$DIR/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop() {
  local d pid i
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        say "$d (PID $pid) did not stop within 5 s; killing it"
        kill -9 "$pid" 2>/dev/null || true
      fi
      say "stopped $d (PID $pid)"
    fi
    rm -f "$DIR/$d.pid"
  done
}

status() {
  local d pid up=0
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then
      say "$d runs (PID $pid)"
      up=$((up + 1))
    else
      say "$d is not running"
    fi
  done
  if [[ $up -eq ${#DAEMONS[@]} ]]; then
    SLURM_CONF=$CONF sinfo
    return 0
  fi
  return 1
}

install() {
  local missing=()
  command -v munged >/dev/null || missing+=(munge)
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    || missing+=(slurm-wlm)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start() {
  [[ $(id -u) -eq 0 ]] || die "start needs root (it starts munged, slurmctld and slurmd)"
  if status >/dev/null 2>&1; then
    say "already running (SLURM_CONF=$CONF)"
    return 0
  fi
  stop >/dev/null 2>&1 || true
  install
  local node cpus mem_mb
  node=$(hostname -s)
  cpus=$(nproc)
  mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
  rm -rf "$DIR"
  mkdir -p "$DIR"/{munge,state,spool,log}
  chmod 700 "$DIR" "$DIR/munge"

  # MUNGE: a key of our own, the daemon's socket, PID, log and seed files in $DIR.
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$DIR/munge/munge.key"
  munged --force \
    --key-file="$DIR/munge/munge.key" \
    --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" \
    || die "munged did not start: see $DIR/log/munged.log"

  cat >"$CONF" <<EOF
# A one-node cluster for wavetrain's tests (scripts/slurm-local.sh).
ClusterName=wavetrain
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
MinJobAge=600
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$CONF
  # -c: a clean start, no state from an earlier cluster.
  slurmctld -c -f "$CONF" || die "slurmctld did not start: see $DIR/log/slurmctld.log"
  slurmd -c -f "$CONF" || die "slurmd did not start: see $DIR/log/slurmd.log"

  local i state=""
  for i in $(seq 1 120); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
  done
  if [[ $state != idle ]]; then
    say "the node $node is not idle after 60 s (state: '${state:-no answer}'); logs:"
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    stop
    exit 1
  fi
  say "running: node $node ($cpus CPUs, $mem_mb MB), partition local"
  echo "export SLURM_CONF=$CONF"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
