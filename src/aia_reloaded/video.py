"""Movies of the frame series, ALGORITHM.md section 7: crop -> scale -> pad -> contrast, ffmpeg.

A movie is made in segments, one a batch, joined without re-encoding (sequence.py). A
batch's segments of every movie decode each frame once, here (at 1/2, 1/4 or 1/8 size in
the JPEG decoder where the movies are that much smaller than their crops), crop it on the
exact pixel (a tracked box, one that follows the Sun's rotation as tracking.py places it, to
the sub-pixel), scale it and draw the optional time stamp, colour key and data-gap mark (in
the movie only, never in the frame JPEGs); one ffmpeg a movie pads, applies the contrast
and encodes to yuv420p.
Which triplet each image shows comes from one timeline of the whole series (sequence.py:
stride, data gaps), so that the joined segments show what one pass over the series would.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import fcntl
import functools
import hashlib
import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

import cv2
import numpy as np
import PIL.Image

from aia_reloaded.sequence import (
    EncodeError,
    Frame,
    FrameError,
    MovieSettings,
    Slot,
    check_frames,
    ffmpeg_exe,
    packets,
    read_frames,
    segment_plan,
    timeline,
)
from aia_reloaded.writing import atomic_path

if TYPE_CHECKING:
    from aia_reloaded import tracking

log = logging.getLogger(__name__)

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class Encoder:
    """An ffmpeg encoder with the preset and crf used when a movie names none."""

    library: str
    preset: str | int
    crf: float
    options: tuple[str, ...] = ()


ENCODERS = {
    # medium at crf 17.7 matches slow/18 (SSIM, +10 % bytes at most) at 0.64x the CPU
    # (benchmarks/encoders.py)
    "h264": Encoder("libx264", "medium", 17.7),
    "h265": Encoder("libx265", "slow", 20, ("-tag:v", "hvc1", "-x265-params", "log-level=error")),
    "av1": Encoder("libsvtav1", 6, 30),
}


@dataclass(frozen=True)
class Geometry:
    """Where the pixels of a movie come from and go: crop box, scaled size, padded size."""

    crop: tuple[int, int, int, int] | None
    size: Size
    padded: Size


def _even(value: int) -> int:
    return value - 1 if value % 2 and value > 1 else max(value, 2)


def _check_even(name: str, key: str, value: Sequence[int], sizes: int = 2) -> None:
    """Raise if the first `sizes` entries of a setting (widths, heights) are not even."""
    if any(v % 2 for v in value[:sizes]):
        proposal = [_even(v) for v in value[:sizes]] + list(value[sizes:])
        raise ValueError(
            f"movie {name!r}: {key} {list(value)} has an odd size, and yuv420p needs even "
            f"sizes: use {proposal}."
        )


def geometry(settings: MovieSettings, source: Size) -> Geometry:
    """The checked crop, scaled and padded sizes of a movie made of `source`-sized frames."""
    name, crop = settings.name, settings.crop
    if crop is not None:
        w, h, x, y = crop
        if x + w > source[0] or y + h > source[1]:
            raise ValueError(
                f"movie {name!r}: crop {list(crop)} (w, h, x, y) reaches outside the "
                f"{source[0]}x{source[1]} frames."
            )
    if settings.frame_size is not None:
        _check_even(name, "frame_size", settings.frame_size)
    elif crop is not None:
        _check_even(name, "crop", crop)
    elif source[0] % 2 or source[1] % 2:
        raise ValueError(
            f"movie {name!r}: the frames are {source[0]}x{source[1]}, and yuv420p needs even "
            f"sizes: set frame_size to {[_even(source[0]), _even(source[1])]}."
        )
    if settings.track is not None and crop is None:
        raise ValueError(f"movie {name!r}: track follows the crop; give the movie a crop.")
    size = tuple(settings.frame_size or (crop[:2] if crop else source))
    padded = tuple(settings.padded_size or size)
    _check_even(name, "padded_size", padded)
    if padded[0] < size[0] or padded[1] < size[1]:
        raise ValueError(
            f"movie {name!r}: padded_size {list(padded)} is smaller than the frame size "
            f"{list(size)}."
        )
    return Geometry(tuple(crop) if crop else None, size, padded)


def check_movies(movies: Sequence[dict], source: Callable[[dict], Size]) -> None:
    """Raise ValueError on repeated names or on settings that frames of the size source(movie)
    can't honour."""
    names = [movie["name"] for movie in movies]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"movie names must be unique: {', '.join(repeated)} is repeated.")
    for movie in movies:
        geometry(MovieSettings(**movie), source(movie))


