"""skipped.csv as an HTML table for the report."""

from aia_reloaded.logs import log_to
from aia_reloaded.report import write_skipped_table

with log_to(snakemake.log[0]):
    write_skipped_table(snakemake.input[0], snakemake.output[0])
