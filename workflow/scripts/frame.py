"""RGB JPEG frames of one batch."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import frame_batch

params = snakemake.params
with log_to(snakemake.log[0]):
    frame_batch(
        snakemake.input[0],
        params.frames_dir,
        snakemake.output[0],
        params.channels,
        params.mix,
        params.scalemin,
        params.lab,
        params.lmin,
        params.crop,
        params.quality,
    )
