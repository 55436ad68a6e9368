"""The pipeline's stages, each over one batch of triplets: what the workflow's scripts call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from aia_reloaded.colour import percentile_levels, rgb_frame, scale_channel
from aia_reloaded.pairing import Skip
from aia_reloaded.reading import Header, InputError, read_level1
from aia_reloaded.registration import prep
from aia_reloaded.writing import atomic_path, read_csv, save_array, write_csv, write_jpeg

log = logging.getLogger(__name__)

INDEX = "index.csv"
INDEX_COLUMNS = ("triplet", "t_obs")
SKIP_COLUMNS = ("file", "time", "reason")


def channel_file(directory: str | Path, triplet: str, wavelength: int) -> Path:
    """The .npy file of one channel of a triplet in a stage directory."""
    return Path(directory) / f"{triplet}_{wavelength}.npy"


def read_index(directory: str | Path) -> list[dict[str, str]]:
    """The triplets of a stage directory, in time order."""
    return read_csv(Path(directory) / INDEX)


def prep_file(path: str, wavelength: int, size: int, plate_scale: float, interpolation: str):
    """Header and prepped image of one file, checked to be a usable image of `wavelength`."""
    header, image = read_level1(path)
    if header.wavelength != wavelength:
        raise InputError(path, f"WAVELNTH is {header.wavelength}, expected {wavelength}")
    if header.quality != 0:
        raise InputError(path, f"QUALITY is {header.quality} (not 0): a flagged frame")
    if not image.any():
        raise InputError(path, "the image is all zero (or NaN)")
    return header, prep(header, image, size, plate_scale, interpolation)


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
            prepped = [
                prep_file(path, wl, size, plate_scale, interpolation)
                for path, wl in zip(files, channels, strict=True)
            ]
        except InputError as error:
            skipped.append(Skip(error.path, name, error.problem))
            continue
        for wl, (_header, image) in zip(channels, prepped, strict=True):
            save_array(channel_file(out_dir, name, wl), image)
        headers: list[Header] = [h for h, _ in prepped]
        index.append((name, headers[0].time.isoformat(timespec="milliseconds")))
        log.info("prepped %s", name)
    write_csv(out_dir / INDEX, INDEX_COLUMNS, index)
    return skipped


def write_skipped(path: str | Path, skipped: Sequence[Skip]) -> None:
    """The skipped files as CSV (file, time, reason), each also told to the log."""
    for skip in skipped:
        log.warning("skipped %s (%s): %s", skip.path, skip.time or "time unknown", skip.reason)
    write_csv(path, SKIP_COLUMNS, [(s.path, s.time, s.reason) for s in skipped])


def compute_levels(
    prepped_dir: str | Path,
    reference: str | None,
    channels: Sequence[int],
    low: Sequence[float],
    high: Sequence[float],
) -> dict:
    """Levels of each channel: percentiles of the reference triplet (default: the first)."""
    names = [row["triplet"] for row in read_index(prepped_dir)]
    if not names:
        raise ValueError(
            f"{prepped_dir}: every triplet of the reference batch was skipped (see skipped.csv); "
            "set `reference` to a good triplet"
        )
    name = reference if reference in names else names[0]
    if reference and reference != name:
        log.warning("reference %s not prepped (see skipped.csv): levels of %s", reference, name)
    levels = {"reference": name, "channels": {}}
    for wl, lo_pct, hi_pct in zip(channels, low, high, strict=True):
        path = channel_file(prepped_dir, name, wl)
        lo, hi = percentile_levels(np.load(path), lo_pct, hi_pct)
        if not hi > lo:
            raise ValueError(f"{path}: levels {lo_pct}-{hi_pct} % are equal ({lo})")
        levels["channels"][wl] = {"low": lo, "high": hi, "percentiles": [lo_pct, hi_pct]}
    return levels


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
    """Scaled channels (fixed levels, gamma) of every triplet of a prepped batch."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = read_index(prepped_dir)
    for row in index:
        for wl, g in zip(channels, gamma, strict=True):
            level = levels["channels"][wl]
            image = np.load(channel_file(prepped_dir, row["triplet"], wl))
            scaled = scale_channel(image, level["low"], level["high"], g)
            save_array(channel_file(out_dir, row["triplet"], wl), scaled)
    write_csv(out_dir / INDEX, INDEX_COLUMNS, [(r["triplet"], r["t_obs"]) for r in index])


def frame_batch(
    scaled_dir: str | Path,
    frames_dir: str | Path,
    frame_list: str | Path,
    channels: Sequence[int],
    matrix: Sequence[Sequence[float]],
    scalemin: float,
    lab: Sequence[float] | None,
    lmin: float,
    crop: Sequence[int] | None,
    quality: int,
) -> None:
    """RGB JPEG frames of every triplet of a scaled batch, and the list of them (frame, t_obs)."""
    rows = []
    for row in read_index(scaled_dir):
        red, green, blue = (
            np.load(channel_file(scaled_dir, row["triplet"], wl)) for wl in channels
        )
        frame = rgb_frame(red, green, blue, matrix, scalemin, lab, lmin, crop)
        name = f"{row['triplet']}.jpg"
        write_jpeg(Path(frames_dir) / name, frame, quality)
        rows.append((name, row["t_obs"]))
    write_csv(frame_list, ("frame", "t_obs"), rows)
