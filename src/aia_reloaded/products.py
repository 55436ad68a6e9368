"""Products: more looks of one prepped triplet, beside the composite of the config.

A product is a composite in a look of its own, one channel in its AIA colour table, the
difference of one channel from an earlier triplet or a base, or a labelled grid of other
products. configuration.products resolves the config's entries into
the specs that product_frame takes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import cv2
import numpy as np

from aia_reloaded import video
from aia_reloaded.colour import crop, floor_uint8, scale_channel, strips

LABEL_COLOUR = (255, 255, 255)
LABEL_AT = 0.75  # where on its colour table a channel's label takes its colour
MID_GREY = 128  # a difference of zero; -limit and +limit are 1 and 255


@functools.cache
def colour_table(wavelength: int) -> np.ndarray:
    """sunpy's AIA colour table of a wavelength (sdoaia171, ...): 256 x 3 uint8 RGB."""
    from sunpy.visualization.colormaps import cmlist  # 3 s to import: only when needed

    cmap = cmlist[f"sdoaia{wavelength}"]
    return np.round(cmap(np.arange(cmap.N))[:, :3] * 255).astype(np.uint8)


def key_colour(wavelength: int) -> list[int]:
    """The colour that names a wavelength shown alone: its table's at LABEL_AT (RGB)."""
    return [int(c) for c in colour_table(wavelength)[round(LABEL_AT * 255)]]


def product_box(spec: Mapping, size: int) -> tuple[int, int, int, int]:
    """[x0, x1, y0, y1] of a product's frames (not panels) in the prepped size x size."""
    box = spec["look"]["box"] if spec["kind"] == "composite" else spec["box"]
    return tuple(box or (0, size, 0, size))


def channel_frame(
    image: np.ndarray,
    wavelength: int,
    scale: tuple[float, float, float],
    box: Sequence[int] | None = None,
    empty: Callable = np.empty,
) -> np.ndarray:
    """A prepped channel in its AIA colour table: scaled by (low, high, gamma), then looked up
    as matplotlib looks up a 256-colour map (entry floor(256 v), 1 in the last).

    box: [x0, x1, y0, y1] as the config's crop; the frame comes from empty(shape, dtype).
    """
    table = colour_table(wavelength)
    lut = np.ascontiguousarray(table[None])  # 1 x 256 x 3, as cv2.LUT takes it
    image = crop(image, box)
    frame = empty((*image.shape, 3), np.dtype(np.uint8))
    for rows in strips(len(image)):
        index = floor_uint8(np.multiply(scale_channel(image[rows], *scale), np.float32(256)))
        cv2.LUT(cv2.merge([index] * 3), lut, dst=frame[rows])
    return frame


def difference_frame(
    images: Sequence[np.ndarray],
    subtracted: Sequence[np.ndarray],
    limits: Sequence[float],
    box: Sequence[int] | None = None,
    empty: Callable = np.empty,
) -> np.ndarray:
    """images - subtracted (DN/s), each symmetric about mid-grey: 128 + 127 d / limit,
    clipped at +-limit and rounded (zero is exactly 128); one channel in grey, three in red,
    green and blue. box and empty as channel_frame."""
    frame = empty((*crop(images[0], box).shape, 3), np.dtype(np.uint8))
    planes = range(3) if len(images) == 3 else [slice(None)]
    for plane, image, before, limit in zip(planes, images, subtracted, limits, strict=True):
        image, before = crop(image, box), crop(before, box)
        gain = np.float32((MID_GREY - 1) / limit)
        for rows in strips(len(image)):
            grey = (image[rows] - before[rows]) * gain
            np.clip(grey, 1 - MID_GREY, MID_GREY - 1, out=grey)
            value = floor_uint8(grey + np.float32(MID_GREY + 0.5))
            frame[rows, :, plane] = value if len(images) == 3 else value[..., None]
    return frame


def product_channels(spec: Mapping) -> list[int]:
    """The wavelengths a product shows itself (none for panels)."""
    if spec["kind"] == "channel":
        return [spec["channel"]]
    return list(spec["channels"]) if spec["kind"] in ("composite", "difference") else []


def label_colour(spec: Mapping) -> tuple[int, int, int]:
    """The colour a product's name is written in on a panel: that of the one channel of a
    channel (or difference) product, from its table; else white."""
    shown = product_channels(spec)
    if spec["kind"] == "composite" or len(shown) != 1:
        return LABEL_COLOUR
    return video.legible(key_colour(shown[0]))


def panel_size(spec: Mapping) -> tuple[int, int]:
    """Width and height of a panels product's frames."""
    rows = -(-len(spec["panels"]) // spec["columns"])
    return spec["columns"] * spec["tile"], rows * spec["tile"]


def panel_frame(
    tiles: Sequence[tuple[str, np.ndarray, Sequence[int]]],
    columns: int,
    tile: int,
    time: datetime | None = None,
) -> np.ndarray:
    """A grid of frames (name, RGB or None, label colour), each fitted in a tile x tile
    square on black and labelled with its name at the bottom left; the time stamp at the top
    left."""
    rows = -(-len(tiles) // columns)
    grid = np.zeros((rows * tile, columns * tile, 3), np.uint8)
    style = video.TextStyle.for_frame((tile, tile))
    for i, (name, frame, colour) in enumerate(tiles):
        row, column = (i // columns) * tile, (i % columns) * tile
        cell = grid[row : row + tile, column : column + tile]
        if frame is not None:  # None: a difference left out, a black tile
            factor = tile / max(frame.shape[:2])
            size = (round(frame.shape[1] * factor), round(frame.shape[0] * factor))
            interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
            top, left = (tile - size[1]) // 2, (tile - size[0]) // 2
            cell[top : top + size[1], left : left + size[0]] = cv2.resize(
                frame, size, interpolation=interpolation
            )
        video.draw_label(cell, name, (style.margin, tile - style.margin), style, colour)
    if time is not None:
        cap = style.extent("0")[1]
        origin = (style.margin, style.margin + round(1.45 * cap))
        video.draw_label(grid, video.timestamp_text(time), origin, style, video.TEXT_COLOUR)
    return grid


def panel_tiles(spec: Mapping, frames: Mapping[str, np.ndarray], specs: Mapping[str, Mapping]):
    """The (name, frame, label colour) of each panel of a panels product."""
    return [(name, frames[name], label_colour(specs[name])) for name in spec["panels"]]
