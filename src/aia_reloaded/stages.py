"""The pipeline's stages, each over one batch of triplets: what the workflow's scripts call."""

from __future__ import annotations

import collections
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import yaml

from aia_reloaded import enhance
from aia_reloaded.colour import percentile_levels, rgb_frame, scale_channel
from aia_reloaded.pairing import TIME_FORMAT, Skip
from aia_reloaded.perceptual import perceptual_frame
from aia_reloaded.products import (
    channel_frame,
    difference_frame,
    key_colour,
    panel_frame,
    panel_tiles,
    product_box,
    product_channels,
)
from aia_reloaded.reading import Header, InputError, parse_time, read_header, read_level1
from aia_reloaded.registration import prep
from aia_reloaded.video import subpixel_box
from aia_reloaded.writing import atomic_path, read_csv, save_array, write_csv, write_jpeg

log = logging.getLogger(__name__)

INDEX = "index.csv"
OBSERVATION = ("t_obs", "hgln_obs", "hglt_obs", "dsun_obs")  # time, observer (deg, deg, m)
INDEX_COLUMNS = ("triplet", *OBSERVATION)
SKIP_COLUMNS = ("file", "time", "reason")
FRAME_COLUMNS = ("frame", *OBSERVATION)


def channel_file(directory: str | Path, triplet: str, wavelength: int) -> Path:
    """The .npy file of one channel of a triplet in a stage directory."""
    return Path(directory) / f"{triplet}_{wavelength}.npy"


def observation(header: Header) -> tuple[str, ...]:
    """The OBSERVATION columns of a header: its time, and its observer ('' if unknown)."""
    observer = header.observer or ("", "", "")
    return (header.time.isoformat(timespec="milliseconds"), *map(str, observer))


def read_index(directory: str | Path) -> list[dict[str, str]]:
    """The triplets of a stage directory, in time order."""
    return read_csv(Path(directory) / INDEX)


