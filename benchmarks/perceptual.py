"""Benchmark: perceptual_frame against rgb_frame, and the palettes' colour-blindness figures.

    python benchmarks/perceptual.py [--size 4096] [--repeats 3] [--search]

Renders the synthetic Sun (aia_reloaded.sun_model, seed 0, photon noise) in all seven channels
at size x size and 0.6"/px, with levels at percentiles 25 / 99.9 and gamma 2.8. On one thread
(cv2.setNumThreads(1)), side by side in each repeat, best of `repeats`: rgb_frame with the
default look and perceptual_frame with the default perceptual look of 304, 171, 193, both on
scaled channels and both scaling on the way (scale=); then perceptual_frame for N = 1, 3, 7.
It also prints the build time of the max-chroma table, the share of pixels outside sRGB before
the chroma cut, and PERCEPTUAL.md section 4's figures of both palettes: the smallest pairwise
dE_OK and dE00 of the pure channel colours per observer, for N = 3 and N = 7. --search
instead searches the lightness of the cvd palette (search_cvd).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from aia_reloaded import perceptual
from aia_reloaded.colour import percentile_levels, rgb_frame, scale_channel
from aia_reloaded.stages import Buffers
from aia_reloaded.sun_model import SunModel
from aia_reloaded.synthetic import CHANNEL_PROPERTIES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import perceptual_reference as reference

WAVELENGTHS = [304, 171, 193, 211, 335, 94, 131]  # the first three: the default channels
RGB_LOOK = {
    "matrix": [[1.0, 0.6, -0.3], [0.0, 1.0, 0.1], [0.0, 0.1, 1.0]],
    "scalemin": 20,
    "lab": [1.0, 0.96, 1.04],
    "lmin": 0,
}


def sun_images(size: int) -> list[np.ndarray]:
    """Prepped-like images of WAVELENGTHS: DN of one exposure with photon noise, float32."""
    model, rng = SunModel(0), np.random.default_rng(0)
    axis = ((np.arange(size) - (size - 1) / 2) * 0.6 * 4096 / size).astype(np.float32)
    tx, ty = np.broadcast_to(axis, (size, size)), np.broadcast_to(-axis[:, None], (size, size))
    images = []
    for wavelength in WAVELENGTHS:
        counts = model.emission(wavelength, tx, ty) * np.float32(CHANNEL_PROPERTIES[wavelength][2])
        counts += np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
        images.append(np.maximum(counts, 0))
    return images


def best_time(function, repeats: int) -> float:
    """The shortest of `repeats` wall times of function(), in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def outside_share(scaled: list[np.ndarray], look: dict) -> float:
    """The share of pixels outside sRGB before the chroma cut (every 4th row and column)."""
    lab = reference.oklab([s[::4, ::4] for s in scaled], **look)
    rgb = perceptual.oklab_to_linear(lab)
    return float(np.any((rgb < 0) | (rgb > 1), axis=-1).mean())


def compare(prepped, scaled, scales, repeats: int) -> None:
    """rgb_frame and perceptual_frame side by side, N = 3, without and with scale=."""
    look = perceptual.perceptual_look(WAVELENGTHS[:3], {})
    empty = Buffers().empty("frame")
    cases = {
        "scaled inputs": (scaled[:3], None),
        "scale= on the way": (prepped[:3], scales[:3]),
    }
    times = {(case, name): [] for case in cases for name in ("rgb", "perceptual")}
    for _ in range(repeats):
        for case, (channels, scale) in cases.items():
            start = time.perf_counter()
            rgb_frame(*channels, **RGB_LOOK, scale=scale, empty=empty)
            times[case, "rgb"].append(time.perf_counter() - start)
            start = time.perf_counter()
            perceptual.perceptual_frame(channels, **look, scale=scale, empty=empty)
            times[case, "perceptual"].append(time.perf_counter() - start)
    print("N = 3 (304, 171, 193), best of", repeats)
    for case in cases:
        rgb, perc = (1e3 * min(times[case, name]) for name in ("rgb", "perceptual"))
        print(
            f"  {case:18s} rgb_frame {rgb:6.0f} ms  perceptual_frame {perc:6.0f} ms  "
            f"ratio {perc / rgb:.2f}"
        )
    print(f"  outside sRGB before the cut: {100 * outside_share(scaled[:3], look):.3f} %")


def scaling(scaled, repeats: int) -> None:
    """perceptual_frame for N = 1, 3, 7 (scaled inputs)."""
    empty = Buffers().empty("frame")
    print("perceptual_frame by channel count (scaled inputs), best of", repeats)
    for wavelengths in ([171], WAVELENGTHS[:3], WAVELENGTHS):
        n = len(wavelengths)
        look = perceptual.perceptual_look(wavelengths, {})
        channels = [scaled[WAVELENGTHS.index(w)] for w in wavelengths]
        ms = best_time(
            lambda c=channels, k=look: perceptual.perceptual_frame(c, **k, empty=empty), repeats
        )
        share = 100 * outside_share(channels, look)
        print(f"  N = {n}: {ms:6.0f} ms, {ms / n:5.0f} ms per channel, {share:.3f} % cut")


