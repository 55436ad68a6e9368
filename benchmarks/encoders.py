"""Benchmark: the research code's movie encoding, and x264 settings for the shipped movies.

    python benchmarks/encoders.py [--repeats 3] [--presets slow medium ...] [--crfs 16 18 20]

Takes the first 25 triplets of benchmarks/cache/12s (made there if missing) and renders them
once with the shipped config, as run.py's floor (reference_levels, then render_batch), to
full-size 4096 x 4096 frame JPEGs in benchmarks/cache/frames25/. Then, one ffmpeg at a time:

1. The research code's movies. Its encode_video runs, for each of the 5 shipped recipes
   (config/config.yaml `movies`), one ffmpeg over a glob of the frame JPEGs: libx264 preset
   slow, crf 18, `-vf crop=w:h:x:y,scale=W:H[,pad=...]`. The 5 calls one after the other,
   `repeats` times: medians of wall and CPU time (the children's user + sys) per recipe and
   in all. research_movies(frames_dir, out_dir) is one such pass, for other benchmarks.
2. The encoders. Each recipe's frames are decoded, cropped, scaled and padded once by ffmpeg
   (the same filters) into a raw yuv420p reference (.y4m in benchmarks/cache/encoders/);
   libx264 encodes that reference at each preset x crf (plus the settings in EXTRA), each
   `repeats` times, so its time is the encoder's alone (reading the .y4m is timed too). Per
   setting: SSIM (All, and dB) of the movie against the reference (ffmpeg's ssim), bytes,
   encode CPU and wall per frame (medians). One table per recipe, then which settings keep
   SSIM >= and bytes <= 1.10 x those of slow/18 on each recipe, and the CPU they save.
3. Decoding: a 4096 x 4096 frame JPEG by OpenCV (one thread) at full size and at 1/2, 1/4,
   1/8 (IMREAD_REDUCED_COLOR_*), medians over the 25 frames; the 25 frames by ffmpeg alone
   (`-f null -`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # benchmarks/run.py: the cached series and the floor

from aia_reloaded import sequence, video

CACHE = run.CACHE
FRAMES = CACHE / "frames25"
WORK = CACHE / "encoders"
COUNT = 25
SOURCE = (4096, 4096)
FPS = 30
PRESETS = ("slow", "medium", "fast", "faster", "veryfast")
CRFS = (16, 18, 20)
# always measured, whatever --presets and --crfs say
EXTRA = (
    ("slow", 18),
    ("medium", 18),
    ("fast", 18),
    ("faster", 18),
    ("medium", 17),
    ("fast", 17),
    ("faster", 17),
    ("veryfast", 16),
    ("medium", 17.7),  # the shipped default
)
BASE = ("slow", 18)  # the research code's, and the default before this benchmark
BYTES_MARGIN = 1.10
FFMPEG = sequence.ffmpeg_exe()


def recipes() -> dict[str, video.Geometry]:
    """The shipped movies' geometries on 4096 x 4096 frames, by name."""
    movies = [sequence.MovieSettings(**movie) for movie in run.CONFIG["movies"]]
    return {movie.name: video.geometry(movie, SOURCE) for movie in movies}


def filters(geo: video.Geometry) -> str:
    """The research code's -vf: crop (if any), scale (if the size changes), pad (if any)."""
    chain, box = [], SOURCE
    if geo.crop:
        w, h, x, y = geo.crop
        chain.append(f"crop={w}:{h}:{x}:{y}")
        box = (w, h)
    (width, height), (padded_w, padded_h) = geo.size, geo.padded
    if geo.size != box:
        chain.append(f"scale={width}:{height}")
    if geo.padded != geo.size:
        chain.append(
            f"pad={padded_w}:{padded_h}:{(padded_w - width) // 2}:{(padded_h - height) // 2}"
        )
    return ",".join(chain)


def timed(command: list[str]) -> dict:
    """Wall and CPU seconds (user + sys) of a command; its stderr; exits if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-5000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"wall": wall, "cpu": cpu, "stderr": done.stderr}


def frames() -> Path:
    """The 25 frame JPEGs of the cached series, rendered once as run.py's floor does."""
    if len(list(FRAMES.glob("*.jpg"))) >= COUNT:
        return FRAMES
    series = run.cached_series(COUNT)
    scratch = FRAMES.with_name(FRAMES.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"rendering {COUNT} frames into {FRAMES} (once)", flush=True)
    run.floor(series, scratch, 2)
    shutil.rmtree(FRAMES, ignore_errors=True)
    scratch.rename(FRAMES)
    return FRAMES


