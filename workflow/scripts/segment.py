"""Encode a batch's segment of every movie, each frame decoded once."""

from aia_reloaded.logs import log_to
from aia_reloaded.video import make_segments, reuse_freed_memory, segment_of

reuse_freed_memory()
with log_to(snakemake.log[0]):
    segments = map(segment_of, snakemake.params.movies, snakemake.output)
    make_segments(list(segments), snakemake.threads, keep=True)
