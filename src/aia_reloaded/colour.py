"""From prepped channels to an 8-bit RGB frame: levels, gamma, colour mix, CIELab tweak."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

STRIP = 128  # rows: a frame is made strip by strip, in cache and in little memory
# OpenCV's saturating cast to 8 bits rounds to nearest (ties to even): adding this first makes
# it truncate, exact integers included (the bias is one float32 step above -0.5 at 128-255).
_FLOOR_BIAS = 2.0**-16 - 0.5


def percentile_levels(image: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The low and high percentiles of an image, the fixed levels of a channel."""
    lo, hi = np.percentile(image, [low, high])
    return float(lo), float(hi)


def scale_channel(image: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    """clip((x - low) / (high - low), 0, 1) ** (1 / gamma), float32."""
    scaled = (image - np.float32(low)) * np.float32(1.0 / (high - low))
    np.clip(scaled, 0, 1, out=scaled)
    # the power as exp(log(x) / gamma): vectorised, twice as fast as np.power; log(0) = -inf
    with np.errstate(divide="ignore"):
        np.log(scaled, out=scaled)
    np.multiply(scaled, np.float32(1.0 / gamma), out=scaled)
    return np.exp(scaled, out=scaled)


def mix(
    red: np.ndarray,
    green: np.ndarray,
    blue: np.ndarray,
    matrix: Sequence,
    dst: np.ndarray | None = None,
) -> np.ndarray:
    """M . [r, g, b] per pixel (rows of M: output channel; a 4th column adds), float32 H x W x 3."""
    stacked = cv2.merge([red, green, blue])
    return cv2.transform(stacked, np.asarray(matrix, dtype=np.float32), dst=dst)


def stretch_matrix(matrix: Sequence, scalemin: float, top: float = 255.0) -> np.ndarray:
    """Mix and stretch as one 3x4 affine map, before one clip to [0, top].

    clip((clip(M . v, 0, 1) * 255 - s) * 255 / (255 - s), 0, 255) equals the clip to
    [0, 255] of (255 M . v - s) * 255 / (255 - s); top rescales the result, 255 -> top.
    """
    affine = np.hstack([np.asarray(matrix, dtype=np.float64) * 255, [[-scalemin]] * 3])
    return affine * (top / (255.0 - scalemin))


def floor_uint8(image: np.ndarray, dst: np.ndarray | None = None) -> np.ndarray:
    """floor(clip(image, 0, 255)) as uint8, in one pass."""
    return cv2.add(image, (_FLOOR_BIAS,) * 4, dst=dst, dtype=cv2.CV_8U)


def lab_adjust(
    unit: np.ndarray, factors: Sequence[float], lmin: float, dst: np.ndarray | None = None
) -> np.ndarray:
    """The CIELab tweak of a float32 RGB image in [0, 1]: uint8 RGB.

    Converted to 8-bit-convention Lab (L * 255/100, a + 128, b + 128), scaled by factors
    (L, a, b) above lmin, clipped, truncated to 8 bits and converted back to RGB.
    """
    lf, af, bf = factors
    gain = lf * 255 / (255 - lmin)
    tweak = [[gain * 255 / 100, 0, 0, -lmin * gain], [0, af, 0, 128 * af], [0, 0, bf, 128 * bf]]
    lab = cv2.cvtColor(unit, cv2.COLOR_RGB2Lab)
    lab8 = floor_uint8(cv2.transform(lab, np.asarray(tweak, dtype=np.float32)))
    return cv2.cvtColor(lab8, cv2.COLOR_Lab2RGB, dst=dst)


def crop(image: np.ndarray, box: Sequence[int] | None) -> np.ndarray:
    """image[y0:y1, x0:x1] for box = [x0, x1, y0, y1] in displayed pixels; None keeps all."""
    if box is None:
        return image
    x0, x1, y0, y1 = box
    return image[y0:y1, x0:x1]


def strips(height: int) -> list[slice]:
    """The row ranges of STRIP rows that cover an image."""
    return [slice(start, start + STRIP) for start in range(0, height, STRIP)]


def rgb_frame(
    red: np.ndarray,
    green: np.ndarray,
    blue: np.ndarray,
    matrix: Sequence,
    scalemin: float,
    lab: Sequence[float] | None,
    lmin: float = 0.0,
    box: Sequence[int] | None = None,
    scale: Sequence[tuple[float, float, float]] | None = None,
    empty: Callable = np.empty,
) -> np.ndarray:
    """Scaled channels to the 8-bit RGB frame (mix, stretch, optional CIELab tweak, crop).

    With `scale`, (low, high, gamma) per channel, the inputs are prepped channels, scaled
    strip by strip on the way: the frame of scale_channel's output, without its full-size
    arrays. The CIELab tweak takes the stretched image rescaled to [0, 1] by its own min and
    max, those of the whole frame (before the crop). The frame and the float image come
    from empty(shape, dtype).
    """
    channels = (red, green, blue)
    affine = stretch_matrix(matrix, scalemin, 255.0 if lab is None else 1.0)
    x0, x1, y0, y1 = box or (0, red.shape[1], 0, len(red))
    if lab is None:
        frame = empty((y1 - y0, x1 - x0, 3), np.dtype(np.uint8))
        for rows in strips(y1 - y0):
            rows = slice(rows.start + y0, min(rows.stop + y0, y1))
            mixed = mix(*_strip(channels, rows, scale), affine)
            floor_uint8(mixed[:, x0:x1], dst=frame[rows.start - y0 : rows.stop - y0])
        return frame
    stretched = empty((*red.shape, 3), np.dtype(np.float32))
    for rows in strips(len(red)):
        mix(*_strip(channels, rows, scale), affine, dst=stretched[rows])
    lo, hi = cv2.minMaxLoc(stretched.reshape(len(stretched), -1))[:2]
    lo, hi = max(lo, 0.0), min(hi, 1.0)
    factor = np.float32(1.0 / (hi - lo) if hi > lo else 0.0)
    stretched = crop(stretched, box)
    frame = empty(stretched.shape, np.dtype(np.uint8))
    for rows in strips(len(frame)):
        unit = np.clip((stretched[rows] - np.float32(lo)) * factor, 0, 1)
        lab_adjust(unit, lab, lmin, dst=frame[rows])
    return frame


def _strip(channels, rows: slice, scale) -> list[np.ndarray]:
    """Rows of each channel, scaled by (low, high, gamma) of each if scale is given."""
    if scale is None:
        return [channel[rows] for channel in channels]
    return [scale_channel(c[rows], *s) for c, s in zip(channels, scale, strict=True)]