class Buffers(threading.local):
    """Each thread's large arrays, reused from one triplet to the next.

    Fresh memory costs the kernel a page clear: without reuse, clearing pages took a fifth
    of the CPU time of a frame (measured at 4096^2).
    """

    def empty(self, name: str) -> Callable:
        """np.empty for the arrays named `name`: the same memory each time for one shape."""

        def empty(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
            key = (name, tuple(shape), np.dtype(dtype))
            if key not in self.__dict__:
                self.__dict__[key] = np.empty(shape, dtype)
            return self.__dict__[key]

        return empty


def prep_file(
    path: str,
    wavelength: int,
    size: int,
    plate_scale: float,
    interpolation: str,
    empty: Callable = np.empty,
    out: np.ndarray | None = None,
):
    """Header and prepped image of one file, checked to be a usable image of `wavelength`.

    The file is read into arrays from empty(shape, dtype), the image prepped into `out`.
    """
    header, image = read_level1(path, empty)
    if header.wavelength != wavelength:
        raise InputError(path, f"WAVELNTH is {header.wavelength}, expected {wavelength}")
    if header.quality != 0:
        raise InputError(path, f"QUALITY is {header.quality} (not 0): a flagged frame")
    if not image.any():
        raise InputError(path, "the image is all zero (or NaN)")
    return header, prep(header, image, size, plate_scale, interpolation, out)


def prep_triplet(
    files: Sequence[str],
    channels: Sequence[int],
    size: int,
    plate_scale: float,
    interpolation: str,
    threads: int = 1,
    buffers: Buffers | None = None,
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """The observation (of the first channel) and prepped channels of one triplet's files.

    With `buffers`, the channels are arrays of the calling thread that its next call reuses
    (and `threads` must be 1).
    """

    def prep_channel(index: int, path: str, wavelength: int):
        if buffers is None:
            return prep_file(path, wavelength, size, plate_scale, interpolation)
        out = buffers.empty(f"prepped {index}")((size, size))
        empty = buffers.empty("level-1")  # free again once the channel is prepped
        return prep_file(path, wavelength, size, plate_scale, interpolation, empty, out)

    if threads == 1:  # in this thread, whose buffers are the ones to reuse
        prepped = list(map(prep_channel, range(len(files)), files, channels))
    else:
        with ThreadPoolExecutor(threads) as pool:
            prepped = list(pool.map(prep_channel, range(len(files)), files, channels))
    headers: list[Header] = [h for h, _ in prepped]
    return observation(headers[0]), [image for _, image in prepped]


def enhance_channels(
    images: Sequence[np.ndarray],
    enhancements: Sequence[dict | None],
    buffers: Buffers | None = None,
) -> None:
    """Enhance each channel in place by its enhancement {method, settings, fixed}, if any."""
    for image, how in zip(images, enhancements, strict=True):
        if how is not None:
            enhanced = enhance.enhance(image, how["method"], how["settings"], how["fixed"], buffers)
            np.copyto(image, enhanced)


def prep_batch(
    triplets: Sequence[tuple[str, Sequence[str]]],
    channels: Sequence[int],
    out_dir: str | Path,
    size: int,
    plate_scale: float,
    interpolation: str,
) -> list[Skip]:
    """Prep every triplet (name, files) into out_dir; the triplets that could not be, skipped."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, skipped = [], []
    for name, files in triplets:
        try:
            observed, prepped = prep_triplet(files, channels, size, plate_scale, interpolation)
        except InputError as error:
            skipped.append(Skip(error.path, name, error.problem))
            continue
        for wl, image in zip(channels, prepped, strict=True):
            save_array(channel_file(out_dir, name, wl), image)
        index.append((name, *observed))
        log.info("prepped %s", name)
    write_csv(out_dir / INDEX, INDEX_COLUMNS, index)
    return skipped


def write_skipped(path: str | Path, skipped: Sequence[Skip]) -> None:
    """The skipped files as CSV (file, time, reason), each also told to the log."""
    for skip in skipped:
        log.warning("skipped %s (%s): %s", skip.path, skip.time or "time unknown", skip.reason)
    write_csv(path, SKIP_COLUMNS, [(s.path, s.time, s.reason) for s in skipped])


def prep_reference(
    triplets: Sequence[tuple[str, Sequence[str]]],
    reference: str | None,
    channels: Sequence[int],
    prep_settings: dict,
    threads: int = 1,
) -> tuple[str, tuple[str, ...], list[np.ndarray]]:
    """Name, observation (OBSERVATION) and prepped channels of the reference triplet.

    The reference is the triplet named `reference` among `triplets` (name, files), else the
    first; if it can't be prepped, the next that can. Channels run `threads` at a time.
    """
    ordered = sorted(triplets, key=lambda triplet: triplet[0] != reference)
    for name, files in ordered:
        try:
            observed, prepped = prep_triplet(files, channels, **prep_settings, threads=threads)
        except InputError as error:
            log.warning("reference candidate %s skipped: %s", name, error)
            continue
        if reference and reference != name:
            log.warning("reference %s not prepped (see skipped.csv): levels of %s", reference, name)
        return name, observed, prepped
    raise ValueError(
        "every triplet of the reference batch was skipped (see skipped.csv); "
        "set `reference` to a good triplet"
    )


def prepped_levels(
    name: str,
    prepped: Sequence[np.ndarray],
    channels: Sequence[int],
    low: Sequence[float],
    high: Sequence[float],
    enhancements: Sequence[dict | None],
    threads: int = 1,
) -> dict:
    """Levels of each channel of the prepped triplet `name`: its percentiles.

    An enhanced channel's enhancement {method, settings} gets the quantities fixed for the
    series from this triplet; the channel is enhanced in place and its levels are
    percentiles of the enhanced image. Channels run `threads` at a time.
    """
    levels = {"reference": name, "channels": {}}

    def channel_levels(image, how, lo_pct, hi_pct):
        if how is not None:
            how = {**how, "fixed": enhance.series_parameters(image, **how)}
            enhance_channels([image], [how])
        return (*percentile_levels(image, lo_pct, hi_pct), how)

    with ThreadPoolExecutor(threads) as pool:
        found = list(pool.map(channel_levels, prepped, enhancements, low, high))
    for wl, (lo, hi, how), lo_pct, hi_pct in zip(channels, found, low, high, strict=True):
        if not hi > lo:
            raise ValueError(f"{name} {wl}: levels {lo_pct}-{hi_pct} % are equal ({lo})")
        levels["channels"][wl] = {"low": lo, "high": hi, "percentiles": [lo_pct, hi_pct]}
        if how is not None:
            levels["channels"][wl]["enhance"] = how
    return levels


def reference_levels(
    triplets: Sequence[tuple[str, Sequence[str]]],
    reference: str | None,
    channels: Sequence[int],
    low: Sequence[float],
    high: Sequence[float],
    prep_settings: dict,
    enhancements: Sequence[dict | None],
    threads: int = 1,
) -> dict:
    """Levels of each channel: percentiles of the prepped (and enhanced) reference triplet.

    The reference as prep_reference finds it; levels and enhancements as prepped_levels.
    """
    name, _observed, prepped = prep_reference(triplets, reference, channels, prep_settings, threads)
    return prepped_levels(name, prepped, channels, low, high, enhancements, threads)


def channel_enhancements(levels: dict, channels: Sequence[int]) -> list[dict | None]:
    """The enhancement of each channel recorded in the levels (None: not enhanced)."""
    return [levels["channels"][wl].get("enhance") for wl in channels]


def channel_scales(
    levels: dict, channels: Sequence[int], gamma: Sequence[float]
) -> list[tuple[float, float, float]]:
    """(low, high, gamma) of each channel, as scale_channel takes them."""
    bounds = [levels["channels"][wl] for wl in channels]
    return [(b["low"], b["high"], g) for b, g in zip(bounds, gamma, strict=True)]


def write_levels(path: str | Path, levels: dict) -> None:
    """Levels as YAML."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(levels, sort_keys=False))


def read_levels(path: str | Path) -> dict:
    """Levels from YAML."""
    return yaml.safe_load(Path(path).read_text())


def scale_batch(
    prepped_dir: str | Path,
    out_dir: str | Path,
    levels: dict,
    channels: Sequence[int],
    gamma: Sequence[float],
) -> None:
    """Scaled channels (enhancement, fixed levels, gamma) of every triplet of a prepped batch."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = read_index(prepped_dir)
    scales = channel_scales(levels, channels, gamma)
    for row in index:
        images = [np.load(channel_file(prepped_dir, row["triplet"], wl)) for wl in channels]
        enhance_channels(images, channel_enhancements(levels, channels))
        for wl, image, scale in zip(channels, images, scales, strict=True):
            save_array(channel_file(out_dir, row["triplet"], wl), scale_channel(image, *scale))
    rows = [[row.get(column, "") for column in INDEX_COLUMNS] for row in index]
    write_csv(out_dir / INDEX, INDEX_COLUMNS, rows)


def compose_frame(
    channels: Sequence[np.ndarray],
    look: dict,
    scale: Sequence[tuple[float, float, float]] | None = None,
    empty: Callable = np.empty,
) -> np.ndarray:
    """The 8-bit RGB frame of the channels in a look (configuration.look): rgb_mix or perceptual.

    scale, empty: as rgb_frame and perceptual_frame take them.
    """
    keywords = {key: value for key, value in look.items() if key != "compose"}
    if look["compose"] == "perceptual":
        return perceptual_frame(channels, **keywords, scale=scale, empty=empty)
    return rgb_frame(*channels, **keywords, scale=scale, empty=empty)


def key_colours(look: dict, channels: Sequence[int]) -> list[tuple[int, list[int]]]:
    """(wavelength, RGB colour) of each channel: its colour alone at full in the look's frames.

    The colours come from a frame of one pixel a channel, plus black and white: the range of
    a real frame, which the CIELab tweak of rgb_mix rescales by.
    """
    pixels = np.vstack([np.zeros(len(channels)), np.ones(len(channels)), np.eye(len(channels))])
    images = [np.ascontiguousarray(pixels[None, :, i], np.float32) for i in range(len(channels))]
    frame = compose_frame(images, {**look, "box": None})
    return [
        (wl, [int(c) for c in colour]) for wl, colour in zip(channels, frame[0, 2:], strict=True)
    ]


def key_of(spec: Mapping) -> list[tuple[int, list[int]]]:
    """(wavelength, RGB colour) of each channel a product shows, for a movie's colour key:
    key_colours of a composite, a channel's colour from its table (one channel or its
    difference), red, green and blue for the three of a difference, none for panels."""
    shown = product_channels(spec)
    if spec["kind"] == "composite":
        return key_colours(spec["look"], spec["channels"])
    if len(shown) == 1:
        return [(shown[0], key_colour(shown[0]))]
    return [(wl, [255 * (i == j) for j in range(3)]) for i, wl in enumerate(shown)]


MARGIN = 2  # px around a tracked box: what its bicubic resampling reads beyond it


def boxed_frame(
    make: Callable[[Sequence[int]], np.ndarray],
    box: Sequence[int],
    centre: Sequence[float] | None,
    size: int,
) -> np.ndarray:
    """make(box), the frame of box [x0, x1, y0, y1] of a size x size image; with `centre`
    (col, row), the box of the same size centred there: make's frame of a window MARGIN px
    wider, resampled to the fraction of a pixel (video.subpixel_box)."""
    if centre is None:
        return make(box)
    x0, x1, y0, y1 = box
    w, h = x1 - x0, y1 - y0
    left = [math.floor(c - (n - 1) / 2) - MARGIN for c, n in zip(centre, (w, h), strict=True)]
    start = [max(0, v) for v in left]
    stop = [min(size, v + n + 2 * MARGIN) for v, n in zip(left, (w, h), strict=True)]
    window = make((start[0], stop[0], start[1], stop[1]))
    return subpixel_box(window, (centre[0] - start[0], centre[1] - start[1]), (w, h))


class Tracks:
    """The boxes that follow the Sun in one batch: where each is in each triplet
    (tracking.placed_centres), and the log of where they stop.

    boxes: label -> (track settings {at, rotation, at_file}, box [x0, x1, y0, y1]); the
    observer at `at` is that of at_file's header (None, or without one: the Earth's centre).
    """

    def __init__(self, boxes: Mapping[str, tuple[dict, Sequence[int]]], prep_settings: dict):
        self.boxes, self.placed = {}, collections.defaultdict(list)
        if not boxes:
            return
        self.size = prep_settings["size"]
        from aia_reloaded import tracking  # sunpy takes a second to import: tracked boxes only

        self.tracking = tracking
        grid = tracking.Grid(self.size, prep_settings["plate_scale"])
        for label, (track, box) in boxes.items():
            at = tracking.Track(_observer_at(track), track["rotation"], grid)
            self.boxes[label] = at, [box[1] - box[0], box[3] - box[2], box[0], box[2]]

    def centres(self, observed: Sequence[str]) -> dict[str, tuple[float, float]]:
        """The centre of each box (col, row) in a triplet of observation `observed`."""
        if not self.boxes:
            return {}
        observer = _observer(self.tracking, observed)
        found = {}
        for label, (track, crop) in self.boxes.items():
            placed = self.tracking.placed_centres(track, crop, [observer], (self.size,) * 2)
            found[label] = tuple(placed[0][0])
            self.placed[label].append((observer, placed[1][0], placed[2][0]))
        return found

    def report(self) -> None:
        """Log, for each box, from which triplet it stops at the limb or the frame's edge."""
        for label, placed in self.placed.items():
            observers, behind, at_edge = zip(*sorted(placed, key=lambda p: p[0].time), strict=True)
            limits = np.array(behind), np.array(at_edge)
            self.tracking.say_limits(f"frames of {label}", observers, *limits)


