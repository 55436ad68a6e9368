"""Prep recovers the generator's truth: centre, plate scale, roll, exposure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
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


def residual_affine(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The 2x3 affine W with image(W(x)) ~ reference(x) inside mask, by ECC on log intensities."""
    a = np.log1p(image).astype(np.float32)
    b = np.log1p(reference).astype(np.float32)
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 500, 1e-8)
    _, warp = cv2.findTransformECC(b, a, warp, cv2.MOTION_AFFINE, criteria, mask, 1)
    return warp.astype(np.float64)


def wcs_maps(path: Path, size: int, scale: float, hdu: int) -> tuple[np.ndarray, np.ndarray]:
    """Input pixel (x, y) of every output pixel, by astropy.wcs from the file's own header."""
    c = (size - 1) / 2
    cols, rows = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    wcs = WCS(fits.getheader(path, hdu))
    x, y = wcs.wcs_world2pix(scale * (cols - c) / 3600, scale * (c - rows) / 3600, 0)
    return x.astype(np.float32), y.astype(np.float32)


def scale_and_rotation(linear: np.ndarray) -> tuple[float, float]:
    """Scale factor and rotation (degrees) of a 2x2 near-similarity."""
    scale = np.sqrt(abs(np.linalg.det(linear)))
    rotation = np.degrees(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    return scale, rotation


@pytest.mark.parametrize(
    "roll, crval", [(0.05, (2.5, -1.8)), (45.0, (-2.5, 1.8)), (180.0, (-3.0, -2.0))]
)
@pytest.mark.parametrize("wavelength", [171, 304])
def test_registration_against_truth(tmp_path: Path, roll: float, crval: tuple, wavelength: int):
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
        crval=crval,
        noise=False,
    )
    header, image = read_level1(path)
    prepped = prep(header, image, SMALL, SMALL_SCALE)

    # geometry: the output centre maps onto the disk centre the generator's WCS gives,
    # and every output pixel maps where astropy.wcs puts its helioprojective position
    matrix = prep_matrix(header.geometry, SMALL, SMALL_SCALE)
    c = (SMALL - 1) / 2
    assert np.hypot(*(matrix @ [c, c, 1] - truth.centre)) < 0.05
    cols, rows = np.meshgrid(np.arange(SMALL), np.arange(SMALL))
    x, y = wcs_maps(path, SMALL, SMALL_SCALE, hdu=1)
    mapped = np.tensordot(matrix, np.stack([cols, rows, np.ones_like(cols)]), 1)
    assert np.hypot(mapped[0] - x, mapped[1] - y).max() < 0.05
    points = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)], 1)
    fitted = np.linalg.lstsq(points, np.stack([x.ravel(), y.ravel()], 1), rcond=None)[0].T
    scale, rotation = scale_and_rotation(np.linalg.solve(fitted[:, :2], matrix[:, :2]))
    assert abs(scale - 1) < 2e-4, scale
    assert abs(rotation) < 0.01, rotation

    # image: the prepped frame agrees with the model sampled at the target geometry, away
    # from the frame edge where the rolled input leaves no data
    valid = cv2.warpAffine(
        np.ones_like(image), matrix, (SMALL, SMALL), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    mask = cv2.erode(valid.astype(np.uint8), np.ones((21, 21), np.uint8))
    warp = residual_affine(prepped, truth_image(wavelength), mask)
    linear, shift = warp[:, :2], warp[:, 2]
    centre_error = linear @ [c, c] + shift - [c, c]
    scale, rotation = scale_and_rotation(linear)
    assert np.hypot(*centre_error) < 0.05, centre_error
    assert abs(rotation) < 0.01, rotation
    # image-based scale is limited by resampling a sharp limb at 512 px (~2.5e-4, 0.06 px at
    # the limb); the exact plate-scale check is the geometric one above
    assert abs(scale - 1) < 5e-4, scale


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
    # the geometry is the one astropy.wcs reads from the real header (CRVAL, CRPIX, CROTA2)
    x, y = wcs_maps(path, size, scale, hdu=0)
    expected = cv2.remap(image, x, y, cv2.INTER_CUBIC, borderValue=0) / header.exptime
    inside = cv2.remap(np.ones_like(image), x, y, cv2.INTER_NEAREST, borderValue=0) > 0
    inside = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(prepped - expected)[inside].max() < 1e-3 * prepped.max()
    # and it moves the disk: without the CRVAL shift the frame would differ by whole DN
    shifted = np.flipud(image) / header.exptime
    assert np.abs(prepped - shifted)[inside].max() > 0.1 * prepped.max()
