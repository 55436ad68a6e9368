"""The looks side by side, each labelled with its name and the keys it changes."""

from aia_reloaded.logs import log_to
from aia_reloaded.preview import write_look_sheet

inputs = snakemake.input
with log_to(snakemake.log[0]):
    write_look_sheet(snakemake.output[0], snakemake.params.changes, inputs.suns, inputs.details)
