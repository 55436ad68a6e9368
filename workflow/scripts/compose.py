"""The frames of one batch from its scaled channels."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import compose_batch

params = snakemake.params
with log_to(snakemake.log[0]):
    compose_batch(
        snakemake.input[0],
        snakemake.output.frames,
        snakemake.output.frame_list,
        params.channels,
        params.look,
        params.quality,
        params.track,
        params.prep,
    )
