"""Prep: one level-1 image to a registered, exposure-normalised channel in one warp."""

from __future__ import annotations

import cv2
import numpy as np

from aia_reloaded.reading import Geometry, Header

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def prep_matrix(geometry: Geometry, size: int, plate_scale: float) -> np.ndarray:
    """The 2x3 affine map from displayed output pixels to 0-based input pixels.

    Output pixel (col, row), row 0 at the top (north up), lies at helioprojective
    plate_scale * (col - c, c - row) arcsec with c = (size - 1) / 2; the input pixel
    of a helioprojective point w is CRPIX - 1 + (CDELT * PC)^-1 (w - CRVAL).
    """
    world_of_pixel = np.diag(geometry.cdelt) @ np.array(geometry.pc)
    pixel_of_world = np.linalg.inv(world_of_pixel)
    centre = (size - 1) / 2
    # display (col, row) -> helioprojective arcsec
    world_of_display = np.array([[plate_scale, 0.0], [0.0, -plate_scale]])
    world_offset = np.array([-plate_scale * centre, plate_scale * centre])
    linear = pixel_of_world @ world_of_display
    offset = (
        np.array(geometry.crpix) - 1 + pixel_of_world @ (world_offset - np.array(geometry.crval))
    )
    return np.hstack([linear, offset[:, None]])


def prep(
    header: Header,
    image: np.ndarray,
    size: int = 4096,
    plate_scale: float = 0.6,
    interpolation: str = "cubic",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Registered channel in DN/s: north up, disk centre at ((size-1)/2, (size-1)/2).

    The output (in `out` if given) is float32 in display orientation (row 0 north), 0
    outside the input, negative values clipped to 0.
    """
    matrix = prep_matrix(header.geometry, size, plate_scale)
    warped = cv2.warpAffine(
        image,
        matrix,
        (size, size),
        dst=out,
        flags=INTERPOLATIONS[interpolation] | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    np.multiply(warped, np.float32(1.0 / header.exptime), out=warped)
    return np.maximum(warped, 0, out=warped)
