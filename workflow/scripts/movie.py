"""Join a movie's segments, checked against what each should show."""

from aia_reloaded.logs import log_to
from aia_reloaded.sequence import (
    MovieSettings,
    join_segments,
    movie_lengths,
    movie_parts,
    read_batches,
    read_frames,
)

params, given = snakemake.params, snakemake.input
with log_to(snakemake.log[0]):
    settings = MovieSettings(**params.settings)
    parts = movie_parts(read_batches(given.triplets), settings.stride, settings.gaps)
    frames = read_frames(given.frame_lists, params.frames_dir)
    lengths = movie_lengths(parts, frames, settings.gaps)
    join_segments(given.segments, [lengths[batch] for batch in sorted(parts)], snakemake.output[0])
