"""Running the workflow on a small configuration in a scratch folder, as a user would."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

SMALL_CONFIG = {
    "input_dir": "demo",
    "demo": {"triplets": 3, "size": 256, "seed": 0},
    "prep": {"size": 256, "plate_scale": 9.6, "interpolation": "cubic"},
    "batch_minutes": 0.2,
    "movies": [],
    "preview": {"size": 1024, "detail": None, "looks": [{"name": "config"}]},  # one look
}


def make_workdir(path: Path, **overrides) -> Path:
    """A folder with the workflow, the profiles and config/config.yaml updated by overrides."""
    for name in ("workflow", "profiles"):
        shutil.copytree(REPO / name, path / name, dirs_exist_ok=True)
    (path / "config").mkdir(exist_ok=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(SMALL_CONFIG)
    config.update(overrides)
    write_config(path, config)
    return path


def read_config(path: Path) -> dict:
    return yaml.safe_load((path / "config" / "config.yaml").read_text())


def write_config(path: Path, config: dict) -> None:
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in workdir (2 cores) and return the finished process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


def mtimes(folder: Path, pattern: str) -> dict[str, float]:
    """Modification times of the files matching pattern below folder."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.glob(pattern))}


def encodings(results: Path) -> dict[str, int]:
    """The inode of each movie segment: a segment not encoded again keeps it (it is a link
    to its encoding kept in .encoded/), whatever its modification time."""
    segments = sorted(results.glob("segments/*/*.mp4"))
    return {str(p.relative_to(results)): p.stat().st_ino for p in segments}


def digests(folder: Path, pattern: str) -> dict[str, str]:
    """The SHA-256 of each file matching pattern below folder."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob(pattern))
    }
