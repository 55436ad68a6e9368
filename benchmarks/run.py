"""Benchmark: the workflow end to end against the in-process library path, and planning a day.

    python benchmarks/run.py [--triplets 10] [--cadence 60] [--repeats 3] [--day 7200]

Makes (once, cached in benchmarks/cache/) a synthetic series of full-size 4096 x 4096
triplets, by default one a minute: two 5-minute batches, so that both cores have a job.
Then, side by side in each repeat: the workflow end to end (`snakemake --cores 2` from a
clean output folder, shipped config, no movies), and the library path without Snakemake
(prep_batch, compute_levels, scale_batch, frame_batch, as the workflow's scripts call them)
in two worker processes, a batch each, and in one. It prints the medians of wall and
CPU time per triplet, the peak RSS of the largest process, and the ratio of the workflow to
the two-process library path, its floor. Last, it times the dry run of a simulated day
(7,200 triplets of empty files with JSOC names), after the pairing checkpoint has run."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from aia_reloaded import stages
from aia_reloaded.pairing import find_fits, identify, pair
from aia_reloaded.synthetic import CHANNEL_PROPERTIES, jsoc_name, make_series

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / "cache"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
CHANNELS = CONFIG["channels"]
DAY_TRIPLETS = 7200


def cached_series(triplets: int, cadence: float) -> list[tuple[str, list[str]]]:
    """The first `triplets` (name, files) of the cached series at `cadence`, made if missing."""
    folder = CACHE / f"{cadence:g}s"
    for attempt in range(2):
        found = pair(identify(find_fits(folder))[0], CHANNELS, CONFIG["pair_tolerance_s"])[0]
        if len(found) >= triplets or attempt:
            return [(t.name, list(t.files)) for t in found[:triplets]]
        print(f"making {triplets} synthetic 4096 x 4096 triplets in {folder} (once)", flush=True)
        make_series(folder, triplets, cadence_s=cadence, workers=2)


def workdir(folder: Path, input_dir: Path) -> Path:
    """A Snakemake working folder with the shipped config, reading input_dir, no movies."""
    config = {**CONFIG, "input_dir": str(input_dir), "output_dir": "results", "movies": []}
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def snakemake(folder: Path, *args: str) -> list[str]:
    """The command that runs the repository's workflow in `folder` on 2 cores."""
    workflow = ["-s", str(REPO / "workflow" / "Snakefile"), "-d", str(folder)]
    return [sys.executable, "-m", "snakemake", *workflow, "--cores", "2", *args]