# --- overlay: Hershey fonts (built into OpenCV, no font files needed), sized by the frame

FONT = cv2.FONT_HERSHEY_SIMPLEX
BASE_HEIGHT = 1080  # the frame size (smaller side, px) at which the text has its base size
KEY_LUMA = 110  # the least Rec. 709 luma of a colour-key label: darker colours are lightened
TEXT_COLOUR = (255, 255, 255)
GAP_COLOUR = (255, 190, 0)


@dataclass(frozen=True)
class TextStyle:
    """Font scale, stroke and outline widths and margin, in proportion to the frame."""

    scale: float
    thickness: int
    outline: int
    margin: int

    @classmethod
    def for_frame(cls, size: Size) -> TextStyle:
        """The style for a frame of `size`: the same look at 1080p and 4K."""
        unit = min(size) / BASE_HEIGHT
        return cls(1.2 * unit, max(1, round(2 * unit)), max(1, round(3 * unit)), round(30 * unit))

    def extent(self, text: str) -> Size:
        """Width and cap height of text, in pixels."""
        (width, height), _ = cv2.getTextSize(text, FONT, self.scale, self.thickness)
        return width, height


def draw_label(
    image: np.ndarray,
    text: str,
    origin: Size,
    style: TextStyle,
    colour: tuple[int, int, int],
    ring: bool = False,
) -> None:
    """Draw text at origin (left, baseline), outlined dark; ring: a ring over the last letter."""
    width, height = style.extent(text)
    radius = max(1, round(0.22 * height))
    pad = 2 * radius + 2 * style.thickness + style.outline + 1
    x0, y0 = max(origin[0] - pad, 0), max(origin[1] - height - pad, 0)
    x1 = min(origin[0] + width + pad, image.shape[1])
    y1 = min(origin[1] + pad, image.shape[0])
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    x, y = origin[0] - x0, origin[1] - y0
    cv2.putText(mask, text, (x, y), FONT, style.scale, 255, style.thickness, cv2.LINE_AA)
    if ring:
        centre = (x + width - style.extent(text[-1])[0] // 2, y - height - radius - style.thickness)
        cv2.circle(mask, centre, radius, 255, style.thickness, cv2.LINE_AA)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * style.outline + 1,) * 2)
    outline = cv2.dilate(mask, disk)[..., None] / 255.0
    alpha = mask[..., None] / 255.0
    roi = image[y0:y1, x0:x1]
    roi[:] = (roi * (1 - outline) * (1 - alpha) + np.array(colour) * alpha).round()


def timestamp_text(time: datetime) -> str:
    """The time stamp of a frame, e.g. '2012-08-31 19:45:05 UTC'."""
    return f"{time.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def legible(colour: Sequence[int]) -> tuple[int, int, int]:
    """colour, mixed with white just enough to reach KEY_LUMA (a dark blue stays blue)."""
    rgb = np.asarray(colour, float)
    luma = rgb @ (0.2126, 0.7152, 0.0722)
    if luma < KEY_LUMA:
        rgb += (255 - rgb) * (KEY_LUMA - luma) / (255 - luma)
    return tuple(int(c) for c in np.round(rgb))


