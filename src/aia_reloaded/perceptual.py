"""Perceptual colour for 1-7 channels: each channel a hue and a lightness in OKLab, cut to sRGB.

The recipe of PERCEPTUAL.md (the research spec): lightness combines by `screen` (or `additive`,
`max`); the opponent plane (a, b) takes the vector sum of the channels' chroma vectors less their
common floor, so equal channels are grey; a colour outside sRGB loses chroma at constant OKLab
lightness and hue, the limit read from a table of maximum chroma.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np

from aia_reloaded.colour import scale_channel

PALETTES = ("aia", "cvd")
BLENDS = ("screen", "additive", "max")

# Hue (OKLCh degrees) per wavelength, so that any set of channels has its colours: the field's
# colours (304 red, 171 gold, 94 green, 131 teal, 211 purple); 193 moves from bronze to blue,
# clear of 171 and 304, which puts 335 (blue in the AIA tables) at violet, between 193 and 211.
_HUES = {304: 30, 171: 85, 94: 145, 131: 195, 193: 250, 335: 295, 211: 340}
# OKLab lightness per palette and wavelength: aia, one lightness; cvd, lightness apart, so that
# the pure channel colours stay distinct for protan, deutan and tritan observers (PERCEPTUAL.md
# section 4), found by a search over lightness (benchmarks/perceptual.py --search).
_LIGHTNESS = {
    "aia": dict.fromkeys(_HUES, 0.70),
    "cvd": {304: 0.50, 171: 0.725, 94: 0.90, 131: 0.575, 193: 0.75, 335: 0.475, 211: 0.40},
}

# OKLab (Ottosson 2020): linear sRGB -> LMS (M1), cube root -> Lab (M2); M2_INV, M1_INV back.
M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
M2_INV = np.array(
    [
        [1.0, 0.3963377774, 0.2158037573],
        [1.0, -0.1055613458, -0.0638541728],
        [1.0, -0.0894841775, -1.2914855480],
    ]
)
M1_INV = np.array(
    [
        [4.0767416621, -3.3077115913, 0.2309699292],
        [-1.2684380046, 2.6097574011, -0.3413193965],
        [-0.0041960863, -0.7034186147, 1.7076147010],
    ]
)

TABLE_SHAPE = (1024, 1441)  # maximum chroma at L = 0, 1/1023 ... 1 by hue 0, 0.25 ... 360 degrees
ROWS = 32  # rows per strip: a strip's dozen float buffers stay in cache
_REMAP_ROWS = 32000  # cv2.remap makes at most 32767 rows
_MIN_CHROMA = 1e-6  # below it the hue is undefined


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function (IEC 61966-2-1), linear [0, 1] -> encoded [0, 1], float64."""
    linear = np.asarray(linear, float)
    curve = 1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055
    return np.where(linear <= 0.0031308, 12.92 * linear, curve)


# 8-bit sRGB of linear values 0, 1/65535 ... 1: within 1 DN of the exact encoding
_ENCODE = np.round(255 * linear_to_srgb(np.arange(65536) / 65535)).astype(np.uint8)


