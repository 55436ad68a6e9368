"""Structure enhancement of a channel: MGN (Morgan & Druckmüller 2014), WOW (Auchère et al. 2023).

Both as sunkit-image and watroo 0.0.4 compute them, except that every global quantity the
published algorithms take from the frame (gamma range, residual std, noise, floors) is fixed
for a series by series_parameters, from a reference frame: an output pixel then depends only
on the pixels within the kernels' reach, and a movie does not flicker. Fast forms: Gaussians
of large sigma through a pyramid, the à trous as one cv2 pass over a view of the plane in
which the taps are neighbours (as sums of shifted slices at large steps), elementwise work in
row strips that stay in cache (benchmarks/enhance.py times them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

METHODS = ("none", "mgn", "wow")
HIGH_PERCENTILE = 99.99  # of the reference: the top of the gamma terms (see series_parameters)
# Floor of the local std, as a fraction of the noise of the reference (of the noise of the
# plane for WOW): it only acts where a frame varies 100 times less than its noise, the zero
# fill off the field of view, where it keeps round-off from being normalised into structure.
FLOOR = 0.01
TINY = 1e-15  # the floor if the noise is 0 (as watroo's floor of the power): no 0 / 0
STRIP = 32  # rows: elementwise work and separable passes strip by strip, in cache
B3 = (1 / 16, 1 / 4, 3 / 8, 1 / 4, 1 / 16)  # the B3-spline scaling function of the à trous
B3_TAPS = range(-2, 3)  # its offsets, in steps
B3_KERNEL = np.array(B3, np.float32)
# Largest step of the à trous through a view (see _channels): beyond, the view's rows and the
# edge bands outgrow the cache and sums of slices are faster (measured at 4096^2); OpenCV 5
# also takes at most 128 channels
VIEW_MAX_STEP = 32
# Std of each plane of unit white Gaussian noise (watroo's B3spline tables, 2-D)
SIGMA_E = (0.8907, 0.20072, 0.085551, 0.041261, 0.02047, 0.010232, 0.0051435, 0.0026008,
           0.0013161, 0.00067359, 0.0004004)  # fmt: skip
SIGMA_E_BILATERAL = (0.38234752, 0.24305799, 0.16012153, 0.10633541, 0.07083733, 0.04728659,
                     0.03163678, 0.02122341, 0.01429102, 0.00952376)  # fmt: skip
# erf(x) = 1 - t (a1 + a2 t + ... + a5 t^4) exp(-x^2), t = 1 / (1 + P x): |error| < 1.5e-7
# (Abramowitz & Stegun 7.1.26); numpy has no vectorised erf
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def series_parameters(image: np.ndarray, method: str, settings: dict) -> dict:
    """The quantities the published algorithm computes per frame, fixed once for the series
    from the prepped reference channel (float32 DN/s, zeros off the field of view).

    mgn: a0, a1 (the range of the gamma term), epsilon (the floor of S_i); wow: noise
    (sigma_n of the denoising), residual_std (std(c_J)), g_min, g_max (the range of the gamma
    term), epsilon (sqrt(P_j) is floored at epsilon sigma_e[j]). The gamma terms run from
    0 DN/s (sunkit's minimum once it has set values <= 0 to 1e-15) to the 99.99th percentile
    of the reference, not its maximum: one hot pixel, cosmic ray or flare kernel in the
    reference would otherwise darken the whole series; brighter pixels clip at 1. epsilon is
    FLOOR times the noise (watroo's estimate, median |w_0| / 0.6745 / sigma_e[0], over the
    field of view).
    """
    if method == "none":
        return {}
    image = _filled(image, np.empty(image.shape, np.float32))
    if method == "mgn":
        smoothed = _atrous(image, 0, np.empty_like(image))
        noise = _noise(image, smoothed, SIGMA_E[0], smoothed)
        a1 = float(np.percentile(image, HIGH_PERCENTILE))
        return {"a0": 0.0, "a1": a1, "epsilon": FLOOR * noise}
    _white, residual, denoised, noise = _wow(image, settings, None, _allocate(None))
    return {
        "noise": noise,
        "residual_std": float(np.std(residual, dtype=np.float64)),
        "g_min": 0.0,
        "g_max": float(np.percentile(denoised, HIGH_PERCENTILE)),
        "epsilon": FLOOR * noise,
    }


def enhance(
    image: np.ndarray, method: str, settings: dict, fixed: dict, buffers=None
) -> np.ndarray:
    """The enhanced channel (float32, same shape), with the series-fixed quantities `fixed`.

    NaN pixels count as 0. The result may be an array of `buffers` (a stages.Buffers).
    """
    if method == "none":
        return image
    image = np.asarray(image, np.float32)
    empty = _allocate(buffers)
    if method == "mgn":
        return _mgn(image, settings, fixed, empty)
    h, low, high = settings["h"], fixed["g_min"], fixed["g_max"]
    white, residual, denoised, _ = _wow(image, settings, fixed["noise"], empty, fixed["epsilon"])
    weight = (1 - h) / max(fixed["residual_std"], TINY)  # watroo's floor of it
    for rows in _strips(image):
        out = cv2.addWeighted(white[rows], 1 - h, residual[rows], weight, 0, white[rows])
        gamma = _gamma(denoised[rows], low, high, settings["gamma"], denoised[rows])
        cv2.scaleAdd(gamma, h, out, out)
    return white


def _mgn(image: np.ndarray, settings: dict, fixed: dict, empty: Callable) -> np.ndarray:
    """I = h C'_g + (1 - h) / n sum_i w_i arctan(k (B - M_i) / S_i) with fixed a0, a1, floor."""
    sigmas, k, h = settings["sigmas"], settings["k"], settings["h"]
    weights = settings["weights"] or [1.0] * len(sigmas)
    step = 2 ** max(map(_level, sigmas))
    # one replicated border for every scale, wide enough for the largest kernel and the
    # pyramid; the padded size a multiple of the pyramid's step
    pad = _radius(max(sigmas)) + step
    height, width = image.shape
    bottom, right = (pad + (-(n + 2 * pad) % step) for n in image.shape)
    padded = empty("mgn image")((height + pad + bottom, width + pad + right))
    cv2.copyMakeBorder(image, pad, bottom, pad, right, cv2.BORDER_REPLICATE, dst=padded)
    cv2.patchNaNs(padded, 0)
    inside = (slice(pad, pad + height), slice(pad, pad + width))
    residual, spread = empty("mgn residual")(padded.shape), empty("mgn spread")(padded.shape)
    angles = empty("mgn angles")(image.shape)  # sum_i w_i atan2(S_i / k, B - M_i)
    angles.fill(0)
    floor = (max(fixed["epsilon"], TINY) / k) ** 2
    for sigma, weight in zip(sigmas, weights, strict=True):
        _gaussian(padded, sigma, residual, empty)
        cv2.subtract(padded, residual, dst=residual)
        cv2.multiply(residual, residual, dst=spread, scale=1 / k**2)
        _replicate_border(spread, inside)  # as sunkit: the residual of the image, replicated
        _gaussian(spread, sigma, spread, empty)
        # arctan(k C) = pi / 2 - atan2(S / k, B - M): cv2.phase is 6 times faster than arctan
        for rows in _strips(image):
            local = (slice(rows.start + pad, rows.stop + pad), inside[1])
            root = np.sqrt(np.maximum(spread[local], np.float32(floor)))
            cv2.scaleAdd(cv2.phase(residual[local], root), weight, angles[rows], angles[rows])
    gamma = _gamma(padded[inside], fixed["a0"], fixed["a1"], settings["gamma"], residual[inside])
    local = (1 - h) / len(sigmas)
    return cv2.addWeighted(gamma, h, angles, -local, local * math.pi / 2 * sum(weights), angles)


def _level(sigma: float) -> int:
    """The pyramid level L of a Gaussian: the largest with sigma / 2^L >= 3."""
    return max(0, math.floor(math.log2(sigma / 3)))


def _radius(sigma: float) -> int:
    """scipy's kernel radius at truncate = 3, as sunkit uses."""
    return int(3 * sigma + 0.5)


def _gaussian(src: np.ndarray, sigma: float, dst: np.ndarray, empty: Callable) -> None:
    """Gaussian blur of std sigma into dst: exact for small sigma, else through a pyramid."""
    level = _level(sigma)
    if level == 0:
        size = 2 * _radius(sigma) + 1
        cv2.GaussianBlur(src, (size, size), sigma, dst, sigma, cv2.BORDER_REPLICATE)
        return
    factor = 2**level
    small = empty(f"mgn level {level}")((src.shape[0] // factor, src.shape[1] // factor))
    cv2.resize(src, small.shape[::-1], dst=small, interpolation=cv2.INTER_AREA)
    # less the variances of the box average and of the linear interpolation back up
    rest = math.sqrt(sigma**2 - (4**level - 1) / 12 - 4**level / 6) / factor
    size = 2 * _radius(rest) + 1
    cv2.GaussianBlur(small, (size, size), rest, small, rest, cv2.BORDER_REPLICATE)
    cv2.resize(small, src.shape[::-1], dst=dst, interpolation=cv2.INTER_LINEAR)


def _replicate_border(padded: np.ndarray, inside: tuple[slice, slice]) -> None:
    """Set the border of a padded array to copies of the edge of its inside."""
    rows, cols = inside
    padded[: rows.start] = padded[rows.start]
    padded[rows.stop :] = padded[rows.stop - 1]
    padded[:, : cols.start] = padded[:, cols.start : cols.start + 1]
    padded[:, cols.stop :] = padded[:, cols.stop - 1 : cols.stop]


def _wow(
    image: np.ndarray,
    settings: dict,
    noise: float | None,
    empty: Callable,
    epsilon: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The whitened planes' sum sum_j D_j w_j / sqrt(P_j), the residual c_J, the denoised
    image sum_j D_j w_j + c_J, and the noise (estimated from w_0 if None, as watroo does).

    P_j = h^(j) * w_j^2 is floored at (epsilon sigma_e[j])^2, epsilon FLOOR x noise if None.
    """
    bilateral, coefficients = settings["bilateral"], settings["denoise"]
    sigma_e = SIGMA_E_BILATERAL if bilateral else SIGMA_E
    current, following = empty("wow plane")(image.shape), empty("wow next plane")(image.shape)
    _filled(image, current)  # c_0
    squares, power = empty("wow squares")(image.shape), empty("wow power")(image.shape)
    white, denoised = empty("wow white")(image.shape), empty("wow denoised")(image.shape)
    strip = (STRIP, image.shape[1])
    roots, scratch = empty("wow roots")(strip), [empty(f"wow scratch {i}")(strip) for i in range(5)]
    white.fill(0)
    np.copyto(denoised, current)  # less (1 - D_j) w_j at each denoised scale
    for scale in range(settings["scales"]):
        if bilateral:
            _bilateral(current, scale, following, squares, power)
        else:
            _atrous(current, scale, following)
        if noise is None:
            noise = _noise(current, following, sigma_e[0], squares)
        if epsilon is None:
            epsilon = FLOOR * noise
        unit = sigma_e[min(scale, len(sigma_e) - 1)]  # beyond the table, its last entry
        threshold = (coefficients[scale] if scale < len(coefficients) else 0) * noise * unit
        floor = max(epsilon * unit, TINY) ** 2
        for rows in _strips(image):  # w_j in place of c_j, no longer needed
            w = cv2.subtract(current[rows], following[rows], current[rows])
            cv2.multiply(w, w, squares[rows])
        _atrous(squares, scale, power)
        for rows in _strips(image):
            w = current[rows]
            if threshold > 0:
                _soft_threshold(w, threshold, denoised[rows], scratch)
            root = cv2.sqrt(cv2.max(power[rows], floor, roots[: len(w)]), roots[: len(w)])
            cv2.add(white[rows], cv2.divide(w, root, root), white[rows])
        current, following = following, current
    return white, current, denoised, noise


def _atrous(src: np.ndarray, scale: int, dst: np.ndarray) -> np.ndarray:
    """h^(j) * src into dst: the B3-spline kernel with taps 2^j apart, BORDER_REFLECT."""
    step, (height, width) = 2**scale, src.shape
    reach = 2 * step
    if step > VIEW_MAX_STEP or height % step or width % step or min(height, width) < 2 * reach:
        return _slices(src, step, dst)
    _channels(src, step, dst)  # right but within the reach of an edge; there, from a band:

    def band(near: tuple, top: int, bottom: int, left: int, right: int) -> np.ndarray:
        """h^(j) * the band src[near], twice the reach wide, with its reflection beyond the
        edge."""
        padded = cv2.copyMakeBorder(src[near], top, bottom, left, right, cv2.BORDER_REFLECT)
        return _channels(padded, step)[reach:-reach, reach:-reach]

    dst[:reach] = band(np.s_[: 2 * reach], reach, 0, reach, reach)
    dst[-reach:] = band(np.s_[-2 * reach :], 0, reach, reach, reach)
    dst[:, :reach] = band(np.s_[:, : 2 * reach], reach, reach, reach, 0)
    dst[:, -reach:] = band(np.s_[:, -2 * reach :], reach, reach, 0, reach)
    return dst


def _channels(src: np.ndarray, step: int, dst: np.ndarray | None = None) -> np.ndarray:
    """h * src, h the B3-spline kernel with taps `step` apart, in dst if given; right only
    beyond 2 x step of src's edges. src's sides must be multiples of step.

    One cv2 pass of the 5 x 5 kernel over a view of src: rows of `step` rows of src side by
    side, pixels of `step` channels (columns). Taps `step` rows or columns apart are then
    neighbouring rows or pixels, except near src's edges: there the view's border is not the
    reflection, and a pixel's neighbour beyond a side is in the next or previous row of src.
    """
    height, width = src.shape
    dst = np.empty(src.shape, np.float32) if dst is None else dst
    src_view, dst_view = (a.reshape(height // step, width, step) for a in (src, dst))
    cv2.sepFilter2D(src_view, -1, B3_KERNEL, B3_KERNEL, dst_view, borderType=cv2.BORDER_REFLECT)
    return dst


def _slices(src: np.ndarray, step: int, dst: np.ndarray) -> np.ndarray:
    """h * src into dst as sums of shifted slices, h the B3-spline kernel with taps `step`
    apart, BORDER_REFLECT."""
    width = src.shape[1]
    # strips reused: a fresh array per strip would cost page faults
    down = np.empty((STRIP, width), np.float32)
    padded = np.empty((STRIP, width + 4 * step), np.float32)
    for rows in _strips(src):
        n = rows.stop - rows.start
        taps = [_rows(src, rows.start + t * step, rows.stop + t * step) for t in B3_TAPS]
        _b3_sum(taps, down[:n])
        cv2.copyMakeBorder(down[:n], 0, 0, 2 * step, 2 * step, cv2.BORDER_REFLECT, padded[:n])
        _b3_sum([padded[:n, j * step : j * step + width] for j in range(5)], dst[rows])
    return dst


def _b3_sum(taps: list[np.ndarray], out=None) -> np.ndarray:
    """sum_t B3[t] taps[t], in out if given."""
    out = cv2.addWeighted(taps[0], B3[0], taps[4], B3[4], 0, out)
    for tap, weight in zip(taps[1:4], B3[1:4], strict=True):
        cv2.scaleAdd(tap, weight, out, out)
    return out


def _rows(a: np.ndarray, start: int, stop: int) -> np.ndarray:
    """a[start:stop], rows outside reflected in as by cv2.BORDER_REFLECT (edge repeated)."""
    if start >= 0 and stop <= len(a):
        return a[start:stop]
    index = np.arange(start, stop) % (2 * len(a))
    return a[np.where(index < len(a), index, 2 * len(a) - 1 - index)]


def _bilateral(
    src: np.ndarray, scale: int, dst: np.ndarray, squares: np.ndarray, variance: np.ndarray
) -> None:
    """watroo's edge-aware à trous step (b_j = 1) into dst; squares and variance are scratch.

    Each tap of the dilated 5 x 5 kernel is weighted by exp(-(c(x) - c(x + d))^2 / 2 V(x)),
    V the local variance E[c^2] - E[c]^2 under the same kernel, and the sum renormalised.
    """
    step, width = 2**scale, src.shape[1]
    np.multiply(src, src, out=squares)
    _atrous(squares, scale, variance)
    mean = _atrous(src, scale, dst)
    for rows in _strips(src):  # -1 / 2V into variance, V floored at 1e-20 as by watroo
        spread = variance[rows] - mean[rows] * mean[rows]
        np.divide(np.float32(-0.5), np.maximum(spread, np.float32(1e-20)), out=variance[rows])
    kernel = np.outer(B3, B3).astype(np.float32)
    for rows in _strips(src):
        centre, inverse = src[rows], variance[rows]
        total, norm = centre * kernel[2, 2], np.full_like(centre, kernel[2, 2])
        for i, offset in enumerate(B3_TAPS):
            taps = _rows(src, rows.start + offset * step, rows.stop + offset * step)
            padded = cv2.copyMakeBorder(taps, 0, 0, 2 * step, 2 * step, cv2.BORDER_REFLECT)
            for j in range(5):
                if i == j == 2:  # weight 1: counted in total and norm already
                    continue
                shifted = padded[:, j * step : j * step + width]
                weight = centre - shifted
                weight *= weight
                weight *= inverse
                np.exp(weight, out=weight)
                weight *= kernel[i, j]
                norm += weight
                weight *= shifted
                total += weight
        np.divide(total, norm, out=dst[rows])


def _soft_threshold(
    w: np.ndarray, threshold: float, denoised: np.ndarray, scratch: list[np.ndarray]
) -> None:
    """w *= D = erf(|w| / threshold) and denoised -= (1 - D) w, in place (scratch: 5 arrays
    of w's size at least); calls with dst and few passes, as each costs about as much."""
    x, t, square, low, high = (a[: len(w)] for a in scratch)
    np.abs(w, out=x)
    cv2.addWeighted(x, ERF_P / threshold, x, 0, 1, t)
    np.reciprocal(t, out=t)
    cv2.multiply(x, x, x, -1 / threshold**2)
    cv2.exp(x, x)  # exp(-(|w| / threshold)^2)
    # D - 1 = -(low + high t^3) exp(-x^2), low = a1 t + a2 t^2, high = a3 + a4 t + a5 t^2
    a1, a2, a3, a4, a5 = ERF_A
    cv2.multiply(t, t, square)
    cv2.addWeighted(t, -a1, square, -a2, 0, low)
    cv2.addWeighted(t, -a4, square, -a5, -a3, high)
    cv2.multiply(cv2.multiply(high, square, high), t, high)
    cv2.multiply(cv2.add(low, high, low), x, low)
    cv2.accumulateProduct(low, w, denoised)
    low += 1  # D (accumulateProduct into w itself is slower)
    cv2.multiply(w, low, w)


def _noise(image: np.ndarray, smoothed: np.ndarray, sigma_e: float, scratch: np.ndarray) -> float:
    """watroo's noise estimate median |w_0| / 0.6745 / sigma_e[0], w_0 = image - smoothed,
    over the field of view (image != 0)."""
    np.abs(np.subtract(image, smoothed, out=scratch), out=scratch)
    plane = scratch[image != 0]
    if not plane.size:
        return 0.0
    return float(np.median(plane, overwrite_input=True) / 0.6745 / sigma_e)


def _gamma(x: np.ndarray, low: float, high: float, gamma: float, out=None) -> np.ndarray:
    """clip((x - low) / (high - low), 0, 1) ** (1 / gamma), in out if given; 0 if high <= low."""
    gain = 1 / (high - low) if high > low else 0.0
    out = cv2.addWeighted(x, gain, x, 0, -low * gain, out)
    cv2.min(cv2.max(out, 0.0, out), 1.0, out)
    return cv2.pow(out, 1 / gamma, out)


def _filled(image: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The image in out, NaN set to 0."""
    np.copyto(out, image)
    return cv2.patchNaNs(out, 0)


def _strips(image: np.ndarray) -> list[slice]:
    """Row ranges of STRIP rows that cover an image."""
    return [slice(start, min(start + STRIP, len(image))) for start in range(0, len(image), STRIP)]


def _allocate(buffers) -> Callable:
    """empty(name) -> an allocator empty(shape, dtype=float32): the buffers' if any, else new."""
    if buffers is None:
        return lambda _name: lambda shape, dtype=np.float32: np.empty(shape, dtype)
    return buffers.empty
