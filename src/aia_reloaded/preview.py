"""Previews of looks: the reference triplet in each look, whole and in detail, side by side."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import yaml

from aia_reloaded.colour import crop
from aia_reloaded.stages import Tracks, boxed_frame, channel_scales, compose_frame, prepped_levels
from aia_reloaded.writing import atomic_path, save_array, write_jpeg

REFERENCE = "reference.yaml"
DETAIL_SIZE = 1024  # px: the side of the default detail box
RSUN_ARCSEC = 960  # the Sun's radius seen from SDO, within 2 %: near enough to find the disk
SMOOTHING_ARCSEC = 60  # sigma of the smoothing that finds the brightest active region
FIND_SIZE = 256  # px: the channels are downsized to about this to find it

# The sheet: dark grey between the tiles, white titles, light grey lines under them
BACKGROUND = (24, 24, 24)
GAP = 8  # px between and around the tiles
MARGIN = 6  # px around a tile's label
FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE = (0.9, 2, (255, 255, 255))  # font scale, stroke, colour
LINE = (0.6, 1, (215, 215, 215))


def save_reference(
    directory: str | Path,
    name: str,
    observed: Sequence[str],
    channels: Sequence[int],
    prepped: Sequence[np.ndarray],
    detail: Sequence[int],
) -> None:
    """The prepped reference as <wl>.npy, and its name, observation (stages.OBSERVATION:
    time and observer) and default detail box."""
    directory = Path(directory)
    for wl, image in zip(channels, prepped, strict=True):
        save_array(directory / f"{wl}.npy", image)
    info = {"triplet": name, "t_obs": observed[0], "observation": list(observed)}
    info["detail"] = [int(v) for v in detail]
    with atomic_path(directory / REFERENCE) as tmp:
        tmp.write_text(yaml.safe_dump(info, sort_keys=False))


def load_reference(directory: str | Path, channels: Sequence[int]) -> tuple[dict, list]:
    """The reference's name, time and detail box, and its prepped channels (copy on write)."""
    directory = Path(directory)
    info = yaml.safe_load((directory / REFERENCE).read_text())
    return info, [np.load(directory / f"{wl}.npy", mmap_mode="c") for wl in channels]


