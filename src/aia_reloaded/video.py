"""Movies of the frame series, ALGORITHM.md section 7: crop -> scale -> pad -> contrast, ffmpeg.

One ffmpeg decodes the frames in the order of the frame lists (a concat script, never a
glob), crops and scales them and hands them over as raw RGB; the optional time stamp,
colour key and data-gap mark are drawn on them here (in the movie only, never in the
frame JPEGs); a second ffmpeg pads, applies the contrast and encodes to yuv420p.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from aia_reloaded.writing import atomic_path, read_csv

log = logging.getLogger(__name__)

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class Encoder:
    """An ffmpeg encoder with the preset and crf used when a movie names none."""

    library: str
    preset: str | int
    crf: int
    options: tuple[str, ...] = ()


ENCODERS = {
    "h264": Encoder("libx264", "slow", 18),
    "h265": Encoder("libx265", "slow", 20, ("-tag:v", "hvc1", "-x265-params", "log-level=error")),
    "av1": Encoder("libsvtav1", 6, 30),
}
GAPS = ("ignore", "repeat", "mark")


@dataclass(frozen=True)
class MovieSettings:
    """One entry of the config's `movies` (see the config schema for each key)."""

    name: str
    crop: Sequence[int] | None = None  # [w, h, x, y], as ffmpeg's crop
    frame_size: Sequence[int] | None = None  # [W, H]
    padded_size: Sequence[int] | None = None  # [PW, PH]
    fps: float = 30
    codec: str = "h264"
    crf: int | None = None
    preset: str | int | None = None
    contrast: float = 1.1
    timestamp: bool = True
    colour_key: bool = True
    stride: int = 1
    gaps: str = "ignore"


@dataclass(frozen=True)
class Geometry:
    """Where the pixels of a movie come from and go: crop box, scaled size, padded size."""

    crop: tuple[int, int, int, int] | None
    size: Size
    padded: Size


@dataclass(frozen=True)
class Frame:
    """One frame JPEG and its observation time."""

    path: Path
    time: datetime


class EncodeError(RuntimeError):
    """ffmpeg could not make a movie."""


def ffmpeg_exe() -> str:
    """ffmpeg from PATH, else the binary of the imageio-ffmpeg wheel."""
    return shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()


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
    size = tuple(settings.frame_size or (crop[:2] if crop else source))
    padded = tuple(settings.padded_size or size)
    _check_even(name, "padded_size", padded)
    if padded[0] < size[0] or padded[1] < size[1]:
        raise ValueError(
            f"movie {name!r}: padded_size {list(padded)} is smaller than the frame size "
            f"{list(size)}."
        )
    return Geometry(tuple(crop) if crop else None, size, padded)


def check_movies(movies: Sequence[dict], source: Size) -> None:
    """Raise ValueError on repeated names or on settings frames of `source` size can't honour."""
    names = [movie["name"] for movie in movies]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"movie names must be unique: {', '.join(repeated)} is repeated.")
    for movie in movies:
        geometry(MovieSettings(**movie), source)


def read_frames(frame_lists: Iterable[str | Path], frames_dir: str | Path) -> list[Frame]:
    """The frames of the frame lists (columns frame, t_obs), concatenated in order."""
    frames = [
        Frame(Path(frames_dir) / row["frame"], datetime.fromisoformat(row["t_obs"]))
        for path in frame_lists
        for row in read_csv(path)
    ]
    for before, after in itertools.pairwise(frames):
        if after.time <= before.time:
            raise ValueError(f"frame lists out of time order: {after.path} after {before.path}")
    return frames


