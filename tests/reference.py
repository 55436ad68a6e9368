"""The recipe of ALGORITHM.md sections 3-5 written out plainly in float64: the yardstick.

The colour-space conversions are OpenCV's, as in the research code (its CIELab is what the
look is defined by); srgb_to_lab and lab_to_srgb are the CIE formulas that check OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

WHITE_D65 = np.array([0.950456, 1.0, 1.088754])
RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)


def scale_channel(x, low, high, gamma):
    return np.clip((np.asarray(x, float) - low) / (high - low), 0, 1) ** (1 / gamma)


def mix_and_stretch(r, g, b, matrix, scalemin):
    rgb = np.einsum("ij,...j->...i", np.asarray(matrix, float), np.stack([r, g, b], -1))
    y = np.clip(rgb, 0, 1) * 255
    return np.clip((y - scalemin) * 255 / (255 - scalemin), 0, 255)


def srgb_to_lab(rgb):
    """sRGB in [0, 1] -> CIELab (D65): L in [0, 100]."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ RGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    L = np.where(xyz[..., 1] > 0.008856, 116 * f[..., 1] - 16, 903.3 * xyz[..., 1])
    return np.stack([L, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_srgb(lab):
    """CIELab (D65) -> sRGB in [0, 1]."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200], -1)
    xyz = np.where(f > 6 / 29, f**3, (f - 16 / 116) * 3 * (6 / 29) ** 2) * WHITE_D65
    linear = np.clip(xyz @ np.linalg.inv(RGB_TO_XYZ).T, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def lab_adjust(rgb255, factors, lmin):
    unit = (rgb255 - rgb255.min()) / (rgb255.max() - rgb255.min())
    lab = cv2.cvtColor(unit.astype(np.float32), cv2.COLOR_RGB2Lab).astype(float)
    lf, af, bf = factors
    L = (lab[..., 0] * 255 / 100 - lmin) * lf * 255 / (255 - lmin)
    a = (lab[..., 1] + 128) * af
    b = (lab[..., 2] + 128) * bf
    lab8 = np.trunc(np.clip(np.stack([L, a, b], -1), 0, 255)).astype(np.uint8)
    return cv2.cvtColor(lab8, cv2.COLOR_Lab2RGB).astype(float)


def frame(r, g, b, matrix, scalemin, factors, lmin):
    stretched = mix_and_stretch(r, g, b, matrix, scalemin)
    if factors is None:
        return np.trunc(stretched)
    return lab_adjust(stretched, factors, lmin)
