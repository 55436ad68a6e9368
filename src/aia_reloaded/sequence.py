"""A movie as a sequence of segments, one a batch: which frames each segment shows (one
timeline of the whole series: stride, data gaps), checks of the frames and segments it uses,
and the join of the segments by stream copy (ffmpeg's concat demuxer).

Standard library and ffmpeg only (no image libraries, no astropy), so that a join's job
starts in a tenth of a second.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import imageio_ffmpeg

from aia_reloaded.writing import atomic_path, read_csv

log = logging.getLogger(__name__)

GAPS = ("ignore", "repeat", "mark")
EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class MovieSettings:
    """One entry of the config's `movies` (see the config schema for each key)."""

    name: str
    product: str | None = None  # the product whose frames it shows (None: the first)
    crop: Sequence[int] | None = None  # [w, h, x, y], as ffmpeg's crop
    frame_size: Sequence[int] | None = None  # [W, H]
    padded_size: Sequence[int] | None = None  # [PW, PH]
    fps: float = 30
    codec: str = "h264"
    crf: float | None = None
    preset: str | int | None = None
    contrast: float = 1.1
    timestamp: bool = True
    colour_key: bool = True
    stride: int = 1
    gaps: str = "ignore"
    track: dict | None = None  # {at, rotation, reproject}: the crop follows the Sun's rotation


@dataclass(frozen=True)
class Frame:
    """One frame JPEG, its observation time and observer (Stonyhurst lon, lat in degrees,
    distance in m; None where the frame list does not say)."""

    path: Path
    time: datetime
    observer: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Slot:
    """A triplet a movie shows, after `fill` gap slots (repeat or mark) for missing cadences."""

    triplet: str
    fill: int = 0


class EncodeError(RuntimeError):
    """ffmpeg could not make a movie."""


class FrameError(OSError):
    """A frame a movie needs is missing or truncated; the message says how to remake it."""

    def __init__(self, path: Path, problem: str = "is missing or truncated"):
        super().__init__(
            f"{path} {problem}: remake its batch with "
            f"`snakemake --cores all --forcerun {path.parent}`"
        )


class SegmentError(OSError):
    """A movie segment is truncated; the message says how to remake it."""

    def __init__(self, path: Path):
        super().__init__(
            f"{path} is truncated: remake it with `snakemake --cores all --forcerun {path}`"
        )


def ffmpeg_exe() -> str:
    """ffmpeg from PATH, else the binary of the imageio-ffmpeg wheel."""
    return shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()


OBSERVER = ("hgln_obs", "hglt_obs", "dsun_obs")


def _observer(row: dict[str, str]) -> tuple[float, float, float] | None:
    values = [row.get(column) for column in OBSERVER]
    return tuple(map(float, values)) if all(values) else None


def read_frames(frame_lists: Iterable[str | Path], frames_dir: str | Path) -> list[Frame]:
    """The frames of the frame lists (columns frame, t_obs and the observer's hgln_obs,
    hglt_obs, dsun_obs, absent from lists written before tracking), concatenated in order."""
    frames = [
        Frame(Path(frames_dir) / row["frame"], datetime.fromisoformat(row["t_obs"]), _observer(row))
        for path in frame_lists
        for row in read_csv(path)
    ]
    for before, after in itertools.pairwise(frames):
        if after.time <= before.time:
            raise ValueError(f"frame lists out of time order: {after.path} after {before.path}")
    return frames


def _seconds(name: str) -> int:
    """Seconds since 2000 of a triplet name (YYYYMMDDTHHMMSS), 4x faster than strptime."""
    day = datetime(int(name[:4]), int(name[4:6]), int(name[6:8]))
    return (
        (day - EPOCH).days * 86400
        + int(name[9:11]) * 3600
        + int(name[11:13]) * 60
        + int(name[13:15])
    )


