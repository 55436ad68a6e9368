"""Yardsticks for perceptual.py, plain float64: sRGB, CIELab, CIEDE2000, CVD simulation, a
bisection of the gamut, and PERCEPTUAL.md's composition written out per pixel."""

from __future__ import annotations

import itertools

import numpy as np

from aia_reloaded import perceptual

# linear sRGB -> XYZ (IEC 61966-2-1) and the D65 white of CIELab
RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
WHITE = RGB_TO_XYZ.sum(axis=1)

# Machado, Oliveira & Fernandes 2009, severity 1, on linear RGB
CVD = {
    "normal": np.eye(3),
    "protan": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deutan": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritan": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}


def srgb_to_linear(srgb):
    srgb = np.asarray(srgb, float)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear):
    linear = np.asarray(linear, float)
    return np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055
    )


def linear_to_cielab(rgb):
    """Linear sRGB -> CIELab (D65), L in [0, 100]."""
    xyz = np.asarray(rgb, float) @ RGB_TO_XYZ.T / WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def ciede2000(lab1, lab2):
    """CIEDE2000 colour difference (kL = kC = kH = 1), as Sharma, Wu & Dalal (2005) write it."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, float), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1 = np.degrees(np.arctan2(b1, a1)) % 360
    h2 = np.degrees(np.arctan2(b2, a2)) % 360
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1 * c2 == 0, 0, dh)
    d_big_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_bar, c_bar = (L1 + L2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_bar = np.where(
        np.abs(h1 - h2) <= 180, h_sum / 2, np.where(h_sum < 360, h_sum / 2 + 180, h_sum / 2 - 180)
    )
    h_bar = np.where(c1 * c2 == 0, h_sum, h_bar)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = (
        -2
        * np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7))
        * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2))))
    )
    dl, dc = (L2 - L1) / s_l, (c2 - c1) / s_c
    dh = d_big_h / s_h
    return np.sqrt(dl**2 + dc**2 + dh**2 + r_t * dc * dh)


def simulate_cvd(rgb, observer):
    """Linear RGB as a dichromat `observer` sees it (Machado 2009), clipped to [0, 1]."""
    return np.clip(np.asarray(rgb, float) @ CVD[observer].T, 0, 1)


def separations(colours):
    """{observer: (min pairwise dE_OK, min pairwise dE00)} of 8-bit sRGB colours."""
    linear = srgb_to_linear(np.asarray(colours, float) / 255)
    pairs = np.array(list(itertools.combinations(range(len(colours)), 2)))
    figures = {}
    for observer in CVD:
        seen = simulate_cvd(linear, observer)
        ok, lab = perceptual.linear_to_oklab(seen), linear_to_cielab(seen)
        d_ok = np.linalg.norm(ok[pairs[:, 0]] - ok[pairs[:, 1]], axis=-1)
        d_00 = ciede2000(lab[pairs[:, 0]], lab[pairs[:, 1]])
        figures[observer] = (float(d_ok.min()), float(d_00.min()))
    return figures


def max_chroma(lightness, hue, steps=50):
    """Largest in-gamut chroma by plain bisection on OKLab -> linear sRGB (float64)."""
    lightness, hue = np.broadcast_arrays(np.asarray(lightness, float), np.radians(hue))
    low, high = np.zeros(lightness.shape), np.full(lightness.shape, 0.5)
    for _ in range(steps):
        mid = (low + high) / 2
        lab = np.stack([lightness, mid * np.cos(hue), mid * np.sin(hue)], -1)
        rgb = perceptual.oklab_to_linear(lab)
        inside = np.all((rgb >= 0) & (rgb <= 1), axis=-1)
        low, high = np.where(inside, mid, low), np.where(inside, high, mid)
    return low


def table_chroma(lightness, hue):
    """perceptual.chroma_table interpolated bilinearly in float64."""
    table = perceptual.chroma_table().astype(float)
    rows, cols = perceptual.TABLE_SHAPE
    y = np.clip(np.asarray(lightness, float), 0, 1) * (rows - 1)
    x = np.asarray(hue, float) % 360 * (cols - 1) / 360
    y0 = np.minimum(y.astype(int), rows - 2)
    x0 = np.minimum(x.astype(int), cols - 2)
    fy, fx = y - y0, x - x0
    top = table[y0, x0] * (1 - fx) + table[y0, x0 + 1] * fx
    bottom = table[y0 + 1, x0] * (1 - fx) + table[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def oklab(channels, hues, lightness, chroma, blend="screen", ratio=False):
    """PERCEPTUAL.md section 2 per pixel: OKLab (..., 3) of scaled channels, float64."""
    s = np.stack([np.asarray(c, float) for c in channels], -1)
    level = np.asarray(lightness, float)
    if blend == "screen":
        light = 1 - np.prod(1 - level * s, axis=-1)
    elif blend == "additive":
        light = np.minimum(1, np.sum(level * s, axis=-1))
    else:
        light = np.max(level * s, axis=-1)
    angle = np.radians(hues)
    v = np.asarray(chroma, float)[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    beta = 1.0 if len(hues) > 1 else 0.0
    ab = s @ v - beta * s.min(axis=-1, keepdims=True) * v.sum(axis=0)
    if ratio:
        total = np.sum(level * s, axis=-1, keepdims=True)
        ab = np.where(total > 0, ab * light[..., None] / np.where(total > 0, total, 1), 0)
    return np.concatenate([light[..., None], ab], -1)


def cut_chroma(lab, limit=table_chroma):
    """Chroma cut at constant L and hue to limit(L, h) where the colour is outside sRGB."""
    rgb = perceptual.oklab_to_linear(lab)
    outside = np.any((rgb < 0) | (rgb > 1), axis=-1)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    factor = np.minimum(1, limit(lab[..., 0], hue) / np.maximum(chroma, 1e-6))
    factor = np.where(outside, factor, 1)
    return np.concatenate([lab[..., :1], lab[..., 1:] * factor[..., None]], -1)


def frame(channels, hues, lightness, chroma, blend="screen", ratio=False):
    """The 8-bit frame of the float64 pipeline: compose, cut, clip, exact sRGB encoding."""
    lab = cut_chroma(oklab(channels, hues, lightness, chroma, blend, ratio))
    rgb = np.clip(perceptual.oklab_to_linear(lab), 0, 1)
    return np.round(255 * linear_to_srgb(rgb)).astype(np.uint8)
