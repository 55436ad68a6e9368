"""The workflow end to end on small synthetic data: frames, levels, and what reruns."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from test_movies import decode
from workflow_run import make_workdir, mtimes, read_config, snakemake, write_config

from aia_reloaded import enhance
from aia_reloaded.colour import scale_channel
from aia_reloaded.perceptual import perceptual_look
from aia_reloaded.stages import compose_frame
from aia_reloaded.synthetic import make_series
from aia_reloaded.writing import read_csv, write_jpeg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """The workflow run once on the demo configuration (3 small triplets), intermediates kept."""
    workdir = make_workdir(tmp_path_factory.mktemp("demo"), keep_intermediates=True)
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The same on the default path: one job per batch in memory, batches of 1 and 2 triplets."""
    workdir = make_workdir(tmp_path_factory.mktemp("default"), batch_minutes=0.4)
    snakemake(workdir)
    return workdir


def test_both_paths_make_identical_frames(demo_run: Path, default_run: Path):
    staged, in_memory = (_frame_bytes(run / "results") for run in (demo_run, default_run))
    assert len(staged) == 3 and in_memory == staged
    # and the same frame lists: each frame's time and SDO's position from its headers
    lists = [read_csv(run / "results" / "frames.csv") for run in (demo_run, default_run)]
    observed = [[{k: v for k, v in row.items() if k != "frame"} for row in rows] for rows in lists]
    assert observed[0] == observed[1] and len(observed[0]) == 3
    assert all(1.47e11 < float(row["dsun_obs"]) < 1.53e11 for row in observed[0])
    # the default path kept no full-size intermediate, and made no preview unasked
    results = default_run / "results"
    assert not any(results.rglob("*.npy")) and not (results / "rendered").exists()
    assert not (results / "preview").exists()
    assert sorted(p.name for p in (results / "logs" / "render").iterdir()) == [
        "20120831T194448.log",
        "20120831T194512.log",
    ]


def _frame_bytes(results: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((results / "frames").glob("*/*.jpg"))}


@pytest.mark.parametrize("run", ["demo_run", "default_run"])
def test_frames_one_per_triplet_in_time_order(run: str, request):
    frames = sorted((request.getfixturevalue(run) / "results" / "frames").glob("*/*.jpg"))
    assert [f.stem for f in frames] == ["20120831T194505", "20120831T194517", "20120831T194529"]
    for frame in frames:
        image = cv2.imread(str(frame))
        assert image.shape == (256, 256, 3)
        # the Sun: a bright disk centred in a darker corona, all three colours on both halves
        centre = image[118:138, 118:138].mean()
        corners = np.concatenate([image[:20, :20], image[-20:, -20:]]).mean()
        assert centre > 30 and centre > 3 * corners
        east, west = image[88:168, 48:128].mean((0, 1)), image[88:168, 128:208].mean((0, 1))
        assert (east > 10).all() and (west > 10).all()
        assert np.allclose(east, west, rtol=0.5), (east, west)


def test_levels_are_reference_percentiles(demo_run: Path):
    levels = yaml.safe_load((demo_run / "results" / "levels.yaml").read_text())
    assert levels["reference"] == "20120831T194505"
    config = read_config(demo_run)
    for i, wl in enumerate(config["channels"]):
        prepped = np.load(demo_run / f"results/prepped/20120831T194500/20120831T194505_{wl}.npy")
        low, high = np.percentile(
            prepped, [config["levels"]["low"][i], config["levels"]["high"][i]]
        )
        assert levels["channels"][wl]["low"] == pytest.approx(low)
        assert levels["channels"][wl]["high"] == pytest.approx(high)


def _rerun_with(workdir: Path, **changes) -> None:
    config = read_config(workdir)
    config.update(changes)
    write_config(workdir, config)
    time.sleep(0.05)
    snakemake(workdir)