def schedule(frames: Sequence[Frame], stride: int = 1, gaps: str = "ignore") -> list[Frame | None]:
    """Every stride-th frame; with gaps repeat or mark, None fills each missing cadence slot.

    The cadence is the median time step of the kept frames; a step of n cadences is
    followed by n - 1 slots that repeat the last frame.
    """
    if gaps not in GAPS:
        raise ValueError(f"gaps must be one of {', '.join(GAPS)}, not {gaps!r}")
    kept = list(frames[::stride])
    if gaps == "ignore" or len(kept) < 2:
        return list(kept)
    steps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(kept)]
    cadence = statistics.median(steps)
    plan: list[Frame | None] = [kept[0]]
    for frame, step in zip(kept[1:], steps, strict=True):
        plan += [None] * (round(step / cadence) - 1)
        plan.append(frame)
    return plan


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


def _label(
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
) -> np.ndarray:
    """A copy of image with the time stamp (top left), colour key (top right), gap mark.

    key: (wavelength, RGB colour) of each channel, each named in its colour.
    """
    image = image.copy()
    style = TextStyle.for_frame((image.shape[1], image.shape[0]))
    cap = style.extent("0")[1]
    top, line = style.margin + round(1.45 * cap), round(1.9 * cap)
    if time is not None:
        _label(image, timestamp_text(time), (style.margin, top), style, TEXT_COLOUR)
    for i, (wavelength, colour) in enumerate(key or ()):
        text = f"{wavelength} A"  # the ring over the A makes it an Angstrom sign
        left = image.shape[1] - style.margin - style.extent(text)[0]
        _label(image, text, (left, top + i * line), style, legible(colour), ring=True)
    if gap:
        _label(image, "DATA GAP", (style.margin, image.shape[0] - style.margin), style, GAP_COLOUR)
    return image


# --- encoding: decoder ffmpeg (crop, scale) -> overlay -> encoder ffmpeg (pad, contrast)


def image_size(path: Path) -> Size:
    """Width and height of an image file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{path}: cannot read the frame")
    return image.shape[1], image.shape[0]


def concat_script(paths: Iterable[Path]) -> str:
    """An ffmpeg concat demuxer script that lists the files in order."""
    quoted = (str(Path(path).resolve()).replace("'", "'\\''") for path in paths)
    return "".join(["ffconcat version 1.0\n", *(f"file '{path}'\n" for path in quoted)])


def decoder_command(ffmpeg: str, script: Path, geo: Geometry) -> list[str]:
    """ffmpeg decoding the frames a concat script lists: crop, scale, raw RGB on stdout."""
    crop = ["crop={}:{}:{}:{}".format(*geo.crop)] if geo.crop else []
    return [
        ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostdin",
        "-f", "concat", "-safe", "0", "-i", str(script),
        "-vf", ",".join([*crop, f"scale={geo.size[0]}:{geo.size[1]}"]),
        "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip


def encoder_command(
    ffmpeg: str, settings: MovieSettings, geo: Geometry, output: Path, threads: int = 0
) -> list[str]:
    """ffmpeg encoding raw RGB frames of geo.size from stdin: pad, contrast, yuv420p."""
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
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
        "-framerate", f"{settings.fps:g}", "-i", "pipe:0",
        "-vf", ",".join(filters),
        "-c:v", encoder.library, "-preset", str(preset), "-crf", str(crf), *encoder.options,
        *(["-threads", str(threads)] if threads else []),
        "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "bt709",
        "-movflags", "+faststart", "-f", "mp4", str(output),
    ]  # fmt: skip


def _decoded(stream, size: Size) -> Iterator[np.ndarray]:
    """Raw RGB frames of `size` read from a stream until it ends."""
    length = size[0] * size[1] * 3
    while len(data := stream.read(length)) == length:
        yield np.frombuffer(data, np.uint8).reshape(size[1], size[0], 3)


def movie_frames(
    decoded: Iterator[np.ndarray],
    plan: Sequence[Frame | None],
    settings: MovieSettings,
    key: Sequence[tuple[int, Sequence[int]]],
) -> Iterator[np.ndarray]:
    """The movie's frames: each decoded frame with its overlay; gap slots repeated or marked."""
    key = key if settings.colour_key else None
    shown = base = time = gap_image = None
    for frame in plan:
        if frame is None:
            if settings.gaps == "mark" and gap_image is None:
                gap_image = draw_overlay(base, time, key, gap=True)
            yield gap_image if settings.gaps == "mark" else shown
            continue
        base = next(decoded, None)
        if base is None:
            return
        time = frame.time if settings.timestamp else None
        shown, gap_image = draw_overlay(base, time, key), None
        yield shown