def linear_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB (..., 3) to OKLab (..., 3), float64."""
    return _apply(M2, np.cbrt(_apply(M1, rgb)))


def oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    """OKLab (..., 3) to linear sRGB (..., 3), float64."""
    lms = _apply(M2_INV, lab)
    return _apply(M1_INV, lms * lms * lms)


def _apply(matrix: np.ndarray, vectors) -> np.ndarray:
    """matrix . v for each v along the last axis (einsum: no BLAS threads for 3 x 3)."""
    return np.einsum("ij,...j->...i", matrix, np.asarray(vectors, float))


def max_chroma(lightness, hue) -> np.ndarray:
    """The largest OKLab chroma in sRGB at lightness and hue (degrees), by bisection; broadcast."""
    lightness, hue = np.broadcast_arrays(np.asarray(lightness, float), np.radians(hue))
    # LMS' = L + C * kappa(h): the chroma direction of hue h through M2_INV
    kappa = [row[1] * np.cos(hue) + row[2] * np.sin(hue) for row in M2_INV]
    chroma = np.zeros(lightness.shape)
    for step in 0.4 / 2.0 ** np.arange(1, 23):  # the sRGB maximum is 0.32
        trial = chroma + step
        lms = [(lightness + trial * k) for k in kappa]
        lms = [c * c * c for c in lms]
        rgb = [row[0] * lms[0] + row[1] * lms[1] + row[2] * lms[2] for row in M1_INV]
        inside = np.logical_and.reduce([(c >= 0) & (c <= 1) for c in rgb])
        chroma = np.where(inside, trial, chroma)
    return chroma


@functools.cache
def chroma_table() -> np.ndarray:
    """max_chroma on the TABLE_SHAPE grid, float32 (made once per process, in about 0.6 s)."""
    lightness = np.linspace(0, 1, TABLE_SHAPE[0])[:, None]
    hue = np.linspace(0, 360, TABLE_SHAPE[1])
    table = np.empty(TABLE_SHAPE, np.float32)
    for start in range(0, TABLE_SHAPE[0], 32):  # 32 rows at a time, in cache
        table[start : start + 32] = max_chroma(lightness[start : start + 32], hue)
    table.flags.writeable = False
    return table


def table_chroma(lightness: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """max_chroma from chroma_table, read with cv2.remap: float32 arrays of N x 1 (any N)."""
    table, out = chroma_table(), np.empty_like(lightness)
    for start in range(0, len(out), _REMAP_ROWS):
        part = slice(start, start + _REMAP_ROWS)
        out[part] = cv2.remap(
            table,
            hue[part] * np.float32((TABLE_SHAPE[1] - 1) / 360),
            lightness[part] * np.float32(TABLE_SHAPE[0] - 1),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return out


def perceptual_look(wavelengths: Sequence[int], settings: Mapping) -> dict:
    """perceptual_frame's keywords for the channels `wavelengths` (1 to 7 of 94, 131, 171, 193,
    211, 304, 335) from the config's `perceptual` section."""
    palette = settings.get("palette", "aia")
    if palette not in PALETTES:
        raise ValueError(f"perceptual.palette {palette!r} is unknown; use one of {PALETTES}.")
    unknown = [w for w in wavelengths if w not in _HUES]
    if unknown or not 1 <= len(wavelengths) <= len(_HUES):
        raise ValueError(
            f"channels: {list(wavelengths)} is not allowed with perceptual colour; it takes "
            f"1 to 7 of the wavelengths {sorted(_HUES)}."
        )
    blend = settings.get("blend", "screen")
    if blend not in BLENDS:
        raise ValueError(f"perceptual.blend {blend!r} is unknown; use one of {BLENDS}.")
    hues = _per_channel(settings, "hues", [_HUES[w] for w in wavelengths])
    lightness = _per_channel(settings, "lightness", [_LIGHTNESS[palette][w] for w in wavelengths])
    chroma = settings.get("chroma", 0.9) * max_chroma(lightness, hues)
    return {
        "hues": hues,
        "lightness": lightness,
        "chroma": [float(c) for c in chroma],
        "blend": blend,
        "ratio": bool(settings.get("ratio", False)),
    }


def _per_channel(settings: Mapping, key: str, palette: list) -> list[float]:
    """settings[key] if given (one value per channel), else the palette's values."""
    values = settings.get(key)
    if values is None:
        return [float(v) for v in palette]
    if len(values) != len(palette):
        raise ValueError(
            f"perceptual.{key} has {len(values)} values for {len(palette)} channels; "
            "give one per channel."
        )
    return [float(v) for v in values]


def perceptual_frame(
    channels: Sequence[np.ndarray],
    hues: Sequence[float],
    lightness: Sequence[float],
    chroma: Sequence[float],
    blend: str = "screen",
    ratio: bool = False,
    box: Sequence[int] | None = None,
    scale: Sequence[tuple[float, float, float]] | None = None,
    empty: Callable = np.empty,
) -> np.ndarray:
    """Scaled channels s_i in [0, 1] (N = 1..7 float32 H x W arrays) to the 8-bit sRGB frame.

    Per channel a hue (degrees), an OKLab lightness and an absolute OKLab chroma (as
    perceptual_look gives them). box = [x0, x1, y0, y1] makes only that crop. With `scale`,
    (low, high, gamma) per channel, the inputs are prepped channels that scale_channel scales
    strip by strip. The frame (H x W x 3 uint8, RGB) and the work buffers come from
    empty(shape, dtype).
    """
    mixer = _Mixer(hues, lightness, chroma, blend, ratio)
    x0, x1, y0, y1 = box or (0, channels[0].shape[1], 0, len(channels[0]))
    frame = empty((y1 - y0, x1 - x0, 3), np.dtype(np.uint8))
    index = empty((ROWS, 3 * (x1 - x0)), np.dtype(np.uint16))
    for rows, rgb in _linear_strips(channels, mixer, (x0, x1, y0, y1), scale, empty):
        out = frame[rows.start - y0 : rows.stop - y0].reshape(len(rgb), -1)
        # clip to [0, 1] and round to a 16-bit index into the encoding table
        cv2.multiply(rgb.reshape(len(rgb), -1), 65535.0, dst=index[: len(rgb)], dtype=cv2.CV_16U)
        np.take(_ENCODE, index[: len(rgb)], out=out, mode="clip")
    return frame


