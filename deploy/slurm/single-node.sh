#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying the campaign job array without a real
# cluster (and for the test that submits it). Needs Debian's slurm-wlm and munge, and root.
#
#   deploy/slurm/single-node.sh up      start munged (unless running), slurmctld and slurmd;
#                                       prints `export SLURM_CONF=...` for the client commands
#   deploy/slurm/single-node.sh down    stop what `up` started and remove its state
#   deploy/slurm/single-node.sh logs    print the daemons' logs
#
# Everything lives under $NESTSIM_SLURM_DIR (default /tmp/nestsim-slurm): the config, the
# state, the spool and the logs. The system's /etc/slurm is not touched. The node is this
# host, described by `slurmd -C`; process tracking is proctrack/linuxproc and task/none (no
# cgroups), accounting is off. Bring-up is bounded: each daemon gets a few tries, and if the
# node is not idle in time the logs are printed, everything is torn down and the script exits 1.
set -euo pipefail

DIR="${NESTSIM_SLURM_DIR:-/tmp/nestsim-slurm}"
CONF="$DIR/slurm.conf"
CTLD_PORT="${NESTSIM_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${NESTSIM_SLURMD_PORT:-6818}"
TRIES="${NESTSIM_SLURM_TRIES:-3}"
WAIT_S="${NESTSIM_SLURM_WAIT:-30}"

say() { printf 'single-node slurm: %s\n' "$*" >&2; }

need() {
  for c in slurmctld slurmd munged munge sinfo sbatch scontrol; do
    command -v "$c" >/dev/null 2>&1 || { say "expected $c on PATH (Debian: apt-get install slurm-wlm munge), found none"; exit 2; }
  done
  [ "$(id -u)" -eq 0 ] || { say "expected to run as root (the daemons and SlurmUser=root), found uid $(id -u)"; exit 2; }
}

logs() {
  for f in "$DIR"/log/*.log; do
    [ -e "$f" ] || continue
    printf '==> %s <==\n' "$f" >&2
    tail -n 60 "$f" >&2
  done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_ok; then return 0; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    say "no /etc/munge/munge.key: making one"
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged
  touch "$DIR/started-munged"
  for _ in $(seq 1 20); do munge_ok && return 0; sleep 0.25; done
  say "munged did not answer"
  return 1
}

write_conf() {
  local host node
  host="$(hostname -s)"
  # slurmd -C describes this host (CPUs, sockets, cores, threads, memory) as slurm.conf wants it.
  node="$(slurmd -C | head -n 1)"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
  cat > "$CONF" <<CONFEOF
ClusterName=nestsim
SlurmctldHost=$host
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
$node State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONFEOF
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_idle() {
  local state
  state="$(SLURM_CONF="$CONF" sinfo -h -N -o %T 2>/dev/null | head -n 1)"
  case "$state" in idle|mixed|allocated) return 0 ;; *) return 1 ;; esac
}

up() {
  need
  if [ -e "$CONF" ] && pid_alive "$DIR/run/slurmctld.pid"; then
    say "already up ($CONF)"
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  start_munge || { logs; down; exit 1; }
  write_conf
  local try
  for try in $(seq 1 "$TRIES"); do
    pid_alive "$DIR/run/slurmctld.pid" || slurmctld -f "$CONF" || true
    pid_alive "$DIR/run/slurmd.pid" || slurmd -f "$CONF" || true
    local waited=0
    while [ "$waited" -lt "$WAIT_S" ]; do
      if node_idle; then
        say "up after try $try: node $(hostname -s) idle ($CONF)"
        echo "export SLURM_CONF=$CONF"
        return 0
      fi
      # A node that came up DOWN (an earlier state, a slow slurmd): ask for it back.
      SLURM_CONF="$CONF" scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
      sleep 1
      waited=$((waited + 1))
    done
    say "try $try: node not idle after ${WAIT_S}s (state: $(SLURM_CONF="$CONF" sinfo -h -N -o %T 2>&1 | head -n 1)); restarting the daemons"
    stop_daemons
  done
  say "bring-up failed after $TRIES tries; the daemons' logs follow"
  logs
  down
  exit 1
}

stop_daemons() {
  local f
  for f in slurmd slurmctld; do
    if pid_alive "$DIR/run/$f.pid"; then
      kill "$(cat "$DIR/run/$f.pid")" 2>/dev/null || true
      for _ in $(seq 1 40); do pid_alive "$DIR/run/$f.pid" || break; sleep 0.25; done
      pid_alive "$DIR/run/$f.pid" && kill -9 "$(cat "$DIR/run/$f.pid")" 2>/dev/null || true
    fi
    rm -f "$DIR/run/$f.pid"
  done
}

down() {
  [ -d "$DIR" ] || return 0
  stop_daemons
  if [ -e "$DIR/started-munged" ]; then
    pkill -u munge -x munged 2>/dev/null || true
  fi
  rm -rf "$DIR"
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  logs) logs ;;
  *) say "usage: $0 up|down|logs"; exit 2 ;;
esac