def timeline(triplets: Sequence[str], stride: int = 1, gaps: str = "ignore") -> list[Slot]:
    """The triplets (names, in time order) a movie shows: every stride-th of the whole series;
    with gaps repeat or mark, each after as many gap slots as the step before it holds
    missing cadences (the median step of the kept triplets; a step of n cadences: n - 1).

    A movie's batches show consecutive parts of one timeline, so its segments joined give
    what one pass over the series gives.
    """
    if gaps not in GAPS:
        raise ValueError(f"gaps must be one of {', '.join(GAPS)}, not {gaps!r}")
    kept = list(triplets[::stride])
    if gaps == "ignore" or len(kept) < 2:
        return [Slot(name) for name in kept]
    times = [_seconds(name) for name in kept]
    steps = [b - a for a, b in itertools.pairwise(times)]
    cadence = statistics.median(steps)
    fills = [0] + [round(step / cadence) - 1 for step in steps]
    return [Slot(name, fill) for name, fill in zip(kept, fills, strict=True)]


@dataclass(frozen=True)
class Part:
    """A batch's part of a movie: its slots, and the kept triplet just before them."""

    slots: list[Slot]
    previous: str | None


def movie_parts(batches: dict[str, Sequence[str]], stride: int, gaps: str) -> dict[str, Part]:
    """Each batch's part of a movie's timeline: batches {batch: triplet names}, in time order."""
    names = [name for batch in sorted(batches) for name in batches[batch]]
    slots = iter(timeline(names, stride, gaps))
    slot, previous, parts = next(slots, None), None, {}
    for batch in sorted(batches):
        own = set(batches[batch])
        part = Part([], previous)
        while slot is not None and slot.triplet in own:
            part.slots.append(slot)
            previous, slot = slot.triplet, next(slots, None)
        parts[batch] = part
    return parts


def movie_lengths(parts: dict[str, Part], frames: Sequence[Frame], gaps: str) -> dict[str, int]:
    """The images each batch's segment shows (segment_plan), given every rendered frame."""
    by_name = {frame.path.stem: frame for frame in frames}
    return {
        batch: len(segment_plan(part.slots, by_name, by_name.get(part.previous), gaps))
        for batch, part in parts.items()
    }


def segment_plan(
    slots: Sequence[Slot],
    frames: dict[str, Frame],
    previous: Frame | None,
    gaps: str,
) -> list[tuple[Frame, bool]]:
    """What a segment shows, image by image: (frame, marked as a gap).

    frames: the rendered frames by triplet name (a triplet skipped for a bad file has none:
    with gaps repeat or mark its slot becomes a gap slot, with ignore it is left out).
    previous: the frame shown last before the segment, repeated by its first gap slots
    (gap slots before any frame at all are left out).
    """
    shown, plan = previous, []
    for slot in slots:
        frame = frames.get(slot.triplet)
        gap_slots = slot.fill + (frame is None and gaps != "ignore")
        if shown is not None:
            plan += [(shown, gaps == "mark")] * gap_slots
        if frame is not None:
            plan.append((frame, False))
            shown = frame
    return plan


def lost_frame(frames_dir: str | Path, frame_lists: Iterable[str | Path]) -> Path | None:
    """The first frame that a frame list names and its folder below frames_dir lacks, if any
    (lists not written yet are passed over)."""
    for frame_list in frame_lists:
        if os.path.exists(frame_list):
            names = [Path(frames_dir) / row["frame"] for row in read_csv(frame_list)]
            present = (
                set(os.listdir(names[0].parent)) if names and names[0].parent.is_dir() else set()
            )
            for name in names:
                if name.name not in present:
                    return name
    return None


def check_frames(frames: Iterable[Frame]) -> None:
    """Raise FrameError for the first frame that is missing or truncated (no JPEG end mark)."""
    for frame in frames:
        try:
            with open(frame.path, "rb") as jpeg:
                jpeg.seek(-2, os.SEEK_END)
                whole = jpeg.read(2) == b"\xff\xd9"
        except OSError:
            whole = False
        if not whole:
            raise FrameError(frame.path)


