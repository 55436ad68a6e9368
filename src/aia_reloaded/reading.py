"""Reading level-1 AIA FITS files: the image and the keywords prep needs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits

from aia_reloaded.rice import pixels


class InputError(ValueError):
    """A bad input file; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Geometry:
    """The pointing keywords of one image (FITS conventions, CRPIX 1-based)."""

    cdelt: tuple[float, float]
    crpix: tuple[float, float]
    crval: tuple[float, float]
    pc: tuple[tuple[float, float], tuple[float, float]]
    shape: tuple[int, int]


@dataclass(frozen=True)
class Header:
    """What the pipeline reads from a level-1 header."""

    wavelength: int
    time: datetime
    exptime: float
    quality: int
    geometry: Geometry
    observer: tuple[float, float, float] | None = None  # Stonyhurst lon, lat (deg), distance (m)


def _keyword(header: fits.Header, path: Path, *names: str) -> float:
    for name in names:
        value = header.get(name)
        if value is not None and value != "":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise InputError(path, f"keyword {name} is not a number: {value!r}") from None
    raise InputError(path, f"missing keyword {names[0]}")


def parse_time(text: str) -> datetime:
    """A FITS time string (T_OBS, DATE-OBS; trailing Z optional) as an aware UTC datetime."""
    text = text.strip().rstrip("Z")
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _pc_matrix(header: fits.Header, cdelt: tuple[float, float]) -> np.ndarray:
    if "PC1_1" in header:
        return np.array(
            [
                [header.get("PC1_1", 1.0), header.get("PC1_2", 0.0)],
                [header.get("PC2_1", 0.0), header.get("PC2_2", 1.0)],
            ]
        )
    rho = math.radians(float(header.get("CROTA2", 0.0)))
    ratio = cdelt[1] / cdelt[0]
    return np.array(
        [
            [math.cos(rho), -math.sin(rho) * ratio],
            [math.sin(rho) / ratio, math.cos(rho)],
        ]
    )


def _observer(header: fits.Header, time: datetime) -> tuple[float, float, float] | None:
    """Where the image was taken from: HGLN_OBS, HGLT_OBS, DSUN_OBS, else the Carrington
    CRLN_OBS, CRLT_OBS in Stonyhurst; None if the header has neither."""

    def number(name):
        value = header.get(name)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    lon, lat, distance = number("HGLN_OBS"), number("HGLT_OBS"), number("DSUN_OBS")
    if distance is None:
        return None
    if lon is not None and lat is not None:
        return lon, lat, distance
    lon, lat = number("CRLN_OBS"), number("CRLT_OBS")
    if lon is None or lat is None:
        return None
    from aia_reloaded.tracking import from_carrington  # sunpy: only for such headers

    observer = from_carrington(time, lon, lat, distance)
    return observer.lon, observer.lat, observer.distance


def parse_header(header: fits.Header, path: str | Path) -> Header:
    """The pipeline's view of a level-1 header; raises InputError on a missing or bad keyword."""
    path = Path(path)
    cdelt = (_keyword(header, path, "CDELT1"), _keyword(header, path, "CDELT2"))
    if cdelt[0] <= 0 or cdelt[1] <= 0:
        raise InputError(path, f"CDELT1/CDELT2 must be > 0, got {cdelt}")
    exptime = _keyword(header, path, "EXPTIME")
    if not exptime > 0:
        raise InputError(path, f"EXPTIME must be > 0, got {exptime}")
    time_text = header.get("T_OBS") or header.get("DATE-OBS")
    if not time_text:
        raise InputError(path, "missing keyword T_OBS (and DATE-OBS)")
    try:
        time = parse_time(str(time_text))
    except ValueError:
        raise InputError(path, f"T_OBS is not a time: {time_text!r}") from None
    geometry = Geometry(
        cdelt=cdelt,
        crpix=(_keyword(header, path, "CRPIX1"), _keyword(header, path, "CRPIX2")),
        crval=(float(header.get("CRVAL1", 0.0)), float(header.get("CRVAL2", 0.0))),
        pc=tuple(map(tuple, _pc_matrix(header, cdelt))),
        shape=(int(header.get("NAXIS2", 0)), int(header.get("NAXIS1", 0))),
    )
    return Header(
        wavelength=int(_keyword(header, path, "WAVELNTH")),
        time=time,
        exptime=exptime,
        quality=int(header.get("QUALITY", 0)),
        geometry=geometry,
        observer=_observer(header, time),
    )


def _image_hdu(hdul: fits.HDUList, path: Path) -> fits.ImageHDU | fits.CompImageHDU:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hdus = list(hdul)  # astropy reads the HDUs lazily, and warns on a truncated file
    for warning in caught:
        if "truncated" in str(warning.message):
            detail = str(warning.message).removeprefix("File may have been truncated: ")
            raise InputError(path, f"truncated FITS file: {detail}")
    for hdu in hdus:
        if hdu.is_image and hdu.header.get("NAXIS") == 2:
            return hdu
    raise InputError(path, "no 2-D image in any HDU (a truncated or corrupt file?)")


def read_header(path: str | Path) -> Header:
    """The header of the first 2-D image HDU, without reading the pixels."""
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            return parse_header(_image_hdu(hdul, path).header, path)
    except InputError:
        raise
    except Exception as error:  # astropy raises OSError, ValueError, TypeError on bad files
        raise InputError(path, f"not a readable FITS file ({error})") from None


def read_level1(path: str | Path, empty: Callable = np.empty) -> tuple[Header, np.ndarray]:
    """Header and image (float32, FITS orientation: row 0 south) of one level-1 file.

    Pixels equal to BLANK and non-finite pixels become 0. The large arrays come from
    empty(shape, dtype): np.empty, or a thread's reused arrays (stages.Buffers).
    """
    path = Path(path)
    try:
        # unscaled: astropy would make a float copy with NaN for BLANK, 15 % of the read
        with fits.open(path, do_not_scale_image_data=True) as hdul:
            hdu = _image_hdu(hdul, path)
            header = parse_header(hdu.header, path)
            raw = pixels(hdu, path, empty)
            integer = np.issubdtype(raw.dtype, np.integer)
            data = empty(raw.shape, np.dtype(np.float32))
            np.copyto(data, raw, casting="unsafe")
            bscale, bzero = hdu.header.get("BSCALE", 1), hdu.header.get("BZERO", 0)
            if bscale != 1 or bzero != 0:
                data = data * np.float32(bscale) + np.float32(bzero)
            blank = hdu.header.get("BLANK")
            if blank is not None and integer:
                data[raw == blank] = 0
    except InputError:
        raise
    except Exception as error:
        raise InputError(path, f"not a readable FITS file ({error})") from None
    if not integer and not np.isfinite(data).all():
        data[~np.isfinite(data)] = 0
    return header, data
