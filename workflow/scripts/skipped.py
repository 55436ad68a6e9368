"""Gather the skip records of pairing and of every batch into one CSV."""

from aia_reloaded.logs import log_to
from aia_reloaded.stages import SKIP_COLUMNS
from aia_reloaded.writing import read_csv, write_csv

with log_to(snakemake.log[0]):
    rows = [[row[c] for c in SKIP_COLUMNS] for path in snakemake.input for row in read_csv(path)]
    write_csv(snakemake.output[0], SKIP_COLUMNS, sorted(rows, key=lambda r: (r[1], r[0])))
