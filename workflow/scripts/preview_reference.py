"""Prep the reference triplet once for every look of the preview."""

from aia_reloaded.logs import log_to
from aia_reloaded.preview import brightest_region, save_reference
from aia_reloaded.stages import prep_reference

params = snakemake.params
with log_to(snakemake.log[0]):
    name, observed, prepped = prep_reference(
        params.triplets, params.reference, params.channels, params.prep, snakemake.threads
    )
    detail = brightest_region(prepped, params.prep["plate_scale"])
    save_reference(snakemake.output[0], name, observed, params.channels, prepped, detail)
