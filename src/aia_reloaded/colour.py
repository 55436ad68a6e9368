"""From prepped channels to an 8-bit RGB frame: levels, gamma, colour mix, CIELab tweak."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def percentile_levels(image: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The low and high percentiles of an image, the fixed levels of a channel."""
    lo, hi = np.percentile(image, [low, high])
    return float(lo), float(hi)


def scale_channel(image: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    """clip((x - low) / (high - low), 0, 1) ** (1 / gamma), float32."""
    scaled = (image - np.float32(low)) * np.float32(1.0 / (high - low))
    np.clip(scaled, 0, 1, out=scaled)
    return np.power(scaled, np.float32(1.0 / gamma), out=scaled)


def mix(red: np.ndarray, green: np.ndarray, blue: np.ndarray, matrix: Sequence) -> np.ndarray:
    """M . [r, g, b] per pixel (rows of M: output channel), float32 H x W x 3."""
    stacked = cv2.merge([red, green, blue])
    return cv2.transform(stacked, np.asarray(matrix, dtype=np.float32))


def stretch(rgb: np.ndarray, scalemin: float) -> np.ndarray:
    """clip(rgb, 0, 1) * 255, then the contrast stretch (y - scalemin) * 255 / (255 - scalemin)."""
    gain = np.float32(255.0 * 255.0 / (255.0 - scalemin))
    offset = np.float32(scalemin * 255.0 / (255.0 - scalemin))
    out = np.clip(rgb, 0, 1) * gain - offset
    return np.clip(out, 0, 255, out=out)


def lab_adjust(
    rgb: np.ndarray,
    factors: Sequence[float],
    lmin: float,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The CIELab tweak of a float RGB image (any range): uint8 RGB.

    The image is rescaled to [0, 1] by value_range (default its own min and max), converted
    to 8-bit-convention Lab (L * 255/100, a + 128, b + 128), scaled by factors (L, a, b)
    above lmin, clipped, truncated to 8 bits and converted back to RGB.
    """
    lo, hi = value_range or (float(rgb.min()), float(rgb.max()))
    unit = (rgb - np.float32(lo)) * np.float32(1.0 / (hi - lo) if hi > lo else 0.0)
    lab = cv2.cvtColor(unit, cv2.COLOR_RGB2Lab)
    lf, af, bf = factors
    lab[..., 0] = (lab[..., 0] * np.float32(255 / 100) - lmin) * np.float32(lf * 255 / (255 - lmin))
    lab[..., 1] = (lab[..., 1] + 128) * np.float32(af)
    lab[..., 2] = (lab[..., 2] + 128) * np.float32(bf)
    np.clip(lab, 0, 255, out=lab)
    return cv2.cvtColor(lab.astype(np.uint8), cv2.COLOR_Lab2RGB)


def crop(image: np.ndarray, box: Sequence[int] | None) -> np.ndarray:
    """image[y0:y1, x0:x1] for box = [x0, x1, y0, y1] in displayed pixels; None keeps all."""
    if box is None:
        return image
    x0, x1, y0, y1 = box
    return image[y0:y1, x0:x1]


def rgb_frame(
    red: np.ndarray,
    green: np.ndarray,
    blue: np.ndarray,
    matrix: Sequence,
    scalemin: float,
    lab: Sequence[float] | None,
    lmin: float = 0.0,
    box: Sequence[int] | None = None,
) -> np.ndarray:
    """Scaled channels to the 8-bit RGB frame (mix, stretch, optional CIELab tweak, crop)."""
    stretched = stretch(mix(red, green, blue, matrix), scalemin)
    if lab is None:
        return crop(stretched, box).astype(np.uint8)
    full_range = float(stretched.min()), float(stretched.max())
    return lab_adjust(crop(stretched, box), lab, lmin, full_range)