def _observer_at(track: dict):
    """The observer at a track's `at`: that of its at_file's header, else the Earth's centre."""
    from aia_reloaded import tracking

    at = parse_time(track["at"])
    header = track.get("at_file") and read_header(track["at_file"])
    if header is None or header.observer is None:
        log.warning("no header tells the observer at %s: the Earth's centre stands in", at)
        return tracking.earth_observer(at)
    return tracking.Observer(at, *header.observer)


def _observer(tracking, observed: Sequence[str]):
    """The observer of OBSERVATION columns (t_obs, lon, lat, distance; '' if unknown)."""
    time = parse_time(observed[0])
    if not all(observed[1:]):
        return tracking.earth_observer(time)
    return tracking.Observer(time, *map(float, observed[1:]))


def product_tracks(wanted: Sequence[Product], prep_settings: dict) -> Tracks:
    """The Tracks of the products that follow the Sun, by product name."""
    size = prep_settings["size"]
    return Tracks(
        {
            p.spec["name"]: (p.spec["track"], product_box(p.spec, size))
            for p in wanted
            if p.spec.get("track") is not None
        },
        prep_settings,
    )


def compose_batch(
    scaled_dir: str | Path,
    frames_dir: str | Path,
    frame_list: str | Path,
    channels: Sequence[int],
    look: dict,
    quality: int,
    track: dict | None = None,
    prep_settings: dict | None = None,
) -> None:
    """The frames of a scaled batch and their list (frame, OBSERVATION), in a look
    (compose_frame), its box following the Sun if `track` (Tracks) is given.

    The list names each frame by its path from the parent of frames_dir (batch/triplet.jpg).
    """
    Path(frames_dir).mkdir(parents=True, exist_ok=True)
    boxes = {"the config's look": (track, look["box"])} if track is not None else {}
    rows, tracks = [], Tracks(boxes, prep_settings)
    for row in read_index(scaled_dir):
        scaled = [np.load(channel_file(scaled_dir, row["triplet"], wl)) for wl in channels]
        observed = [row.get(column, "") for column in OBSERVATION]
        make = functools.partial(_composite, scaled, look, None, empty=np.empty)
        size, centre = len(scaled[0]), tracks.centres(observed).get("the config's look")
        frame = boxed_frame(make, look["box"] or (0, size, 0, size), centre, size)
        write_jpeg(Path(frames_dir) / f"{row['triplet']}.jpg", frame, quality)
        rows.append((f"{Path(frames_dir).name}/{row['triplet']}.jpg", *observed))
    write_csv(frame_list, FRAME_COLUMNS, rows)
    tracks.report()


