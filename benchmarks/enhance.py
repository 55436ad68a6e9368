"""Benchmark: MGN and WOW of one channel on one thread, against sunkit-image and watroo.

    python benchmarks/enhance.py [--size 4096] [--repeats 3] [--bilateral] [--no-reference]

On a synthetic full-disk-like float32 image (tests/enhance_reference.sun, cached in
benchmarks/cache/), with cv2.setNumThreads(1) and the config's default settings, it prints
per method: the best of `repeats` times of enhance (buffers reused, as the workflow calls
it) and the time of series_parameters; the memory each adds to a process (peak RSS of a
subprocess that runs it, less that of one that only loads the image); and, side by side in
the same run when they are installed, one run of the reference implementation
(sunkit_image.enhance.mgn, watroo.utils.wow), the speed-up, and the agreement of the outputs
(RMS and 99.9th percentile of |difference| over the reference's range R). The references
get the same fixed parameters; sunkit does not clamp its gamma term, so MGN is compared with
a1 = the image maximum. --bilateral adds the edge-aware WOW (slow: watroo's takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from aia_reloaded.enhance import enhance, series_parameters
from aia_reloaded.stages import Buffers

REPO = Path(__file__).resolve().parents[1]
MGN = {"sigmas": [1.25, 2.5, 5, 10, 20, 40], "k": 0.7, "gamma": 3.2, "h": 0.7, "weights": None}
WOW = {"scales": 7, "denoise": [5, 2, 1], "h": 0.99, "gamma": 4.0, "bilateral": False}
SETTINGS = {"mgn": MGN, "wow": WOW, "bilateral": {**WOW, "bilateral": True}}


def test_image(size: int) -> np.ndarray:
    """The synthetic sun of that size, made once."""
    path = REPO / "benchmarks" / "cache" / f"enhance_sun_{size}.npy"
    if not path.exists():
        sys.path.insert(0, str(REPO / "tests"))
        from enhance_reference import sun

        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, sun(size))
    return np.load(path)


def method_of(case: str) -> str:
    return "wow" if case == "bilateral" else case


def best_time(function, repeats: int) -> tuple[float, object]:
    """The shortest wall time of `repeats` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_rss_mb(size: int, case: str, stage: str, fixed: dict) -> float:
    """Peak RSS (MB) of a fresh process that loads the image and runs `stage` of `case`."""
    command = [sys.executable, __file__, "--size", str(size), "--memory", case, stage]
    output = subprocess.run([*command, json.dumps(fixed)], capture_output=True, text=True)
    if output.returncode:
        raise RuntimeError(output.stderr)
    return float(output.stdout)


def memory_child(size: int, case: str, stage: str, fixed: str) -> None:
    """Run `stage` (nothing, parameters or enhance, twice with the same buffers) and print
    the peak RSS of this process in MB."""
    image, method, settings = test_image(size), method_of(case), SETTINGS[case]
    if stage == "parameters":
        series_parameters(image, method, settings)
    elif stage == "enhance":
        buffers = Buffers()
        for _ in range(2):
            enhance(image, method, settings, json.loads(fixed), buffers)
    print(peak_rss_of_this_process() / 2**20)


def peak_rss_of_this_process() -> int:
    """Bytes: VmHWM on Linux (ru_maxrss would count the parent's memory at the fork)."""
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def agreement(out: np.ndarray, expected: np.ndarray, where=None) -> str:
    """RMS and 99.9th percentile of |out - expected| over the range of expected."""
    error = np.abs(out.astype(np.float64) - expected)
    if where is not None:
        error, expected = error[where], expected[where]
    span = float(expected.max() - expected.min())
    rms, p999 = np.sqrt(np.mean(error**2)) / span, np.percentile(error, 99.9) / span
    return f"RMS {rms:.1e} R, p99.9 {p999:.1e} R"


def reference(case: str, image: np.ndarray, fixed: dict):
    """(name, run) of the reference implementation of case with `fixed`, or None."""
    settings = SETTINGS[case]
    try:
        if case == "mgn":
            from sunkit_image.enhance import mgn
        else:
            from watroo.utils import wow
    except ImportError:
        return None
    if case == "mgn":
        keys = {key: settings[key] for key in ("k", "gamma", "h", "weights")}
        return "sunkit_image mgn", lambda: mgn(
            image.copy(), sigma=settings["sigmas"], gamma_min=fixed["a0"],
            gamma_max=fixed["a1"], **keys,
        )  # fmt: skip
    return "watroo wow", lambda: wow(
        image, n_scales=settings["scales"], denoise_coefficients=settings["denoise"],
        noise=fixed["noise"], bilateral=1 if settings["bilateral"] else None,
        gamma=settings["gamma"], gamma_min=fixed["g_min"], gamma_max=fixed["g_max"],
        h=settings["h"],
    )[0]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bilateral", action="store_true", help="also the edge-aware WOW")
    parser.add_argument("--no-reference", action="store_true", help="skip sunkit and watroo")
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[variable] = "1"  # for the references' libraries, imported later
    if args.memory:
        memory_child(args.size, *args.memory)
        return
    image = test_image(args.size)
    print(f"{args.size}^2 float32, 1 thread, OpenCV {cv2.__version__}, NumPy {np.__version__}")
    baseline = peak_rss_mb(args.size, "mgn", "none", {})
    for case in ("mgn", "wow", "bilateral") if args.bilateral else ("mgn", "wow"):
        method, settings = method_of(case), SETTINGS[case]
        start = time.perf_counter()
        fixed = series_parameters(image, method, settings)
        parameters_time = time.perf_counter() - start
        run = partial(enhance, image, method, settings, fixed, Buffers())
        run()  # the buffers' first touch
        repeats = 1 if case == "bilateral" else args.repeats
        seconds, out = best_time(run, repeats)
        out = out.copy()
        added = [peak_rss_mb(args.size, case, stage, fixed) - baseline
                 for stage in ("enhance", "parameters")]  # fmt: skip
        print(f"\n{case}: enhance {seconds:.2f} s (best of {repeats}, buffers reused), "
              f"series_parameters {parameters_time:.2f} s")  # fmt: skip
        print(f"  memory added: enhance {added[0]:.0f} MB, series_parameters {added[1]:.0f} MB")
        print(f"  fixed: {fixed}")
        if args.no_reference:
            continue
        if method == "mgn":  # sunkit's gamma term is not clamped: no value above a1
            fixed = {**fixed, "a1": float(image.max())}
            out = enhance(image, method, settings, fixed).copy()
        found = reference(case, image, fixed)
        if found is None:
            print("  reference not installed (pip install sunkit-image watroo): skipped")
            continue
        name, run = found
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference_seconds, expected = best_time(run, 1)
        print(f"  {name}: {reference_seconds:.2f} s (1 run): speed-up "
              f"{reference_seconds / seconds:.1f}x")  # fmt: skip
        print(f"  agreement: {agreement(out, expected)}; "
              f"in the field of view: {agreement(out, expected, image != 0)}")  # fmt: skip


if __name__ == "__main__":
    main()
