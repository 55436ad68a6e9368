"""Benchmark: the movie stage and the whole run, side by side with the research code's movies.

    python benchmarks/movies.py [--repeats 3] [--cores 2]

The first 25 triplets of benchmarks/cache/12s (one 5-minute batch; made if missing), full-size
4096 x 4096, the shipped config with its 5 movies. In each repeat, one after the other:

1. research: the research code's `encode_video`, one ffmpeg per recipe over a glob of the
   frame JPEGs (libx264 slow, crf 18, crop/scale/pad filters), the 5 calls in turn, on the
   frames of benchmarks/cache/frames25 (see encoders.py);
2. movies: the workflow's movie stage alone: a finished run with its segments and movies
   deleted, then `snakemake --cores N` (the batch's segments job and the 5 joins);
3. end to end: `snakemake --cores N` from a clean output folder (frames, movies, report);
4. frames only: the same with `movies: []`, to relate today's machine to the research
   code's frames figure (measured on the same machine when it was 2.4x slower than the
   workflow's frames: 72 s against 29.5-31 s).

It prints medians of wall and CPU seconds (CPU: the commands and their children, user +
sys) per case, CPU per frame, the segments job's wall and CPU time per frame and peak memory
(from its benchmark record), and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
from pathlib import Path

import encoders  # benchmarks/encoders.py: the frames and the research code's movies
import run  # benchmarks/run.py: the cached series, the workflow's command, measure()

COUNT = encoders.COUNT
SCRATCH = run.CACHE / "movies"
# the research code on this machine, frames and movies of the 25 triplets (issue 18: 72 s
# and 29.9-31.7 s), and the workflow's frames measured beside it (29.5-31 s)
RESEARCH_FRAMES_S = 72.0
WORKFLOW_FRAMES_THEN_S = 30.25


def workdirs() -> dict[str, Path]:
    """A working folder for the shipped config and one without movies, over the 25 triplets."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    inputs = SCRATCH / "input"
    inputs.mkdir(parents=True)
    for _name, files in run.cached_series(COUNT):
        for path in files:
            (inputs / Path(path).name).symlink_to(path)
    return {
        "movies": run.workdir(SCRATCH / "movies", inputs, run.CONFIG["movies"]),
        "frames": run.workdir(SCRATCH / "frames", inputs),
    }


def clean(folder: Path, *paths: str) -> None:
    for path in paths:
        shutil.rmtree(folder / path, ignore_errors=True)


def segments_job(results: Path) -> dict[str, float]:
    """The batch's segments job (all 5 movies): wall and CPU seconds per frame, peak RSS MB
    (Snakemake's benchmark record, the job's processes and their children)."""
    (record,) = run.job_records(results / "benchmarks" / "segments").values()
    return {
        "wall s/frame": float(record["s"]) / COUNT,
        "CPU s/frame": float(record["cpu_time"]) / COUNT,
        "peak RSS MB": float(record["max_rss"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    frames_dir = encoders.frames()
    folders = workdirs()
    subprocess.run(run.snakemake(folders["movies"], args.cores), check=True, capture_output=True)
    runs: dict[str, list[dict]] = {}
    jobs: list[dict[str, float]] = []
    for repeat in range(args.repeats):
        research = encoders.research_movies(frames_dir, SCRATCH / "research")["total"]
        runs.setdefault("research", []).append(research)
        clean(folders["movies"], "results/segments", "results/movies")
        runs.setdefault("movies", []).append(
            run.measure(run.snakemake(folders["movies"], args.cores))
        )
        jobs.append(segments_job(folders["movies"] / "results"))
        clean(folders["movies"], "results", ".snakemake")
        runs.setdefault("end to end", []).append(
            run.measure(run.snakemake(folders["movies"], args.cores))
        )
        clean(folders["frames"], "results", ".snakemake")
        runs.setdefault("frames only", []).append(
            run.measure(run.snakemake(folders["frames"], args.cores))
        )
        walls = ", ".join(f"{k} {v[-1]['wall']:.1f} s" for k, v in runs.items())
        print(f"repeat {repeat + 1}/{args.repeats}: {walls}", flush=True)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    print(
        f"\n{COUNT} full-size triplets, the 5 shipped movies, {args.cores} cores, medians of "
        f"{args.repeats} repeats\n"
    )
    print("| case | wall s | CPU s | CPU s/frame |")
    print("|---|---:|---:|---:|")
    labels = {
        "research": "research code, its 5 ffmpeg calls",
        "movies": f"workflow movie stage, snakemake --cores {args.cores}",
        "end to end": f"workflow frames and movies, snakemake --cores {args.cores}",
        "frames only": f"workflow frames only (movies: []), --cores {args.cores}",
    }
    for kind, label in labels.items():
        wall, cpu = median(kind, "wall"), median(kind, "cpu")
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {cpu / COUNT:.2f} |")
    research, movies = median("research", "wall"), median("movies", "wall")
    print(f"\nmovie stage: {research / movies:.2f}x the research code's speed (wall)")
    # the research code's frames today: its figure scaled by the drift of the workflow's
    drift = median("frames only", "wall") / WORKFLOW_FRAMES_THEN_S
    whole = RESEARCH_FRAMES_S * drift + research
    print(
        f"end to end: the research code's frames ({RESEARCH_FRAMES_S:.0f} s, scaled by "
        f"today's speed of the workflow's frames, x{drift:.2f}) and its movies measured now: "
        f"{whole:.1f} s, {whole / median('end to end', 'wall'):.2f}x the workflow's"
    )
    print("\nthe segments job (every movie of the batch), medians:")
    for name in jobs[0]:
        print(f"  {name}: {statistics.median(j[name] for j in jobs):.3f}")


if __name__ == "__main__":
    main()