@dataclass(frozen=True)
class Product:
    """A product to render (a spec of configuration.products) and its levels (None: panels)."""

    spec: dict
    levels: dict | None


@dataclass(frozen=True)
class Output:
    """Where the frames of one product of a batch go: their folder and their list."""

    frames_dir: Path
    frame_list: Path


def products(specs: Sequence[dict], levels: Iterable[str | Path]) -> list[Product]:
    """The products of specs, with their levels from the files given: levels.yaml (the
    config's own product, `main`) and product_levels' files (each names its product)."""
    found = {level.get("product"): level for level in map(read_levels, levels)}
    return [Product(s, found.get(None if s["main"] else s["name"])) for s in specs]


LIMIT_FRACTION = 0.1  # a difference's default limit: this fraction of its channel's levels


def triplet_time(name: str) -> datetime:
    """The time a triplet is named by (its first channel's, to the second)."""
    return datetime.strptime(name, TIME_FORMAT)


def subtracted(name: str, spec: Mapping, names: Iterable[str]) -> str | None:
    """The triplet a difference product subtracts from triplet `name`: its base or, running,
    the one of `names` nearest lag_s before it within tolerance_s; None if there is none."""
    if spec["mode"] == "base":
        return spec["base"]
    target = triplet_time(name) - timedelta(seconds=spec["lag_s"])
    best = min(names, key=lambda other: abs(triplet_time(other) - target), default=None)
    tolerance = timedelta(seconds=spec["tolerance_s"])
    if best is None or best >= name or abs(triplet_time(best) - target) > tolerance:
        return None
    return best


