"""A sheet of frame thumbnails for the report: every n-th frame, at most `most`."""

import logging
from pathlib import Path

from aia_reloaded.logs import log_to
from aia_reloaded.report import write_thumbnails

params = snakemake.params
with log_to(snakemake.log[0]):
    frames_dir = Path(snakemake.input.frames[0]).parent  # where the frame index's paths start
    step = write_thumbnails(
        snakemake.input.frame_index, frames_dir, snakemake.output[0], params.most
    )
    logging.info("every n-th frame, n = %d", step)
