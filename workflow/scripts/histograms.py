"""Histograms of the reference's channels, with the levels of the config marked."""

from aia_reloaded.logs import log_to
from aia_reloaded.preview import load_reference
from aia_reloaded.report import plot_histograms
from aia_reloaded.stages import prepped_levels

params = snakemake.params
with log_to(snakemake.log[0]):
    reference, images = load_reference(snakemake.input[0], params.channels)
    levels = prepped_levels(
        reference["triplet"],
        images,
        params.channels,
        params.low,
        params.high,
        params.enhancements,
        snakemake.threads,
    )
    plot_histograms(snakemake.output[0], images, levels)
