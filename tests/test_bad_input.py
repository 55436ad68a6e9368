"""Bad input: each case is skipped or repaired by a documented rule, and the rest goes on."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from astropy.io import fits
from workflow_run import make_workdir, snakemake

from aia_reloaded.pairing import FileInfo, pair
from aia_reloaded.reading import InputError
from aia_reloaded.registration import prep_matrix
from aia_reloaded.stages import prep_file
from aia_reloaded.sun_model import SunModel
from aia_reloaded.synthetic import jsoc_name, make_series, write_level1
from aia_reloaded.writing import read_csv

TIME = datetime(2012, 8, 31, 19, 45, 0, 340000, tzinfo=UTC)
MODEL = SunModel(seed=4, resolution=9.6)


def rewrite(path: Path, data: np.ndarray | None = None, drop=(), **keywords) -> None:
    """Rewrite a level-1 file with other data or keywords (None deletes a keyword)."""
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        header, image = hdul[1].header.copy(), hdul[1].data.copy()
    for key in drop:
        del header[key]
    header.update(keywords)
    hdu = fits.CompImageHDU(image if data is None else data, header=header)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def truncate(path: Path) -> None:
    os.truncate(path, int(path.stat().st_size * 0.6))


def not_fits(path: Path) -> None:
    path.write_text("SIMPLE? no: an HTML error page saved under a .fits name\n")


CASES = {
    "truncated": (truncate, "truncated FITS file"),
    "not FITS": (not_fits, "not a readable FITS file"),
    "other wavelength": (lambda p: rewrite(p, WAVELNTH=193), "WAVELNTH is 193, expected 171"),
    "no EXPTIME": (lambda p: rewrite(p, drop=["EXPTIME"]), "missing keyword EXPTIME"),
    "no CDELT1": (lambda p: rewrite(p, drop=["CDELT1"]), "missing keyword CDELT1"),
    "no CRPIX1": (lambda p: rewrite(p, drop=["CRPIX1"]), "missing keyword CRPIX1"),
    "EXPTIME 0": (lambda p: rewrite(p, EXPTIME=0.0), "EXPTIME must be > 0"),
    "EXPTIME < 0": (lambda p: rewrite(p, EXPTIME=-2.0), "EXPTIME must be > 0"),
    "QUALITY": (lambda p: rewrite(p, QUALITY=1024), "QUALITY is 1024"),
    "all zero": (lambda p: rewrite(p, np.zeros((256, 256), np.int16)), "all zero"),
    "all NaN": (lambda p: rewrite(p, np.full((256, 256), -32768, np.int16)), "all zero (or NaN)"),
}


@pytest.fixture
def level1(tmp_path: Path) -> Path:
    """One good 256 px 171 file."""
    path = tmp_path / jsoc_name(171, TIME)
    write_level1(path, MODEL, 171, TIME, size=256, noise=False)
    return path


@pytest.mark.parametrize("case", CASES)
def test_bad_file_is_an_error_naming_file_and_problem(level1: Path, case: str):
    spoil, problem = CASES[case]
    spoil(level1)
    with pytest.raises(InputError) as error:
        prep_file(str(level1), 171, 256, 9.6, "cubic")
    message = str(error.value)
    assert message.startswith(f"{level1}: ") and problem in message
    assert "\n" not in message


def test_missing_pixels_are_repaired_as_zero(level1: Path):
    """BLANK (and NaN) pixels become 0 DN; the frame is kept."""
    with fits.open(level1, do_not_scale_image_data=True) as hdul:
        image = hdul[1].data.copy()
    image[100:120, 100:120] = -32768
    rewrite(level1, image)
    _header, prepped = prep_file(str(level1), 171, 256, 9.6, "nearest")
    assert np.isfinite(prepped).all()
    hole = prepped[256 - 120 : 256 - 100, 100:120]  # display orientation: row 0 is north
    assert (hole[3:-3, 3:-3] == 0).all() and np.median(prepped[100:156, 100:156]) > 50


def test_synoptic_1024_file_at_its_own_plate_scale(tmp_path: Path):
    """A 1024 x 1024 synoptic file (2.4"/px) preps onto the same grid as a 4096 one."""
    path = tmp_path / "AIAsynoptic0171.fits"
    truth = write_level1(
        path, MODEL, 171, TIME, size=1024, crota2=0.3, crpix_offset=(5.2, -3.1), noise=False
    )
    header, prepped = prep_file(str(path), 171, 256, 9.6, "cubic")
    assert header.geometry.cdelt == pytest.approx((truth.plate_scale,) * 2)
    matrix = prep_matrix(header.geometry, 256, 9.6)
    assert np.hypot(*(matrix @ [127.5, 127.5, 1] - truth.centre)) < 0.05
    # about 4 input pixels per output pixel (9.6" / 2.4"), in any direction
    expected = [9.6 / truth.plate_scale] * 2
    assert np.linalg.svd(matrix[:, :2], compute_uv=False) == pytest.approx(expected, rel=2e-4)
    assert prepped.shape == (256, 256) and np.median(prepped[100:156, 100:156]) > 50


def _info(wavelength: int, seconds: float, name: str = "") -> FileInfo:
    time = TIME + timedelta(seconds=seconds)
    return FileInfo(name or f"{wavelength}_{seconds}.fits", wavelength, time)


def test_duplicate_file_keeps_the_first():
    files = [
        _info(304, 0),
        _info(171, 1, "b/dup.fits"),
        _info(171, 1, "a/orig.fits"),
        _info(193, 2),
    ]
    triplets, skipped = pair(files, [304, 171, 193], 6)
    assert [t.files for t in triplets] == [("304_0.fits", "a/orig.fits", "193_2.fits")]
    assert [(s.path, s.reason) for s in skipped] == [("b/dup.fits", "duplicate of a/orig.fits")]


def test_two_of_three_wavelengths_is_skipped():
    files = [_info(304, 0), _info(171, 1), _info(193, 9), _info(304, 12), _info(171, 13)]
    files.append(_info(193, 14))
    triplets, skipped = pair(files, [304, 171, 193], 6)
    assert [t.files[0] for t in triplets] == ["304_12.fits"]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons == {
        "304_0.fits": "no 193 file within 6 s",
        "171_1.fits": "not in any complete triplet",
        "193_9.fits": "not in any complete triplet",
    }


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file below folder."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_workflow_skips_bad_files_and_renders_the_rest(tmp_path: Path):
    """A folder with one bad case per triplet: each is recorded, every good triplet rendered."""
    data = tmp_path / "data"
    truths = make_series(data, 8, size=256, noise=False, seed=7)
    (data / "truth.json").unlink()
    files = {(t.wavelength, i // 3): data / t.file for i, t in enumerate(truths)}
    truncate(files[304, 1])  # triplet 1: a truncated file
    rewrite(files[171, 2], QUALITY=2)  # triplet 2: a flagged frame
    files[193, 3].unlink()  # triplet 3: only two of three wavelengths
    rewrite(files[193, 4], WAVELNTH=211)  # triplet 4: a file of another wavelength
    rewrite(files[304, 5], EXPTIME=0.0)  # triplet 5: no exposure
    # triplet 6: its 171 as a 1024 px synoptic file (another name, found by header)
    t6 = truths[3 * 6 + 1]
    files[171, 6].unlink()
    write_level1(
        data / "sub" / "synoptic_171.fits",
        MODEL,
        171,
        datetime.fromisoformat(t6.t_obs),
        size=1024,
        noise=False,
    )
    # a duplicate of triplet 7's 193 under a VSO name, and a non-FITS file in the folder
    shutil.copy(
        files[193, 7], data / "sub" / "aia_lev1_193a_2012_08_31t19_46_31_34z_image_lev1.fits"
    )
    not_fits(data / "sub" / "download.fits")
    before = checksums(data)

    workdir = make_workdir(tmp_path / "run", input_dir=str(data), output_dir="out")
    run = snakemake(workdir)
    out = workdir / "out"

    frames = sorted(p.stem for p in (out / "frames").glob("*/*.jpg"))
    stamps = [
        datetime.fromisoformat(truths[3 * i].t_obs).strftime("%Y%m%dT%H%M%S") for i in range(8)
    ]
    assert frames == [stamps[i] for i in (0, 6, 7)]
    for frame in frames:
        assert cv2.imread(str(next((out / "frames").glob(f"*/{frame}.jpg")))).mean() > 20

    skipped = {Path(row["file"]).name: row for row in read_csv(out / "skipped.csv")}
    expected = {
        files[304, 1].name: (stamps[1], "truncated FITS file"),
        files[171, 2].name: (stamps[2], "QUALITY is 2"),
        files[304, 3].name: (stamps[3], "no 193 file within 6 s"),
        files[171, 3].name: ("", "not in any complete triplet"),
        files[193, 4].name: (stamps[4], "WAVELNTH is 211, expected 193"),
        files[304, 5].name: (stamps[5], "EXPTIME must be > 0"),
        "aia_lev1_193a_2012_08_31t19_46_31_34z_image_lev1.fits": ("", "duplicate of"),
        "download.fits": ("", "not a readable FITS file"),
    }
    assert skipped.keys() == expected.keys()
    for name, (stamp, reason) in expected.items():
        assert reason in skipped[name]["reason"], skipped[name]
        if stamp:
            assert skipped[name]["time"] == stamp
    logs = "".join(p.read_text() for p in (out / "logs").rglob("*.log"))
    for name in expected:
        assert f"skipped {data}" in logs and name in logs
    assert "Traceback" not in run.stderr
    assert checksums(data) == before  # inputs never modified
