"""Levels of one product from the reference triplet of levels.yaml."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import product_levels, read_levels, write_levels

params = snakemake.params
with log_to(snakemake.log[0]):
    levels = product_levels(
        params.triplets,
        read_levels(snakemake.input.levels),
        params.spec,
        params.channels,
        params.prep,
        snakemake.threads,
    )
    write_levels(snakemake.output[0], levels)