def packets(path: str | Path) -> list[tuple[int, int]]:
    """(dts, pts) of each video packet of a movie, every one read (ffmpeg's framecrc): a
    truncated file raises EncodeError."""
    command = [ffmpeg_exe(), "-v", "error", "-xerror", "-i", str(path), "-map", "0:v:0"]
    done = subprocess.run([*command, "-c", "copy", "-f", "framecrc", "-"], capture_output=True)
    if done.returncode or done.stderr.strip():
        raise EncodeError(f"{path}: {done.stderr.decode(errors='replace').strip()[-300:]}")
    rows = [line.split(b",") for line in done.stdout.splitlines() if not line.startswith(b"#")]
    return [(int(row[1]), int(row[2])) for row in rows]


def _delay(stamps: Sequence[tuple[int, int]]) -> int:
    """How far decoding runs ahead of display at the start (B-frames), in time-base units."""
    return min(pts for _dts, pts in stamps) - stamps[0][0]


def join_segments(
    segments: Sequence[str | Path], lengths: Sequence[int], output: str | Path
) -> int:
    """The movie of its segments, stream-copied in order (ffmpeg's concat demuxer); its length.

    lengths: what each segment shows (segment_plan): a segment holding other than its length
    raises SegmentError, which names it. A segment too short for the encoder's B-frame delay
    starts decoding later than the others; its decoding times are moved earlier to match
    (ffmpeg's setts), else the concat demuxer's times run backwards at the join.
    """
    stamps = {}
    for segment, length in zip(segments, lengths, strict=True):
        try:
            found = packets(segment) if length else []
        except EncodeError:
            found = None
        if found is None or len(found) != length or (not length and Path(segment).stat().st_size):
            raise SegmentError(Path(segment))
        if length:
            stamps[segment] = found
    if not stamps:
        raise ValueError(f"{output}: no segment holds a frame")
    delay = max(map(_delay, stamps.values()))
    ffmpeg = ffmpeg_exe()
    with tempfile.TemporaryDirectory() as scratch, atomic_path(output) as tmp:
        shown = []
        for i, (segment, found) in enumerate(stamps.items()):
            if _delay(found) < delay:
                shown.append(Path(scratch) / f"{i}.mp4")
                shift = f"setts=dts=DTS-{delay - _delay(found)}"
                command = [ffmpeg, "-v", "error", "-i", str(segment), "-map", "0:v:0"]
                subprocess.run([*command, "-c", "copy", "-bsf:v", shift, shown[-1]], check=True)
            else:
                shown.append(segment)
        script = Path(scratch) / "segments.ffconcat"
        script.write_text(concat_script(shown))
        command = [
            ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostdin", "-y",
            "-f", "concat", "-safe", "0", "-i", str(script), "-map", "0:v:0", "-c", "copy",
            "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True)
        said = done.stderr.decode(errors="replace").strip()
        joined = len(packets(tmp)) if done.returncode == 0 else -1
        if joined != sum(lengths) or said:
            raise EncodeError(
                f"ffmpeg failed to join {output} ({joined} of {sum(lengths)} frames):\n{said}"
            )
    log.info("%s: %d frames of %d segments, stream-copied", output, joined, len(shown))
    return joined


def concat_script(paths: Iterable[str | Path]) -> str:
    """An ffmpeg concat demuxer script that lists the files in order."""
    quoted = (str(Path(path).resolve()).replace("'", "'\\''") for path in paths)
    return "".join(["ffconcat version 1.0\n", *(f"file '{path}'\n" for path in quoted)])


def read_batches(triplets_csv: str | Path) -> dict[str, list[str]]:
    """The triplet names of each batch, in time order, from the pairing's triplets.csv."""
    grouped: dict[str, list[str]] = {}
    for row in read_csv(triplets_csv):
        grouped.setdefault(row["batch"], []).append(row["triplet"])
    return grouped
