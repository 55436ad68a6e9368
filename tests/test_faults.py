"""Faults: no half-written output, a killed run resumes to the same frames, a full disk is clear."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from workflow_run import make_workdir, snakemake

from aia_reloaded import sequence, writing
from aia_reloaded.synthetic import make_series


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch):
    """A write that fails halfway (here: the disk fills up) leaves neither the file nor a temp."""

    def fill_disk(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", fill_disk)
    frame = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(OSError, match="No space left"):
        writing.write_jpeg(tmp_path / "frame.jpg", frame)
    assert list(tmp_path.iterdir()) == []


def test_outputs_have_the_permissions_of_any_new_file(tmp_path: Path):
    """A frame written atomically is as readable as one open() makes (mkstemp's are 0600),
    so a group sharing a results folder on a cluster can read it."""
    writing.write_jpeg(tmp_path / "frame.jpg", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "plain").touch()
    assert (tmp_path / "frame.jpg").stat().st_mode == (tmp_path / "plain").stat().st_mode


def _can_mount_tmpfs(path: Path) -> bool:
    path.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(path)]
    return os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0


@pytest.mark.slow
def test_full_disk_is_a_one_line_error(tmp_path: Path):
    """Results on a 400 kB file system: the job fails with the file and 'No space left'."""
    small_disk = tmp_path / "disk"
    if not _can_mount_tmpfs(small_disk):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        # 1024 px frames of about 250 kB: the second one does not fit
        prep = {"size": 1024, "plate_scale": 2.4, "interpolation": "cubic"}
        results = str(small_disk / "results")
        workdir = make_workdir(tmp_path / "run", output_dir=results, prep=prep)
        run = snakemake(workdir, check=False)
        assert run.returncode != 0
        errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
        assert errors and "No space left on device" in errors[0], run.stderr[-3000:]
        assert str(small_disk) in errors[0]
        assert "Traceback" not in run.stderr
        # nothing half-written under a final name
        for jpeg in (small_disk / "results").rglob("*.jpg"):
            assert jpeg.read_bytes().endswith(b"\xff\xd9")
    finally:
        subprocess.run(["umount", str(small_disk)], check=True)


def _frame_bytes(results: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((results / "frames").glob("*/*.jpg"))}


@pytest.mark.slow
def test_killed_run_resumes_to_identical_frames(tmp_path: Path):
    """SIGINT, then SIGKILL mid-run; the rerun redoes only the unfinished batches."""
    data = tmp_path / "data"
    make_series(data, 8, size=256, seed=3, workers=2)
    config = {"input_dir": str(data)}
    reference = make_workdir(tmp_path / "reference", **config)
    snakemake(reference)
    expected = _frame_bytes(reference / "results")
    assert len(expected) == 8

    workdir = make_workdir(tmp_path / "killed", **config)
    command = [sys.executable, "-m", "snakemake", "--cores", "2"]
    process = subprocess.Popen(
        command, cwd=workdir, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    lists = workdir / "results" / "frame_lists"
    deadline = time.monotonic() + 120
    while len(list(lists.glob("*.csv"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in lists.glob("*.csv")}
    assert 3 <= len(finished) < 8, "the run was not interrupted midway"
    for jpeg in (workdir / "results" / "frames").glob("*/*.jpg"):  # none half-written
        assert jpeg.read_bytes().endswith(b"\xff\xd9")

    snakemake(workdir, "--unlock")  # a hard kill leaves Snakemake's lock behind
    snakemake(workdir)
    assert _frame_bytes(workdir / "results") == expected
    # batches finished before the kill were not redone
    assert {n: (lists / n).stat().st_mtime_ns for n in finished} == finished


def _decoded(movie: Path) -> np.ndarray:
    """Every frame of a movie, decoded to RGB."""
    command = [sequence.ffmpeg_exe(), "-v", "error", "-i", str(movie), "-f", "rawvideo"]
    raw = subprocess.run([*command, "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    return np.frombuffer(raw.stdout, np.uint8).reshape(-1, 128, 128, 3)


@pytest.mark.slow
def test_run_killed_in_the_movie_stage_resumes_to_the_same_movie(tmp_path: Path):
    """SIGKILL once some segments are written; the rerun gives the uninterrupted movie."""
    data = tmp_path / "data"
    make_series(data, 8, size=256, seed=5, workers=2)
    movies = [{"name": m, "frame_size": [128, 128], "gaps": "repeat"} for m in ("a", "b")]
    config = {"input_dir": str(data), "movies": movies}  # 8 batches of one triplet
    reference = make_workdir(tmp_path / "reference", **config)
    snakemake(reference)
    expected = {m: _decoded(reference / "results" / "movies" / f"{m}.mp4") for m in "ab"}
    assert all(len(frames) == 8 for frames in expected.values())

    workdir = make_workdir(tmp_path / "killed", **config)
    command = [sys.executable, "-m", "snakemake", "--cores", "2"]
    process = subprocess.Popen(
        command, cwd=workdir, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    segments = workdir / "results" / "segments"
    deadline = time.monotonic() + 120
    while len(list(segments.glob("*/2*.mp4"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = {p: p.stat().st_ino for p in segments.glob("*/2*.mp4")}
    assert 3 <= len(written) < 16, "the run was not interrupted in the movie stage"
    assert not list((workdir / "results" / "movies").glob("*.mp4"))

    snakemake(workdir, "--unlock")
    snakemake(workdir)
    for movie, frames in expected.items():
        resumed = _decoded(workdir / "results" / "movies" / f"{movie}.mp4")
        assert resumed.shape == frames.shape and np.array_equal(resumed, frames), movie
    assert {p: p.stat().st_ino for p in written} == written  # not encoded again
