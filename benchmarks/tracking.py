"""Benchmark: tracked close-ups, their accuracy and their cost per frame.

    python benchmarks/tracking.py [--repeats 5] [--figure docs/tracked_vs_fixed.jpg]

1. accuracy: the box centre (4096 x 4096 frames at 0.6"/px, frames every 3 hours over 3 days,
   SDO-like observers: the Earth plus a 42,164 km daily circle) against sunpy's
   RotatedSunFrame with the Sun's centre held fixed, for latitudes 0, +-30, +-60 degrees and
   each rotation model; beside it, plain RotatedSunFrame (the point fixed relative to the
   barycentre) and the Earth's centre standing in for SDO (frame lists without observers);
2. jitter: a blob at fractional positions, its centroid in the box against the exact centre,
   for the sub-pixel box (bicubic) and the whole-pixel box;
3. cost per frame: the box centres of a batch (one sunpy transform for all its frames), and
   the crop of a 4096 x 4096 frame to 1024 x 1024, whole-pixel slice against sub-pixel shift,
   and the decoding of the JPEG that both follow; with reproject, sunpy's nodes and the
   remap of a frame;
4. cost per frame of a tracked box of the frames themselves (a crop of the config or of a
   product): a 1024^2 box of the default composite and of a channel product rendered from
   a prepped 4096^2 triplet, fixed against tracked.

With --figure, it also writes a side-by-side image: the fixed box and the tracked box of the
same synthetic series (a bright region drawn where sunpy's rotation puts it, 24 hours).
It prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_tracking as reference  # tests/test_tracking.py: sunpy's positions

from aia_reloaded import configuration, stages, tracking, video
from aia_reloaded.video import subpixel_box

REPO = Path(__file__).resolve().parents[1]
THREE_DAYS = reference.THREE_DAYS


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def accuracy() -> None:
    observers = reference.sdo_observers(THREE_DAYS)
    earth = [tracking.earth_observer(o.time) for o in observers]
    grid = tracking.Grid(4096, 0.6)
    print("accuracy, px over 3 days (max |box centre - sunpy|):")
    print("  model      lat  sun-centred  plain RotatedSunFrame  Earth for SDO")
    for model in reference.MODELS:
        for lat in (0, 30, -30, 60, -60):
            crop = reference.crop_at(-55, lat, observers[0])
            got = tracking.box_centres(
                tracking.Track(observers[0], model, grid), crop, observers, (4096, 4096), "b"
            )
            exact = reference.sunpy_track(crop, observers, 4096, 0.6, model)
            plain = reference.sunpy_track(crop, observers, 4096, 0.6, model, sun_centred=False)
            from_earth = tracking.box_centres(
                tracking.Track(earth[0], model, grid), crop, earth, (4096, 4096), "b"
            )
            errors = [np.abs(got - other).max() for other in (exact, plain, from_earth)]
            print(f"  {model:9} {lat:4}  {errors[0]:11.1e}  {errors[1]:21.2f}  {errors[2]:13.2f}")


def jitter() -> None:
    y, x = np.mgrid[:200, :200].astype(np.float32)
    errors = {"sub-pixel (bicubic)": [], "whole-pixel": []}
    for offset in np.linspace(0, 1, 21):
        cx, cy = 100.3 + offset, 99.6 + offset / 2
        blob = np.round(250 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 8)).astype(np.uint8)
        image = np.dstack([blob] * 3)
        x0, y0 = round(cx - 31.5), round(cy - 31.5)
        boxes = {
            "sub-pixel (bicubic)": subpixel_box(image, (cx, cy), (64, 64)),
            "whole-pixel": image[y0 : y0 + 64, x0 : x0 + 64],
        }
        for name, box in boxes.items():
            grey = box[..., 0].astype(float)
            rows, cols = np.indices(grey.shape)
            found = np.array([(cols * grey).sum(), (rows * grey).sum()]) / grey.sum()
            errors[name].append(np.hypot(*(found - 31.5)))
    for name, values in errors.items():
        rms = np.sqrt(np.mean(np.square(values)))
        print(f"jitter, {name}: max {max(values):.3f} px, rms {rms:.3f} px")


def cost(repeats: int) -> None:
    grid = tracking.Grid(4096, 0.6)
    crop = [1024, 1024, 1200, 1500]
    for count in (1, 25, 300):
        times = [THREE_DAYS[0] + timedelta(seconds=12 * i) for i in range(count)]
        observers = reference.sdo_observers(times)
        track = tracking.Track(observers[0], "howard", grid)

        def centres(track=track, observers=observers):
            return tracking.box_centres(track, crop, observers, (4096, 4096), "b")

        ms = median_ms(centres, repeats)
        print(
            f"box centres, a batch of {count:3} frames: {ms:7.1f} ms, {ms / count:6.2f} ms a frame"
        )
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (4096, 4096, 3), np.uint8), (0, 0), 3)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "frame.jpg"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        decode = median_ms(lambda: cv2.imread(str(path)), repeats)
    whole = median_ms(lambda: np.ascontiguousarray(frame[1500:2524, 1200:2224]), repeats)
    sub = median_ms(lambda: subpixel_box(frame, (1711.87, 2011.38), (1024, 1024)), repeats)
    print(f"crop 4096^2 -> 1024^2: whole-pixel {whole:.2f} ms, sub-pixel {sub:.2f} ms a frame "
          f"(decoding the 4096^2 JPEG: {decode:.0f} ms)")  # fmt: skip
    # reproject: sunpy places nodes every NODE_STEP px (65 x 65 for 1024^2), OpenCV remaps
    times = [THREE_DAYS[0] + timedelta(hours=h) for h in (0, 12)]
    observers = reference.sdo_observers(times)
    track = tracking.Track(observers[0], "howard", grid, reproject=True)
    axes = [c + np.arange(1024) for c in crop[2:]]
    node_axes = [np.linspace(a[0], a[-1], 1024 // video.NODE_STEP + 1) for a in axes]
    nodes = tracking.reprojection_nodes(track, *node_axes, observers[1:])
    place = median_ms(
        lambda: tracking.reprojection_nodes(track, *node_axes, observers[1:]), repeats
    )
    weights = [video._interpolation(n, a) for n, a in zip(node_axes, axes, strict=True)]
    remap = median_ms(lambda: video.reprojected_box(frame, nodes[0], weights, 1), repeats)
    print(f"reproject 4096^2 -> 1024^2: nodes {place:.1f} ms, remap {remap:.1f} ms a frame")


def frame_cost(repeats: int) -> None:
    """A 1024^2 box of a product rendered from a prepped 4096^2 triplet, fixed against
    tracked (the box's place in the triplet, the frame of a window 2 px wider, the bicubic
    shift), for the default composite and a channel product."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["crop"] = [1200, 2224, 1500, 2524]
    config["products"] = [{"name": "composite"}, {"name": "c", "kind": "channel", "channel": 171}]
    rng = np.random.default_rng(0)
    channels = {
        wl: cv2.GaussianBlur(rng.uniform(0, 1000, (4096, 4096)).astype(np.float32), (0, 0), 3)
        for wl in config["channels"]
    }
    levels = {"channels": {wl: {"low": 100.0, "high": 900.0} for wl in channels}}
    prep = {"size": 4096, "plate_scale": 0.6}
    observers = reference.sdo_observers([THREE_DAYS[0], THREE_DAYS[4]])
    at = observers[0].time.isoformat()
    seen = observers[1]  # 12 hours later
    observed = [seen.time.isoformat(), *map(str, (seen.lon, seen.lat, seen.distance))]
    cases = {}
    for track in (None, {"at": at, "rotation": "howard", "at_file": None}):
        config["track"] = track
        for spec in configuration.products_of(config):
            wanted = [stages.Product(spec, levels)]
            tracks = stages.product_tracks(wanted, prep)
            buffers = stages.Buffers()  # as a render job reuses its arrays

            def frame(wanted=wanted, tracks=tracks, buffers=buffers):
                centres = tracks.centres(observed)
                return stages.product_frames(channels, wanted, observed[0], buffers, {}, centres)

            frame()  # the colour table's import and the arrays, outside the timing
            cases[spec["kind"], "tracked" if track else "fixed"] = frame, tracks
    times = {case: [] for case in cases}
    for _ in range(repeats):  # interleaved: the cases see the same machine
        for case, (frame, _tracks) in cases.items():
            times[case].append(median_ms(frame, 1))
    for (kind, how), (_frame, tracks) in cases.items():
        place = median_ms(lambda tracks=tracks: tracks.centres(observed), repeats)
        ms = statistics.median(times[kind, how])
        print(f"{kind:9} 1024^2 box, {how:7}: {ms:6.1f} ms a frame, of which placing the box "
              f"{place if tracks.boxes else 0:5.1f} ms")  # fmt: skip


