import bisect
import functools
import math
import os
import re
import threading
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.logging import logger
from snakemake.utils import validate

from aia_reloaded import (
    configuration,
    pairing,
    reading,
    sequence,
    stages,
    video,
    writing,
)

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
configuration.check_schema(config, SCHEMA)
validate(config, SCHEMA)
configuration.check(config)

OUT = config["output_dir"]
DEMO_DIR = "resources/demo"
CHANNELS = config["channels"]
ENHANCED = config["enhance"]["method"] != "none" and any(config["enhance"]["channels"])
# MB a thread the enhancement adds at 4096^2 (measured: see benchmarks/enhance.py)
ENHANCE_MB = 500 if ENHANCED else 0
LOOKS = configuration.preview_looks(config)
PRODUCTS = configuration.products_of(config)
SPECS = {spec["name"]: spec for spec in PRODUCTS}
MAIN = PRODUCTS[0]["name"]  # the config's own composite: frames/, levels.yaml
EXTRAS = [spec["name"] for spec in PRODUCTS[1:]]  # the others, each in products/<name>/
LEVELLED = [spec["name"] for spec in PRODUCTS[1:] if spec["kind"] != "panels"]
DIFFERENCES = [spec for spec in PRODUCTS if spec["kind"] == "difference"]
MOVIES = [movie["name"] for movie in config["movies"]]


def preview_problem():
    """Why preview.looks does not fit the config, or None: said here, raised only by the
    preview's jobs (preview_files), so that a change of the config (of channels, say) never
    blocks a run that makes no preview."""
    try:
        configuration.check_preview(config, SCHEMA)
    except configuration.ConfigError as error:
        logger.warning(f"{error} No preview is made or updated until then.")
        return str(error)


PREVIEW_PROBLEM = preview_problem()


wildcard_constraints:
    batch=r"\d{8}T\d{6}",
    frame=r"\d{8}T\d{6}",
    look="|".join(map(re.escape, LOOKS)),
    product="|".join(map(re.escape, EXTRAS)) or "(?!)",


def fits_folder():
    """The folder the pairing reads: the demo folder, or input_dir."""
    if config["input_dir"] == "demo":
        return DEMO_DIR
    return str(Path(os.path.expanduser(config["input_dir"])))


def fits_listing(wildcards):
    """A fingerprint of input_dir's FITS files, their names, sizes and modification times:
    adding, removing or replacing one reruns the pairing. None for the demo folder, whose
    timestamp (it is made by a rule) does that."""
    if config["input_dir"] == "demo":
        return None
    return pairing.fingerprint(configuration.check_input_dir(config["input_dir"]))


@functools.cache
def _read_triplets(path, mtime):
    batches = {}
    for row in writing.read_csv(path):
        files = [row[f"file_{i}"] for i in range(1, len(CHANNELS) + 1)]
        batches.setdefault(row["batch"], []).append((row["triplet"], files))
    return batches


@functools.cache
def triplets_table():
    """The pairing checkpoint's triplets.csv (IncompleteCheckpointException until it is done),
    remembered once done, as Snakemake's done checkpoints stay done: each job asks for it
    several times (the checkpoint's lookup took a sixth of a month's dry run)."""
    return checkpoints.triplets.get().output.triplets


def _triplets_key():
    """The table and its modification time: the key of what is cached from it."""
    path = triplets_table()
    return path, os.path.getmtime(path)


def triplet_batches():
    """Triplets by batch, from the pairing checkpoint: {batch: [(triplet, files)]}."""
    return _read_triplets(*_triplets_key())


def batch_files(wildcards):
    """The level-1 files of one batch."""
    return [f for _name, files in triplet_batches()[wildcards.batch] for f in files]


def batch_triplets(wildcards):
    """The (triplet, files) of one batch."""
    return triplet_batches()[wildcards.batch]


def batch_table(wildcards):
    """The pairing's triplets.csv, that names a batch's triplets and files: ancient, as the
    pairing rewrites it for any new file (batch_stamps)."""
    return ancient(triplets_table())