def _peak_rss(process: psutil.Process) -> int:
    """The peak resident set of a running process in bytes (VmHWM on Linux, else RSS now)."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return process.memory_info().rss


def measure(command: list[str]) -> dict:
    """Wall and CPU seconds of a command with its children, peak RSS (MB) of the largest."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        root, peaks = psutil.Process(process.pid), {}
        while process.poll() is None:
            try:
                for proc in [root, *root.children(recursive=True)]:
                    peaks[proc.pid] = max(peaks.get(proc.pid, 0), _peak_rss(proc))
            except psutil.Error:
                pass
            time.sleep(0.05)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            output.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{output.read()[-5000:].decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    system = after.ru_stime - before.ru_stime
    cpu = after.ru_utime - before.ru_utime + system
    return {"wall": wall, "cpu": cpu, "sys": system, "rss": max(peaks.values(), default=0) / 2**20}


def run_workflow(folder: Path) -> dict:
    """The workflow end to end from a clean output folder; plus its jobs' records by rule."""
    for path in ("results", ".snakemake"):
        subprocess.run(["rm", "-rf", str(folder / path)], check=True)
    result = measure(snakemake(folder))
    jobs: dict[str, list[dict]] = {}
    for tsv in (folder / "results" / "benchmarks").glob("*/*.tsv"):
        header, values = (line.split("\t") for line in tsv.read_text().splitlines()[:2])
        jobs.setdefault(tsv.parent.name, []).append(dict(zip(header, values, strict=True)))
    job_s = {rule: sum(float(r["s"]) for r in records) for rule, records in jobs.items()}
    max_rss = [float(r["max_rss"]) for rs in jobs.values() for r in rs if r["max_rss"] != "NA"]
    return {**result, "job_rss": max(max_rss, default=float("nan")), "job_s": job_s}


def library(series: list, out: Path, workers: int) -> None:
    """The workflow's stages over `workers` batches in `workers` processes, without Snakemake."""
    batches = range(workers)
    prepped = [out / "prepped" / str(i) for i in batches]
    scaled = [out / "scaled" / str(i) for i in batches]
    prep, lab = CONFIG["prep"], CONFIG["lab"]
    with ProcessPoolExecutor(workers) as pool:

        def run(function, **common) -> Callable:
            def per_batch(*jobs: dict) -> None:
                for future in [pool.submit(function, **common, **job) for job in jobs]:
                    future.result()

            return per_batch

        run(stages.prep_batch, channels=CHANNELS, **prep)(
            *({"triplets": series[i::workers], "out_dir": prepped[i]} for i in batches)
        )
        low, high = CONFIG["levels"]["low"], CONFIG["levels"]["high"]
        levels = stages.compute_levels(prepped[0], None, CHANNELS, low, high)
        run(stages.scale_batch, levels=levels, channels=CHANNELS, gamma=CONFIG["gamma"])(
            *({"prepped_dir": prepped[i], "out_dir": scaled[i]} for i in batches)
        )
        run(
            stages.frame_batch,
            frames_dir=out / "frames",
            channels=CHANNELS,
            matrix=CONFIG["mix"],
            scalemin=CONFIG["scalemin"],
            lab=lab["factors"] if lab["enabled"] else None,
            lmin=lab["lmin"],
            crop=CONFIG["crop"],
            quality=CONFIG["jpeg_quality"],
        )(*({"scaled_dir": scaled[i], "frame_list": out / f"frames_{i}.csv"} for i in batches))


def plan_day(folder: Path, triplets: int) -> tuple[dict, dict]:
    """Pairing, then the dry run, of a day of empty files with JSOC names."""
    inputs = folder / "input"
    inputs.mkdir(parents=True)
    start = datetime(2012, 8, 31, tzinfo=UTC)
    for i in range(triplets):
        for wl in CHANNELS:
            time_of = start + timedelta(seconds=12 * i + CHANNEL_PROPERTIES[wl][1])
            (inputs / jsoc_name(wl, time_of)).touch()
    run = workdir(folder / "workflow", inputs)
    pairing = measure(snakemake(run, "results/triplets.csv"))
    return pairing, measure(snakemake(run, "--dry-run"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=10, help="4096^2 triplets (default 10)")
    parser.add_argument(
        "--cadence", type=float, default=60, help="s between triplets (default 60: 5 a batch)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="side-by-side runs (default 3)")
    parser.add_argument(
        "--day", type=int, default=DAY_TRIPLETS, help="triplets of the day (0: skip)"
    )
    parser.add_argument("--library", nargs=3, help=argparse.SUPPRESS)  # workers series out
    args = parser.parse_args()
    if args.library:
        workers, series, out = args.library
        library(json.loads(Path(series).read_text()), Path(out), int(workers))
        return

    series = cached_series(args.triplets, args.cadence)
    n = len(series)
    scratch = CACHE / "run"
    subprocess.run(["rm", "-rf", str(scratch)], check=True)
    (scratch / "input").mkdir(parents=True)
    for _name, files in series:
        for path in files:
            (scratch / "input" / Path(path).name).symlink_to(path)
    (scratch / "series.json").write_text(json.dumps(series))
    folder = workdir(scratch / "workflow", scratch / "input")
    runs: dict[str, list[dict]] = {"workflow": [], "library_2": [], "library_1": []}
    for repeat in range(args.repeats):
        runs["workflow"].append(run_workflow(folder))
        for workers in (2, 1):
            out = scratch / f"library_{workers}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            command = [sys.executable, __file__, "--library", str(workers)]
            runs[f"library_{workers}"].append(
                measure([*command, str(scratch / "series.json"), str(out)])
            )
        walls = ", ".join(f"{k} {v[-1]['wall'] / n:.2f}" for k, v in runs.items())
        print(f"repeat {repeat + 1}: wall s/triplet {walls}", flush=True)
    day = plan_day(scratch / "day", args.day) if args.day else None
    subprocess.run(["rm", "-rf", str(scratch)], check=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    print(f"\n{n} triplets of 4096 x 4096, {args.repeats} repeats, medians; 2 cores")
    print(
        f"{'':30} {'wall s/triplet':>15} {'CPU s/triplet':>14} {'(system)':>9} {'peak RSS MB':>12}"
    )
    rows = [
        ("workflow, snakemake --cores 2", "workflow"),
        ("library, 2 processes", "library_2"),
        ("library, 1 process", "library_1"),
    ]
    for label, name in rows:
        wall, cpu, system, rss = (median(name, key) for key in ("wall", "cpu", "sys", "rss"))
        print(f"{label:30} {wall / n:15.2f} {cpu / n:14.2f} {system / n:9.2f} {rss:12.0f}")
    ratio = median("workflow", "wall") / median("library_2", "wall")
    print(f"workflow / library (2 processes), wall: {ratio:.2f}x")
    print(
        f"largest job's max_rss in the workflow's benchmark records: "
        f"{median('workflow', 'job_rss'):.0f} MB"
    )
    job_s = {
        rule: statistics.median(r["job_s"][rule] / n for r in runs["workflow"])
        for rule in runs["workflow"][0]["job_s"]
    }
    print("workflow jobs, s/triplet: " + ", ".join(f"{k} {v:.2f}" for k, v in job_s.items()))
    if day:
        pairing, dry_run = day
        print(
            f"a day, {args.day} triplets ({args.day * len(CHANNELS)} files): pairing "
            f"{pairing['wall']:.1f} s, dry run {dry_run['wall']:.1f} s wall "
            f"(peak RSS {dry_run['rss']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
