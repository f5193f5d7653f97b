#!/usr/bin/env bash
# Bring up (or stop) a real single-node SLURM cluster on this machine, from
# Debian's packages, for tests/slurm/run_on_slurm.py.
#
#   sudo tests/slurm/slurm_cluster.sh start
#   sudo tests/slurm/slurm_cluster.sh stop
#
# Needs root (it starts munged, slurmctld and slurmd) and Debian 12 or similar.
# The config goes to /etc/slurm/slurm.conf (refusing to replace one it did not
# write); state, spool, logs and process ids live under $SLURM_TEST_DIR
# (default /tmp/csc-slurm). No cgroups are used (proctrack/linuxproc,
# task/none), so it also runs inside a container.
# The node offers 2 CPUs and 8,000 MB, enough for two of the workflow's jobs
# at once; SLURM enforces neither limit without cgroups.
set -euo pipefail

STATE=${SLURM_TEST_DIR:-/tmp/csc-slurm}
# SLURM's default place: job steps (srun inside a job) look only there, as the
# executor plugin clears SLURM_* variables such as SLURM_CONF in its jobs.
CONF=/etc/slurm/slurm.conf
MARKER="# Written by tests/slurm/slurm_cluster.sh"
NODE=$(hostname -s)

install_packages() {
	if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client
	fi
}

write_config() {
	if [ -e "$CONF" ] && ! grep -qxF "$MARKER" "$CONF"; then
		echo "$CONF exists and was not written by this script: not touching a real cluster" >&2
		exit 1
	fi
	mkdir -p "$STATE/ctld" "$STATE/spool" "$(dirname "$CONF")"
	cat >"$CONF" <<EOF
$MARKER
ClusterName=csctest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes, which is how the
# executor plugin learns their state when there is no accounting database.
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=8000 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
	if munge -n </dev/null >/dev/null 2>&1; then
		return
	fi
	test -s /etc/munge/munge.key || mungekey --create --keyfile /etc/munge/munge.key
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
	install -d -o munge -g munge -m 0755 /run/munge
	runuser -u munge -- /usr/sbin/munged
	echo "$(cat /run/munge/munged.pid)" >"$STATE/munged.pid"
}

start() {
	install_packages
	write_config
	start_munge
	for daemon in slurmctld slurmd; do
		if ! { [ -s "$STATE/$daemon.pid" ] && kill -0 "$(cat "$STATE/$daemon.pid")" 2>/dev/null; }; then
			"$daemon" -f "$CONF"
		fi
	done
	for _ in $(seq 60); do
		if sinfo --noheader --states=idle --format=%N 2>/dev/null | grep -q .; then
			sinfo
			return
		fi
		sleep 1
	done
	echo "The node did not become idle; see $STATE/slurmctld.log and $STATE/slurmd.log" >&2
	exit 1
}

stop() {
	# Only the daemons this script started, by the process ids they recorded.
	for daemon in slurmd slurmctld munged; do
		if [ -s "$STATE/$daemon.pid" ]; then
			kill "$(cat "$STATE/$daemon.pid")" 2>/dev/null || true
			rm -f "$STATE/$daemon.pid"
		fi
	done
	if [ -e "$CONF" ] && grep -qxF "$MARKER" "$CONF"; then
		rm -f "$CONF"
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
