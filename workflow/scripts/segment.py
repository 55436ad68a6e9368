"""Encode one batch's segment of a movie."""

from pathlib import Path

from aia_reloaded.logs import log_to
from aia_reloaded.video import MovieSettings, Slot, make_segment, movie_track, read_frames

params, given = snakemake.params, snakemake.input
frames_dir = Path(given.frames).parent  # where the frame lists' paths start
with log_to(snakemake.log[0]):
    before = read_frames([given.previous_list], frames_dir) if params.previous else []
    track = None
    if params.track:
        at_list = getattr(given, "track_list", None)  # none: `at` outside the series
        track = movie_track(params.track, read_frames([at_list], frames_dir) if at_list else [])
    make_segment(
        [Slot(*slot) for slot in params.slots],
        read_frames([given.frame_list], frames_dir),
        next((f for f in before if f.path.stem == params.previous), None),
        snakemake.output[0],
        MovieSettings(**params.settings),
        params.key,
        snakemake.threads,
        track,
    )