def draw_overlay(
    image: np.ndarray,
    time: datetime | None,
    key: Sequence[tuple[int, Sequence[int]]] | None,
    gap: bool = False,
    bgr: bool = False,
) -> np.ndarray:
    """A copy of image with the time stamp (top left), colour key (top right), gap mark.

    key: (wavelength, RGB colour) of each channel, each named in its colour. bgr: the image is
    in OpenCV's blue, green, red order.
    """
    image = image.copy()
    paint = (lambda colour: colour[::-1]) if bgr else tuple
    style = TextStyle.for_frame((image.shape[1], image.shape[0]))
    cap = style.extent("0")[1]
    top, line = style.margin + round(1.45 * cap), round(1.9 * cap)
    if time is not None:
        draw_label(image, timestamp_text(time), (style.margin, top), style, paint(TEXT_COLOUR))
    for i, (wavelength, colour) in enumerate(key or ()):
        text = f"{wavelength} A"  # the ring over the A makes it an Angstrom sign
        left = image.shape[1] - style.margin - style.extent(text)[0]
        draw_label(image, text, (left, top + i * line), style, paint(legible(colour)), ring=True)
    if gap:
        draw_label(
            image, "DATA GAP", (style.margin, image.shape[0] - style.margin), style,
            paint(GAP_COLOUR),
        )  # fmt: skip
    return image


# --- encoding: each frame of a batch decoded once for all its movies (at reduced size where
# they are all that much smaller than their crops), cropped, scaled and overlaid here; one
# ffmpeg a movie pads, applies the contrast and encodes its segment

REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
           8: cv2.IMREAD_REDUCED_COLOR_8}  # fmt: skip


def image_size(path: Path) -> Size:
    """Width and height of an image file, from its header."""
    try:
        with PIL.Image.open(path) as image:
            return image.size
    except (OSError, PIL.UnidentifiedImageError):
        raise OSError(f"{path}: cannot read the frame") from None


def reduction(geo: Geometry, source: Size, tracked: bool = False) -> int:
    """The largest JPEG decoding reduction (1, 2, 4, 8) that keeps the movie's crop exact
    (its box on whole reduced pixels; a tracked box only its size) and at least the movie's
    size; 1 for a movie larger than its crop."""
    x, y, w, h = (geo.crop[2], geo.crop[3], *geo.crop[:2]) if geo.crop else (0, 0, *source)
    x, y = (0, 0) if tracked else (x, y)
    fits = [
        r
        for r in REDUCED
        if not (x % r or y % r or w % r or h % r)
        and w // r >= geo.size[0]
        and h // r >= geo.size[1]
    ]
    return max(fits, default=1)  # 1: a movie larger than its crop, scaled up


