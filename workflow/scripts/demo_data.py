"""Make the synthetic demo series."""

from aia_reloaded.logs import log_to
from aia_reloaded.synthetic import make_series

with log_to(snakemake.log[0]):
    make_series(
        snakemake.output[0],
        snakemake.params.triplets,
        size=snakemake.params.size,
        channels=snakemake.params.channels,
        seed=snakemake.params.seed,
        workers=snakemake.threads,
    )