def _tail(stream, lines: int = 12) -> str:
    stream.seek(0)
    return "\n".join(stream.read().decode(errors="replace").strip().splitlines()[-lines:])


def pipe_frames(
    plan: Sequence[Frame | None],
    settings: MovieSettings,
    key: Sequence[tuple[int, Sequence[int]]],
    size: Size,
    decode_command: Sequence[str],
    encode_command: Sequence[str],
) -> int:
    """Run decoder and encoder, the overlay between them; EncodeError with ffmpeg's last lines."""
    written, broken = 0, False
    with tempfile.TemporaryFile() as decode_log, tempfile.TemporaryFile() as encode_log:
        decoder = subprocess.Popen(
            decode_command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=decode_log
        )
        encoder = subprocess.Popen(
            encode_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=encode_log,
            bufsize=0,
        )
        try:
            for image in movie_frames(_decoded(decoder.stdout, size), plan, settings, key):
                encoder.stdin.write(image.data)
                written += 1
        except BrokenPipeError:
            broken = True
        except BaseException:
            for process in (decoder, encoder):
                process.kill()
            raise
        finally:
            encoder.stdin.close()
            decoder.stdout.close()
            codes = decoder.wait(), encoder.wait()
        said = {"decoder": _tail(decode_log), "encoder": _tail(encode_log)}
    for step, text in said.items():
        if text:
            log.info("the ffmpeg %s said:\n%s", step, text)
    if broken or any(codes) or written != len(plan):
        # the encoder's failure breaks the decoder's pipe too: name the first cause
        culprit, code = ("encoder", codes[1]) if broken or codes[1] else ("decoder", codes[0])
        raise EncodeError(
            f"ffmpeg failed to make movie {settings.name!r} ({written} of {len(plan)} frames "
            f"written); the {culprit} (exit code {code}) said:\n{said[culprit]}"
        )
    return written


def make_movie(
    frame_lists: Sequence[str | Path],
    frames_dir: str | Path,
    output: str | Path,
    settings: MovieSettings,
    key: Sequence[tuple[int, Sequence[int]]],
    threads: int = 0,
) -> int:
    """Encode the movie of `settings` from the frames listed in frame_lists; its frame count.

    key: (wavelength, RGB colour) of each channel, for the colour key.
    """
    frames = read_frames(frame_lists, frames_dir)
    if not frames:
        raise ValueError(f"movie {settings.name!r}: the frame lists hold no frame")
    missing = [str(frame.path) for frame in frames if not frame.path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} listed frames are missing: {missing[:3]}")
    plan = schedule(frames, settings.stride, settings.gaps)
    source = image_size(frames[0].path)
    geo = geometry(settings, source)
    ffmpeg = ffmpeg_exe()
    log.info(
        "movie %s: %d frames (%d fill data gaps) of %dx%d, crop %s, %dx%d padded to %dx%d",
        settings.name, len(plan), plan.count(None), *source, geo.crop, *geo.size, *geo.padded,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch, atomic_path(output) as tmp:
        script = Path(scratch) / "frames.ffconcat"
        script.write_text(concat_script(frame.path for frame in plan if frame is not None))
        decoding = decoder_command(ffmpeg, script, geo)
        encoding = encoder_command(ffmpeg, settings, geo, tmp, threads)
        log.info("decoding: %s\nencoding: %s", " ".join(decoding), " ".join(encoding))
        return pipe_frames(plan, settings, key, geo.size, decoding, encoding)