def product_levels(
    triplets: Sequence[tuple[str, Sequence[str]]],
    levels: dict,
    spec: dict,
    channels: Sequence[int],
    prep_settings: dict,
    threads: int = 1,
) -> dict:
    """Levels of a composite, channel or difference product: its own percentiles of the
    reference triplet of levels.yaml (`levels`), enhanced as the series is; a difference's
    of the prepped channel (DN/s), and its limit: given, else LIMIT_FRACTION of high - low."""
    wanted = product_channels(spec)
    keep = [i for i, wl in enumerate(channels) if wl in wanted]
    triplets = [(name, [files[i] for i in keep]) for name, files in triplets]
    name, _observed, prepped = prep_reference(
        triplets, levels["reference"], wanted, prep_settings, threads
    )
    if spec["kind"] != "difference":
        enhance_channels(prepped, channel_enhancements(levels, wanted))
    found = prepped_levels(
        name, prepped, wanted, spec["low"], spec["high"], [None] * len(wanted), threads
    )
    for bounds in found["channels"].values() if spec["kind"] == "difference" else ():
        bounds["limit"] = spec["limit"] or LIMIT_FRACTION * (bounds["high"] - bounds["low"])
    return {"product": spec["name"], **found}


def product_frames(
    channels: Mapping[int, np.ndarray],
    wanted: Sequence[Product],
    t_obs: str,
    buffers: Buffers | None = None,
    differences: Mapping[str, tuple[list, list] | None] | None = None,
    centres: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, np.ndarray | None]:
    """The frame of each product of one prepped (and enhanced) triplet, by name: channels by
    wavelength; a difference product takes (its channels, those it subtracts) prepped, not
    enhanced, from `differences` (None: no frame); panels take the frames before them. A
    product in `centres` (Tracks.centres) has its box centred there (boxed_frame)."""
    frames, specs, differences, centres = {}, {}, differences or {}, centres or {}
    for product in wanted:
        spec, name = product.spec, product.spec["name"]
        empty = buffers.empty(f"product {name}") if buffers else np.empty
        make, size = None, 0
        if spec["kind"] == "composite":
            scales = channel_scales(product.levels, spec["channels"], spec["gamma"])
            images = [channels[wl] for wl in spec["channels"]]
            make = functools.partial(_composite, images, spec["look"], scales, empty=empty)
            size = len(images[0])
        elif spec["kind"] == "channel":
            (scale,) = channel_scales(product.levels, [spec["channel"]], spec["gamma"])
            image = channels[spec["channel"]]
            make = functools.partial(channel_frame, image, spec["channel"], scale, empty=empty)
            size = len(image)
        elif spec["kind"] == "difference" and differences.get(name):
            limits = [product.levels["channels"][wl]["limit"] for wl in spec["channels"]]
            make = functools.partial(difference_frame, *differences[name], limits, empty=empty)
            size = len(differences[name][0][0])
        if spec["kind"] == "panels":
            time = datetime.fromisoformat(t_obs) if spec["timestamp"] else None
            tiles = panel_tiles(spec, frames, specs)
            frames[name] = panel_frame(tiles, spec["columns"], spec["tile"], time)
        elif make is None:  # a difference with nothing to subtract
            frames[name] = None
        else:
            box = product_box(spec, size)
            frames[name] = boxed_frame(make, box, centres.get(name), size)
        specs[name] = spec
    return frames