def linear_frame(
    channels: Sequence[np.ndarray],
    hues: Sequence[float],
    lightness: Sequence[float],
    chroma: Sequence[float],
    blend: str = "screen",
    ratio: bool = False,
) -> np.ndarray:
    """perceptual_frame's colours as linear sRGB, before the final clip: float32 H x W x 3."""
    mixer = _Mixer(hues, lightness, chroma, blend, ratio)
    height, width = channels[0].shape
    frame = np.empty((height, width, 3), np.float32)
    for rows, rgb in _linear_strips(channels, mixer, (0, width, 0, height), None, np.empty):
        frame[rows] = rgb
    return frame


def channel_colours(
    hues: Sequence[float],
    lightness: Sequence[float],
    chroma: Sequence[float],
    blend: str = "screen",
    ratio: bool = False,
) -> list[tuple[int, int, int]]:
    """The 8-bit sRGB colour of each channel alone at full (s_i = 1, others 0): for the movie's
    colour key."""
    alone = np.eye(len(hues), dtype=np.float32)  # pixel i: channel i at 1
    channels = [alone[i : i + 1] for i in range(len(hues))]
    frame = perceptual_frame(channels, hues, lightness, chroma, blend, ratio)
    return [(int(r), int(g), int(b)) for r, g, b in frame[0]]


def _linear_strips(channels, mixer: _Mixer, box, scale, empty: Callable):
    """(rows, linear RGB of those rows in the box) for each strip of ROWS rows."""
    x0, x1, y0, y1 = box
    planes = empty((3, ROWS, x1 - x0), np.dtype(np.float32))
    pixels = empty((4, ROWS, x1 - x0, 3), np.dtype(np.float32))
    mask = empty((ROWS, x1 - x0), np.dtype(np.uint8))
    for start in range(y0, y1, ROWS):
        rows = slice(start, min(start + ROWS, y1))
        n = rows.stop - rows.start
        if scale is None:
            strips = [c[rows, x0:x1] for c in channels]
        else:
            strips = [
                scale_channel(c[rows, x0:x1], *s) for c, s in zip(channels, scale, strict=True)
            ]
        yield rows, mixer.linear_rgb(strips, planes[:, :n], pixels[:, :n], mask[:n])