def research_command(frames_dir: Path, geo: video.Geometry, output: Path) -> list[str]:
    """The research code's encode_video ffmpeg for one movie."""
    return [
        FFMPEG, "-framerate", str(FPS), "-pattern_type", "glob", "-i", f"{frames_dir}/*.jpg",
        "-c:v", "libx264", "-preset", "slow", "-crf", "18", "-r", str(FPS),
        "-vf", filters(geo), "-pix_fmt", "yuv420p", str(output), "-y",
    ]  # fmt: skip


def research_movies(frames_dir: str | Path, out_dir: str | Path) -> dict:
    """One pass of the research code's movies of the frames in frames_dir (its 5 ffmpeg calls
    over a glob of the JPEGs, one after the other) into out_dir: per recipe name and "total",
    {"wall", "cpu"} in seconds (cpu: the ffmpeg child's user + sys) and the movie's "bytes"."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, geo in recipes().items():
        output = out_dir / f"{name}.mp4"
        took = timed(research_command(Path(frames_dir), geo, output))
        result[name] = {"wall": took["wall"], "cpu": took["cpu"], "bytes": output.stat().st_size}
    result["total"] = {k: sum(r[k] for r in result.values()) for k in ("wall", "cpu", "bytes")}
    return result


def reference(frames_dir: Path, geo: video.Geometry, output: Path) -> dict:
    """The frames through the recipe's filters, in yuv420p, to a raw .y4m; the time it took."""
    chain = ",".join(filter(None, [filters(geo), "format=yuv420p"]))
    return timed(
        [
            FFMPEG, "-y", "-framerate", str(FPS), "-pattern_type", "glob",
            "-i", f"{frames_dir}/*.jpg", "-vf", chain, "-f", "yuv4mpegpipe", str(output),
        ]
    )  # fmt: skip


def encode(source: Path, preset: str, crf: int, output: Path) -> dict:
    """libx264 of a .y4m at preset and crf (threads: ffmpeg's default); the time it took."""
    return timed(
        [
            FFMPEG, "-y", "-i", str(source), "-c:v", "libx264", "-preset", preset,
            "-crf", str(crf), "-pix_fmt", "yuv420p", str(output),
        ]
    )  # fmt: skip


def ssim(movie: Path, source: Path) -> tuple[float, float]:
    """SSIM All (and in dB) of a movie against its yuv420p reference, ffmpeg's ssim filter."""
    stderr = timed(
        [FFMPEG, "-i", str(movie), "-i", str(source), "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"]
    )["stderr"]
    found = re.findall(r"All:([\d.]+) \(([\d.]+|inf)\)", stderr)
    if not found:
        sys.exit(f"no SSIM in ffmpeg's output:\n{stderr[-2000:]}")
    return float(found[-1][0]), float(found[-1][1])


def settings(presets: list[str], crfs: list[int]) -> list[tuple[str, int]]:
    """The grid and EXTRA, slowest preset first, then by crf."""
    grid = set(itertools.product(presets, crfs)) | set(EXTRA)
    order = {p: i for i, p in enumerate(PRESETS)}
    return sorted(grid, key=lambda s: (order.get(s[0], len(order)), s[1]))


def encoder_table(frames_dir: Path, grid: list[tuple[str, int]], repeats: int) -> dict:
    """Per recipe: the reference's making and reading, then per setting SSIM, bytes, times."""
    WORK.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, geo in recipes().items():
        source = WORK / f"{name}.y4m"
        made = reference(frames_dir, geo, source)
        reads = [timed([FFMPEG, "-i", str(source), "-f", "null", "-"]) for _ in range(repeats)]
        results[name] = {
            "size": f"{geo.padded[0]}x{geo.padded[1]}",
            "reference": {"wall": made["wall"], "cpu": made["cpu"]},
            "read": {k: statistics.median(r[k] for r in reads) for k in ("wall", "cpu")},
            "settings": {},
        }
    for repeat in range(repeats):
        for name in results:
            source = WORK / f"{name}.y4m"
            for preset, crf in grid:
                output = WORK / f"{name}.{preset}.{crf}.mp4"
                took = encode(source, preset, crf, output)
                row = results[name]["settings"].setdefault(
                    f"{preset}/{crf}", {"preset": preset, "crf": crf, "walls": [], "cpus": []}
                )
                row["walls"].append(took["wall"])
                row["cpus"].append(took["cpu"])
                size = output.stat().st_size
                if repeat == 0:
                    row["bytes"] = size
                    row["ssim"], row["ssim_db"] = ssim(output, source)
                elif size != row["bytes"]:
                    row["nondeterministic"] = True
            print(f"  repeat {repeat + 1}/{repeats}: {name} encoded", flush=True)
    for result in results.values():
        for row in result["settings"].values():
            row["wall"], row["cpu"] = (
                statistics.median(row["walls"]),
                statistics.median(row["cpus"]),
            )
    return results


