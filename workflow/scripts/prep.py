"""Prep one batch of triplets: exposure, plate scale, roll, centring."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import prep_batch, write_skipped

params = snakemake.params
with log_to(snakemake.log[0]):
    skipped = prep_batch(
        params.triplets,
        params.channels,
        snakemake.output.prepped,
        params.size,
        params.plate_scale,
        params.interpolation,
    )
    write_skipped(snakemake.output.skipped, skipped)
