"""Prep recovers the generator's truth: centre, plate scale, roll, exposure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SMALL, SMALL_SCALE

from aia_reloaded.reading import read_level1
from aia_reloaded.registration import prep, prep_matrix
from aia_reloaded.sun_model import SunModel
from aia_reloaded.synthetic import write_level1

TIME = datetime(2012, 8, 31, 19, 45, 13, tzinfo=UTC)
MODEL = SunModel(seed=3, resolution=SMALL_SCALE)


def truth_image(wavelength: int, size: int = SMALL, scale: float = SMALL_SCALE) -> np.ndarray:
    """The model Sun sampled directly at the prepped geometry (north up, row 0 at the top)."""
    c = (size - 1) / 2
    cols, rows = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return MODEL.emission(wavelength, scale * (cols - c), scale * (c - rows))


def residual_affine(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The 2x3 affine W with image(W(x)) ~ reference(x), by ECC on log intensities."""
    a = np.log1p(image).astype(np.float32)
    b = np.log1p(reference).astype(np.float32)
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 500, 1e-8)
    _, warp = cv2.findTransformECC(b, a, warp, cv2.MOTION_AFFINE, criteria, None, 1)
    return warp.astype(np.float64)


@pytest.mark.parametrize("roll", [0.05, 45.0, 180.0])
@pytest.mark.parametrize("wavelength", [171, 304])
def test_registration_against_truth(tmp_path: Path, roll: float, wavelength: int):
    path = tmp_path / "aia.fits"
    truth = write_level1(
        path,
        MODEL,
        wavelength,
        TIME,
        size=SMALL,
        cdelt=0.6009 * 4096 / SMALL,
        crota2=roll,
        crpix_offset=(23.4, -31.7),
        crval=(2.5, -1.8),
        noise=False,
    )
    header, image = read_level1(path)
    prepped = prep(header, image, SMALL, SMALL_SCALE)

    # the output centre maps onto the disk centre the generator's WCS gives
    matrix = prep_matrix(header.geometry, SMALL, SMALL_SCALE)
    c = (SMALL - 1) / 2
    assert np.hypot(*(matrix @ [c, c, 1] - truth.centre)) < 0.05

    # the image agrees with the model sampled at the target geometry
    warp = residual_affine(prepped, truth_image(wavelength))
    linear, shift = warp[:, :2], warp[:, 2]
    centre_error = linear @ [c, c] + shift - [c, c]
    scale = np.sqrt(abs(np.linalg.det(linear)))
    rotation = np.degrees(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    assert np.hypot(*centre_error) < 0.05, centre_error
    assert abs(scale - 1) < 2e-4, scale
    assert abs(rotation) < 0.01, rotation


def test_exposure_normalisation(tmp_path: Path):
    """A frame with half the exposure gives the same DN/s."""
    prepped = []
    for exptime in (2.0, 1.0):
        path = tmp_path / f"exp{exptime}.fits"
        write_level1(path, MODEL, 171, TIME, size=SMALL, exptime=exptime, noise=False)
        prepped.append(prep(*read_level1(path), SMALL, SMALL_SCALE))
    full, half = prepped
    bright = full > 20
    assert np.median(full[bright]) > 100
    # int16 rounding: 0.5 DN at each exposure, i.e. at most 0.75 DN/s, and cubic ringing
    assert np.abs(full - half)[bright].max() < 1.5
    assert abs(np.median(half[bright] / full[bright]) - 1) < 1e-3


def test_real_aia_header():
    """sunpy's real (downsampled) level-1 AIA 171 file: primary-HDU float image, BLANK kept."""
    sunpy_data = pytest.importorskip("sunpy.data.test")
    path = Path(sunpy_data.rootdir) / "aia_171_level1.fits"
    header, image = read_level1(path)
    assert header.wavelength == 171
    assert header.time.isoformat().startswith("2011-02-15T00:00:01.34")
    assert image.dtype == np.float32 and image.shape == (128, 128)
    size, scale = 128, 19.183648
    prepped = prep(header, image, size, scale)
    assert np.isfinite(prepped).all() and prepped.min() >= 0
    # the exposure is divided out
    assert np.isclose(prepped.max(), image.max() / header.exptime, rtol=0.1)
    # disk centre: the solar disk (radius RSUN_OBS) is centred in the prepped frame
    rows, cols = np.nonzero(prepped > 0.5 * np.median(prepped[prepped > 0]))
    radius = 971.8 / scale
    assert abs(np.sqrt(len(rows) / np.pi) - radius) < 3
    c = (size - 1) / 2
    assert abs(cols.mean() - c) < 1 and abs(rows.mean() - c) < 1
