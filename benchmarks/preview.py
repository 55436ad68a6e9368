"""Benchmark: `snakemake preview` of the shipped looks at 4096 x 4096, once the reference is
prepped.

    python benchmarks/preview.py [--looks 6] [--cores 2] [--repeats 3] [--sheet PATH]

Takes the first triplet of benchmarks/cache/12s (made there if missing) and, in a scratch
folder, the shipped config with its first `looks` looks (all: 0). It runs `snakemake preview
--cores N` once (pairing, the reference prepped, every look, the sheet, the histograms),
then `repeats` times with `--forcerun preview_look`: every look and the sheet again, the
reference kept. It prints the wall time of each run, and of the reruns the median wall and
CPU time (Snakemake and its jobs), each look job's time from its benchmark record, and the
floor: the same looks rendered by the package's functions in one process, N looks at a
time. --sheet saves the sheet there, downsized to at most 1400 px wide (the README's
docs/preview_sheet.jpg: --looks 0).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import yaml

from aia_reloaded import configuration, preview
from aia_reloaded.pairing import find_fits, identify, pair
from aia_reloaded.synthetic import make_series
from aia_reloaded.writing import write_jpeg

REPO = Path(__file__).resolve().parents[1]
SERIES = REPO / "benchmarks" / "cache" / "12s"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def reference_files() -> list[str]:
    """The files of the first triplet of the cached 4096 x 4096 series, made if missing."""
    if not SERIES.is_dir() or not find_fits(SERIES):
        make_series(SERIES, 1, workers=2)
    triplets = pair(identify(find_fits(SERIES))[0], CONFIG["channels"], 6)[0]
    return list(triplets[0].files)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (with its children) of a command that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-5000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def floor(config: dict, reference_dir: Path, out: Path, cores: int) -> float:
    """Wall seconds of every look rendered and written in this process, `cores` at a time."""
    cv2.setNumThreads(1)

    def render(name: str, look: dict) -> None:
        settings = {
            "low": look["levels"]["low"],
            "high": look["levels"]["high"],
            "gamma": look["gamma"],
            "enhancements": configuration.enhancements(look),
            "look": configuration.look(look),
        }
        paths = (out / f"{name}.jpg", out / f"{name}_detail.jpg")
        size = config["preview"]["size"]
        preview.write_look(reference_dir, config["channels"], settings, size, None, paths)

    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(render, *zip(*configuration.preview_looks(config).items(), strict=True)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--looks", type=int, default=6, help="the first N shipped looks; 0: all")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sheet", type=Path, help="save the sheet here, at most 1400 px wide")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "input").mkdir()
        for path in reference_files():
            (folder / "input" / Path(path).name).symlink_to(path)
        looks = CONFIG["preview"]["looks"][: args.looks or None]
        config = {**CONFIG, "input_dir": str(folder / "input"), "output_dir": "results"}
        config["preview"] = {**config["preview"], "looks": looks}
        (folder / "config").mkdir()
        (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile")]
        command += ["-d", str(folder), "--cores", str(args.cores), "preview"]

        names = ", ".join(look["name"] for look in looks)
        print(f"{len(looks)} looks ({names}) at {config['preview']['size']} px, 4096^2 reference")
        wall, _cpu = timed(command)
        print(f"first run (pairing, reference prep, looks, sheet, histograms): {wall:.1f} s wall")
        runs = [timed([*command, "--forcerun", "preview_look"]) for _ in range(args.repeats)]
        walls, cpus = zip(*runs, strict=True)
        print(
            f"looks and sheet, reference prepped, `snakemake preview --cores {args.cores}`: "
            f"median {statistics.median(walls):.1f} s wall ({', '.join(f'{w:.1f}' for w in walls)})"
            f", {statistics.median(cpus):.1f} s CPU"
        )
        for look in looks:
            record = benchmark_record(
                folder / "results" / "benchmarks" / "preview" / f"{look['name']}.tsv"
            )
            print(
                f"  {look['name']:<16} job {float(record['s']):5.1f} s wall, "
                f"{float(record['cpu_time']):5.1f} s CPU, {float(record['max_rss']):6.0f} MB"
            )
        if args.sheet:
            sheet = cv2.imread(str(folder / "results" / "preview" / "sheet.jpg"))
            factor = min(1.0, 1400 / sheet.shape[1])
            size = (round(sheet.shape[1] * factor), round(sheet.shape[0] * factor))
            sheet = cv2.resize(sheet, size, interpolation=cv2.INTER_AREA)
            write_jpeg(args.sheet, cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB), 90)
            print(f"the sheet, {size[0]} x {size[1]} px: {args.sheet}")
        seconds = floor(config, folder / "results" / "preview" / "reference", folder, args.cores)
        print(f"floor, one process, {args.cores} looks at a time: {seconds:.1f} s wall")


def benchmark_record(path: Path) -> dict:
    """The first record of a Snakemake benchmark file."""
    header, values = (line.split("\t") for line in path.read_text().splitlines()[:2])
    return dict(zip(header, values, strict=True))


if __name__ == "__main__":
    main()
