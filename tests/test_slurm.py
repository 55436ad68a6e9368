"""The workflow through profiles/slurm on a real single-node SLURM, against a local run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from slurm_cluster import SlurmCluster, slurm_cluster, unavailable_reason
from workflow_run import make_workdir, snakemake

UNAVAILABLE = unavailable_reason()
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE)),
]

# 8 small triplets 12 s apart, in two 1-minute batches (5 + 3), and one small movie
TRIPLETS = 8
CONFIG = {
    "demo": {"triplets": TRIPLETS, "size": 256, "seed": 0},
    "batch_minutes": 1,
    "movies": [{"name": "small", "frame_size": [128, 128]}],
}
TIMEOUT_S = 300  # the whole SLURM run: it takes one to two minutes


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    with slurm_cluster() as running:
        yield running


def write_test_profile(workdir: Path, cluster: SlurmCluster, cores: int) -> str:
    """profiles/slurm-test: profiles/slurm on the test cluster, which has no accounting."""
    profile = yaml.safe_load((workdir / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = cluster.partition
    profile["default-resources"].pop("slurm_account", None)
    profile |= {
        "cores": cores,  # as the local run: the movie's bytes depend on ffmpeg's threads
        "slurm-no-account": True,
        "slurm-status-command": "squeue",  # sacct needs accounting (slurmdbd)
        "slurm-init-seconds-before-status-checks": 1,
        "latency-wait": 5,
        "slurm-keep-successful-logs": True,  # for the times the jobs ran
    }
    folder = workdir / "profiles" / "slurm-test"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return str(folder.relative_to(workdir))


def run_on_cluster(workdir: Path, cluster: SlurmCluster, profile: str, *args: str):
    """snakemake --profile <profile> in workdir, killed after TIMEOUT_S; no job left behind."""
    command = [sys.executable, "-m", "snakemake", "--profile", profile, *args]
    command = ["timeout", "-k", "30", str(TIMEOUT_S), *command]
    try:
        return subprocess.run(
            command,
            cwd=workdir,
            env={**cluster.env, "PYTHONUNBUFFERED": "1"},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + 60,
        )
    finally:
        cluster.cancel_all()


def files(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob(pattern))}


def job_span(log: Path) -> tuple[datetime, datetime]:
    """When a SLURM job began (its Snakemake log's Date, to the second) and ended (the log's
    last change)."""
    began = re.search(r"Date: (.+)", log.read_text())[1]
    return datetime.fromisoformat(began), datetime.fromtimestamp(log.stat().st_mtime)


def test_slurm_profile_makes_what_a_local_run_makes(cluster: SlurmCluster, tmp_path: Path):
    cores = min(2, cluster.cpus)
    local = make_workdir(tmp_path / "local", **CONFIG)
    start = time.monotonic()
    snakemake(local, "--cores", str(cores))
    local_s = time.monotonic() - start

    remote = make_workdir(tmp_path / "slurm", **CONFIG)
    shutil.copytree(local / "resources", remote / "resources")  # the same demo input
    profile = write_test_profile(remote, cluster, cores)
    jobs_before = len(cluster.submitted_jobs())
    start = time.monotonic()
    # the frames first, then the rest: both batches' segments are ready at once
    done = run_on_cluster(remote, cluster, profile, "--omit-from", "segments")
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    done = run_on_cluster(remote, cluster, profile)
    slurm_s = time.monotonic() - start
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"

    ours, theirs = local / "results", remote / "results"
    frames = files(theirs / "frames", "*/*.jpg")
    assert len(frames) == TRIPLETS
    assert frames == files(ours / "frames", "*/*.jpg")
    assert files(theirs / "frame_lists") == files(ours / "frame_lists")
    assert (theirs / "levels.yaml").read_text() == (ours / "levels.yaml").read_text()
    assert files(theirs / "movies") == files(ours / "movies")

    # SLURM jobs: per batch its render and its segments job; the levels, the join and
    # the report's thumbnails; none per frame
    batches = len(files(theirs / "frame_lists"))
    jobs = len(cluster.submitted_jobs()) - jobs_before
    print(f"{TRIPLETS} triplets, {batches} batches: {jobs} SLURM jobs; ", end="")
    print(f"SLURM run {slurm_s:.0f} s, local run {local_s:.0f} s")
    assert batches == 2
    assert jobs == 2 * batches + 3
    # the two batches' segments ran side by side
    logs = sorted((remote / ".snakemake/slurm_logs/rule_segments").glob("*/*.log"))
    first, second = map(job_span, logs)
    assert first[0] < second[1] and second[0] < first[1], (first, second)