def test_gamma_reruns_scale_and_frame_not_prep(tmp_path: Path):
    workdir = make_workdir(tmp_path, keep_intermediates=True)
    snakemake(workdir)
    results = workdir / "results"
    before = {s: mtimes(results, f"{s}/**/*.*") for s in ("prepped", "scaled", "frames")}
    _rerun_with(workdir, gamma=[2.0, 2.8, 2.4])
    after = {s: mtimes(results, f"{s}/**/*.*") for s in ("prepped", "scaled", "frames")}
    assert after["prepped"] == before["prepped"]
    for stage in ("scaled", "frames"):
        assert after[stage].keys() == before[stage].keys()
        assert all(after[stage][f] > before[stage][f] for f in before[stage])

    # a crop reruns the frames only
    before = after
    _rerun_with(workdir, crop=[0, 200, 28, 228])
    after = {s: mtimes(results, f"{s}/**/*.*") for s in ("prepped", "scaled", "frames")}
    assert after["prepped"] == before["prepped"] and after["scaled"] == before["scaled"]
    assert all(after["frames"][f] > before["frames"][f] for f in before["frames"])
    frame = results / "frames" / "20120831T194500" / "20120831T194505.jpg"
    assert cv2.imread(str(frame)).shape == (200, 200, 3)


def triplet_files(results: Path) -> dict[str, int]:
    """Modification times of the frames, the levels and the per-batch job logs."""
    found = mtimes(results, "frames/*/*.jpg") | mtimes(results, "levels.yaml")
    return found | mtimes(results, "logs/render/*.log")


def test_new_triplet_processes_only_that_triplet(tmp_path: Path):
    data = tmp_path / "data"
    make_series(data, 2, size=256, seed=2)
    workdir = make_workdir(tmp_path / "run", input_dir=str(data))
    snakemake(workdir)
    results = workdir / "results"
    before = triplet_files(results)
    assert len(mtimes(results, "frames/*/*.jpg")) == 2

    start = datetime(2012, 8, 31, 19, 45, 24, tzinfo=UTC)  # the third 12 s slot
    make_series(data, 1, size=256, seed=2, start=start)
    run = snakemake(workdir)
    after = triplet_files(results)
    # the one batch that runs takes both cores, not a third of them
    assert re.search(r"rule render:(?:\n    .*)*\n    threads: 2\n", run.stderr), run.stderr
    assert len(mtimes(results, "frames/*/*.jpg")) == 3
    # every earlier frame, log and the levels are untouched; the new triplet went through
    # its own batch's render job
    changed = {f for f in after if before.get(f) != after[f]}
    assert all(after[f] == before[f] for f in before)
    assert changed == {
        "frames/20120831T194524/20120831T194529.jpg",
        "logs/render/20120831T194524.log",
    }


def _rerun_changes(workdir: Path, change) -> set[str]:
    """The frames, levels and job logs of the batches and of the pairing that a rerun
    after change() writes or removes."""
    results = workdir / "results"
    before = triplet_files(results) | mtimes(results, "logs/triplets.log")
    change()
    snakemake(workdir)
    after = triplet_files(results) | mtimes(results, "logs/triplets.log")
    return {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}


def test_removed_or_replaced_file_reruns_the_pairing_and_its_batch_alone(tmp_path: Path):
    """The level-1 files are known by name, size and modification time: removing one, or
    replacing one by another file (even an older one), reruns the pairing and its batch."""
    data, older = tmp_path / "data", tmp_path / "older"
    make_series(older, 3, size=256, seed=3)  # the same names, other pointing
    make_series(data, 3, size=256, seed=2)
    workdir = make_workdir(tmp_path / "run", input_dir=str(data), batch_minutes=0.4)
    snakemake(workdir)  # batches of 1 and 2 triplets
    results = workdir / "results"
    files = {row["triplet"]: row for row in read_csv(results / "triplets.csv")}

    removed = Path(files["20120831T194529"]["file_2"])
    assert _rerun_changes(workdir, removed.unlink) == {
        "frames/20120831T194512/20120831T194517.jpg",
        "frames/20120831T194512/20120831T194529.jpg",  # gone: its triplet is incomplete
        "logs/render/20120831T194512.log",
        "logs/triplets.log",
    }
    skipped = {Path(row["file"]).name: row["reason"] for row in read_csv(results / "skipped.csv")}
    assert skipped[Path(files["20120831T194529"]["file_1"]).name] == "no 171 file within 6 s"

    replaced = Path(files["20120831T194517"]["file_3"])
    frame = results / "frames" / "20120831T194512" / "20120831T194517.jpg"
    image = frame.read_bytes()
    # copy2 keeps the older file's mtime, older than the frames
    assert _rerun_changes(workdir, lambda: shutil.copy2(older / replaced.name, replaced)) == {
        "frames/20120831T194512/20120831T194517.jpg",
        "logs/render/20120831T194512.log",
        "logs/triplets.log",
    }
    assert frame.read_bytes() != image


