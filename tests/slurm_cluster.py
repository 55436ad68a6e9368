"""A throwaway single-node SLURM on this machine, for the tests: munged, slurmctld, slurmd.

Everything lives in a fresh folder (configuration, state, spool, logs, PID files and a
private munged socket and key), the daemons listen on free ports, and every daemon is
stopped by its PID file at the end, so nothing is left running and an installed SLURM or
munge setup is neither used nor touched. Needs root (munged runs as user munge, slurmd as
root) and the Debian packages slurmctld, slurmd, slurm-client and munge (Slurm 22.05).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel")
PARTITION = "test"


def unavailable_reason() -> str | None:
    """Why a SLURM can't be started here, or None if it can."""
    absent = [command for command in COMMANDS if shutil.which(command) is None]
    if absent:
        return (
            f"SLURM is not installed ({', '.join(absent)} not on PATH); as root: apt-get "
            "install slurmctld slurmd slurm-client munge (.ci/run does it)"
        )
    if os.geteuid() != 0:
        return "starting munged (as user munge) and slurmd needs root"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "there is no user munge (the munge package creates it)"
    return None


@dataclass
class SlurmCluster:
    """A running single-node SLURM: its folder, partition and size."""

    root: Path
    partition: str
    cpus: int
    memory_mb: int

    @property
    def env(self) -> dict[str, str]:
        """The environment for SLURM commands (and Snakemake) that talk to this cluster."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf"), "PATH": path}

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM command against this cluster."""
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=30, check=check
        )

    def submitted_jobs(self) -> list[int]:
        """The id of every batch job submitted so far (from slurmctld's log)."""
        log = (self.root / "slurmctld.log").read_text()
        return [int(i) for i in re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", log)]

    def active_jobs(self) -> list[str]:
        """The jobs pending, running or ending."""
        done = self.run("squeue", "--noheader", "--format=%i", "--states=PD,CF,R,CG")
        return done.stdout.split()

    def cancel_all(self, timeout: float = 30) -> None:
        """Cancel every job and wait until none is left running."""
        with contextlib.suppress(subprocess.SubprocessError):
            self.run("scancel", f"--partition={self.partition}", check=False)
            deadline = time.monotonic() + timeout
            while self.active_jobs() and time.monotonic() < deadline:
                time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_size() -> tuple[int, int]:
    """CPUs and ~80 % of the memory (MB) of this machine, as slurmd sees them."""
    found = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    cpus = int(re.search(r"\bCPUs=(\d+)", found).group(1))
    memory = int(re.search(r"\bRealMemory=(\d+)", found).group(1))
    return cpus, memory * 8 // 10


def _slurm_conf(root: Path, cpus: int, memory_mb: int, partition: str) -> str:
    return f"""\
ClusterName=aiatest
SlurmctldHost=localhost
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
PlugStackConfig={root}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _srun_shim(root: Path) -> None:
    """bin/srun, which points the real srun at this cluster's slurm.conf.

    Inside a SLURM job the executor plugin (slurm-jobstep) runs each rule with srun, but
    first drops every SLURM_* variable, SLURM_CONF included; a real cluster keeps its
    slurm.conf where srun looks by default (or runs configless), this one can't.
    """
    shim = root / "bin" / "srun"
    shim.parent.mkdir()
    srun = shutil.which("srun")
    shim.write_text(f'#!/bin/sh\nSLURM_CONF={root}/slurm.conf exec {srun} "$@"\n')
    shim.chmod(0o755)


def _alive(pid: int) -> bool:
    """Whether process pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait_for(condition, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {log}:\n" + "\n".join(log.read_text().splitlines()[-15:])
                for log in logs
                if log.exists()
            )
            raise RuntimeError(f"local SLURM: {what} within {timeout:.0f} s\n{tails}")
        time.sleep(0.2)


def _stop(pid_file: Path, timeout: float = 15) -> None:
    """Stop the daemon of a PID file: SIGTERM, then SIGKILL if it lingers."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _start_munged(folder: Path) -> Path:
    """A private munged (own key and socket) running as user munge; its PID file."""
    munge = pwd.getpwnam("munge")
    folder.mkdir(mode=0o755)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    for path in (folder, key):
        os.chown(path, munge.pw_uid, munge.pw_gid)
    key.chmod(0o400)
    folder.chmod(0o755)  # munged wants its socket folder searchable by all
    pid_file = folder / "munged.pid"
    subprocess.run(
        [
            "munged",
            f"--socket={folder / 'munge.socket'}",
            f"--key-file={key}",
            f"--pid-file={pid_file}",
            f"--log-file={folder / 'munged.log'}",
            f"--seed-file={folder / 'munged.seed'}",
        ],
        user=munge.pw_uid,
        group=munge.pw_gid,
        extra_groups=[],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return pid_file


@contextlib.contextmanager
def slurm_cluster(partition: str = PARTITION) -> Iterator[SlurmCluster]:
    """A single-node SLURM with one partition, stopped (jobs, daemons, folder) at the end."""
    root = Path(tempfile.mkdtemp(prefix="aia-slurm-"))
    root.chmod(0o755)  # user munge must reach its folder inside
    cpus, memory_mb = _node_size()
    cluster = SlurmCluster(root, partition, cpus, memory_mb)
    pid_files = []
    logs = [root / "slurmctld.log", root / "slurmd.log", root / "munge" / "munged.log"]
    try:
        for name in ("state", "spool"):
            (root / name).mkdir()
        (root / "plugstack.conf").touch()
        _srun_shim(root)
        (root / "slurm.conf").write_text(_slurm_conf(root, cpus, memory_mb, partition))
        pid_files.append(_start_munged(root / "munge"))
        for daemon, pid_file in (
            (["slurmctld"], root / "slurmctld.pid"),
            (["slurmd", "-N", "localhost"], root / "slurmd.pid"),
        ):
            pid_files.append(pid_file)
            subprocess.run(daemon, env=cluster.env, check=True, capture_output=True, timeout=30)
            _wait_for(pid_file.exists, 30, f"{daemon[0]} did not write its PID file", logs)

        def node_idle() -> bool:
            done = cluster.run("sinfo", "--noheader", "--Node", "--format=%t", check=False)
            return done.stdout.strip() == "idle"

        _wait_for(node_idle, 60, "the node did not become idle", logs)
        yield cluster
    finally:
        if len(pid_files) == 3:
            cluster.cancel_all()
        for pid_file in reversed(pid_files):
            _stop(pid_file)
        shutil.rmtree(root, ignore_errors=True)