def _composite(images, look: dict, scales, box: Sequence[int], empty: Callable) -> np.ndarray:
    """compose_frame of a look with its box replaced by `box`."""
    return compose_frame(images, {**look, "box": box}, scales, empty)


class Subtracted:
    """The prepped (not enhanced) channels of triplets that difference products use, shared
    by a job's threads: each kept from its prep until its last user has taken it."""

    def __init__(self, users: Mapping[str, int]):
        self.users, self.images = dict(users), {}
        self.ready = {name: threading.Event() for name in users}
        self.lock = threading.Lock()

    def put(self, name: str, images: Mapping[int, np.ndarray] | None) -> None:
        """A triplet's channels (copied), or None if it could not be prepped."""
        if name in self.ready:
            self.images[name] = images and {wl: image.copy() for wl, image in images.items()}
            self.ready[name].set()

    def take(self, name: str | None) -> Mapping[int, np.ndarray] | None:
        """A triplet's channels once they are put (None: none), for one of its users."""
        if name is None:
            return None
        self.ready[name].wait()
        with self.lock:
            images = self.images[name]
            self.users[name] -= 1
            if not self.users[name]:
                del self.images[name]
        return images


def difference_plan(
    names: Sequence[str], others: Sequence[str], wanted: Sequence[Product]
) -> dict[tuple[str, str], str | None]:
    """(product, triplet) -> the triplet its difference subtracts (None: none among `names`
    and `others`), for each difference product and each of `names`."""
    candidates = sorted({*names, *others})
    plan = {
        (product.spec["name"], name): subtracted(name, product.spec, candidates)
        for product in wanted
        if product.spec["kind"] == "difference"
        for name in names
    }
    return {key: found if found in candidates else None for key, found in plan.items()}