def test_lost_frame_is_named_with_the_command_that_remakes_its_batch(tmp_path: Path):
    workdir = make_workdir(tmp_path, batch_minutes=0.4)  # batches of 1 and 2 triplets
    snakemake(workdir)
    results = workdir / "results"
    before, expected = triplet_files(results), _frame_bytes(results)
    (results / "frames" / "20120831T194512" / "20120831T194529.jpg").unlink()
    stopped = snakemake(workdir, check=False)
    lost = "results/frames/20120831T194512/20120831T194529.jpg is missing"
    command = "snakemake --cores all --forcerun results/frames/20120831T194512"
    assert (
        stopped.returncode != 0 and f"{lost}: remake its batch with `{command}`" in stopped.stderr
    )
    assert triplet_files(results) == {f: t for f, t in before.items() if "194529" not in f}
    snakemake(workdir, *command.split()[1:])
    after = triplet_files(results)
    assert _frame_bytes(results) == expected
    changed = {f for f in after if before.get(f) != after[f]}
    assert changed == {
        "frames/20120831T194512/20120831T194517.jpg",
        "frames/20120831T194512/20120831T194529.jpg",
        "logs/render/20120831T194512.log",
    }

    # the same on the staged path: its last stage alone remakes the frames of the batch
    write_config(workdir, {**read_config(workdir), "keep_intermediates": True})
    snakemake(workdir)
    before = mtimes(results, "**/*.*")
    (results / "frames" / "20120831T194512" / "20120831T194517.jpg").unlink()
    snakemake(workdir, *command.split()[1:])
    after = mtimes(results, "**/*.*")
    assert _frame_bytes(results) == expected
    changed = {f for f in after if before.get(f) != after[f]}
    assert {f for f in changed if not f.startswith(("logs/", "benchmarks/"))} - {
        "frame_lists/20120831T194512.csv",  # the same list, written again
        "frames.csv",  # the same, read by the thumbnails (as by any movie)
        "report/thumbnails.jpg",  # of the frames
        "frames/20120831T194512/.snakemake_timestamp",
    } == {
        "frames/20120831T194512/20120831T194517.jpg",
        "frames/20120831T194512/20120831T194529.jpg",
    }
    assert {f for f in changed if f.endswith(".tsv")} == {"benchmarks/compose/20120831T194512.tsv"}


