"""Finding level-1 files, pairing them into triplets and grouping triplets into batches."""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aia_reloaded.reading import InputError, read_header

TIME_FORMAT = "%Y%m%dT%H%M%S"

# (pattern, group names) for the archive naming schemes; times are UTC.
_NAME_PATTERNS = [
    # JSOC: aia.lev1_euv_12s.2012-08-31T194513Z.304.image_lev1.fits
    re.compile(
        r"aia\.lev1(?:_\w+)?\.(?P<Y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)T(?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)Z"
        r"\.(?P<wl>\d{2,4})\.image",
        re.IGNORECASE,
    ),
    # JSOC "as-is": aia.lev1.304A_2012_08_31T19_45_13.12Z.image_lev1.fits
    re.compile(
        r"aia\.lev1\.(?P<wl>\d{2,4})A_(?P<Y>\d{4})_(?P<m>\d\d)_(?P<d>\d\d)T(?P<H>\d\d)_(?P<M>\d\d)_(?P<S>\d\d)",
        re.IGNORECASE,
    ),
    # VSO: aia_lev1_304a_2012_08_31t19_45_13_12z_image_lev1.fits
    re.compile(
        r"aia_lev1_(?P<wl>\d{2,4})a_(?P<Y>\d{4})_(?P<m>\d\d)_(?P<d>\d\d)t(?P<H>\d\d)_(?P<M>\d\d)_(?P<S>\d\d)",
        re.IGNORECASE,
    ),
    # SSW level 1.5: AIA20120831_194513_0304.fits
    re.compile(
        r"AIA(?P<Y>\d{4})(?P<m>\d\d)(?P<d>\d\d)_(?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)_(?P<wl>\d{4})",
        re.IGNORECASE,
    ),
]

FITS_SUFFIXES = (".fits", ".fts", ".fit", ".fits.gz")


@dataclass(frozen=True)
class FileInfo:
    """A level-1 file with its wavelength and observation time."""

    path: str
    wavelength: int
    time: datetime


@dataclass(frozen=True)
class Skip:
    """A file left out, and why."""

    path: str
    time: str
    reason: str


@dataclass(frozen=True)
class Triplet:
    """One file per channel, nearest in time; named by its first channel's time."""

    name: str
    files: tuple[str, ...]


def parse_name(path: str | Path) -> tuple[int, datetime] | None:
    """Wavelength and time from a JSOC, VSO or SSW file name, or None for other names."""
    name = os.path.basename(path)
    for pattern in _NAME_PATTERNS:
        match = pattern.search(name)
        if match:
            g = match.groupdict()
            time = datetime(
                int(g["Y"]),
                int(g["m"]),
                int(g["d"]),
                int(g["H"]),
                int(g["M"]),
                int(g["S"]),
                tzinfo=UTC,
            )
            return int(g["wl"]), time
    return None


def find_fits(input_dir: str | Path) -> list[str]:
    """All FITS files below input_dir (recursive), sorted."""
    found = []
    for root, _dirs, names in os.walk(input_dir):
        found.extend(os.path.join(root, n) for n in names if n.lower().endswith(FITS_SUFFIXES))
    return sorted(found)