def figure(path: Path) -> None:
    """The fixed and the tracked box of a synthetic series at 0, 12 and 24 hours."""
    size, scale = 1024, 2.4
    hours = (0, 12, 24)
    times = [THREE_DAYS[0] + timedelta(hours=h) for h in hours]
    observers = reference.sdo_observers(times)
    crop = reference.crop_at(-10, 20, observers[0], size, scale, w=160)
    truth = reference.sunpy_track(crop, observers, size, scale, "howard")
    track = tracking.Track(observers[0], "howard", tracking.Grid(size, scale))
    centres = tracking.box_centres(track, crop, observers, (size, size), "figure")
    y, x = np.mgrid[:size, :size].astype(np.float32)
    tiles = {"fixed": [], "tracked": []}
    for centre, where in zip(truth, centres, strict=True):
        rings = np.hypot(x - centre[0], y - centre[1])
        region = 200 * np.exp(-(rings**2) / 200) + 40 * (np.abs(rings - 25) < 1.5)
        frame = np.dstack([np.clip(region + 30, 0, 255)] * 3).astype(np.uint8)
        frame[..., 0] //= 3  # a warm colour
        w, h, x0, y0 = crop
        tiles["fixed"].append(frame[y0 : y0 + h, x0 : x0 + w])
        tiles["tracked"].append(subpixel_box(frame, where, (w, h)))
    rows = []
    for name, images in tiles.items():
        row = np.hstack(
            [np.pad(cv2.resize(i, (320, 320)), ((4, 4), (4, 4), (0, 0))) for i in images]
        )
        label = np.zeros((40, row.shape[1], 3), np.uint8)
        text = f"{name} box: " + ", ".join(f"{h} h" for h in hours)
        cv2.putText(label, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255,) * 3, 2)
        rows.append(np.vstack([label, row]))
    cv2.imwrite(str(path), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"{path}: the fixed box (top) and the tracked box (bottom) at {hours} hours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    accuracy()
    jitter()
    cost(args.repeats)
    frame_cost(args.repeats)
    if args.figure:
        figure(args.figure)


if __name__ == "__main__":
    main()
