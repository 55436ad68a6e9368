checkpoint triplets:
    input:
        fits_folder(),
    output:
        triplets=f"{OUT}/triplets.csv",
        skipped=f"{OUT}/skipped/pairing.csv",
    log:
        f"{OUT}/logs/triplets.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    params:
        listing=fits_listing,
        channels=CHANNELS,
        tolerance_s=config["pair_tolerance_s"],
        cadence_s=config["cadence_s"],
        batch_minutes=config["batch_minutes"],
    script:
        "../scripts/pair.py"


rule skipped:
    input:
        batch_skips,
    output:
        f"{OUT}/skipped.csv",
    log:
        f"{OUT}/logs/skipped.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    script:
        "../scripts/skipped.py"