def fingerprint(paths: Iterable[str]) -> str:
    """A short hash of the paths with each file's size and modification time (or its
    absence): it changes when a file is added, removed or replaced."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(paths):
        try:
            stat = os.stat(path)
            stamp = f"{stat.st_size} {stat.st_mtime_ns}"
        except FileNotFoundError:
            stamp = "missing"
        digest.update(f"{path}\0{stamp}\n".encode())
    return digest.hexdigest()


def identify(paths: Iterable[str]) -> tuple[list[FileInfo], list[Skip]]:
    """Wavelength and time of each file: from its name, else from its header."""
    infos, skipped = [], []
    for path in paths:
        parsed = parse_name(path)
        if parsed is None:
            try:
                header = read_header(path)
            except InputError as error:
                skipped.append(Skip(path, "", error.problem))
                continue
            parsed = header.wavelength, header.time.replace(microsecond=0)
        infos.append(FileInfo(path, *parsed))
    return infos, skipped


def pair(
    files: Sequence[FileInfo], channels: Sequence[int], tolerance_s: float
) -> tuple[list[Triplet], list[Skip]]:
    """Triplets of one file per channel within tolerance_s of the first channel's file.

    Of two files with the same wavelength and time, the first by path is kept.
    Files of other wavelengths and files left without a complete triplet are skipped.
    """
    skipped: list[Skip] = []
    by_channel: dict[int, list[FileInfo]] = {c: [] for c in channels}
    seen: dict[tuple[int, datetime], str] = {}
    for info in sorted(files, key=lambda f: (f.time, f.path)):
        stamp = info.time.strftime(TIME_FORMAT)
        if info.wavelength not in by_channel:
            skipped.append(
                Skip(info.path, stamp, f"wavelength {info.wavelength} is not one of the channels")
            )
        elif (info.wavelength, info.time) in seen:
            original = seen[info.wavelength, info.time]
            skipped.append(Skip(info.path, stamp, f"duplicate of {original}"))
        else:
            seen[info.wavelength, info.time] = info.path
            by_channel[info.wavelength].append(info)

    tolerance = timedelta(seconds=tolerance_s)
    used: set[str] = set()
    triplets = []
    anchors, others = by_channel[channels[0]], [by_channel[c] for c in channels[1:]]
    for anchor in anchors:
        stamp = anchor.time.strftime(TIME_FORMAT)
        members, missing = [anchor.path], []
        for channel, candidates in zip(channels[1:], others, strict=True):
            best = _nearest(candidates, anchor.time, tolerance, used)
            if best is None:
                missing.append(channel)
            else:
                members.append(best.path)
        if missing:
            names = ", ".join(str(c) for c in missing)
            skipped.append(Skip(anchor.path, stamp, f"no {names} file within {tolerance_s:g} s"))
            continue
        used.update(members)
        triplets.append(Triplet(stamp, tuple(members)))
    for candidates in others:
        for info in candidates:
            if info.path not in used:
                stamp = info.time.strftime(TIME_FORMAT)
                skipped.append(Skip(info.path, stamp, "not in any complete triplet"))
    return triplets, skipped


def _nearest(
    candidates: Sequence[FileInfo], time: datetime, tolerance: timedelta, used: set[str]
) -> FileInfo | None:
    """The unused candidate nearest to time within tolerance; candidates are in time order."""
    start = bisect.bisect_left(candidates, time - tolerance, key=lambda c: c.time)
    stop = bisect.bisect_right(candidates, time + tolerance, key=lambda c: c.time)
    free = [c for c in candidates[start:stop] if c.path not in used]
    return min(free, key=lambda c: abs(c.time - time), default=None)


def thin(triplets: Iterable[Triplet], cadence_s: float | None) -> list[Triplet]:
    """The triplets nearest a fixed time grid, in time order; cadence_s None keeps all.

    The grid's steps are t0 + k * cadence_s, from the first triplet's time t0 up to the
    last triplet's. Each step keeps the triplet nearest to it (the earlier on a tie) if
    one lies within cadence_s / 2, and no triplet is kept twice.
    """
    ordered = sorted(triplets, key=lambda t: t.name)
    if cadence_s is None or not ordered:
        return ordered
    start = datetime.fromisoformat(ordered[0].name)  # TIME_FORMAT is ISO 8601 (basic)
    offsets = [(datetime.fromisoformat(t.name) - start).total_seconds() for t in ordered]
    # a step with a triplet within cadence_s / 2 is one of the two steps around that triplet
    around = {int(offset // cadence_s) for offset in offsets}
    steps = sorted(around | {k + 1 for k in around})
    kept: list[int] = []
    for step in steps:
        grid = step * cadence_s
        if grid > offsets[-1]:
            break
        after = bisect.bisect_left(offsets, grid)
        nearest = min(
            (i for i in (after - 1, after) if 0 <= i < len(offsets)),
            key=lambda i: abs(offsets[i] - grid),
        )
        close = abs(offsets[nearest] - grid) <= cadence_s / 2
        if close and (not kept or kept[-1] != nearest):
            kept.append(nearest)
    return [ordered[i] for i in kept]


def batch_of(triplet_name: str, minutes: float) -> str:
    """The batch of a triplet: the start of its fixed time window, in TIME_FORMAT."""
    time = datetime.strptime(triplet_name, TIME_FORMAT).replace(tzinfo=UTC)
    window = round(minutes * 60)
    start = int(time.timestamp()) // window * window
    return datetime.fromtimestamp(start, UTC).strftime(TIME_FORMAT)


def batches(triplets: Iterable[Triplet], minutes: float) -> dict[str, list[Triplet]]:
    """Triplets grouped by batch, both in time order."""
    grouped: dict[str, list[Triplet]] = {}
    for triplet in sorted(triplets, key=lambda t: t.name):
        grouped.setdefault(batch_of(triplet.name, minutes), []).append(triplet)
    return grouped
