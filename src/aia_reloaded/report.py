"""What the Snakemake report shows besides the movies: thumbnails, histograms, skipped files."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import matplotlib
import numpy as np

from aia_reloaded.preview import contact_sheet
from aia_reloaded.sequence import check_frames, read_frames
from aia_reloaded.stages import SKIP_COLUMNS
from aia_reloaded.writing import atomic_path, read_csv, write_jpeg

matplotlib.use("Agg")
import matplotlib.pyplot as plt

THUMBNAILS = 48  # at most this many frames in the strip
THUMBNAIL_WIDTH = 256  # px
THUMBNAIL_COLUMNS = 8
BINS = 200  # of each histogram, evenly spaced in log DN/s (or in the enhanced values)


def write_thumbnails(
    frame_index: str | Path, frames_dir: str | Path, path: str | Path, most: int = THUMBNAILS
) -> int:
    """A sheet of every n-th frame of the index, n such that at most `most` are shown, each
    labelled with its time; returns n."""
    frames = read_frames([frame_index], frames_dir)
    if not frames:
        raise ValueError(f"{frame_index} lists no frames: there is nothing to show")
    step = math.ceil(len(frames) / most)
    shown = frames[::step]
    check_frames(shown)
    reduction = _reduction(shown[0].path)
    images = [[_read_rgb(frame.path, reduction)] for frame in shown]
    titles = [f"{frame.time:%m-%d %H:%M:%S}" for frame in shown]
    width = min(THUMBNAIL_WIDTH, images[0][0].shape[1])
    sheet = contact_sheet(images, titles, [[]] * len(shown), width, THUMBNAIL_COLUMNS)
    write_jpeg(path, sheet, 90)
    return step


def _reduction(path: Path) -> int:
    """The largest JPEG decoding reduction (1, 2, 4 or 8) that keeps a thumbnail sharp."""
    width = _read_rgb(path, 1).shape[1]
    return max(r for r in (1, 2, 4, 8) if r == 1 or width // r >= THUMBNAIL_WIDTH)


def _read_rgb(path: Path, reduction: int) -> np.ndarray:
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
    image = cv2.imread(str(path), flags.get(reduction, cv2.IMREAD_REDUCED_COLOR_8))
    if image is None:
        raise OSError(f"{path}: cannot read the frame")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def plot_histograms(path: str | Path, images: Sequence[np.ndarray], levels: dict) -> None:
    """A PNG with the histogram of each channel (log counts) and its levels marked.

    images: the channels the levels were taken of (stages.prepped_levels): prepped, on a
    log DN/s axis, or enhanced, on a linear one.
    """
    channels = levels["channels"]
    figure, axes = plt.subplots(len(images), 1, figsize=(9, 2.6 * len(images)), squeeze=False)
    for ax, image, (wl, level) in zip(axes[:, 0], images, channels.items(), strict=True):
        _histogram(ax, np.asarray(image), wl, level)
    figure.suptitle(f"Reference {levels['reference']}: histograms and levels")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def _histogram(ax, image: np.ndarray, wavelength: int, level: dict) -> None:
    """One channel's histogram, with its low and high levels and their percentiles."""
    enhanced = level.get("enhance")
    if enhanced:
        counts, edges = np.histogram(image, BINS)
        ax.set_xlabel(f"enhanced value ({enhanced['method']})")
        where = {"low": level["low"], "high": level["high"]}
    else:
        positive = image[image > 0]
        counts, edges = np.histogram(np.log10(positive), BINS)
        edges = 10.0**edges
        ax.set_xscale("log")
        zeros = image.size - positive.size
        ax.set_xlabel(f"DN/s (log; {zeros / image.size:.1%} of the pixels are 0, not shown)")
        # a level of 0 DN/s is drawn at the left edge
        where = {key: max(level[key], edges[0]) for key in ("low", "high")}
    ax.stairs(counts, edges, fill=True, color="0.55")
    if not enhanced:  # from a decade below the lower of the low level and the 0.1 % tail
        ax.set_xlim(left=min(where["low"], np.percentile(positive, 0.1)) / 10)
    ax.set_yscale("log")
    ax.set_ylabel("pixels")
    ax.set_title(f"{wavelength} \u00c5", loc="left")
    unit = "" if enhanced else " DN/s"
    for (key, x), percentile, colour, height in zip(
        where.items(), level["percentiles"], ("tab:blue", "tab:red"), (0.95, 0.8), strict=True
    ):
        ax.axvline(x, color=colour, linewidth=1.5)
        ax.text(
            x, height, f" {key}: {percentile:g} % = {level[key]:.4g}{unit} ", color=colour,
            transform=ax.get_xaxis_transform(), va="top", ha="left" if key == "low" else "right",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )  # fmt: skip


def write_skipped_table(skipped: str | Path, path: str | Path) -> None:
    """The skipped files of a skipped.csv as an HTML table (a line if there are none)."""
    rows = read_csv(skipped)
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(row[c])}</td>" for c in SKIP_COLUMNS) + "</tr>\n"
        for row in rows
    )
    head = "".join(f"<th>{c}</th>" for c in SKIP_COLUMNS)
    body = (
        f"<table>\n<tr>{head}</tr>\n{cells}</table>"
        if rows
        else "<p>No file or triplet was skipped.</p>"
    )
    style = "td, th {text-align: left; padding: 2px 8px; font-family: sans-serif}"
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Skipped files</title>"
        f"<style>{style}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page)
