"""Scaled channels (fixed levels, gamma) of one batch."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import read_levels, scale_batch

params = snakemake.params
with log_to(snakemake.log[0]):
    scale_batch(
        snakemake.input.prepped,
        snakemake.output[0],
        read_levels(snakemake.input.levels),
        params.channels,
        params.gamma,
    )
