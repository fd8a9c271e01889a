#!/bin/bash
# A throwaway single-node Slurm on localhost, for the sweep test: munged and slurmctld + slurmd
# started by hand (no systemd here), every file in one directory, stopped by their own pid files.
#
#   cluster.sh start DIR   write DIR/slurm.conf, start the daemons, wait until the node is idle
#   cluster.sh stop DIR    stop the daemons this script started in DIR
#
# Clients find the cluster with SLURM_CONF=DIR/slurm.conf. Needs root (SlurmUser root), Debian's
# slurm-wlm and munge.
set -euo pipefail

cmd=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}

stop() {
  # slurmd first (it reports to slurmctld), munged last (both authenticate through it).
  for name in slurmd slurmctld munged; do
    local pidfile="$dir/$name.pid"
    [ -s "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "cluster.sh: expected start or stop, got $cmd" >&2; exit 2; }

missing=()
for bin in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/bin/scontrol; do
  [ -x "$bin" ] || missing+=("$bin")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cluster.sh: missing ${missing[*]}: install Debian's slurm-wlm and munge (test/system-packages.sh does)" >&2
  exit 3
fi
[ "$(id -u)" -eq 0 ] || { echo "cluster.sh: must run as root (the test cluster's SlurmUser is root)" >&2; exit 3; }

mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
trap 'stop' ERR

# munge: a fresh key and a socket of our own, so a system munged (if any) is left alone.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
/usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"
for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done

host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
# Ports of our own, away from a system Slurm's 6817/6818.
port=$((20000 + RANDOM % 20000))
cat >"$dir/slurm.conf" <<CONF
ClusterName=spadetest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# Clients (scontrol, sbatch) read the same file.
echo "$dir/slurm.conf" >"$dir/SLURM_CONF"
export SLURM_CONF="$dir/slurm.conf"

/usr/sbin/slurmctld -f "$dir/slurm.conf" -i
/usr/sbin/slurmd -f "$dir/slurm.conf" -N "$host"
for _ in $(seq 150); do
  state=$(/usr/bin/scontrol show node "$host" -o 2>/dev/null | sed -n 's/.*State=\([A-Z+_]*\).*/\1/p')
  case "$state" in IDLE*) exit 0 ;; esac
  sleep 0.2
done
echo "cluster.sh: the node did not come up idle (state: ${state:-none}); logs in $dir" >&2
tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 1
