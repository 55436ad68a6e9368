"""List every frame of the series in time order: the batches' frame lists, in batch order."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import FRAME_COLUMNS
from aia_reloaded.writing import gather_csv

with log_to(snakemake.log[0]):
    gather_csv(snakemake.input, snakemake.output[0], FRAME_COLUMNS)
