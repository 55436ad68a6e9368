"""RICE-compressed images in row tiles, as JSOC exports AIA level 1, decoded fast.

astropy decodes each tile through a generic Python path that, for the 4096 one-row tiles
of an AIA image, costs as much again as the decoding; this calls astropy's C decoder on the
tiles directly. Any other compression, tiling or layout takes astropy's path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits

try:  # a private module of astropy; without it, astropy's own path
    from astropy.io.fits.hdu.compressed._compression import decompress_rice_1_c
except ImportError:  # pragma: no cover
    decompress_rice_1_c = None


def _settings(header: fits.Header) -> tuple[int, int] | None:
    """BLOCKSIZE and BYTEPIX of a table header of row-tiled RICE_1 integer pixels, else None."""
    simple = (
        header.get("ZCMPTYPE") == "RICE_1"
        and header.get("ZNAXIS") == 2
        and header.get("ZTILE1") == header["ZNAXIS1"]
        and header.get("ZBITPIX") in (16, 32)
        and header.get("TFIELDS") == 1
        and header.get("TTYPE1") == "COMPRESSED_DATA"
        and str(header.get("TFORM1", "")).lstrip("1").startswith("PB")
    )
    if not simple:
        return None
    names = {header.get(f"ZNAME{i}"): header.get(f"ZVAL{i}") for i in (1, 2)}
    return names.get("BLOCKSIZE", 32), names.get("BYTEPIX", 4)


def pixels(
    hdu: fits.ImageHDU | fits.CompImageHDU, path: str | Path, empty: Callable = np.empty
) -> np.ndarray:
    """The stored (unscaled) pixels of an image HDU of the file at path.

    Row-tiled RICE pixels are decoded into empty(shape, dtype), np.empty or a reused array.
    """
    if decompress_rice_1_c is None or not isinstance(hdu, fits.CompImageHDU):
        return hdu.data
    try:
        return _row_tiles(hdu, path, empty)
    except Exception:  # another astropy (the decoder is private) or an odd file: astropy's way
        return hdu.data


def _row_tiles(hdu: fits.CompImageHDU, path: str | Path, empty: Callable) -> np.ndarray:
    """The pixels of a row-tiled RICE image, tile by tile; astropy's own path for others."""
    where = hdu.fileinfo()
    with open(path, "rb") as f:
        f.seek(where["hdrLoc"])
        header = fits.Header.fromfile(f)
        settings = _settings(header)
        if settings is None:
            return hdu.data
        rows, cols, tile_rows = header["ZNAXIS2"], header["ZNAXIS1"], header.get("ZTILE2", 1)
        f.seek(where["datLoc"])
        tiles = np.fromfile(f, ">i4", 2 * header["NAXIS2"]).reshape(-1, 2)
        f.seek(where["datLoc"] + header.get("THEAP", header["NAXIS1"] * header["NAXIS2"]))
        heap = f.read(header["PCOUNT"])
    starts = range(0, rows, tile_rows)
    if len(heap) < header["PCOUNT"] or len(tiles) != len(starts):
        raise OSError("the compressed image is truncated, or not as its header says")
    image = empty((rows, cols), np.dtype(f"i{header['ZBITPIX'] // 8}"))
    for start, (size, offset) in zip(starts, tiles.tolist(), strict=True):
        tile = image[start : start + tile_rows]
        decoded = decompress_rice_1_c(heap[offset : offset + size], *settings, tile.size)
        tile[:] = np.frombuffer(decoded, f"i{settings[1]}").reshape(tile.shape)
    return image
