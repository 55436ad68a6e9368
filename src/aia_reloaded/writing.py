"""Writing outputs atomically: a file appears under its final name only when complete."""

from __future__ import annotations

import csv
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# the process's umask, read once at import (reading it sets it, which threads must not race)
UMASK = os.umask(0o022)
os.umask(UMASK)


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """A temporary path beside `path` (same suffix) that is renamed to `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # as open() would make it, not mkstemp's owner-only
        os.replace(tmp, path)
    except OSError as error:  # a full disk, a lost permission: name the file
        Path(tmp).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jpeg(
    path: str | Path, rgb: np.ndarray, quality: int = 95, empty: Callable | None = None
) -> None:
    """An 8-bit RGB image (row 0 at the top) as a JPEG; empty(shape, dtype) holds its BGR copy."""
    import cv2  # here, as numpy in save_array: a movie's join loads neither (0.12 s a job)

    dst = None if empty is None else empty(rgb.shape, rgb.dtype)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=dst)  # 7x faster than encoding rgb[..., ::-1]
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


def save_array(path: str | Path, array: np.ndarray) -> None:
    """An array as .npy."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        try:
            np.save(f, array)
        except OSError as error:  # numpy reports a short write without errno: say why
            if error.errno is None and shutil.disk_usage(tmp.parent).free < array.nbytes:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
            raise


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """A CSV file with a header row."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header row."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def gather_csv(
    paths: Iterable[str | Path],
    path: str | Path,
    header: Sequence[str],
    key: Callable | None = None,
) -> None:
    """The rows of CSV files with `header` in one, in their order or sorted by key(row); a
    column a file lacks (written before the column was added) is left empty."""
    rows = [[row.get(c, "") for c in header] for source in paths for row in read_csv(source)]
    write_csv(path, header, sorted(rows, key=key) if key else rows)