def palettes() -> None:
    """Smallest pairwise dE_OK / dE00 of the pure channel colours, per palette and observer."""
    print("palettes: min pairwise dE_OK / dE00 of the channels alone at full")
    for palette in perceptual.PALETTES:
        for wavelengths in (WAVELENGTHS[:3], WAVELENGTHS):
            look = perceptual.perceptual_look(wavelengths, {"palette": palette})
            keys = ("hues", "lightness", "chroma", "blend", "ratio")
            colours = perceptual.channel_colours(*(look[k] for k in keys))
            figures = reference.separations(colours)
            cells = "  ".join(f"{o} {ok:.3f} / {de:4.1f}" for o, (ok, de) in figures.items())
            print(f"  {palette:3s} N = {len(wavelengths)}: {cells}")
            print("      " + ", ".join(f"#{r:02X}{g:02X}{b:02X}" for r, g, b in colours))


def search_cvd(restarts: int = 2000) -> None:
    """The lightness per wavelength, on the aia hues, that best passes section 4's criterion.

    Coordinate ascent from random starts over lightness 0.40, 0.425 ... 0.90. The score is the
    smallest figure over observers and pairs as a fraction of its threshold (0.15 / 15 among the
    default three channels, 0.10 / 10 among all seven); 1 passes.
    """
    levels = np.round(np.arange(0.40, 0.901, 0.025), 3)
    colours = []  # candidate k * len(levels) + j: wavelength k at lightness levels[j]
    for wavelength in WAVELENGTHS:
        hue = perceptual.perceptual_look([wavelength], {})["hues"]
        chroma = 0.9 * perceptual.max_chroma(levels, hue * len(levels))
        colours += perceptual.channel_colours(hue * len(levels), levels, chroma)
    linear = reference.srgb_to_linear(np.array(colours) / 255)
    score7 = score3 = np.inf
    for observer in reference.CVD:
        seen = reference.simulate_cvd(linear, observer)
        ok, lab = perceptual.linear_to_oklab(seen), reference.linear_to_cielab(seen)
        d_ok = np.linalg.norm(ok[:, None] - ok[None], axis=-1)
        d_00 = reference.ciede2000(lab[:, None], lab[None])
        score7 = np.minimum(score7, np.minimum(d_ok / 0.10, d_00 / 10))
        score3 = np.minimum(score3, np.minimum(d_ok / 0.15, d_00 / 15))
    n, rng, found = len(levels), np.random.default_rng(0), {}
    for _ in range(restarts):
        pick = rng.integers(0, n, 7) + n * np.arange(7)
        for _sweep in range(20):
            before = pick.copy()
            for k in range(7):
                others = np.delete(pick, k)
                score = score7[k * n : (k + 1) * n][:, others].min(axis=1)
                if k < 3:
                    default = np.delete(pick[:3], k)
                    score = np.minimum(score, score3[k * n : (k + 1) * n][:, default].min(axis=1))
                pick[k] = k * n + np.argmax(score)
            if (pick == before).all():
                break
        upper7, upper3 = np.triu_indices(7, 1), np.triu_indices(3, 1)
        value = min(
            score7[np.ix_(pick, pick)][upper7].min(), score3[np.ix_(pick, pick)][upper3].min()
        )
        found[tuple(levels[pick % n])] = float(value)
    print("cvd search: best lightness for", WAVELENGTHS, "(score: 1 passes)")
    for lightness, value in sorted(found.items(), key=lambda item: -item[1])[:5]:
        print(f"  {value:.3f}  {[float(v) for v in lightness]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search", action="store_true", help="search the cvd lightness, then stop")
    args = parser.parse_args()
    if args.search:
        search_cvd()
        return
    cv2.setNumThreads(1)
    start = time.perf_counter()
    perceptual.chroma_table()
    print(f"max-chroma table {perceptual.TABLE_SHAPE}: {time.perf_counter() - start:.2f} s")
    palettes()
    start = time.perf_counter()
    prepped = sun_images(args.size)
    print(f"synthetic Sun, 7 channels at {args.size}^2: {time.perf_counter() - start:.0f} s")
    scales = [(*percentile_levels(image, 25, 99.9), 2.8) for image in prepped]
    scaled = [scale_channel(image, *s) for image, s in zip(prepped, scales, strict=True)]
    compare(prepped, scaled, scales, args.repeats)
    scaling(scaled, args.repeats)


if __name__ == "__main__":
    main()
