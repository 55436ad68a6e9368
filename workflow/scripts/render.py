"""The frames of one batch, each triplet from level-1 files to JPEG in memory."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import read_levels, render_batch, write_skipped

params = snakemake.params
with log_to(snakemake.log[0]):
    skipped = render_batch(
        params.triplets,
        params.channels,
        snakemake.output.frames,
        snakemake.output.frame_list,
        params.prep,
        read_levels(snakemake.input.levels),
        params.gamma,
        params.look,
        params.quality,
        snakemake.threads,
    )
    write_skipped(snakemake.output.skipped, skipped)