def _users(plan: Mapping[tuple[str, str], str | None]) -> dict[str, int]:
    """How many times each triplet's channels are taken: once by each of its own differences,
    once by each difference that subtracts them."""
    users = collections.Counter(name for (_product, name) in plan)
    users.update(subtracted for subtracted in plan.values() if subtracted)
    return dict(users)


def _left_out(product: str, name: str, subtracted: str | None, images) -> bool:
    """True, with a log line, if a difference of triplet `name` can't be made."""
    if subtracted is None:
        log.warning("%s: %s left out: no triplet to subtract (see lag_s)", product, name)
    elif images is None:
        log.warning(
            "%s: %s left out: %s, which it subtracts, is skipped", product, name, subtracted
        )
    return subtracted is None or images is None


def render_batch(
    triplets: Sequence[tuple[str, Sequence[str]]],
    channels: Sequence[int],
    wanted: Sequence[Product],
    outputs: Sequence[Output],
    prep_settings: dict,
    quality: int,
    threads: int = 1,
    others: Sequence[tuple[str, Sequence[str]]] = (),
) -> list[Skip]:
    """Level-1 triplets (name, files) to the frames of each product, each triplet in memory,
    `threads` triplets at a time; the first product is the config's own (levels.yaml), the
    frames of each go to its output.

    Writes the frames and their lists (frame, OBSERVATION; each frame by its path from the
    parent of its folder, batch/triplet.jpg); returns the triplets that were skipped. The
    same frames of the first product as prep_batch, scale_batch and compose_batch, without
    their files; each file is read and warped once, whatever the number of products.
    `others`: triplets outside the batch that its differences may subtract, prepped in
    their channels.
    """
    for output in outputs:
        output.frames_dir.mkdir(parents=True, exist_ok=True)
    buffers = Buffers()
    enhancements = channel_enhancements(wanted[0].levels, channels)
    names = [name for name, _files in triplets]
    plan = difference_plan(names, [name for name, _files in others], wanted)
    store = Subtracted(_users(plan))
    raw = sorted(
        {wl for p in wanted if p.spec["kind"] == "difference" for wl in p.spec["channels"]}
    )
    at = [channels.index(wl) for wl in raw]
    tracks = product_tracks(wanted, prep_settings)

    def prep_other(name: str, files: Sequence[str]) -> None:
        prepped = None
        try:
            prepped = prep_triplet([files[i] for i in at], raw, **prep_settings)[1]
        except InputError as error:
            log.warning("%s, for a difference, was skipped: %s", name, error)
        finally:  # whatever happens, no thread waits for it
            store.put(name, prepped and dict(zip(raw, prepped, strict=True)))

    def render(name: str, files: Sequence[str]) -> tuple[tuple[str, ...], list[bool]]:
        try:
            observed, prepped = prep_triplet(files, channels, **prep_settings, buffers=buffers)
        except BaseException:
            store.put(name, None)  # no thread waits for it
            raise
        store.put(name, {wl: prepped[i] for wl, i in zip(raw, at, strict=True)})
        differences = {}
        for (product, of), subtracted in plan.items():
            if of == name:
                own, before = store.take(name), store.take(subtracted)
                if not _left_out(product, name, subtracted, before):
                    wls = next(p.spec["channels"] for p in wanted if p.spec["name"] == product)
                    differences[product] = [own[wl] for wl in wls], [before[wl] for wl in wls]
        enhance_channels(prepped, enhancements, buffers)
        images = dict(zip(channels, prepped, strict=True))
        centres = tracks.centres(observed)
        frames = product_frames(images, wanted, observed[0], buffers, differences, centres)
        made = [frames[product.spec["name"]] is not None for product in wanted]
        for product, output, done in zip(wanted, outputs, made, strict=True):
            if done:
                path = output.frames_dir / f"{name}.jpg"
                write_jpeg(path, frames[product.spec["name"]], quality, buffers.empty("jpeg"))
        log.info("rendered %s", name)
        return observed, made

    rows, skipped = [], []
    start, cpu_start = time.perf_counter(), time.process_time()
    workers = max(1, min(threads, len(triplets)))
    cv2.setNumThreads(threads // workers)  # OpenCV's own threads share what is left
    first = set(plan.values())  # those subtracted go first: no thread waits for a later one
    order = sorted(triplets, key=lambda triplet: triplet[0] not in first)
    with ThreadPoolExecutor(workers) as pool:
        for name, files in others:
            pool.submit(prep_other, name, files)
        futures = {name: pool.submit(render, name, files) for name, files in order}
        for name, _files in triplets:
            try:
                rows.append((name, *futures[name].result()))
            except InputError as error:
                skipped.append(Skip(error.path, name, error.problem))
    for i, output in enumerate(outputs):
        folder = output.frames_dir.name
        listed = [(f"{folder}/{name}.jpg", *seen) for name, seen, made in rows if made[i]]
        write_csv(output.frame_list, FRAME_COLUMNS, listed)
    tracks.report()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    log.info(
        "%d frames of %d products in %.1f s, %.1f s of CPU on %d threads: %.2f cores busy",
        len(rows), len(outputs), wall, cpu, workers, cpu / wall,
    )  # fmt: skip
    return skipped


def product_batch(
    prepped_dirs: Sequence[str | Path],
    names: Sequence[str],
    wanted: Sequence[Product],
    levels: dict,
    output: Output,
    quality: int,
    prep_settings: dict,
) -> None:
    """The frames of the last of the `wanted` products (the others: the panels it shows) from
    a prepped batch (the first of prepped_dirs), enhanced as levels.yaml (`levels`) says.

    names: the batch's triplets and those its differences may subtract, as paired (a triplet
    paired but not prepped, skipped, is subtracted by none); prepped_dirs: their folders.
    """
    output.frames_dir.mkdir(parents=True, exist_ok=True)
    needed = sorted({wl for product in wanted for wl in product_channels(product.spec)})
    enhancements = channel_enhancements(levels, needed)
    folders = {r["triplet"]: Path(d) for d in reversed(prepped_dirs) for r in read_index(d)}
    own = read_index(prepped_dirs[0])
    plan = difference_plan([r["triplet"] for r in own], names, wanted)

    def channel(triplet: str, wl: int) -> np.ndarray | None:
        return np.load(channel_file(folders[triplet], triplet, wl)) if triplet in folders else None

    name, rows, tracks = wanted[-1].spec["name"], [], product_tracks(wanted, prep_settings)
    for row in own:
        images = [channel(row["triplet"], wl) for wl in needed]
        differences = {}
        for (product, of), subtracted in plan.items():
            if of == row["triplet"]:
                wls = next(p.spec["channels"] for p in wanted if p.spec["name"] == product)
                before = [subtracted and channel(subtracted, wl) for wl in wls]
                if not _left_out(product, of, subtracted, before[0]):
                    own = [images[needed.index(wl)].copy() for wl in wls]
                    differences[product] = own, before
        enhance_channels(images, enhancements)
        observed = [row.get(column, "") for column in OBSERVATION]
        images = dict(zip(needed, images, strict=True))
        centres = tracks.centres(observed)
        frames = product_frames(images, wanted, row["t_obs"], None, differences, centres)
        if frames[name] is not None:
            write_jpeg(output.frames_dir / f"{row['triplet']}.jpg", frames[name], quality)
            rows.append((f"{output.frames_dir.name}/{row['triplet']}.jpg", *observed))
    write_csv(output.frame_list, FRAME_COLUMNS, rows)
    tracks.report()
