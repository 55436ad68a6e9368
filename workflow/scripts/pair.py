"""Discover the level-1 files and pair them into triplets, grouped in batches."""

import logging

from aia_reloaded.logs import log_to
from aia_reloaded.pairing import batch_of, find_fits, identify, pair, thin
from aia_reloaded.stages import write_skipped
from aia_reloaded.writing import write_csv

params = snakemake.params
with log_to(snakemake.log[0]):
    files, unreadable = identify(find_fits(snakemake.input[0]))
    paired, unpaired = pair(files, params.channels, params.tolerance_s)
    triplets = thin(paired, params.cadence_s)  # left out by the cadence: not skips
    if params.cadence_s is None:
        logging.info("paired %d triplets, all kept (cadence_s null)", len(paired))
    else:
        logging.info(
            "paired %d triplets; %d left out by cadence_s %g, %d kept",
            len(paired),
            len(paired) - len(triplets),
            params.cadence_s,
            len(triplets),
        )
    columns = ["triplet", "batch"] + [f"file_{i}" for i in range(1, len(params.channels) + 1)]
    rows = [(t.name, batch_of(t.name, params.batch_minutes), *t.files) for t in triplets]
    write_csv(snakemake.output.triplets, columns, rows)
    write_skipped(snakemake.output.skipped, unreadable + unpaired)
