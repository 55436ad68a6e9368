"""MGN and WOW written out plainly in float64 with given fixed parameters: the yardstick.

The formulas of sunkit-image's mgn and watroo 0.0.4's wow (ENHANCE.md sections 1.1, 2.1),
with the per-frame globals passed in. Convolutions are explicit separable tap sums: a
Gaussian of radius int(3 sigma + 0.5) with the edge replicated (scipy's mode "nearest"), and
the B3 spline with taps 2^j apart and the edge reflected (cv2.BORDER_REFLECT).
"""

from __future__ import annotations

import math

import numpy as np

B3 = np.array([1, 4, 6, 4, 1]) / 16
SIGMA_E = [0.8907, 0.20072, 0.085551, 0.041261, 0.02047, 0.010232, 0.0051435, 0.0026008]
SIGMA_E_BILATERAL = [0.38234752, 0.24305799, 0.16012153, 0.10633541, 0.07083733, 0.04728659]
erf = np.vectorize(math.erf, otypes=[float])


def taps(x, kernel, offsets, mode):
    """sum_t kernel[t] x[i + offsets[t]] along each axis in turn, the index i + offsets[t]
    outside folded back by mode ("edge": replicated, "symmetric": reflected).

    The sums are products with the n x n matrix of the taps (fast for wide kernels).
    """
    out = np.asarray(x, float)
    for axis in (0, 1):
        n = out.shape[axis]
        index = np.arange(n)[:, None] + np.asarray(offsets)
        if mode == "edge":
            index = np.clip(index, 0, n - 1)
        else:
            index %= 2 * n
            index = np.where(index < n, index, 2 * n - 1 - index)
        matrix = np.zeros((n, n))
        np.add.at(matrix, (np.arange(n)[:, None], index), np.broadcast_to(kernel, index.shape))
        out = matrix @ out if axis == 0 else out @ matrix.T
    return out


def gaussian(x, sigma):
    """scipy.ndimage.gaussian_filter(x, sigma, truncate=3, mode="nearest") in float64."""
    radius = int(3 * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    return taps(x, kernel / kernel.sum(), t, "edge")


def mgn(image, sigmas, k, gamma, h, weights, a0, a1, epsilon=0.0):
    """sunkit's mgn with gamma_min/max = a0/a1, clamped to [0, 1], S_i floored at epsilon."""
    b = np.asarray(image, float)
    weights = weights or [1] * len(sigmas)
    total = 0
    for sigma, weight in zip(sigmas, weights, strict=True):
        residual = b - gaussian(b, sigma)
        spread = np.sqrt(gaussian(residual**2, sigma))
        spread = np.maximum(spread, epsilon)
        spread[spread == 0] = 1
        total = total + weight * np.arctan(k * residual / spread)
    return h * global_gamma(b, a0, a1, gamma) + (1 - h) / len(sigmas) * total


def global_gamma(x, low, high, gamma):
    return np.clip((x - low) / (high - low), 0, 1) ** (1 / gamma)


def atrous(x, j):
    """The B3-spline smoothing with taps 2^j apart, edge reflected."""
    step = 2**j
    return taps(x, B3, [t * step for t in range(-2, 3)], "symmetric")


def bilateral_atrous(x, j):
    """watroo's edge-aware à trous step with b_j = 1."""
    step = 2**j
    variance = atrous(x**2, j) - atrous(x, j) ** 2
    variance[variance <= 0] = 1e-20
    padded = np.pad(x, 2 * step, "symmetric")
    total, norm = 0, 0
    for i in range(5):
        for m in range(5):
            shifted = padded[i * step :][: x.shape[0], m * step :][:, : x.shape[1]]
            weight = B3[i] * B3[m] * np.exp(-((x - shifted) ** 2) / variance / 2)
            total, norm = total + weight * shifted, norm + weight
    return total / norm


def wow(image, scales, denoise, h, gamma, fixed, bilateral=False):
    """watroo's wow with noise, std(c_J), g_min/max and the floor epsilon from `fixed`."""
    sigma_e = SIGMA_E_BILATERAL if bilateral else SIGMA_E
    c = np.asarray(image, float)
    white, denoised = 0, c
    for j in range(scales):
        following = bilateral_atrous(c, j) if bilateral else atrous(c, j)
        w = c - following
        power = np.maximum(atrous(w**2, j), (fixed["epsilon"] * sigma_e[j]) ** 2)
        if j < len(denoise) and denoise[j] * fixed["noise"] > 0:
            significance = erf(np.abs(w) / (denoise[j] * fixed["noise"] * sigma_e[j]))
            denoised = denoised - (1 - significance) * w
            w = w * significance
        white = white + w / np.sqrt(power)
        c = following
    white = white + c / fixed["residual_std"]
    gamma_scaled = global_gamma(denoised, fixed["g_min"], fixed["g_max"], gamma)
    return (1 - h) * white + h * gamma_scaled


def sun(size, seed=0, noise=True, corners=True):
    """A full-disk-like float32 image in DN/s >= 0: limb-brightened disk, corona, bright and
    dark blobs, Poisson-like noise, and (if corners) zero fill in the corners."""
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:size, :size]
    y, x = (y - size / 2) / size, (x - size / 2) / size
    r = np.sqrt(x * x + y * y).astype(np.float32)
    image = np.where(r < 0.4, 300 + 200 * (r / 0.4) ** 8, 500 * np.exp(-(r - 0.4) / 0.04) + 2)
    for _ in range(12):
        x0, y0 = rng.uniform(-0.3, 0.3, 2)
        width, amplitude = rng.uniform(0.003, 0.04), rng.uniform(-150, 1500)
        image += amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * width**2))
    image = np.maximum(image, 1).astype(np.float32)
    if noise:
        image += np.sqrt(image) * rng.standard_normal(image.shape, np.float32)
        np.maximum(image, 0, out=image)  # as prep clips
    if corners:
        image[r > 0.66] = 0
    return image