def batch_stamps(wildcards):
    """A fingerprint of one batch's files (and of those its differences subtract), their
    sizes and modification times.

    The files are no inputs of a batch job (a month has 648,000): these params and
    batch_triplets rerun the batch whose own triplets or files changed, and no other.
    """
    others = [f for _name, files in difference_others(wildcards) for f in files]
    return pairing.fingerprint(batch_files(wildcards) + others)


@functools.cache
def _run_triplets(path, mtime):
    batches = _read_triplets(path, mtime)
    run = [triplet for batch in sorted(batches) for triplet in batches[batch]]
    return run, [name for name, _files in run]


def default_base():
    """The triplet a base difference subtracts unless it names one: the reference if it is
    a triplet of the run, else the first."""
    _run, names = _run_triplets(*_triplets_key())
    return config["reference"] if config["reference"] in names else names[0]


def frame_track(track):
    """A frame box's track (None: fixed) with its `at` (default: the first triplet of the
    run) and at_file, the first file of the triplet nearest `at` in its batch (None if the
    run has no such batch), whose header tells the observer then."""
    if track is None:
        return None
    _run, names = _run_triplets(*_triplets_key())
    at = track.get("at") or datetime.strptime(names[0], pairing.TIME_FORMAT).isoformat()
    time = reading.parse_time(at).replace(tzinfo=None)
    batch = pairing.batch_of(
        time.strftime(pairing.TIME_FORMAT), config["batch_minutes"]
    )
    nearest = min(
        triplet_batches().get(batch, []),
        key=lambda triplet: abs(stages.triplet_time(triplet[0]) - time),
        default=None,
    )
    return {
        "at": at,
        "rotation": track.get("rotation", "howard"),
        "at_file": nearest and nearest[1][0],
    }


def resolved(specs):
    """specs, each base difference with its base triplet named, each track with its `at`
    (frame_track)."""
    base = default_base() if any(s["mode"] == "base" for s in DIFFERENCES) else None
    specs = [
        {**s, "base": s["base"] or base} if s["kind"] == "difference" else s
        for s in specs
    ]
    return [
        {**s, "track": frame_track(s["track"])} if s.get("track") is not None else s
        for s in specs
    ]


def look_table(wildcards):
    """The pairing's table (batch_table) if a look's crop or the detail follows the Sun:
    their `at` is found in it."""
    tracked = LOOKS[wildcards.look]["track"], config["preview"]["track"]
    return [] if tracked == (None, None) else batch_table(wildcards)


def main_track(wildcards):
    """The track of the config's crop (frame_track)."""
    return frame_track(config["track"])


def detail_track(wildcards):
    """The track of preview.detail (frame_track)."""
    return frame_track(config["preview"]["track"])


def render_products(wildcards):
    """The products a render job makes (configuration.products_of, bases named)."""
    return resolved(PRODUCTS)


def difference_others(wildcards):
    """The (triplet, files) outside a batch that its differences may subtract: those up to
    the longest lag_s (and pair_tolerance_s) before it, and the base triplets."""
    if not DIFFERENCES:
        return []
    run, names = _run_triplets(*_triplets_key())
    own = [name for name, _files in batch_triplets(wildcards)]
    lags = [s["lag_s"] for s in DIFFERENCES if s["mode"] == "running"]
    found = []
    if lags:
        reach = max(lags) + config["pair_tolerance_s"]
        start = stages.triplet_time(own[0]) - timedelta(seconds=reach)
        first = bisect.bisect_left(names, start.strftime(pairing.TIME_FORMAT))
        found = run[first : bisect.bisect_left(names, own[0])]
    for spec in resolved(DIFFERENCES):
        base = spec["base"]
        if spec["mode"] == "base" and base not in names:
            raise configuration.ConfigError(
                f"config key products ({spec['name']}): base {base} is not a triplet of "
                f"the run (see {OUT}/triplets.csv)."
            )
        if spec["mode"] == "base" and base not in own + [n for n, _f in found]:
            found.append(run[names.index(base)])
    return found