def subpixel_box(image: np.ndarray, centre: Sequence[float], size: Size) -> np.ndarray:
    """The box of `size` centred on the fractional pixel `centre` (col, row): the image
    shifted by bicubic interpolation (edges repeated), the exact pixels at whole offsets."""
    shift = np.array([[1, 0, centre[0] - (size[0] - 1) / 2], [0, 1, centre[1] - (size[1] - 1) / 2]])
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, shift, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def fixed_box(image: np.ndarray, geo: Geometry, factor: int) -> np.ndarray:
    """The movie's crop of a frame decoded at 1/factor, on the exact pixel."""
    if not geo.crop:
        return image
    w, h, x, y = geo.crop
    return image[y // factor : (y + h) // factor, x // factor : (x + w) // factor]


def scaled(box: np.ndarray, size: Size) -> np.ndarray:
    """A box scaled to size (area means to shrink, bicubic to enlarge)."""
    if box.shape[1::-1] == tuple(size):
        return box
    shrink = box.shape[1] > size[0]
    return cv2.resize(box, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def encoder_command(
    ffmpeg: str, settings: MovieSettings, geo: Geometry, output: Path, threads: int = 0
) -> list[str]:
    """ffmpeg encoding raw BGR frames of geo.size from stdin: pad, contrast, yuv420p."""
    encoder = ENCODERS[settings.codec]
    (width, height), (padded_w, padded_h) = geo.size, geo.padded
    filters = []
    if geo.padded != geo.size:
        filters.append(
            f"pad={padded_w}:{padded_h}:{(padded_w - width) // 2}:{(padded_h - height) // 2}"
        )
    filters += ["scale=out_color_matrix=bt709:out_range=tv", "format=yuv420p"]
    if settings.contrast != 1:
        filters.append(f"eq=contrast={settings.contrast}")
    preset = encoder.preset if settings.preset is None else settings.preset
    crf = encoder.crf if settings.crf is None else settings.crf
    return [
        ffmpeg, "-hide_banner", "-loglevel", "warning", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-video_size", f"{width}x{height}",
        "-framerate", f"{settings.fps:g}", "-i", "pipe:0",
        "-vf", ",".join(filters),
        "-c:v", encoder.library, "-preset", str(preset), "-crf", str(crf), *encoder.options,
        *(["-threads", str(threads)] if threads else []),
        "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "bt709",
        "-movflags", "+faststart", "-f", "mp4", str(output),
    ]  # fmt: skip


def _ahead(paths: Iterable[Path], read, depth: int, threads: int) -> Iterator[np.ndarray]:
    """read(path) of each path, `depth` ahead in threads (OpenCV decodes without the GIL)."""
    with ThreadPoolExecutor(threads) as pool:
        pending = collections.deque()
        for path in paths:
            pending.append(pool.submit(read, path))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _tail(stream, lines: int = 12) -> str:
    stream.seek(0)
    return "\n".join(stream.read().decode(errors="replace").strip().splitlines()[-lines:])


PIPE_BYTES = 1 << 20  # an encoder's pipe: 16 times Linux's default, fewer switches a frame
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def reuse_freed_memory() -> None:
    """Have glibc's malloc, in this process and the ffmpegs it starts next, keep freed large
    arrays for the next ones rather than hand them back to the kernel, which clears every page
    it gives again: 10-15 % of a segments job's time on full-size frames (no effect off glibc).
    """
    most = 1 << 30
    os.environ.update(MALLOC_MMAP_THRESHOLD_=str(most), MALLOC_TRIM_THRESHOLD_=str(most))
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, most)
        libc.mallopt(M_TRIM_THRESHOLD, most)


class Encoding:
    """One ffmpeg process encoding the `count` BGR images piped into it."""

    def __init__(self, command: Sequence[str], name: str, count: int):
        self.name, self.count, self.written, self.broken = name, count, 0, False
        self.said = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish or stop)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.said, bufsize=0
        )
        with contextlib.suppress(AttributeError, OSError):  # Linux only
            fcntl.fcntl(self.process.stdin, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def write(self, image: np.ndarray) -> None:
        if not self.broken:
            try:
                self.process.stdin.write(np.ascontiguousarray(image).data)
                self.written += 1
            except BrokenPipeError:
                self.broken = True

    def finish(self) -> None:
        """Wait for ffmpeg; EncodeError with its last lines unless it took every image."""
        self.process.stdin.close()
        code = self.process.wait()
        text = _tail(self.said)
        self.said.close()
        if text:
            log.info("movie %s: ffmpeg said:\n%s", self.name, text)
        if self.broken or code or self.written != self.count:
            raise EncodeError(
                f"ffmpeg failed to make movie {self.name!r} ({self.written} of {self.count} "
                f"frames written; exit code {code}):\n{text}"
            )

    def stop(self) -> None:
        """Kill ffmpeg if it still runs (the encoding failed elsewhere)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.said.close()


@dataclass(frozen=True)
class Segment:
    """One movie's segment of a batch: its slots of the movie's timeline(), the batch's rendered
    frames of the movie's product, the frame shown last before the batch, where it goes, the
    (wavelength, RGB colour) of each channel for the colour key, and the tracking of a crop
    that follows the Sun's rotation."""

    settings: MovieSettings
    slots: Sequence[Slot]
    frames: Sequence[Frame]
    previous: Frame | None
    output: Path
    key: Sequence[tuple[int, Sequence[int]]] = ()
    track: tracking.Track | None = None

    def plan(self) -> list[tuple[Frame, bool]]:
        """What it shows, image by image (segment_plan)."""
        by_name = {frame.path.stem: frame for frame in self.frames}
        return segment_plan(self.slots, by_name, self.previous, self.settings.gaps)


@functools.cache
def _code_digest() -> str:
    """What an encoding depends on besides its settings and frames: this code and ffmpeg."""
    ffmpeg = Path(ffmpeg_exe())
    return hashlib.sha256(Path(__file__).read_bytes() + bytes(ffmpeg.resolve())).hexdigest()


def kept_copy(segment: Segment, plan: Sequence[tuple[Frame, bool]]) -> Path:
    """Where the segment's encoding is kept (.encoded/ beside it), named by a digest of what
    it shows: the movie's settings, key and tracking, each image's frame (path, time, size,
    modification time) and gap mark, this code and ffmpeg."""
    stats = {frame.path: os.stat(frame.path) for frame, _gap in plan}
    shown = [(frame, gap, stats[frame.path].st_size, stats[frame.path].st_mtime_ns)
             for frame, gap in plan]  # fmt: skip
    what = repr((segment.settings, segment.key, segment.track, shown, _code_digest()))
    digest = hashlib.sha256(what.encode()).hexdigest()[:20]
    output = Path(segment.output)
    return output.parent / ".encoded" / f"{output.stem}.{digest}{output.suffix}"


def _holds(movie: Path, length: int) -> bool:
    """Whether a movie file exists and holds `length` whole packets."""
    try:
        return movie.exists() and len(packets(movie)) == length
    except EncodeError:
        return False


def _link(kept: Path, output: Path) -> None:
    """output as a second name of kept (a copy where the file system has no hard links)."""
    with atomic_path(output) as tmp:
        tmp.unlink()
        try:
            os.link(kept, tmp)
        except OSError:
            shutil.copy2(kept, tmp)


@dataclass
class _Stream:
    """A segment being encoded: its plan, frame size and geometry, the reduction its frames are
    decoded at, the tracked box of each frame, its encoder, the next image of the plan."""

    segment: Segment
    plan: list[tuple[Frame, bool]]
    source: Size
    geo: Geometry
    factor: int = 1
    boxes: dict[Path, Callable[[np.ndarray], np.ndarray]] | None = None
    encoder: Encoding | None = None
    next: int = 0


def make_segments(segments: Sequence[Segment], threads: int = 0, keep: bool = False) -> list[int]:
    """Encode movies' segments of one batch side by side, each frame decoded once for all (an
    empty file for a segment that shows nothing); their lengths. threads: each ffmpeg's (0:
    its own choice).

    keep: keep each encoding beside its segment (kept_copy) and link the segment to it, so
    that a segment whose movie settings and frames are those of an encoding kept before is
    that encoding, not encoded again: editing one movie re-encodes that movie alone.
    """
    plans = [segment.plan() for segment in segments]
    check_frames(dict.fromkeys(frame for plan in plans for frame, _gap in plan))
    streams, kept = [], {}
    for segment, plan in zip(segments, plans, strict=True):
        name, output = segment.settings.name, Path(segment.output)
        if not plan:
            with atomic_path(output):
                log.info("movie %s: no frame in this segment", name)
            continue
        kept[output] = kept_copy(segment, plan) if keep else output
        if keep and _holds(kept[output], len(plan)):
            log.info("movie %s: %s kept, made of the same frames and settings", name, output)
        else:
            source = image_size(plan[0][0].path)
            streams.append(_Stream(segment, plan, source, geometry(segment.settings, source)))
    if streams:
        _encode(streams, kept, threads)
    for output, copy in kept.items():
        if copy != output:
            _link(copy, output)
            for stale in copy.parent.glob(f"{output.stem}.*{output.suffix}"):
                if stale != copy:
                    stale.unlink()
    return [len(plan) for plan in plans]


def _encode(streams: Sequence[_Stream], outputs: dict[Path, Path], threads: int) -> None:
    """Encode the streams side by side, one ffmpeg (of `threads` threads) each, decoding each
    frame once, at the least reduction that its movies take (halved again for the others)."""
    factor_of: dict[Path, int] = {}
    for stream in streams:
        settings, tracked = stream.segment.settings, stream.segment.track is not None
        stream.factor = reduction(stream.geo, stream.source, tracked)
        for frame, _gap in stream.plan:
            factor_of[frame.path] = min(factor_of.get(frame.path, stream.factor), stream.factor)
        if tracked:
            stream.boxes = tracked_boxes(
                stream.plan, stream.geo, stream.source, settings, stream.segment.track,
                stream.factor,
            )  # fmt: skip
    frames = sorted(
        {frame for stream in streams for frame, _gap in stream.plan},
        key=lambda frame: (frame.time, str(frame.path)),
    )
    with contextlib.ExitStack() as stack:
        ffmpeg = ffmpeg_exe()
        for stream in streams:
            settings, geo = stream.segment.settings, stream.geo
            tmp = stack.enter_context(atomic_path(outputs[Path(stream.segment.output)]))
            command = encoder_command(ffmpeg, settings, geo, tmp, threads)
            log.info(
                "movie %s: %d images (%d fill data gaps) of %d frames of %dx%d at 1/%d, crop "
                "%s%s, %dx%d padded to %dx%d\nencoding: %s",
                settings.name, len(stream.plan), sum(gap for _f, gap in stream.plan),
                len(stream.segment.frames), *stream.source, stream.factor, geo.crop,
                " tracked" if stream.boxes else "", *geo.size, *geo.padded, " ".join(command),
            )  # fmt: skip
            stream.encoder = Encoding(command, settings.name, len(stream.plan))
            stack.callback(stream.encoder.stop)
        decode = functools.partial(_decode, factors=factor_of)
        decoded = _ahead((frame.path for frame in frames), decode, 3, 2)
        for frame, image in zip(frames, decoded, strict=True):
            _feed(streams, frame, {factor_of[frame.path]: image})
        for stream in streams:
            stream.encoder.finish()


def _decode(path: Path, factors: dict[Path, int]) -> np.ndarray:
    """A frame JPEG decoded at 1/factors[path] (BGR)."""
    image = cv2.imread(str(path), REDUCED[factors[path]])
    if image is None:
        raise FrameError(path)
    return image


def _level(levels: dict[int, np.ndarray], factor: int) -> np.ndarray:
    """The frame at 1/factor: levels {factor: image} holds it decoded, and gets each half of
    it down to `factor` (2x2 means, as JPEG's DCT scaling; 20x faster than one resize by a
    factor that is not whole)."""
    if factor not in levels:
        larger = _level(levels, factor // 2)
        half = ((larger.shape[1] + 1) // 2, (larger.shape[0] + 1) // 2)
        levels[factor] = cv2.resize(larger, half, interpolation=cv2.INTER_AREA)
    return levels[factor]


def _feed(streams: Sequence[_Stream], frame: Frame, levels: dict[int, np.ndarray]) -> None:
    """Each stream's images of a decoded frame into its encoder: a scaled box, and its
    overlay, made once for the streams that show the same."""
    boxes, overlays = {}, {}
    for stream in streams:
        settings = stream.segment.settings
        time = frame.time if settings.timestamp else None
        key = stream.segment.key if settings.colour_key else None
        # a tracked box is its stream's own; a fixed one is shared by crop and size
        where = settings.name if stream.boxes else (stream.geo.crop, stream.geo.size)
        while stream.next < len(stream.plan) and stream.plan[stream.next][0] == frame:
            gap = stream.plan[stream.next][1]
            if where not in boxes:
                image = _level(levels, stream.factor)
                if stream.boxes:
                    box = stream.boxes[frame.path](image)
                else:
                    box = fixed_box(image, stream.geo, stream.factor)
                boxes[where] = scaled(box, stream.geo.size)
            base, look = boxes[where], (where, time, repr(key), gap)
            if look not in overlays:
                drawn = time is not None or key or gap
                overlays[look] = draw_overlay(base, time, key, gap, bgr=True) if drawn else base
            stream.encoder.write(overlays[look])
            stream.next += 1


def make_segment(
    slots: Sequence[Slot],
    frames: Sequence[Frame],
    previous: Frame | None,
    output: str | Path,
    settings: MovieSettings,
    key: Sequence[tuple[int, Sequence[int]]],
    threads: int = 0,
    track: tracking.Track | None = None,
) -> int:
    """Encode one batch's part of one movie (Segment; an empty file if it shows nothing); its
    length."""
    segment = Segment(settings, slots, frames, previous, Path(output), key, track)
    return make_segments([segment], threads)[0]


def segment_of(movie: dict, output: str | Path) -> Segment:
    """The Segment of a batch's segments job params (the workflow's segment_params): settings,
    slots, previous (the triplet shown before the batch, or ''), track ({} untracked), key,
    and the paths of the frames, frame_list, previous_list and track_list it reads."""
    frames_dir = Path(movie["frames"]).parent  # where the frame lists' paths start
    before = read_frames([movie["previous_list"]], frames_dir) if movie["previous"] else []
    track = None
    if movie["track"]:
        at_list = movie.get("track_list")  # none: `at` outside the series
        track = movie_track(movie["track"], read_frames([at_list], frames_dir) if at_list else [])
    return Segment(
        MovieSettings(**movie["settings"]),
        [Slot(*slot) for slot in movie["slots"]],
        read_frames([movie["frame_list"]], frames_dir),
        next((f for f in before if f.path.stem == movie["previous"]), None),
        Path(output),
        movie["key"],
        track,
    )


def movie_track(track: dict, reference: Sequence[Frame]) -> tracking.Track:
    """The tracking of a segment's params {at, rotation, reproject, size, plate_scale,
    corner}, the observer at `at` from the reference frames (those of the batch holding `at`)."""
    from aia_reloaded import tracking
    from aia_reloaded.reading import parse_time  # astropy.io.fits: only tracked movies

    at = parse_time(track["at"])
    observer = tracking.observer_at(at, [(frame.time, frame.observer) for frame in reference])
    grid = tracking.Grid(track["size"], track["plate_scale"], tuple(track["corner"]))
    return tracking.Track(observer, track["rotation"], grid, track["reproject"])


def tracked_boxes(
    plan: Sequence[tuple[Frame, bool]],
    geo: Geometry,
    source: Size,
    settings: MovieSettings,
    track: tracking.Track,
    factor: int,
) -> dict[Path, Callable[[np.ndarray], np.ndarray]]:
    """How to take the tracked box from each frame of a plan decoded at 1/factor, by
    path: centred on tracking.box_centres, or reprojected as seen at `at`. A frame without
    observer columns is taken as seen from the Earth's centre."""
    from aia_reloaded import tracking  # sunpy takes a second to import: tracked movies only

    shown = list(dict.fromkeys(frame for frame, _gap in plan))
    unknown = [frame for frame in shown if frame.observer is None]
    if unknown:
        log.warning(
            "movie %s: %d frames lack the observer (hgln_obs, hglt_obs, dsun_obs; written "
            "before tracking): the Earth's centre stands in for SDO (up to 0.5\" off); remake "
            "them with `snakemake --cores all --forcerun render` (keep_intermediates: prep)",
            settings.name, len(unknown),
        )  # fmt: skip
    observers = [
        tracking.Observer(frame.time, *frame.observer)
        if frame.observer
        else tracking.earth_observer(frame.time)
        for frame in shown
    ]
    w, h, x, y = geo.crop
    size = (w // factor, h // factor)
    start = perf_counter()
    if track.reproject:
        tracking.surface_point(tracking.crop_centre(geo.crop), track.at, track.grid)  # on disk?
        # pixel i of the box at 1/factor shows frame pixel x + (i + 0.5) * factor - 0.5
        axes = [c + (np.arange(n) + 0.5) * factor - 0.5 for c, n in zip((x, y), size, strict=True)]
        node_axes = [np.linspace(a[0], a[-1], math.ceil(len(a) / NODE_STEP) + 1) for a in axes]
        nodes = tracking.reprojection_nodes(track, *node_axes, observers)
        weights = [_interpolation(n, a) for n, a in zip(node_axes, axes, strict=True)]
        boxes = [functools.partial(reprojected_box, nodes=n, weights=weights, factor=factor)
                 for n in nodes]  # fmt: skip
        how = f"reprojected as seen at {track.at.time:%Y-%m-%d %H:%M:%S}"
    else:
        centres = tracking.box_centres(track, geo.crop, observers, source, f"movie {settings.name}")
        boxes = [
            functools.partial(subpixel_box, centre=(c + 0.5) / factor - 0.5, size=size)
            for c in centres
        ]
        how = f"centred from ({centres[0][0]:.2f}, {centres[0][1]:.2f}) to "
        how += f"({centres[-1][0]:.2f}, {centres[-1][1]:.2f})"
    log.info(
        "movie %s: the tracked boxes of %d frames in %.3f s, %s",
        settings.name, len(shown), perf_counter() - start, how,
    )  # fmt: skip
    return {frame.path: box for frame, box in zip(shown, boxes, strict=True)}


NODE_STEP = 16  # box pixels between the nodes where sunpy places a reprojection


def _interpolation(nodes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The (points, nodes) float32 matrix of linear interpolation between the nodes."""
    weights = [np.interp(points, nodes, unit) for unit in np.eye(len(nodes))]
    return np.stack(weights, axis=1).astype(np.float32)


def reprojected_box(
    image: np.ndarray, nodes: np.ndarray, weights: Sequence[np.ndarray], factor: int
) -> np.ndarray:
    """The box whose pixels show the frame pixels (col, row) of `nodes` (rows, cols, 2; NaN:
    black), interpolated between them by the float32 weights (cols, rows), from an image
    decoded at 1/factor: a bicubic remap."""
    cols, rows = weights
    valid = ~np.isnan(nodes[..., 0])
    maps = [
        (rows @ np.where(valid, nodes[..., k], 0).astype(np.float32) @ cols.T + 0.5) / factor - 0.5
        for k in (0, 1)
    ]
    if not valid.all():  # black where a NaN node is among the four around
        outside = rows @ valid.astype(np.float32) @ cols.T < 1 - 1e-4
        for axis in maps:
            axis[outside] = -1e4
    return cv2.remap(image, *maps, cv2.INTER_CUBIC, borderValue=0)


def make_movie(
    frame_lists: Sequence[str | Path],
    frames_dir: str | Path,
    output: str | Path,
    settings: MovieSettings,
    key: Sequence[tuple[int, Sequence[int]]],
    threads: int = 0,
    track: tracking.Track | None = None,
) -> int:
    """The movie of `settings` in one pass over the frames of the frame lists; its length."""
    frames = read_frames(frame_lists, frames_dir)
    if not frames:
        raise ValueError(f"movie {settings.name!r}: the frame lists hold no frame")
    slots = timeline([frame.path.stem for frame in frames], settings.stride, settings.gaps)
    return make_segment(slots, frames, None, output, settings, key, threads, track)
