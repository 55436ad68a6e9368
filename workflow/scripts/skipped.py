"""Gather the skip records of pairing and of every batch into one CSV, in time order."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import SKIP_COLUMNS
from aia_reloaded.writing import gather_csv

with log_to(snakemake.log[0]):
    gather_csv(snakemake.input, snakemake.output[0], SKIP_COLUMNS, key=lambda r: (r[1], r[0]))