@pytest.mark.parametrize("method", ["mgn", "wow"])
def test_enhanced_demo_on_both_paths(tmp_path: Path, default_run: Path, method: str):
    enhance_config = {"method": method, "channels": [True, False, True], "mgn": {"h": 0.9}}
    levels = {"low": [10, 25, 10], "high": [99.95, 99.99, 99.95]}
    look = {"enhance": enhance_config, "levels": levels, "gamma": [1.4, 2.8, 1.4]}  # as shipped
    staged = make_workdir(tmp_path / "staged", keep_intermediates=True, **look)
    in_memory = make_workdir(tmp_path / "in_memory", batch_minutes=0.4, **look)
    for workdir in (staged, in_memory):
        snakemake(workdir)
    frames = _frame_bytes(staged / "results")
    assert len(frames) == 3 and _frame_bytes(in_memory / "results") == frames

    # the series-fixed quantities are in levels.yaml; the levels of an enhanced channel are
    # percentiles of its enhanced reference, those of the others of the prepped reference
    levels = yaml.safe_load((staged / "results" / "levels.yaml").read_text())
    config = read_config(staged)
    for i, wl in enumerate(config["channels"]):
        image = np.load(staged / f"results/prepped/20120831T194500/20120831T194505_{wl}.npy")
        recorded = levels["channels"][wl].get("enhance")
        assert (recorded is not None) == enhance_config["channels"][i]
        if recorded:
            assert recorded["method"] == method and recorded["fixed"]
            fixed = enhance.series_parameters(image, method, recorded["settings"])
            assert fixed == recorded["fixed"]
            image = enhance.enhance(image, method, recorded["settings"], fixed)
        low, high = np.percentile(image, [config["levels"]["low"][i], config["levels"]["high"][i]])
        assert levels["channels"][wl]["low"] == pytest.approx(low, rel=1e-6, abs=1e-6)
        assert levels["channels"][wl]["high"] == pytest.approx(high, rel=1e-6, abs=1e-6)

    # the hallmark of both methods: the dynamic range flattened, so that active regions stand
    # less above the quiet Sun and the corona above the limb comes up; the same percentiles
    # and gamma on the unenhanced channel for comparison. An unenhanced channel is as before.
    y, x = np.mgrid[:256, :256]
    r = np.hypot(x - 127.5, y - 127.5) / 100  # in solar radii (the demo's 9.6" pixels)
    disk, corona = r < 0.9, (r > 1.05) & (r < 1.25)
    for i, wl in enumerate(config["channels"]):
        prepped = np.load(staged / f"results/prepped/20120831T194500/20120831T194505_{wl}.npy")
        shown = np.load(staged / f"results/scaled/20120831T194500/20120831T194505_{wl}.npy")
        percentiles = config["levels"]["low"][i], config["levels"]["high"][i]
        plain = scale_channel(prepped, *np.percentile(prepped, percentiles), look["gamma"][i])
        if not enhance_config["channels"][i]:
            np.testing.assert_array_equal(shown, plain)
            continue
        contrast = [np.percentile(a[disk], 99) / np.median(a[disk]) for a in (shown, plain)]
        assert contrast[0] < 0.7 * contrast[1], contrast
        lift = [a[corona].mean() / np.median(a[disk]) for a in (shown, plain)]
        assert lift[0] > 1.5 * lift[1], lift


@pytest.mark.parametrize(
    "channels", [[304, 171, 193], [304, 171, 193, 211, 335, 94, 131]], ids=["3", "7"]
)
def test_perceptual_demo(tmp_path: Path, channels: list[int]):
    n = len(channels)
    look = {
        "channels": channels,
        "compose": "perceptual",
        "perceptual": {"palette": "cvd"},
        "levels": {"low": [25] * n, "high": [99.9] * n},
        "gamma": [2.8] * n,
    }
    workdir = make_workdir(
        tmp_path / "staged", keep_intermediates=True, movies=[{"name": "sun", "fps": 10}], **look
    )
    snakemake(workdir)
    results = workdir / "results"
    if n == 3:  # the default path makes the same frames
        in_memory = make_workdir(tmp_path / "in_memory", **look)
        snakemake(in_memory)
        assert _frame_bytes(in_memory / "results") == _frame_bytes(results)
    triplets = (results / "triplets.csv").read_text().splitlines()
    assert len(triplets) == 4 and triplets[0].endswith(f"file_{n}")
    assert len(decode(results / "movies" / "sun.mp4")) == 3

    # each frame is the perceptual composite of its scaled channels in the cvd palette
    config = read_config(workdir)
    the_look = {"compose": "perceptual", **perceptual_look(channels, config["perceptual"])}
    for frame in sorted((results / "frames").glob("*/*.jpg")):
        name = frame.stem
        scaled = [np.load(next(results.glob(f"scaled/*/{name}_{wl}.npy"))) for wl in channels]
        expected = compose_frame(scaled, {**the_look, "box": None})
        write_jpeg(tmp_path / "expected.jpg", expected, config["jpeg_quality"])
        assert frame.read_bytes() == (tmp_path / "expected.jpg").read_bytes()
        assert expected.shape == (256, 256, 3)
        # off the disk, where every channel is faint, the colour is near grey and dark
        corner = expected[:24, :24].reshape(-1, 3).mean(0)
        assert corner.max() < 60 and np.ptp(corner) < 25, corner


def test_dry_run_of_a_fresh_folder(tmp_path: Path):
    """snakemake -n before anything ran: the movies' run time can't count the frames yet."""
    workdir = make_workdir(tmp_path, movies=[{"name": "sun"}])
    run = snakemake(workdir, "-n")
    assert "movie" in run.stdout and not (workdir / "results" / "frames").exists()
