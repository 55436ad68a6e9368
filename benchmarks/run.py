"""Benchmark: the workflow end to end against the in-process floor, and planning a day.

    python benchmarks/run.py [--repeats 3] [--cores 2] [--day 7200] [--cases 25 100]
                             [--enhance mgn|wow] [--month [--movies]]

Makes (once, cached in benchmarks/cache/) 100 synthetic full-size 4096 x 4096 triplets at
the real 12 s cadence. Two cases: the first 25 triplets (one 5-minute batch) and all 100
(four batches). In each repeat, side by side: the workflow end to end (`snakemake --cores N`
from a clean output folder, shipped config, no movies) and its floor, the same package
functions in one process with N threads (reference_levels, then render_batch over every
triplet). It prints medians of wall and CPU time per triplet, the cores kept busy (CPU /
wall), the largest peak RSS of a render job (and per thread), and the workflow / floor ratio.
Last, it times the dry run of a simulated day (7,200 triplets of empty files with JSOC
names) after the pairing checkpoint has run, and again once the day is rendered (its outputs
faked). --month plans a month (216,000 triplets, 648,000 files) the same way, and only
that; with --movies, the shipped config's 5 movies too (a segments job a batch). --enhance
runs config/README.md's MGN or WOW look (every channel enhanced) instead of the shipped
config's."""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from aia_reloaded import configuration, stages
from aia_reloaded.pairing import find_fits, identify, pair
from aia_reloaded.synthetic import CHANNEL_PROPERTIES, jsoc_name, make_series
from aia_reloaded.writing import read_csv, write_csv

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / "cache"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
CHANNELS = CONFIG["channels"]
CASES = (25, 100)
DAY_TRIPLETS = 7200
# --enhance: config/README.md's looks with MGN or WOW on every channel
ENHANCED_LOOK = {
    "levels": {"low": [10, 10, 10], "high": [99.95, 99.95, 99.95]},
    "gamma": [1.4, 1.4, 1.4],
}


def use_enhancement(method: str) -> None:
    """Make CONFIG the shipped look with `method` on every channel."""
    settings = {**CONFIG["enhance"], "method": method}
    settings["mgn"] = {**settings["mgn"], "h": 0.9}
    CONFIG.update(ENHANCED_LOOK, enhance=settings)


def cached_series(triplets: int, cadence: float = 12.0) -> list[tuple[str, list[str]]]:
    """The first `triplets` (name, files) of the cached series at `cadence`, made if missing."""
    folder = CACHE / f"{cadence:g}s"
    for attempt in range(2):
        found = pair(identify(find_fits(folder))[0], CHANNELS, CONFIG["pair_tolerance_s"])[0]
        if len(found) >= triplets or attempt:
            return [(t.name, list(t.files)) for t in found[:triplets]]
        print(f"making {triplets} synthetic 4096 x 4096 triplets in {folder} (once)", flush=True)
        make_series(folder, triplets, cadence_s=cadence, workers=2)


def workdir(folder: Path, input_dir: Path, movies: tuple = ()) -> Path:
    """A Snakemake working folder with the shipped config, reading input_dir, making
    `movies` (default none)."""
    config = {**CONFIG, "input_dir": str(input_dir), "output_dir": "results", "movies": [*movies]}
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def snakemake(folder: Path, cores: int, *args: str) -> list[str]:
    """The command that runs the repository's workflow in `folder`."""
    workflow = ["-s", str(REPO / "workflow" / "Snakefile"), "-d", str(folder)]
    return [sys.executable, "-m", "snakemake", *workflow, "--cores", str(cores), *args]


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
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"wall": wall, "cpu": cpu, "rss": max(peaks.values(), default=0) / 2**20}


def job_records(folder: Path) -> dict[Path, dict[str, str]]:
    """Snakemake's benchmark record of each job whose .tsv is under folder, by its path."""
    records = {}
    for tsv in sorted(folder.rglob("*.tsv")):
        header, values = (line.split("\t") for line in tsv.read_text().splitlines()[:2])
        records[tsv] = dict(zip(header, values, strict=True))
    return records


