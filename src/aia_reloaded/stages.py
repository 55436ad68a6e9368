"""The pipeline's stages, each over one batch of triplets: what the workflow's scripts call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import yaml

from aia_reloaded import enhance
from aia_reloaded.colour import percentile_levels, rgb_frame, scale_channel
from aia_reloaded.pairing import Skip
from aia_reloaded.perceptual import perceptual_frame
from aia_reloaded.reading import Header, InputError, read_level1
from aia_reloaded.registration import prep
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
) -> tuple[str, str, list[np.ndarray]]:
    """Name, observation time and prepped channels of the reference triplet.

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
        return name, observed[0], prepped
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
    name, _t_obs, prepped = prep_reference(triplets, reference, channels, prep_settings, threads)
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


def compose_batch(
    scaled_dir: str | Path,
    frames_dir: str | Path,
    frame_list: str | Path,
    channels: Sequence[int],
    look: dict,
    quality: int,
) -> None:
    """The frames of a scaled batch and their list (frame, OBSERVATION), in a look
    (compose_frame).

    The list names each frame by its path from the parent of frames_dir (batch/triplet.jpg).
    """
    Path(frames_dir).mkdir(parents=True, exist_ok=True)
    rows = []
    for row in read_index(scaled_dir):
        scaled = [np.load(channel_file(scaled_dir, row["triplet"], wl)) for wl in channels]
        name = f"{row['triplet']}.jpg"
        write_jpeg(Path(frames_dir) / name, compose_frame(scaled, look), quality)
        rows.append((f"{Path(frames_dir).name}/{name}", *(row.get(c, "") for c in OBSERVATION)))
    write_csv(frame_list, FRAME_COLUMNS, rows)


def render_batch(
    triplets: Sequence[tuple[str, Sequence[str]]],
    channels: Sequence[int],
    frames_dir: str | Path,
    frame_list: str | Path,
    prep_settings: dict,
    levels: dict,
    gamma: Sequence[float],
    look: dict,
    quality: int,
    threads: int = 1,
) -> list[Skip]:
    """Level-1 triplets (name, files) to frames, each in memory, `threads` triplets at a time.

    Writes the frames and their list (frame, OBSERVATION; each frame by its path from the parent of
    frames_dir, batch/triplet.jpg); returns the triplets that were skipped.
    The same frames as prep_batch, scale_batch and compose_batch, without their files.
    """
    Path(frames_dir).mkdir(parents=True, exist_ok=True)
    buffers = Buffers()
    enhancements = channel_enhancements(levels, channels)
    scales = channel_scales(levels, channels, gamma)

    def render(name: str, files: Sequence[str]) -> tuple[str, ...]:
        observed, prepped = prep_triplet(files, channels, **prep_settings, buffers=buffers)
        enhance_channels(prepped, enhancements, buffers)
        frame = compose_frame(prepped, look, scales, buffers.empty("frame"))
        write_jpeg(Path(frames_dir) / f"{name}.jpg", frame, quality, buffers.empty("jpeg"))
        log.info("rendered %s", name)
        return f"{Path(frames_dir).name}/{name}.jpg", *observed

    rows, skipped = [], []
    start, cpu_start = time.perf_counter(), time.process_time()
    workers = max(1, min(threads, len(triplets)))
    cv2.setNumThreads(threads // workers)  # OpenCV's own threads share what is left
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(render, name, files) for name, files in triplets]
        for (name, _files), future in zip(triplets, futures, strict=True):
            try:
                rows.append(future.result())
            except InputError as error:
                skipped.append(Skip(error.path, name, error.problem))
    write_csv(frame_list, FRAME_COLUMNS, rows)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    log.info(
        "%d frames in %.1f s, %.1f s of CPU on %d threads: %.2f cores busy",
        len(rows), wall, cpu, workers, cpu / wall,
    )  # fmt: skip
    return skipped
