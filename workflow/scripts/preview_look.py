"""The reference triplet in one look: the whole Sun, downsized, and a detail at full size."""

import logging

from aia_reloaded.logs import log_to
from aia_reloaded.preview import write_look

params, output = snakemake.params, snakemake.output
with log_to(snakemake.log[0]):
    levels = write_look(
        snakemake.input[0],
        params.channels,
        params.settings,
        params.size,
        params.detail,
        (output.sun, output.detail),
        params.quality,
        params.detail_track,
        params.prep,
    )
    logging.info("levels of %s in this look: %s", levels["reference"], levels["channels"])