class _Mixer:
    """One look: strips of scaled channels to linear sRGB, chroma cut (PERCEPTUAL.md 2-3)."""

    def __init__(self, hues, lightness, chroma, blend: str, ratio: bool):
        if blend not in BLENDS:
            raise ValueError(f"blend {blend!r} is unknown; use one of {BLENDS}.")
        self.lightness = [float(v) for v in lightness]
        self.blend, self.ratio = blend, ratio
        self.floor = len(hues) > 1  # beta = 1: the common floor min(s_i) is grey
        angle = np.radians(hues)
        # LMS' = M2_INV . (L, a, b) = L + chroma_lms . (a, b): columns for [L, floor, s_1 ...]
        chroma_lms = M2_INV[:, 1:] @ (np.asarray(chroma) * [np.cos(angle), np.sin(angle)])
        columns = [chroma_lms]
        if self.floor:
            columns.insert(0, -chroma_lms.sum(axis=1, keepdims=True))
        if ratio:  # LMS' = L / D * (D + chroma_lms . (a, b)), D = sum(lightness_i * s_i)
            columns[-1] = chroma_lms + np.asarray(self.lightness)
        else:
            columns.insert(0, np.ones((3, 1)))
        self.columns = np.hstack(columns)

    def linear_rgb(self, strips, planes, pixels, mask) -> np.ndarray:
        """Linear RGB (pixels[3]) of strips of the channels: the look, then the chroma cut."""
        light, floor, spare = planes
        merged, lms_root, lms, rgb = pixels
        self._lightness(strips, light, spare)
        inputs = list(strips)
        if self.floor:
            np.minimum(strips[0], strips[1], out=floor)
            for strip in strips[2:]:
                np.minimum(floor, strip, out=floor)
            inputs.insert(0, floor)
        if self.ratio:
            _linear_map(inputs, self.columns, merged, lms_root, lms)
            self._ratio(strips, light, spare, merged, lms_root)
        else:
            _linear_map([light, *inputs], self.columns, merged, lms_root, lms)
        cv2.pow(lms_root, 3, dst=lms)
        cv2.transform(lms, M1_INV, dst=rgb)
        _cut_chroma(rgb, lms_root, mask)
        return rgb

    def _lightness(self, strips, out, spare) -> None:
        """The OKLab lightness of the composite, by the blend of lightness_i * s_i."""
        first, *others = zip(self.lightness, strips, strict=True)
        if self.blend == "screen":  # 1 - prod(1 - l_i s_i)
            cv2.addWeighted(first[1], -first[0], first[1], 0.0, 1.0, dst=out)
            for level, strip in others:
                cv2.addWeighted(strip, -level, strip, 0.0, 1.0, dst=spare)
                cv2.multiply(out, spare, dst=out)
            np.subtract(1, out, out=out)
            return
        np.multiply(first[1], first[0], out=out)
        for level, strip in others:
            if self.blend == "additive":
                cv2.scaleAdd(strip, level, out, dst=out)
            else:
                np.maximum(out, np.multiply(strip, level, out=spare), out=out)
        if self.blend == "additive":
            np.minimum(out, 1, out=out)

    def _ratio(self, strips, light, spare, merged, lms_root) -> None:
        """LMS' times L / D, D = sum(lightness_i * s_i) (ratio mode); 0 where D is 0."""
        np.multiply(strips[0], self.lightness[0], out=spare)
        for level, strip in zip(self.lightness[1:], strips[1:], strict=True):
            cv2.scaleAdd(strip, level, spare, dst=spare)
        np.maximum(spare, 1e-30, out=spare)  # where D = 0, L = 0 too
        np.divide(light, spare, out=spare)
        cv2.merge([spare] * 3, dst=merged)
        cv2.multiply(lms_root, merged, dst=lms_root)


def _linear_map(inputs, columns, merged, out, spare) -> None:
    """out = columns . inputs per pixel (H x W x 3), by cv2.transform of the inputs in threes."""
    padding = -len(inputs) % 3  # the last input again, with zero weight
    inputs = inputs + inputs[-1:] * padding
    columns = np.hstack([columns, np.zeros((3, padding))])
    for start in range(0, len(inputs), 3):
        cv2.merge(inputs[start : start + 3], dst=merged)
        dst = out if start == 0 else spare
        cv2.transform(merged, columns[:, start : start + 3], dst=dst)
        if start:
            cv2.add(out, spare, dst=out)


def _cut_chroma(rgb, lms_root, mask) -> None:
    """Pixels outside the RGB cube lose chroma at constant OKLab lightness and hue (in place).

    lms_root holds their LMS' (cube roots of LMS); the largest chroma comes from table_chroma.
    """
    if rgb.min() >= 0 and rgb.max() <= 1:  # quicker than the mask, and the rule
        return
    cv2.inRange(rgb, (0, 0, 0), (1, 1, 1), dst=mask)
    outside = np.flatnonzero(mask == 0)
    lab = cv2.transform(lms_root.reshape(-1, 1, 3)[outside], M2)
    lightness, a, b = cv2.split(lab)
    chroma = cv2.magnitude(a, b)
    hue = cv2.phase(a, b, angleInDegrees=True)
    limit = table_chroma(lightness, hue)
    factor = np.minimum(limit / np.maximum(chroma, _MIN_CHROMA), 1)
    lab = cv2.merge([lightness, a * factor, b * factor])
    cut = cv2.transform(cv2.pow(cv2.transform(lab, M2_INV), 3), M1_INV)
    rgb.reshape(-1, 3)[outside] = cut.reshape(-1, 3)
