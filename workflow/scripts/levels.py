"""Fixed levels of the series from the reference triplet."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import reference_levels, write_levels

params = snakemake.params
with log_to(snakemake.log[0]):
    levels = reference_levels(
        params.triplets,
        params.reference,
        params.channels,
        params.low,
        params.high,
        params.prep,
        params.enhancements,
        snakemake.threads,
    )
    write_levels(snakemake.output[0], levels)