def decoding(frames_dir: Path, repeats: int) -> dict:
    """CPU and wall per frame of decoding the frame JPEGs: OpenCV (1 thread), ffmpeg."""
    paths = sorted(frames_dir.glob("*.jpg"))[:COUNT]
    for path in paths:
        path.read_bytes()  # in the page cache, as for every other measurement
    cv2.setNumThreads(1)
    flags = {
        "full": cv2.IMREAD_COLOR,
        "1/2": cv2.IMREAD_REDUCED_COLOR_2,
        "1/4": cv2.IMREAD_REDUCED_COLOR_4,
        "1/8": cv2.IMREAD_REDUCED_COLOR_8,
    }
    result = {}
    for label, flag in flags.items():
        cpus, walls = [], []
        for path in paths:
            cpu, wall = time.process_time(), time.perf_counter()
            image = cv2.imread(str(path), flag)
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
            assert image is not None, path
        result[f"opencv {label} ({image.shape[1]}x{image.shape[0]})"] = {
            "cpu": statistics.median(cpus),
            "wall": statistics.median(walls),
        }
    command = [
        FFMPEG, "-framerate", str(FPS), "-pattern_type", "glob", "-i", f"{frames_dir}/*.jpg",
        "-f", "null", "-",
    ]  # fmt: skip
    runs = [timed(command) for _ in range(repeats)]
    result[f"ffmpeg, the {COUNT} frames to null"] = {
        k: statistics.median(r[k] for r in runs) / COUNT for k in ("wall", "cpu")
    }
    return result