def brightest_region(
    prepped: Sequence[np.ndarray], plate_scale: float, size: int = DETAIL_SIZE
) -> list[int]:
    """[x0, x1, y0, y1] of a box of `size` px (at most the image) on the brightest region.

    The region is the maximum, within 0.9 solar radii of the disk centre, of the sum of the
    channels downsized to about FIND_SIZE px, each divided by its median on the disk and
    median-filtered (5 px), smoothed with a Gaussian of SMOOTHING_ARCSEC: an active region,
    not a hot pixel, a cosmic ray or a bright point at the limb.
    """
    height, width = prepped[0].shape
    step = max(1, min(height, width) // FIND_SIZE)
    shape = (width // step, height // step)
    small = [cv2.resize(np.asarray(c), shape, interpolation=cv2.INTER_AREA) for c in prepped]
    rows, cols = np.mgrid[: shape[1], : shape[0]]
    # distance of each downsized pixel's centre from the disk centre, in full pixels
    r = np.hypot((cols + 0.5) * step - width / 2, (rows + 0.5) * step - height / 2)
    disk = r < 0.9 * RSUN_ARCSEC / plate_scale
    if not disk.any():
        disk = r <= r.min()  # a box inside the disk: its centre
    # each channel relative to its disk, spots of a few pixels (hot pixels, cosmic rays) gone
    total = sum(cv2.medianBlur(c / max(float(np.median(c[disk])), 1e-12), 5) for c in small)
    smooth = cv2.GaussianBlur(total, (0, 0), SMOOTHING_ARCSEC / (plate_scale * step))
    row, col = np.unravel_index(np.argmax(np.where(disk, smooth, -np.inf)), smooth.shape)
    x, y = (col + 0.5) * step, (row + 0.5) * step
    side_x, side_y = min(size, width), min(size, height)
    x0 = int(np.clip(round(x - side_x / 2), 0, width - side_x))
    y0 = int(np.clip(round(y - side_y / 2), 0, height - side_y))
    return [x0, x0 + side_x, y0, y0 + side_y]


def render_look(
    name: str, prepped: Sequence[np.ndarray], channels: Sequence[int], settings: dict
) -> tuple[dict, np.ndarray]:
    """Levels and full-size 8-bit frame of the prepped triplet `name` in a look.

    settings: low and high percentiles, gamma, enhancements (configuration.enhancements)
    and look (configuration.look) of the look. The levels are the look's own percentiles
    of the triplet, as stages.reference_levels finds them; the channels are enhanced in
    place. The frame is whole: the look's crop is not applied.
    """
    low, high = settings["low"], settings["high"]
    levels = prepped_levels(name, prepped, channels, low, high, settings["enhancements"])
    scales = channel_scales(levels, channels, settings["gamma"])
    return levels, compose_frame(prepped, {**settings["look"], "box": None}, scales)


def look_images(
    frame: np.ndarray,
    box: Sequence[int] | None,
    detail: Sequence[int],
    size: int,
    centres: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The look's frame (crop `box`) downsized to `size` px, and the `detail` box of it.

    Boxes are [x0, x1, y0, y1] of the whole frame; the frame is never enlarged. centres:
    where the `look` and `detail` boxes are centred if they follow the Sun (Tracks.centres).
    """
    centres, full = centres or {}, len(frame)
    cut = functools.partial(crop, frame)
    whole = boxed_frame(cut, box or (0, full, 0, full), centres.get("look"), full)
    factor = size / max(whole.shape[:2])
    if factor < 1:
        new_size = (max(1, round(whole.shape[1] * factor)), max(1, round(whole.shape[0] * factor)))
        whole = cv2.resize(whole, new_size, interpolation=cv2.INTER_AREA)
    return whole, np.ascontiguousarray(boxed_frame(cut, detail, centres.get("detail"), full))


def write_look(
    reference_dir: str | Path,
    channels: Sequence[int],
    settings: dict,
    size: int,
    detail: Sequence[int] | None,
    paths: tuple[str | Path, str | Path],
    quality: int = 95,
    detail_track: dict | None = None,
    prep_settings: dict | None = None,
) -> dict:
    """The saved reference in a look (render_look): the whole Sun, downsized to `size` px,
    and the `detail` box (None: the reference's) as JPEGs at `paths`; returns the levels.

    settings["track"] and detail_track (stages.Tracks, prep_settings) make the look's crop
    and the detail box follow the Sun to the reference's time."""
    reference, prepped = load_reference(reference_dir, channels)
    levels, frame = render_look(reference["triplet"], prepped, channels, settings)
    box, detail = settings["look"]["box"], detail or reference["detail"]
    tracked = {"look": (settings.get("track"), box), "detail": (detail_track, detail)}
    tracks = Tracks({k: v for k, v in tracked.items() if v[0] is not None}, prep_settings)
    observed = reference.get("observation", [reference["t_obs"], "", "", ""])  # older: Earth
    centres = tracks.centres(observed) if tracks.boxes else {}
    tracks.report()
    for path, image in zip(paths, look_images(frame, box, detail, size, centres), strict=True):
        write_jpeg(path, image, quality)
    return levels


def _wrap(text: str, width: int, scale: float, thickness: int) -> list[str]:
    """text in lines no wider than `width` px in FONT, broken at spaces where possible."""
    for chars in range(max(1, width // cv2.getTextSize("n", FONT, scale, thickness)[0][0]), 0, -1):
        lines = textwrap.wrap(text, chars, break_on_hyphens=False)
        if all(cv2.getTextSize(line, FONT, scale, thickness)[0][0] <= width for line in lines):
            return lines
    return [text]


def _label(title: str, lines: Sequence[str], width: int) -> list[tuple[str, tuple]]:
    """The lines of a tile's label, each with its font (scale, thickness, colour)."""
    label = [(line, TITLE) for line in _wrap(title, width - 2 * MARGIN, *TITLE[:2])]
    for text in lines:
        label += [(line, LINE) for line in _wrap(text, width - 2 * MARGIN, *LINE[:2])]
    return label


def _line_height(font: tuple) -> int:
    (_width, height), baseline = cv2.getTextSize("Ag", FONT, font[0], font[1])
    return height + baseline + 4


def contact_sheet(
    tiles: Sequence[Sequence[np.ndarray]],
    titles: Sequence[str],
    lines: Sequence[Sequence[str]],
    width: int,
    columns: int,
) -> np.ndarray:
    """8-bit RGB sheet of tiles, `columns` a row: each a title and lines over its images.

    Each tile's images (RGB) are scaled to `width` px wide and stacked; the label is drawn
    with OpenCV's Hershey font, wrapped to the width. Tiles of a row line up.
    """
    labels = [_label(title, more, width) for title, more in zip(titles, lines, strict=True)]
    scaled = [[_to_width(image, width) for image in images] for images in tiles]
    columns = min(columns, len(tiles))
    rows = [
        range(start, min(start + columns, len(tiles))) for start in range(0, len(tiles), columns)
    ]
    # each row: the height of its tallest label, then of its tallest stack of images
    label_heights = [
        2 * MARGIN + max(sum(_line_height(font) for _, font in labels[i]) for i in row)
        for row in rows
    ]
    image_heights = [
        max(sum(image.shape[0] + GAP for image in scaled[i]) - GAP for i in row) for row in rows
    ]
    height = sum(label_heights) + sum(image_heights) + GAP * (len(rows) + 1)
    sheet = np.full((height, columns * (width + GAP) + GAP, 3), BACKGROUND, np.uint8)
    row_top = GAP
    for row, label_height, image_height in zip(rows, label_heights, image_heights, strict=True):
        for column, index in enumerate(row):
            x = GAP + column * (width + GAP)
            top = row_top + MARGIN
            for text, (scale, thickness, colour) in labels[index]:
                (_width, cap), _baseline = cv2.getTextSize("Ag", FONT, scale, thickness)
                origin = (x + MARGIN, top + 2 + cap)
                cv2.putText(sheet, text, origin, FONT, scale, colour, thickness, cv2.LINE_AA)
                top += _line_height((scale, thickness))
            top = row_top + label_height
            for image in scaled[index]:
                sheet[top : top + image.shape[0], x : x + width] = image
                top += image.shape[0] + GAP
        row_top += label_height + image_height + GAP
    return sheet


def _to_width(image: np.ndarray, width: int) -> np.ndarray:
    """image scaled to `width` px wide, its aspect kept."""
    if image.shape[1] == width:
        return image
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def look_sheet(
    names: Sequence[str],
    changes: Sequence[Sequence[str]],
    images: Sequence[Sequence[np.ndarray]],
    width: int = 512,
) -> np.ndarray:
    """The looks side by side (up to 4 a row), each labelled with its name and changes.

    images: each look's whole Sun and detail; changes: the keys each changes (none: "as in
    the config"). The tiles are `width` px wide, or the images' width if smaller.
    """
    width = min(width, min(image.shape[1] for image, *_ in images))
    changes = [more or ["as in the config"] for more in changes]
    return contact_sheet(images, names, changes, width, columns=4)


def write_look_sheet(
    path: str | Path,
    changes: dict[str, Sequence[str]],
    suns: Sequence[str | Path],
    details: Sequence[str | Path],
) -> None:
    """The look sheet as a JPEG, of the looks' images (write_look) and changes by name."""
    images = [[read_rgb(sun), read_rgb(detail)] for sun, detail in zip(suns, details, strict=True)]
    write_jpeg(path, look_sheet(list(changes), list(changes.values()), images), 90)


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as 8-bit RGB."""
    image = cv2.imread(str(path))
    if image is None:
        raise OSError(f"{path}: cannot read the image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
