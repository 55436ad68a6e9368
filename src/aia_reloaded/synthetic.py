"""Realistic synthetic level-1 AIA files, with the ground truth a correct prep recovers.

Each file is a JSOC-style export: an empty primary HDU and a RICE-compressed int16
image in extension 1 with AIA header keywords. Pixel values are the model Sun
(aia_reloaded.sun_model) seen through the file's own WCS (computed by astropy.wcs),
times EXPTIME, with photon noise. The truth of each file (disk centre in 0-based
input pixels, plate scale, roll) is written to truth.json beside the files.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import astropy.units as u
import cv2
import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from sunpy.coordinates import get_earth

from aia_reloaded.sun_model import SunModel

# Per-wavelength plate scale (arcsec/px at 4096 px), time offset in a 12 s cycle, exposure.
CHANNEL_PROPERTIES = {
    171: (0.6003, 0.0, 2.0),
    193: (0.6005, 7.0, 2.0),
    304: (0.6009, 5.0, 2.9),
    211: (0.6007, 1.0, 2.9),
    131: (0.6006, 9.0, 2.9),
    94: (0.6004, 2.0, 2.9),
    335: (0.6008, 3.0, 2.9),
}
SATURATION = 16383


@dataclass
class Truth:
    """What a correct prep of a file must recover."""

    file: str
    wavelength: int
    t_obs: str
    centre: tuple[float, float]  # disk centre (0", 0"), 0-based (x, y) input pixel
    plate_scale: float  # arcsec per input pixel
    roll: float  # CROTA2, degrees
    exptime: float


def jsoc_name(wavelength: int, time: datetime) -> str:
    """The JSOC export name of a level-1 file."""
    return f"aia.lev1_euv_12s.{time:%Y-%m-%dT%H%M%S}Z.{wavelength}.image_lev1.fits"


def level1_header(
    wavelength: int,
    time: datetime,
    size: int,
    cdelt: float,
    crota2: float,
    crpix: tuple[float, float],
    crval: tuple[float, float],
    exptime: float,
    quality: int = 0,
) -> fits.Header:
    """AIA level-1 header keywords for one image, observed from the Earth's centre."""
    header = fits.Header()
    earth = get_earth(Time(time))
    cards = {
        "TELESCOP": "SDO/AIA",
        "INSTRUME": "AIA_3" if wavelength in (171, 193) else "AIA_4",
        "WAVELNTH": wavelength,
        "WAVEUNIT": "angstrom",
        "T_OBS": time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z",
        "DATE-OBS": (time - timedelta(seconds=exptime / 2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4],
        "EXPTIME": exptime,
        "QUALITY": quality,
        "LVL_NUM": 1.0,
        "CTYPE1": "HPLN-TAN",
        "CTYPE2": "HPLT-TAN",
        "CUNIT1": "arcsec",
        "CUNIT2": "arcsec",
        "CDELT1": cdelt,
        "CDELT2": cdelt,
        "CRPIX1": crpix[0],
        "CRPIX2": crpix[1],
        "CRVAL1": crval[0],
        "CRVAL2": crval[1],
        "CROTA2": crota2,
        "RSUN_OBS": 960.0,
        "DSUN_OBS": earth.radius.to_value(u.m),
        "HGLN_OBS": earth.lon.deg,
        "HGLT_OBS": earth.lat.deg,
        "BLANK": -32768,
    }
    for key, value in cards.items():
        header[key] = value
    return header


def world_grid(header: fits.Header, shape: tuple[int, int], step: int = 16) -> tuple:
    """Helioprojective (tx, ty) arcsec of every pixel, by astropy.wcs on a coarse grid."""
    wcs = WCS(header)
    rows, cols = shape
    ys = np.arange(0, rows + step, step, dtype=np.float64)
    xs = np.arange(0, cols + step, step, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    tx, ty = wcs.wcs_pix2world(gx, gy, 0)
    tx = ((tx + 180) % 360 - 180) * 3600  # degrees in any branch -> arcsec, east negative
    ty = ty * 3600
    # linear interpolation of a smooth (nearly affine) map from the coarse grid
    map_x = (np.arange(cols, dtype=np.float32) / step)[None, :].repeat(rows, 0)
    map_y = (np.arange(rows, dtype=np.float32) / step)[:, None].repeat(cols, 1)
    fine = [cv2.remap(t.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR) for t in (tx, ty)]
    return fine[0], fine[1]


def disk_centre(header: fits.Header) -> tuple[float, float]:
    """0-based input pixel (x, y) of helioprojective (0", 0"), by astropy.wcs."""
    x, y = WCS(header).wcs_world2pix(np.array([[0.0, 0.0]]), 0)[0]
    return float(x), float(y)


def write_level1(
    path: str | Path,
    model: SunModel,
    wavelength: int,
    time: datetime,
    *,
    size: int = 4096,
    cdelt: float | None = None,
    crota2: float = 0.0,
    crpix_offset: tuple[float, float] = (0.0, 0.0),
    crval: tuple[float, float] = (0.0, 0.0),
    exptime: float | None = None,
    quality: int = 0,
    noise: bool = True,
    seed: int = 0,
) -> Truth:
    """Write one synthetic level-1 file and return its truth."""
    scale_4k, _offset, default_exptime = CHANNEL_PROPERTIES[wavelength]
    cdelt = cdelt if cdelt is not None else scale_4k * 4096 / size
    exptime = exptime if exptime is not None else default_exptime
    centre = (size + 1) / 2
    crpix = (centre + crpix_offset[0], centre + crpix_offset[1])
    header = level1_header(wavelength, time, size, cdelt, crota2, crpix, crval, exptime, quality)
    tx, ty = world_grid(header, (size, size))
    counts = model.emission(wavelength, tx, ty) * np.float32(exptime)
    del tx, ty
    if noise:
        rng = np.random.default_rng(seed)
        counts += np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
    image = np.clip(np.rint(counts), 0, SATURATION).astype(np.int16)
    hdu = fits.CompImageHDU(image, header=header, compression_type="RICE_1")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    return Truth(
        file=path.name,
        wavelength=wavelength,
        t_obs=header["T_OBS"],
        centre=disk_centre(header),
        plate_scale=cdelt,
        roll=crota2,
        exptime=exptime,
    )


@functools.cache
def _model(seed: int, resolution: float) -> SunModel:
    return SunModel(seed=seed, resolution=resolution)


def _write_one(job: dict) -> Truth:
    model = _model(job.pop("model_seed"), job.pop("resolution"))
    return write_level1(model=model, **job)


def make_series(
    out_dir: str | Path,
    triplets: int,
    *,
    size: int = 4096,
    channels: Sequence[int] = (304, 171, 193),
    start: datetime = datetime(2012, 8, 31, 19, 45, 0, tzinfo=UTC),
    cadence_s: float = 12.0,
    seed: int = 0,
    noise: bool = True,
    workers: int = 1,
) -> list[Truth]:
    """A series of triplets with realistic pointing, written to out_dir with truth.json."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    # pointing per wavelength: small roll, CRPIX within ~20 px, CRVAL of a few arcsec
    pointing = {
        wl: (
            float(rng.normal(0, 0.02)),
            tuple(float(v) for v in rng.uniform(-20, 20, 2) * size / 4096),
            tuple(float(v) for v in rng.uniform(-3, 3, 2)),
        )
        for wl in channels
    }
    jobs = []
    for index in range(triplets):
        base = start + timedelta(seconds=index * cadence_s)
        for wl in channels:
            roll, offset, crval = pointing[wl]
            time = base + timedelta(seconds=CHANNEL_PROPERTIES[wl][1] + 0.34)
            jobs.append(
                {
                    "path": out_dir / jsoc_name(wl, time),
                    "wavelength": wl,
                    "time": time,
                    "size": size,
                    "crota2": roll,
                    "crpix_offset": offset,
                    "crval": crval,
                    "noise": noise,
                    "seed": seed * 100_003 + index * 1009 + wl,
                    "model_seed": seed,
                    "resolution": 0.6 * 4096 / size,
                }
            )
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            truths = list(pool.map(_write_one, jobs))
    else:
        truths = [_write_one(job) for job in jobs]
    write_truth(out_dir, truths)
    return truths


def write_truth(out_dir: str | Path, truths: Sequence[Truth]) -> None:
    """Merge truths into out_dir/truth.json (keyed by file name)."""
    path = Path(out_dir) / "truth.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update({t.file: asdict(t) for t in truths})
    path.write_text(json.dumps(known, indent=1, sort_keys=True))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write a synthetic series."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--triplets", type=int, default=4)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", default="2012-08-31T19:45:00")
    parser.add_argument("--cadence", type=float, default=12.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    make_series(
        args.out_dir,
        args.triplets,
        size=args.size,
        seed=args.seed,
        start=start,
        cadence_s=args.cadence,
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
