"""The frames of one batch, of every product, each triplet from level-1 files to JPEG in memory."""

from pathlib import Path

from aia_reloaded.logs import log_to
from aia_reloaded.stages import Output, products, render_batch, write_skipped

params, given, made = snakemake.params, snakemake.input, snakemake.output
with log_to(snakemake.log[0]):
    folders = [made.frames, *made.product_frames]
    lists = [made.frame_list, *made.product_lists]
    skipped = render_batch(
        params.triplets,
        params.channels,
        products(params.products, [given.levels, *given.product_levels]),
        [Output(Path(f), Path(lst)) for f, lst in zip(folders, lists, strict=True)],
        params.prep,
        params.quality,
        snakemake.threads,
        params.others,
    )
    write_skipped(made.skipped, skipped)