def difference_prepped(wildcards):
    """The prepped folder of a batch, then those of the batches holding the triplets its
    differences subtract (difference_others), for a product that shows a difference."""
    own = f"{OUT}/prepped/{wildcards.batch}"
    if not any(s["kind"] == "difference" for s in product_wanted(wildcards)):
        return [own]
    others = difference_others(wildcards)
    batches = {pairing.batch_of(name, config["batch_minutes"]) for name, _f in others}
    return [
        own,
        *expand(f"{OUT}/prepped/{{batch}}", batch=sorted(batches - {wildcards.batch})),
    ]


def difference_names(wildcards):
    """The triplets, as paired, that a batch's differences may subtract: its own and others."""
    if not any(s["kind"] == "difference" for s in product_wanted(wildcards)):
        return []
    return [n for n, _f in batch_triplets(wildcards) + difference_others(wildcards)]


def batch_runtime(wildcards):
    """Minutes for one batch job: 12 s a triplet (measured at 4096^2: 0.7-1.3 s), 5 at least.

    An enhancement takes up to 4 s a channel: 30 s a triplet.
    """
    return 5 + math.ceil(len(batch_triplets(wildcards)) / (2 if ENHANCED else 5))


def all_cores(wildcards):
    """Every core of the run (--cores), for a job that runs alone."""
    return workflow.global_resources["_cores"].value or 1


