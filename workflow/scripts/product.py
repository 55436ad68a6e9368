"""The frames of one product of one batch from its prepped channels."""

from pathlib import Path

from aia_reloaded.logs import log_to
from aia_reloaded.stages import Output, product_batch, products, read_levels

params, given, made = snakemake.params, snakemake.input, snakemake.output
with log_to(snakemake.log[0]):
    product_batch(
        list(given.prepped),
        params.names,
        products(params.wanted, [given.levels, *given.product_levels]),
        read_levels(given.levels),
        Output(Path(made.frames), Path(made.frame_list)),
        params.quality,
        params.prep,
    )
