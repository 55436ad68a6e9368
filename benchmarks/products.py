"""Benchmark: what each more product costs a triplet at 4096 x 4096, beside the composite alone.

    python benchmarks/products.py [--triplets 5] [--repeats 3] [--figures]

Renders the first N triplets of run.py's cached full-size series in one process on one
thread (stages.render_batch, as the render job): the config's composite alone, then with
one more product of each kind (a channel in its AIA colour table, a second composite look,
a running difference, panels of four 1024 px tiles), then with all of them, the cases
interleaved in each repeat.
Prints, per case, the medians of CPU seconds a triplet and what the case adds to the
composite alone; reads and warps are counted, and are the same in every case.

--figures instead makes the README's docs/panels_frame.jpg (171, 193, 304 and the
composite side by side) and docs/difference_frame.jpg (the running difference of 193 over
12 s) from the first two triplets, with an eruption added to the second triplet's 193 file
(a bright front and a dimming behind it: the synthetic Sun itself does not change).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from astropy.io import fits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # benchmarks/run.py: the cached series and the shipped config

from aia_reloaded import configuration, stages

EXTRAS = {
    "channel": [{"name": "aia171", "kind": "channel", "channel": 171}],
    "composite": [{"name": "soft", "gamma": [2.2, 2.2, 1.9]}],
    "difference": [
        {"name": "rd193", "kind": "difference", "channel": 193, "mode": "running", "lag_s": 12,
         "base": None, "limit": None},
    ],
    "panels": [
        {"name": "aia171", "kind": "channel", "channel": 171},
        {"name": "aia193", "kind": "channel", "channel": 193},
        {"name": "aia304", "kind": "channel", "channel": 304},
        {"name": "talk", "kind": "panels", "panels": ["aia171", "aia193", "aia304", "composite"],
         "columns": 2, "tile": 1024, "timestamp": True},
    ],
}  # fmt: skip


def specs(extra: list[dict]) -> list[dict]:
    """The resolved products of the shipped config with `extra` after its composite."""
    products = [{"name": "composite", "kind": "composite"}, *extra]
    return configuration.products_of({**run.CONFIG, "products": products})


def products(series: list, extra: list[dict]) -> list[stages.Product]:
    """The products of specs(extra) with their levels from the first triplet of series."""
    prep, levels = run.CONFIG["prep"], run.CONFIG["levels"]
    main = stages.reference_levels(
        series[:1], None, run.CHANNELS, levels["low"], levels["high"], prep, [None] * 3
    )
    found = [stages.Product(specs(extra)[0], main)]
    for spec in specs(extra)[1:]:
        own = None
        if spec["kind"] != "panels":
            own = stages.product_levels(series[:1], main, spec, run.CHANNELS, prep)
        found.append(stages.Product(spec, own))
    return found


def render(series: list, wanted: list[stages.Product], folder: Path, threads: int = 1) -> float:
    """CPU seconds a triplet of render_batch on `threads` threads, the frames in folder."""
    outputs = [
        stages.Output(folder / product.spec["name"], folder / f"{product.spec['name']}.csv")
        for product in wanted
    ]
    start = time.process_time()
    stages.render_batch(series, run.CHANNELS, wanted, outputs, run.CONFIG["prep"], 95, threads)
    return (time.process_time() - start) / len(series)


def erupt(path: Path, out: Path) -> None:
    """A copy of a level-1 file with an eruption near the disk centre: an arc of brightening
    moving out (the front) and a dimming behind it, in DN."""
    with fits.open(path) as hdul:
        header, data = hdul[1].header, hdul[1].data.astype(np.float32)
    y, x = np.mgrid[: data.shape[0], : data.shape[1]].astype(np.float32)
    r = np.hypot(x - 2300, y - 2200)
    angle = np.arctan2(y - 2200, x - 2300)
    arc = np.exp(-(((r - 420) / 40) ** 2)) * (np.cos(angle - 0.6) > 0)
    dimming = np.exp(-((r / 260) ** 2))
    data += 300 * arc - 0.45 * dimming * np.clip(data, 0, None)
    hdu = fits.CompImageHDU(np.clip(data, 0, 32767).astype(np.int16), header, "RICE_1")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out, overwrite=True)


def figures(docs: Path) -> None:
    """docs/panels_frame.jpg and docs/difference_frame.jpg (see the module's docstring)."""
    first, (name, files) = run.cached_series(2)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        copied = [str(folder / Path(path).name) for path in files]
        for source, copy in zip(files[:2], copied[:2], strict=True):
            shutil.copy(source, copy)
        erupt(Path(files[2]), Path(copied[2]))  # the 193 file
        extra = [*EXTRAS["panels"], *EXTRAS["difference"]]
        render([first, (name, copied)], products([first], extra), folder, threads=2)
        for product, target in (("talk", "panels_frame.jpg"), ("rd193", "difference_frame.jpg")):
            frame = cv2.imread(str(folder / product / f"{name}.jpg"))
            small = cv2.resize(frame, (1024, 1024), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(docs / target), small, [cv2.IMWRITE_JPEG_QUALITY, 88])
            print(f"wrote {docs / target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--figures", action="store_true")
    args = parser.parse_args()
    if args.figures:
        figures(run.REPO / "docs")
        return
    series = run.cached_series(args.triplets)
    cases = {"composite alone": []} | {f"+ {kind}": extra for kind, extra in EXTRAS.items()}
    cases["+ all of them"] = list({e["name"]: e for x in EXTRAS.values() for e in x}.values())
    wanted = {case: products(series, extra) for case, extra in cases.items()}
    seconds = {case: [] for case in cases}
    for _ in range(args.repeats):
        for case in cases:
            with tempfile.TemporaryDirectory() as folder:
                seconds[case].append(render(series, wanted[case], Path(folder)))
    alone = statistics.median(seconds["composite alone"])
    print(f"{args.triplets} triplets at 4096^2, 1 thread, {args.repeats} repeats (medians)")
    print(f"{'case':18} {'products':>8} {'CPU s/triplet':>14} {'added':>7} {'a product':>10}")
    for case, times in seconds.items():
        median, count = statistics.median(times), len(wanted[case])
        added = median - alone
        each = f"{added / (count - 1):10.2f}" if count > 1 else f"{'':10}"
        print(f"{case:18} {count:8d} {median:14.2f} {added:7.2f} {each}")


if __name__ == "__main__":
    main()