def print_research(passes: list[dict]) -> None:
    names = list(passes[0])
    print(f"\n## (a) The research code's movies (libx264 slow/18 over the JPEG glob), {COUNT}")
    print(f"frames, median of {len(passes)} passes of the 5 calls one after the other\n")
    print("| recipe | wall s | CPU s | CPU s/frame | bytes |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        wall, cpu = (statistics.median(p[name][k] for p in passes) for k in ("wall", "cpu"))
        label = f"**{name}**" if name == "total" else name
        size = passes[0][name]["bytes"]
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {cpu / COUNT:.3f} | {size:,} |")


def print_tables(results: dict) -> None:
    print(f"\n## (b) libx264 settings per recipe, {COUNT} frames from the raw yuv420p reference")
    print("(CPU and wall: medians; dSSIM and bytes relative to slow/18; * meets the criterion)")
    base = f"{BASE[0]}/{BASE[1]}"
    for name, result in results.items():
        ref, read = result["reference"], result["read"]
        print(
            f"\n### {name} ({result['size']})\n\nreference (JPEG decode + filters, once): "
            f"{ref['cpu'] / COUNT:.3f} s CPU/frame, {ref['wall'] / COUNT:.3f} s wall/frame; "
            f"reading it alone: {read['cpu'] / COUNT * 1000:.1f} ms CPU/frame\n"
        )
        print(
            "| setting | SSIM All | SSIM dB | bytes | bytes / slow18 | CPU s/frame | "
            "CPU / slow18 | wall s/frame | meets |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|:-:|")
        rows, b = result["settings"], result["settings"][base]
        for key, row in rows.items():
            flag = " (bytes vary)" if row.get("nondeterministic") else ""
            print(
                f"| {key} | {row['ssim']:.6f} | {row['ssim_db']:.3f} | {row['bytes']:,}{flag} | "
                f"{row['bytes'] / b['bytes']:.3f} | {row['cpu'] / COUNT:.3f} | "
                f"{row['cpu'] / b['cpu']:.2f} | {row['wall'] / COUNT:.3f} | "
                f"{'*' if meets(row, b) else ''} |"
            )


def meets(row: dict, base: dict) -> bool:
    """SSIM at least slow/18's and bytes at most BYTES_MARGIN times slow/18's."""
    return row["ssim"] >= base["ssim"] and row["bytes"] <= BYTES_MARGIN * base["bytes"]


def print_summary(results: dict) -> None:
    base = f"{BASE[0]}/{BASE[1]}"
    names = list(results)
    keys = list(results[names[0]]["settings"])
    print(
        f"\n## Summary: settings with SSIM >= slow/18's and bytes <= {BYTES_MARGIN:.2f} x "
        "slow/18's\n\n(CPU: encode CPU s/frame summed over the 5 recipes, i.e. per frame of "
        "the series; bytes: all 5 movies)\n"
    )
    print("| setting | meets on | fails on | CPU s/frame (5 movies) | CPU saved | bytes / slow18 |")
    print("|---|:-:|---|---:|---:|---:|")
    total_base = sum(results[n]["settings"][base]["cpu"] for n in names)
    bytes_base = sum(results[n]["settings"][base]["bytes"] for n in names)
    for key in keys:
        rows = {n: results[n]["settings"][key] for n in names}
        fails = [n for n in names if not meets(rows[n], results[n]["settings"][base])]
        cpu = sum(r["cpu"] for r in rows.values())
        size = sum(r["bytes"] for r in rows.values())
        print(
            f"| {key} | {len(names) - len(fails)}/{len(names)} | {', '.join(fails) or '-'} | "
            f"{cpu / COUNT:.3f} | {1 - cpu / total_base:+.0%} | {size / bytes_base:.3f} |"
        )
    winners = [
        k
        for k in keys
        if k != base
        and all(meets(results[n]["settings"][k], results[n]["settings"][base]) for n in names)
    ]
    if winners:
        best = min(winners, key=lambda k: sum(results[n]["settings"][k]["cpu"] for n in names))
        cpu = sum(results[n]["settings"][best]["cpu"] for n in names)
        print(
            f"\nMeet the criterion on all 5 recipes: {', '.join(winners)}. Cheapest: {best}, "
            f"{cpu / COUNT:.3f} s CPU/frame against slow/18's {total_base / COUNT:.3f} "
            f"({1 - cpu / total_base:.0%} less)."
        )
    else:
        print("\nNo setting other than slow/18 meets the criterion on all 5 recipes.")


def print_decoding(result: dict) -> None:
    print("\n## Decoding a 4096 x 4096 frame JPEG (per frame)\n")
    print("| decoder | CPU ms | wall ms |")
    print("|---|---:|---:|")
    for label, row in result.items():
        print(f"| {label} | {row['cpu'] * 1000:.1f} | {row['wall'] * 1000:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--crfs", nargs="+", type=int, default=list(CRFS))
    args = parser.parse_args()
    start = time.perf_counter()
    frames_dir = frames()
    print(f"ffmpeg: {FFMPEG}\nframes: {frames_dir} ({COUNT} JPEGs, 4096 x 4096)", flush=True)

    passes = []
    for repeat in range(args.repeats):
        passes.append(research_movies(frames_dir, WORK / "research"))
        print(f"  research pass {repeat + 1}/{args.repeats}: {passes[-1]['total']['wall']:.1f} s")
    grid = settings(args.presets, args.crfs)
    print(f"encoding {len(grid)} settings x 5 recipes x {args.repeats} repeats", flush=True)
    results = encoder_table(frames_dir, grid, args.repeats)
    decoded = decoding(frames_dir, args.repeats)

    print_research(passes)
    print_tables(results)
    print_summary(results)
    base = f"{BASE[0]}/{BASE[1]}"
    print("\nThe research movies against the table's slow/18 (the same encoder from the .y4m):\n")
    print("| recipe | research SSIM All | slow/18 SSIM All | research bytes | slow/18 bytes |")
    print("|---|---:|---:|---:|---:|")
    for name, result in results.items():
        row = result["settings"][base]
        research = ssim(WORK / "research" / f"{name}.mp4", WORK / f"{name}.y4m")[0]
        print(
            f"| {name} | {research:.6f} | {row['ssim']:.6f} | {passes[0][name]['bytes']:,} | "
            f"{row['bytes']:,} |"
        )
    print_decoding(decoded)
    (WORK / "results.json").write_text(
        json.dumps({"research": passes, "encoders": results, "decoding": decoded}, indent=1)
    )
    print(f"\n{time.perf_counter() - start:.0f} s in all; raw numbers in {WORK / 'results.json'}")


if __name__ == "__main__":
    main()
