"""Encode one movie from the frames of the frame lists."""

from aia_reloaded.logs import log_to
from aia_reloaded.video import MovieSettings, make_movie

params = snakemake.params
with log_to(snakemake.log[0]):
    make_movie(
        [snakemake.input.frame_index],
        params.frames_dir,
        snakemake.output[0],
        MovieSettings(**params.settings),
        params.key,
        snakemake.threads,
    )
