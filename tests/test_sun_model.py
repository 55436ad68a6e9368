"""The synthetic Sun: deterministic, physically shaped limb, active regions, one Sun per seed."""

from __future__ import annotations

import numpy as np
import pytest

from aia_reloaded.sun_model import SUPPORTED, SunModel

RESOLUTION = 4.8  # arcsec: a 512 px image of the Sun
RSUN = 960.0


@pytest.fixture(scope="module")
def model() -> SunModel:
    return SunModel(seed=1, resolution=RESOLUTION)


def grid(n: int = 512, scale: float = RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """Helioprojective (tx, ty) of an n x n image, north up."""
    c = (n - 1) / 2
    cols, rows = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32))
    return scale * (cols - c), scale * (c - rows)


def ring_mean(model: SunModel, wavelength: int, radius: float) -> float:
    """Azimuthal mean of the emission at `radius` solar radii."""
    angle = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    tx, ty = radius * RSUN * np.cos(angle), radius * RSUN * np.sin(angle)
    return float(model.emission(wavelength, tx, ty).mean())


def test_same_seed_same_sun_other_seed_other_sun(model: SunModel):
    tx, ty = grid(256, 9.6)
    image = model.emission(171, tx, ty)
    again = SunModel(seed=1, resolution=RESOLUTION)
    again.emission(193, tx, ty)  # build order must not matter
    assert np.array_equal(again.emission(171, tx, ty), image)
    other = SunModel(seed=2, resolution=RESOLUTION).emission(171, tx, ty)
    assert np.abs(other - image).mean() > 0.1 * np.abs(image).mean()


@pytest.mark.parametrize("wavelength", SUPPORTED)
def test_values_finite_non_negative_float32_shape_preserved(model: SunModel, wavelength: int):
    tx, ty = grid(128, 24.0)
    for x, y in ((tx, ty), (tx.astype(np.float64), ty.astype(np.float64))):
        out = model.emission(wavelength, x, y)
        assert out.dtype == np.float32 and out.shape == x.shape
        assert np.isfinite(out).all() and (out >= 0).all()
    cube = model.emission(wavelength, tx.reshape(8, 16, 128), ty.reshape(8, 16, 128))
    assert cube.shape == (8, 16, 128)
    assert np.array_equal(cube.reshape(128, 128), model.emission(wavelength, tx, ty))


def test_304_drops_sharply_above_the_limb(model: SunModel):
    assert ring_mean(model, 304, 0.95) > 5 * ring_mean(model, 304, 1.1)


def test_171_limb_brightening(model: SunModel):
    assert ring_mean(model, 171, 0.98) > ring_mean(model, 171, 0.5)


def test_corona_falls_off_above_the_limb(model: SunModel):
    for wavelength in (171, 193):
        quiet = np.median(model.emission(wavelength, *grid(64, 4.8)))  # disk centre
        outer = ring_mean(model, wavelength, 1.3)
        assert 0.003 * quiet < outer < 0.1 * quiet


def test_active_regions_stand_out_in_171(model: SunModel):
    tx, ty = grid()
    disk = model.emission(171, tx, ty)[np.hypot(tx, ty) < 0.98 * RSUN]
    assert np.percentile(disk, 99.9) > 10 * np.median(disk)


def test_channels_show_one_sun(model: SunModel):
    """Active regions sit at the same places in 304 and 171."""
    tx, ty = grid(256, 9.6)
    disk = np.hypot(tx, ty) < 0.95 * RSUN
    bright = [model.emission(w, tx, ty)[disk] for w in (304, 171)]
    top = [b > np.percentile(b, 99) for b in bright]
    assert (top[0] & top[1]).sum() > 0.3 * top[0].sum()