def render_threads(wildcards):
    """A local run's cores shared out among the batches to render (those without a frame
    list; else all): a batch appended to a rendered series takes them all."""
    return max(1, all_cores(wildcards) // _batches_to_render(*_triplets_key()))


@functools.cache
def _batches_to_render(path, mtime):
    batches = _read_triplets(path, mtime)
    missing = [b for b in batches if not os.path.exists(f"{OUT}/frame_lists/{b}.csv")]
    return len(missing or batches)


def render_mem_mb(wildcards, threads):
    """MB for a render job at 4096^2, scaled by size (measured: 690 on 1 thread, 1,280 on 2),
    100 a thread for each more product (measured: six more, 650 on 1 thread, 1,100 on 2),
    and the 64 MB channels a difference keeps: a triplet's for each 12 s (AIA's cadence) of
    lag_s, and two more, or its base and one."""
    per_thread = 600 + ENHANCE_MB + 100 * len(EXTRAS)
    kept = sum(
        64 * (math.ceil(s["lag_s"] / 12) + 2 if s["mode"] == "running" else 2)
        for s in DIFFERENCES
    )
    scale = (config["prep"]["size"] / 4096) ** 2
    return 200 + math.ceil((per_thread * threads + kept) * scale)


def segment_runtime(wildcards):
    """Minutes for a batch's segments: 2 s a frame of each movie (the slowest recipe, 2048^2
    at full size, takes 0.4 s at 4096^2 on one thread), 5 at least."""
    return 5 + math.ceil(len(batch_triplets(wildcards)) * len(MOVIES) / 30)


def segments_mem_mb(wildcards):
    """MB for a batch's segments: 300, and 350 a movie, its ffmpeg and images in flight
    (measured: 1,740 for the 5 shipped movies of 25 frames at 4096^2, freed memory kept).
    """
    return 300 + 350 * len(MOVIES)


def join_runtime(wildcards):
    """Minutes to join a movie's segments: 10, and one more a 200 segments (about 0.2 s a
    segment to check it and 0.01 s to copy it).

    Before the pairing has run (a dry run) the batches are not known: 10 minutes. Snakemake
    9.27 turns the exception a checkpoint raises here into a crash of the dry run.
    """
    try:
        batches = len(triplet_batches())
    except IncompleteCheckpointException:
        batches = 0
    return 10 + math.ceil(batches / 200)


def reference_triplets(wildcards):
    """The (triplet, files) of the batch holding the reference triplet (default: the first)."""
    batches = triplet_batches()
    batch = min(batches)
    if config["reference"]:
        batch = pairing.batch_of(config["reference"], config["batch_minutes"])
        batch = batch if batch in batches else min(batches)
    return batches[batch]


def reference_files(wildcards):
    """The level-1 files of the reference batch."""
    return [f for _name, files in reference_triplets(wildcards) for f in files]


def preview_files(wildcards):
    """The reference files of the preview, once its looks are known to fit the config."""
    if PREVIEW_PROBLEM:
        raise configuration.ConfigError(PREVIEW_PROBLEM)
    return reference_files(wildcards)


def product_dir(product):
    """The folder of a product's frames, frame lists and frames.csv."""
    return OUT if product == MAIN else f"{OUT}/products/{product}"


def product_paths(pattern):
    """pattern ({product_dir}/..., with {{batch}}) for each product after the first."""
    return [pattern.format(product_dir=product_dir(product)) for product in EXTRAS]


def product_spec(wildcards):
    """The resolved spec of one product (configuration.products_of)."""
    return SPECS[wildcards.product]


def product_level_settings(wildcards):
    """What a product's levels depend on: its channels and percentiles (not gamma or look)."""
    spec = product_spec(wildcards)
    keys = ("name", "kind", "main", "channel", "channels", "low", "high", "limit")
    return {key: spec[key] for key in keys if key in spec}


def product_wanted(wildcards):
    """The specs a product's frames need: the panels it shows, then its own (bases named)."""
    spec = product_spec(wildcards)
    shown = spec["panels"] if spec["kind"] == "panels" else []
    return resolved([s for s in PRODUCTS if s["name"] in shown] + [spec])


def product_levels_files(wildcards):
    """The levels files of a product's frames: of the ones it needs (levels.yaml holds the
    first's)."""
    names = [spec["name"] for spec in product_wanted(wildcards)]
    return expand(
        f"{OUT}/products/{{product}}/levels.yaml",
        product=[name for name in LEVELLED if name in names],
    )


def frame_lists(wildcards, product=None):
    """The frame list of every batch, of a product (default: the one of wildcards, else
    the first)."""
    product = product or getattr(wildcards, "product", MAIN)
    return expand(
        f"{product_dir(product)}/frame_lists/{{batch}}.csv",
        batch=sorted(triplet_batches()),
    )


def frame_folders(wildcards, product=None):
    """The frame folder of every batch, of a product as frame_lists; a frame lost from a
    rendered batch stops the run here, before any job uses it, with the command that
    remakes its batch (a run that --forcerun's something is let through: the jobs check the
    frames they read)."""
    product = product or getattr(wildcards, "product", MAIN)
    folder = product_dir(product)
    batches = sorted(triplet_batches())
    lists = (f"{folder}/frame_lists/{batch}.csv" for batch in batches)
    forcing = workflow.dag_settings.forcerun
    if not forcing and (lost := sequence.lost_frame(f"{folder}/frames", lists)):
        raise sequence.FrameError(lost, "is missing")
    return expand(f"{folder}/frames/{{batch}}", batch=batches)


def batch_skips(wildcards):
    """The skip records of pairing and of every batch (its render, or its prep)."""
    return [f"{OUT}/skipped/pairing.csv"] + expand(
        f"{OUT}/skipped/{{batch}}.csv", batch=sorted(triplet_batches())
    )


def movie_product(wildcards):
    """The product a movie shows."""
    return movie_settings(wildcards).get("product", MAIN)


def movie_frames(wildcards):
    """The frame folder and list of a batch of a movie's product."""
    folder = product_dir(movie_product(wildcards))
    return {
        "frames": f"{folder}/frames/{wildcards.batch}",
        "frame_list": f"{folder}/frame_lists/{wildcards.batch}.csv",
    }


def movie_frame_lists(wildcards):
    """The frame list of every batch of a movie's product."""
    return frame_lists(wildcards, movie_product(wildcards))


def movie_frames_dir(wildcards):
    """The folder of the frame folders of a movie's product."""
    return f"{product_dir(movie_product(wildcards))}/frames"


def movie_spec(wildcards):
    """The resolved spec of a movie's product."""
    return SPECS[movie_product(wildcards)]


def movie_key(wildcards):
    """(wavelength, RGB colour) of each channel a movie's product shows, for its colour key."""
    return _product_key(movie_product(wildcards))


@functools.cache
def _product_key(product):
    return stages.key_of(SPECS[product])


def movie_settings(wildcards):
    """The config entry of one movie: its only params, so editing it re-encodes it alone."""
    for movie in config["movies"]:
        if movie["name"] == wildcards.movie:
            return movie
    raise ValueError(
        f"{wildcards.movie!r} is not the name of a movie in config['movies']"
    )


@functools.cache
def _movie_parts(path, mtime, stride, gaps):
    batches = _read_triplets(path, mtime)
    names = {batch: [name for name, _files in batches[batch]] for batch in batches}
    return sequence.movie_parts(names, stride, gaps)


def movie_part(wildcards):
    """The part of a movie's timeline (sequence.movie_parts) that a batch shows."""
    settings = movie_settings(wildcards)
    stride, gaps = settings.get("stride", 1), settings.get("gaps", "ignore")
    return _movie_parts(*_triplets_key(), stride, gaps)[wildcards.batch]


def segment_slots(wildcards):
    """The triplets a batch's segment shows, each with the gap slots before it."""
    return [[slot.triplet, slot.fill] for slot in movie_part(wildcards).slots]


def previous_triplet(wildcards):
    """The triplet shown last before a batch's segment, for its first gap slots (or '')."""
    part = movie_part(wildcards)  # first: the pairing checkpoint, also for the inputs
    gaps = movie_settings(wildcards).get("gaps", "ignore")
    return (gaps != "ignore" and part.previous) or ""


def previous_frames(wildcards):
    """The frame list and frames of the batch holding previous_triplet (none if '')."""
    triplet = previous_triplet(wildcards)
    if not triplet:
        return {}
    batch = pairing.batch_of(triplet, config["batch_minutes"])
    folder = product_dir(movie_product(wildcards))
    return {
        "previous_list": f"{folder}/frame_lists/{batch}.csv",
        "previous_frames": f"{folder}/frames/{batch}",
    }


def track_settings(wildcards):
    """What a tracked movie's segments need to place the box ({} for a fixed box): `at`
    (default: the first triplet of the series, the same for every segment), the rotation
    model, whether to reproject, and the frames' grid (prep's size and plate scale, the
    corner of the movie's product's crop).
    """
    track = movie_settings(wildcards).get("track")
    if track is None:
        return {}
    batches = triplet_batches()
    first = min(name for name, _files in batches[min(batches)])
    at = track.get("at") or datetime.strptime(first, pairing.TIME_FORMAT).isoformat()
    x0, y0 = configuration.product_corner(movie_spec(wildcards))
    return {
        "at": at,
        "rotation": track.get("rotation", "howard"),
        "reproject": track.get("reproject", False),
        "size": config["prep"]["size"],
        "plate_scale": config["prep"]["plate_scale"],
        "corner": [x0, y0],
    }


def track_frames(wildcards):
    """The frame list of the batch holding a tracked movie's `at`, for its observer (none if
    untracked or `at` is outside the series)."""
    track = track_settings(wildcards)
    if not track:
        return {}
    at = reading.parse_time(track["at"]).strftime(pairing.TIME_FORMAT)
    batch = pairing.batch_of(at, config["batch_minutes"])
    if batch not in triplet_batches():
        return {}
    return {
        "track_list": f"{product_dir(movie_product(wildcards))}/frame_lists/{batch}.csv"
    }


def batch_movies(wildcards):
    """The wildcards of each movie's segment of a batch, in the order of config['movies']."""
    return [SimpleNamespace(movie=name, batch=wildcards.batch) for name in MOVIES]


def segment_inputs(wildcards):
    """What a batch's segments read: the batch's frames of each movie's product, the frames
    shown before the batch (gap slots), the frame list holding a tracked movie's `at`.
    """
    found = {}
    for movie in batch_movies(wildcards):
        for files in (movie_frames(movie), previous_frames(movie), track_frames(movie)):
            found.update(dict.fromkeys(files.values()))
    return list(found)


def segment_params(wildcards):
    """What each movie's segment of a batch shows (video.segment_of), in config order."""
    return [
        {
            "settings": movie_settings(movie),
            "slots": segment_slots(movie),
            "previous": previous_triplet(movie),
            "track": track_settings(movie),
            "key": movie_key(movie),
            **movie_frames(movie),
            **previous_frames(movie),
            **track_frames(movie),
        }
        for movie in batch_movies(wildcards)
    ]


def movie_segments(wildcards):
    """A movie's segment of every batch, in time order."""
    return expand(
        f"{OUT}/segments/{wildcards.movie}/{{batch}}.mp4",
        batch=sorted(triplet_batches()),
    )


def movie_outputs():
    """The movies of config['movies'] (none for [])."""
    return expand(f"{OUT}/movies/{{movie}}.mp4", movie=MOVIES)


def look_settings(wildcards):
    """The settings of one look of preview.looks: its only params, so editing it reruns it alone."""
    look = LOOKS[wildcards.look]
    return {
        "low": look["levels"]["low"],
        "high": look["levels"]["high"],
        "gamma": look["gamma"],
        "enhancements": configuration.enhancements(look),
        "look": configuration.look(look),
        "track": frame_track(look["track"]),
    }


def look_changes():
    """The keys each look of preview.looks changes, by look: the labels of the sheet."""
    return {
        look["name"]: configuration.look_changes(config, look)
        for look in config["preview"]["looks"]
    }


def look_priority(wildcards):
    """The longest looks first, so that the others fill the cores beside them: seconds of
    enhancement a look takes at 4096^2 (measured: WOW about 3 a channel, MGN 2)."""
    seconds = {"mgn": 2, "wow": 3}
    enhancements = configuration.enhancements(LOOKS[wildcards.look])
    return sum(seconds[how["method"]] for how in enhancements if how)


def preview_mem_mb(wildcards):
    """MB for one look at 4096^2, scaled by size (measured: 540, with an enhancement 740)."""
    enhanced = any(configuration.enhancements(LOOKS[wildcards.look]))
    return 200 + math.ceil(
        (800 + 500 * enhanced) * (config["prep"]["size"] / 4096) ** 2
    )


def preview_outputs():
    """Each look of preview.looks, whole and in detail, the sheet of them and the histograms."""
    looks = expand(
        f"{OUT}/preview/{{look}}{{part}}.jpg", look=LOOKS, part=["", "_detail"]
    )
    return [*looks, f"{OUT}/preview/sheet.jpg", f"{OUT}/preview/histograms.png"]


def get_final_output():
    """Every batch's frames and the list of them, the record of skipped files, the movies,
    the report's thumbnails and table of skipped files; and the preview once `snakemake
    preview` has made it, kept up to date for the report while its looks fit the config (a
    run never pays for looks nobody asked to see)."""
    made = os.path.exists(f"{OUT}/preview/sheet.jpg")
    return [
        frame_folders,
        f"{OUT}/frames.csv",
        *(functools.partial(frame_folders, product=product) for product in EXTRAS),
        *expand(f"{OUT}/products/{{product}}/frames.csv", product=EXTRAS),
        f"{OUT}/skipped.csv",
        *movie_outputs(),
        *(preview_outputs() if made and not PREVIEW_PROBLEM else []),
        f"{OUT}/report/thumbnails.jpg",
        f"{OUT}/report/skipped.html",
    ]


def stop_rescheduling():
    """Cancel Snakemake's pending scheduler re-evaluations (one-second threading.Timers of its
    job rate limiter, --max-jobs-per-timespan 100/1s), which Python otherwise waits for at
    exit: up to a second with nothing running at the end of every run."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