def run_workflow(folder: Path, cores: int) -> dict:
    """The workflow end to end from a clean output folder; plus its render jobs' records."""
    for path in ("results", ".snakemake"):
        subprocess.run(["rm", "-rf", str(folder / path)], check=True)
    result = measure(snakemake(folder, cores))
    renders = list(job_records(folder / "results" / "benchmarks" / "render").values())
    batches = len(renders)
    threads = max(1, cores // batches)  # as the workflow's render_threads gives them
    job_rss = max(float(r["max_rss"]) for r in renders)
    # render_batch logs its own wall and CPU time ("... 18.2 s, 34.1 s of CPU ...")
    logs = (folder / "results" / "logs" / "render").glob("*.log")
    times = [re.search(r"in ([\d.]+) s, ([\d.]+) s of CPU", p.read_text()) for p in logs]
    busy = sum(float(t[2]) for t in times) / sum(float(t[1]) for t in times)
    return {
        **result,
        "job_rss": job_rss,
        "thread_rss": job_rss / threads,
        "threads": threads,
        "job_busy": busy,
    }


def floor(series: list, out: Path, threads: int) -> None:
    """The workflow's work in one process on `threads` threads: levels, then every frame."""
    low, high = CONFIG["levels"]["low"], CONFIG["levels"]["high"]
    enhancements = configuration.enhancements(CONFIG)
    levels = stages.reference_levels(
        series[:1], None, CHANNELS, low, high, CONFIG["prep"], enhancements
    )
    main = stages.Product(configuration.products_of(CONFIG)[0], levels)
    outputs = [stages.Output(out, out / "frames.csv")]
    stages.render_batch(
        series, CHANNELS, [main], outputs, CONFIG["prep"], CONFIG["jpeg_quality"], threads
    )


def fake_results(results: Path) -> None:
    """The outputs of a finished run (empty frames in per-batch folders), for a dry run."""
    (results / "levels.yaml").touch()
    batches: dict[str, list[str]] = {}
    for row in read_csv(results / "triplets.csv"):
        batches.setdefault(row["batch"], []).append(row["triplet"])
    rows = []
    for batch, names in batches.items():
        write_csv(results / "skipped" / f"{batch}.csv", stages.SKIP_COLUMNS, [])
        batch_rows = [(f"{batch}/{name}.jpg", name) for name in names]
        write_csv(results / "frame_lists" / f"{batch}.csv", stages.FRAME_COLUMNS, batch_rows)
        (results / "frames" / batch).mkdir(parents=True)
        for frame, _t_obs in batch_rows:
            (results / "frames" / frame).touch()
        rows += batch_rows
    write_csv(results / "frames.csv", stages.FRAME_COLUMNS, rows)
    (results / "skipped.csv").touch()


def plan_day(
    folder: Path, triplets: int, cores: int, movies: tuple = ()
) -> tuple[dict, dict, dict]:
    """Pairing, then the dry run, of `triplets` of empty files with JSOC names (a day:
    7,200, a month: 216,000) making `movies`; then the dry run of the same series rendered
    (its frames faked)."""
    inputs = folder / "input"
    inputs.mkdir(parents=True)
    start = datetime(2012, 8, 31, tzinfo=UTC)
    for i in range(triplets):
        for wl in CHANNELS:
            time_of = start + timedelta(seconds=12 * i + CHANNEL_PROPERTIES[wl][1])
            (inputs / jsoc_name(wl, time_of)).touch()
    run = workdir(folder / "workflow", inputs, movies)
    pairing = measure(snakemake(run, cores, "results/triplets.csv"))
    planned = measure(snakemake(run, cores, "--dry-run"))
    fake_results(run / "results")
    rendered = measure(snakemake(run, cores, "--dry-run"))
    return pairing, planned, rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="side-by-side runs (default 3)")
    parser.add_argument("--cores", type=int, default=2, help="cores and threads (default 2)")
    parser.add_argument(
        "--day", type=int, default=DAY_TRIPLETS, help="triplets of the day (0: skip)"
    )
    parser.add_argument("--month", action="store_true", help="plan a month (216,000) only")
    parser.add_argument("--movies", action="store_true", help="the month with the 5 movies")
    parser.add_argument("--cases", type=int, nargs="+", default=CASES, help="triplet counts")
    parser.add_argument("--enhance", choices=["mgn", "wow"], help="the look with MGN or WOW")
    parser.add_argument("--floor", nargs=3, help=argparse.SUPPRESS)  # threads series out
    args = parser.parse_args()
    if args.enhance:
        use_enhancement(args.enhance)
    if args.floor:
        threads, series, out = args.floor
        floor(json.loads(Path(series).read_text()), Path(out), int(threads))
        return

    scratch = CACHE / "run"
    subprocess.run(["rm", "-rf", str(scratch)], check=True)
    if args.month:
        movies = CONFIG["movies"] if args.movies else ()
        month = 30 * DAY_TRIPLETS
        pairing, planned, rendered = plan_day(scratch / "month", month, args.cores, movies)
        subprocess.run(["rm", "-rf", str(scratch)], check=True)
        for label, took in (
            ("pairing", pairing),
            ("dry run before rendering", planned),
            ("dry run once rendered", rendered),
        ):
            print(f"a month, {label}: {took['wall']:.1f} s, peak RSS {took['rss']:.0f} MB")
        return
    folders = {}
    for n in args.cases:
        series = cached_series(n)
        (scratch / f"input_{n}").mkdir(parents=True)
        for _name, files in series:
            for path in files:
                (scratch / f"input_{n}" / Path(path).name).symlink_to(path)
        (scratch / f"series_{n}.json").write_text(json.dumps(series))
        folders[n] = workdir(scratch / f"workflow_{n}", scratch / f"input_{n}")
    runs: dict[tuple[str, int], list[dict]] = {}
    for repeat in range(args.repeats):
        for n in args.cases:
            runs.setdefault(("workflow", n), []).append(run_workflow(folders[n], args.cores))
            out = scratch / f"floor_{n}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            command = [
                sys.executable,
                __file__,
                *(["--enhance", args.enhance] * bool(args.enhance)),
            ]
            command += ["--floor", str(args.cores), str(scratch / f"series_{n}.json"), str(out)]
            runs.setdefault(("floor", n), []).append(measure(command))
            walls = [runs[(kind, n)][-1]["wall"] / n for kind in ("workflow", "floor")]
            print(f"repeat {repeat + 1}, {n} triplets: wall s/triplet workflow {walls[0]:.2f}, "
                  f"floor {walls[1]:.2f}", flush=True)  # fmt: skip
    day = plan_day(scratch / "day", args.day, args.cores) if args.day else None
    subprocess.run(["rm", "-rf", str(scratch)], check=True)

    def median(kind: str, n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[(kind, n)])

    look = f", {args.enhance} on every channel" if args.enhance else ""
    print(f"\n4096 x 4096 triplets{look}, {args.cores} cores, medians of {args.repeats} repeats")
    print(
        f"{'':42} {'wall s/triplet':>14} {'CPU s/triplet':>13} {'cores busy':>10} "
        f"{'peak RSS MB':>11}"
    )
    for n in args.cases:
        label = f"{n} triplets ({n // 25} batch{'es' if n > 25 else ''})"
        for kind, what in (("workflow", f"snakemake --cores {args.cores}"), ("floor", "floor")):
            wall, cpu, rss = (median(kind, n, key) for key in ("wall", "cpu", "rss"))
            threads = f", {args.cores} threads" if kind == "floor" else ""
            print(
                f"{label + ', ' + what + threads:42} {wall / n:14.2f} {cpu / n:13.2f} "
                f"{cpu / wall:10.2f} {rss:11.0f}"
            )
        ratio = median("workflow", n, "wall") / median("floor", n, "wall")
        job, per_thread = median("workflow", n, "job_rss"), median("workflow", n, "thread_rss")
        threads = runs[("workflow", n)][0]["threads"]
        print(
            f"{'':4}workflow / floor, wall: {ratio:.2f}x; render jobs "
            f"{median('workflow', n, 'job_busy'):.2f} cores busy, the largest {job:.0f} MB "
            f"({threads} thread{'s' if threads > 1 else ''}: {per_thread:.0f} MB a thread)"
        )
    if day:
        pairing, planned, rendered = day
        print(
            f"a day, {args.day} triplets ({args.day * len(CHANNELS)} files): pairing "
            f"{pairing['wall']:.1f} s; dry run {planned['wall']:.1f} s before rendering, "
            f"{rendered['wall']:.1f} s once rendered (every frame planned; peak RSS "
            f"{rendered['rss']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
